#include "admin/json_api.h"

#include <algorithm>
#include <map>

#include "admin/admin_access.h"
#include "broker/admin_common.h"
#include "broker/broker.h"
#include "cluster/topic_config.h"
#include "protocol/protocol.h"
#include "storage/checkpoint_file.h"

namespace sluice::admin {
namespace {

// Keys in the order of the documented shapes.
using json = nlohmann::ordered_json;

// Versions of the coordinator's own answers the API reads: the newest
// whose shapes carry what it shows (instance ids, a single group).
constexpr int16_t describe_groups_version = 5;
constexpr int16_t list_groups_version = 4;
constexpr int16_t offset_fetch_version = 7;

json optional_text(const std::optional<std::string>& text) { return text ? json(*text) : json(nullptr); }

// Replicas on brokers that are not registered or fenced (Metadata's
// offline_replicas says the same).
std::vector<int32_t> offline_replicas(const cluster::MetadataImage& image,
                                      const cluster::PartitionImage& partition) {
  std::vector<int32_t> out;
  for (int32_t replica : partition.replicas) {
    auto broker = image.brokers.find(replica);
    if (broker == image.brokers.end() || broker->second.fenced) out.push_back(replica);
  }
  return out;
}

json partition_json(broker::Broker& broker, const std::string& topic, const cluster::PartitionImage& image) {
  int64_t log_start = -1, log_end = -1;
  if (auto partition = broker.replica_manager().partition(topic, image.partition)) {
    cluster::PartitionOffsets offsets = partition->offsets();
    log_start = offsets.log_start_offset;
    log_end = offsets.high_watermark;
  }
  return {{"partition", image.partition},
          {"leader", image.leader},
          {"replicas", image.replicas},
          {"isr", image.isr},
          {"offline_replicas", offline_replicas(*broker.metadata_image(), image)},
          {"adding_replicas", image.adding_replicas},
          {"removing_replicas", image.removing_replicas},
          {"log_start_offset", log_start},
          {"log_end_offset", log_end}};
}

// The committed offsets of a group (every topic), sorted by topic, partition.
std::vector<protocol::OffsetFetchResponse::OffsetFetchResponseTopic> committed_offsets(
    broker::Broker& broker, const std::string& group_id) {
  protocol::OffsetFetchRequest request;
  request.group_id = group_id;
  request.topics = std::nullopt;  // every committed offset
  auto response = broker.groups().coordinator().offset_fetch(request, offset_fetch_version);
  std::sort(response.topics.begin(), response.topics.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& topic : response.topics)
    std::sort(topic.partitions.begin(), topic.partitions.end(),
              [](const auto& a, const auto& b) { return a.partition_index < b.partition_index; });
  return response.topics;
}

// A consumer member's assignment (Kafka's ConsumerProtocolAssignment:
// int16 version, then the body; newer versions read as the newest known).
json assignments_json(const std::string& protocol_type, const std::vector<uint8_t>& assignment) {
  json out = json::array();
  if (protocol_type != "consumer" || assignment.size() < 2) return out;
  WireReader reader(assignment);
  int16_t version = std::min(reader.read_int16(), protocol::ConsumerProtocolAssignment::max_version);
  protocol::ConsumerProtocolAssignment decoded;
  if (version < 0 || !decoded.decode(reader, version)) return out;
  std::vector<std::pair<std::string, int32_t>> pairs;
  for (const auto& topic : decoded.assigned_partitions)
    for (int32_t partition : topic.partitions) pairs.emplace_back(topic.topic, partition);
  std::sort(pairs.begin(), pairs.end());
  for (const auto& [topic, partition] : pairs) out.push_back({{"topic", topic}, {"partition", partition}});
  return out;
}

json members_json(const protocol::DescribeGroupsResponse::DescribedGroup& group) {
  std::vector<const protocol::DescribeGroupsResponse::DescribedGroupMember*> members;
  for (const auto& member : group.members) members.push_back(&member);
  std::sort(members.begin(), members.end(), [](auto* a, auto* b) { return a->member_id < b->member_id; });
  json out = json::array();
  for (const auto* member : members)
    out.push_back({{"member_id", member->member_id},
                   {"group_instance_id", optional_text(member->group_instance_id)},
                   {"client_id", member->client_id},
                   {"host", member->client_host},
                   {"assignments", assignments_json(group.protocol_type, member->member_assignment)}});
  return out;
}

}  // namespace

bool MetadataCatchUp::caught_up(int64_t high_watermark, int64_t applied_offset) {
  if (caught_up_.load()) return true;
  int64_t unset = -1;
  if (high_watermark >= 0) target_.compare_exchange_strong(unset, high_watermark);
  const int64_t goal = target_.load();
  if (goal < 0 || applied_offset < goal) return false;
  caught_up_.store(true);
  return true;
}

namespace {

// Why a node of a quorum is not ready yet (empty: it is), in the order an
// operator fixes them: a leader first, then the catch-up, then registration.
std::pair<std::string, std::string> quorum_readiness(broker::Broker& broker,
                                                     MetadataCatchUp& catch_up,
                                                     nlohmann::ordered_json& out) {
  cluster::Controller& controller = broker.controller();
  const cluster::QuorumStatus status = controller.quorum().status();
  const int64_t applied = controller.applied_offset();
  const bool caught_up = catch_up.caught_up(status.high_watermark, applied);
  out = {{"role", raft::role_name(status.role)},
         {"leader_id", status.leader},
         {"epoch", status.epoch},
         {"high_watermark", status.high_watermark},
         {"applied_offset", applied},
         {"catch_up_target", catch_up.target()}};
  const broker::QuorumSettings& quorum = broker.config().quorum;
  if (!quorum.roles_explicit) return {};
  if (status.leader < 0) return {"no_quorum_leader", "the metadata quorum has no leader"};
  if (!caught_up) {
    return {"catching_up", "applied the metadata log up to " + std::to_string(applied) + " of " +
                               std::to_string(catch_up.target())};
  }
  if (!quorum.broker_role) return {};
  const cluster::MetadataImagePtr image = broker.metadata_image();
  auto found = image->brokers.find(broker.config().node_id);
  const bool registered = found != image->brokers.end() && !found->second.fenced;
  out["registered"] = registered;
  if (!registered)
    return {"not_registered", "the broker is not registered unfenced with the controller"};
  return {};
}

}  // namespace

JsonAnswer health_json(broker::Broker& broker, MetadataCatchUp& catch_up) {
  JsonAnswer answer;
  std::string status = "ready", reason;
  nlohmann::ordered_json dirs = nlohmann::ordered_json::array();
  for (const storage::LogDirStatus& dir : broker.log_manager().dir_status()) {
    nlohmann::ordered_json entry{{"path", dir.path}, {"state", !dir.online ? "offline" : dir.full ? "full" : "online"}};
    if (!dir.error.empty()) entry["error"] = dir.error;
    dirs.push_back(std::move(entry));
    if (!dir.online) {
      answer.http_status = 503;
      status = "log_dir_offline";
      reason = "log dir " + dir.path + " is offline: " + dir.error;
    } else if (dir.full && status == "ready") {
      status = "degraded";
      reason = "log dir " + dir.path + " is full, appends are refused: " + dir.error;
    }
  }
  nlohmann::ordered_json metadata;
  auto [not_ready, why] = quorum_readiness(broker, catch_up, metadata);
  if (!not_ready.empty() && answer.http_status == 200) {
    answer.http_status = 503;
    status = not_ready;
    reason = why;
  }
  answer.body = {{"status", status}};
  if (!reason.empty()) answer.body["reason"] = reason;
  answer.body["node_id"] = broker.config().node_id;
  answer.body["cluster_id"] = broker.metadata_image()->cluster_id;
  answer.body["log_dirs"] = std::move(dirs);
  answer.body["metadata"] = std::move(metadata);
  return answer;
}

JsonAnswer error_json(int http_status, const std::string& error, const std::string& message) {
  return {http_status, {{"error", error}, {"message", message}}};
}

namespace {

using security::AclOperation;

JsonAnswer cluster_refused() {
  return error_json(403, "CLUSTER_AUTHORIZATION_FAILED",
                    "DESCRIBE on the cluster is required (Cluster:kafka-cluster)");
}

}  // namespace

JsonAnswer cluster_json(broker::Broker& broker, const AdminAccess& caller) {
  if (!caller.allows_cluster(AclOperation::DESCRIBE)) return cluster_refused();
  cluster::MetadataImagePtr image = broker.metadata_image();
  json brokers = json::array();
  // The addresses a client of the first listener is given (Metadata's view).
  const std::string& listener = broker.config().listeners.front().name;
  for (const broker::BrokerAddress& address : broker::brokers_for_listener(*image, listener))
    brokers.push_back({{"id", address.node_id},
                       {"host", address.host},
                       {"port", address.port},
                       {"rack", optional_text(address.rack)}});
  return {200, {{"cluster_id", image->cluster_id}, {"controller_id", image->controller_id}, {"brokers", brokers}}};
}

JsonAnswer topics_json(broker::Broker& broker, const AdminAccess& caller) {
  cluster::MetadataImagePtr image = broker.metadata_image();
  json out = json::array();
  for (const auto& [name, topic] : image->topics) {  // std::map: sorted by name
    if (!caller.allows_topic(AclOperation::DESCRIBE, name)) continue;
    int replication_factor =
        topic->partitions.empty() ? 0 : static_cast<int>(topic->partitions.front().replicas.size());
    out.push_back({{"name", name},
                   {"topic_id", storage::uuid_to_base64(topic->id)},
                   {"partitions", topic->partitions.size()},
                   {"replication_factor", replication_factor},
                   {"internal", broker::is_internal_topic_name(name)}});
  }
  return {200, out};
}

JsonAnswer partitions_json(broker::Broker& broker, const AdminAccess& caller,
                           const std::string& filter) {
  if (!caller.allows_cluster(AclOperation::DESCRIBE)) return cluster_refused();
  const bool under_only = filter.find("under-replicated") != std::string::npos;
  const bool offline_only = filter.find("offline") != std::string::npos;
  if (!filter.empty() && !under_only && !offline_only)
    return error_json(400, "INVALID_REQUEST",
                      "filter is under-replicated, offline or both (comma-separated)");
  cluster::MetadataImagePtr image = broker.metadata_image();
  json out = json::array();
  for (const auto& [name, topic] : image->topics)  // sorted by name, partitions by id
    for (const cluster::PartitionImage& partition : topic->partitions) {
      const bool under = partition.isr.size() < partition.replicas.size();
      const bool offline = partition.leader < 0;
      if (!filter.empty() && !(under_only && under) && !(offline_only && offline)) continue;
      out.push_back({{"topic", name},
                     {"partition", partition.partition},
                     {"leader", partition.leader},
                     {"replicas", partition.replicas},
                     {"isr", partition.isr},
                     {"offline_replicas", offline_replicas(*image, partition)},
                     {"adding_replicas", partition.adding_replicas},
                     {"removing_replicas", partition.removing_replicas},
                     {"under_replicated", under},
                     {"offline", offline}});
    }
  return {200, out};
}

JsonAnswer topic_json(broker::Broker& broker, const AdminAccess& caller, const std::string& name) {
  cluster::MetadataImagePtr image = broker.metadata_image();
  const cluster::TopicImage* topic = image->topic(name);
  // Hidden like Metadata hides it: the caller cannot tell it exists.
  if (topic == nullptr || !caller.allows_topic(AclOperation::DESCRIBE, name))
    return error_json(404, "UNKNOWN_TOPIC_OR_PARTITION", "Topic '" + name + "' does not exist.");
  json partitions = json::array();
  for (const cluster::PartitionImage& partition : topic->partitions)
    partitions.push_back(partition_json(broker, name, partition));
  json configs = json(nullptr);  // DescribeConfigs would refuse them
  if (caller.allows_topic(AclOperation::DESCRIBE_CONFIGS, name)) {
    configs = json::object();
    for (const cluster::ResolvedConfig& config : cluster::resolve_topic_configs(
             topic->configs, *image, broker.config().values, broker.config().node_id))
      configs[config.name] = config.sensitive ? json(nullptr) : optional_text(config.value);
  }
  return {200,
          {{"name", name},
           {"topic_id", storage::uuid_to_base64(topic->id)},
           {"internal", broker::is_internal_topic_name(name)},
           {"partitions", partitions},
           {"configs", configs}}};
}

JsonAnswer groups_json(broker::Broker& broker, const AdminAccess& caller) {
  // Kafka's ListGroups: DESCRIBE on the cluster lists every group.
  const bool every_group = caller.allows_cluster(AclOperation::DESCRIBE);
  auto listed = broker.groups().coordinator().list_groups(protocol::ListGroupsRequest{}, list_groups_version);
  std::sort(listed.groups.begin(), listed.groups.end(),
            [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
  json out = json::array();
  for (const auto& group : listed.groups) {
    if (!every_group && !caller.allows_group(AclOperation::DESCRIBE, group.group_id)) continue;
    out.push_back({{"group_id", group.group_id}, {"state", group.group_state}, {"protocol_type", group.protocol_type}});
  }
  return {200, out};
}

JsonAnswer group_json(broker::Broker& broker, const AdminAccess& caller,
                      const std::string& group_id) {
  if (!caller.allows_group(AclOperation::DESCRIBE, group_id))
    return error_json(403, "GROUP_AUTHORIZATION_FAILED",
                      "DESCRIBE on group '" + group_id + "' is required");
  protocol::DescribeGroupsRequest request;
  request.groups = {group_id};
  auto described = broker.groups().coordinator().describe_groups(request, describe_groups_version);
  if (described.groups.empty()) return error_json(500, "UNKNOWN_SERVER_ERROR", "the coordinator answered nothing");
  const auto& group = described.groups.front();
  if (group.error_code != 0)
    return error_json(500, std::string(error_name(static_cast<ErrorCode>(group.error_code))), "DescribeGroups failed");
  // DescribeGroups answers Dead for a group it does not know.
  if (group.group_state == "Dead")
    return error_json(404, "GROUP_ID_NOT_FOUND", "Group '" + group_id + "' does not exist.");

  json offsets = json::array();
  int64_t total_lag = 0;
  for (const auto& topic : committed_offsets(broker, group_id)) {
    if (!caller.allows_topic(AclOperation::DESCRIBE, topic.name)) continue;  // OffsetFetch's rule
    for (const auto& partition : topic.partitions) {
      if (partition.committed_offset < 0) continue;
      auto hosted = broker.replica_manager().partition(topic.name, partition.partition_index);
      int64_t log_end = hosted ? hosted->high_watermark() : -1;
      int64_t lag = hosted ? std::max<int64_t>(0, log_end - partition.committed_offset) : 0;
      total_lag += lag;
      offsets.push_back({{"topic", topic.name},
                         {"partition", partition.partition_index},
                         {"committed_offset", partition.committed_offset},
                         {"log_end_offset", log_end},
                         {"lag", lag},
                         {"metadata", partition.metadata.value_or("")}});
    }
  }
  return {200,
          {{"group_id", group.group_id},
           {"state", group.group_state},
           {"protocol_type", group.protocol_type},
           {"protocol", group.protocol_data},
           {"coordinator", broker.config().node_id},
           {"members", members_json(group)},
           {"offsets", offsets},
           {"total_lag", total_lag}}};
}

}  // namespace sluice::admin
