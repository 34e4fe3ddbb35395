// The controller's partitions (the partition half of Kafka's
// ReplicationControlManager): AlterPartition from partition leaders,
// ElectLeaders from admins, and the active controller's periodic leader
// balancing and unclean elections. Every change is a PartitionChangeRecord
// built by build_partition_change(), committed before the call returns.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "cluster/controller.h"
#include "cluster/partition_change.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

// Kafka's QuorumController maxElectionsPerImbalance.
constexpr size_t elections_per_round_max = 1000;

void add_change(MetadataDelta& scratch, const md::PartitionChangeRecord& change,
                std::vector<std::vector<uint8_t>>& records) {
  add_checked_record(scratch, md::encode_framed(change, 0), records);
}

AlterPartitionResult state_of(const PartitionImage& partition) {
  AlterPartitionResult result;
  result.leader = partition.leader;
  result.leader_epoch = partition.leader_epoch;
  result.isr = partition.isr;
  result.leader_recovery_state = partition.leader_recovery_state;
  result.partition_epoch = partition.partition_epoch;
  return result;
}

// An ISR change that completed a reassignment which took the leader out:
// the change is committed, and the old leader learns with an error that it
// must follow the new metadata (Kafka answers this way too).
AlterPartitionResult leader_moved(int32_t broker_id, const std::string& topic, int32_t partition,
                                  int16_t version) {
  spdlog::info(
      "metadata: AlterPartition from broker {} for {}-{} completed the reassignment and moved "
      "its leadership",
      broker_id, topic, partition);
  AlterPartitionResult result;
  result.error = version > 1 ? ErrorCode::NEW_LEADER_ELECTED : ErrorCode::FENCED_LEADER_EPOCH;
  return result;
}

}  // namespace

ErrorCode Controller::check_alter_partition(const MetadataDelta& scratch, int32_t broker_id,
                                            const PartitionImage* partition,
                                            const AlterPartitionItem& item, int16_t version) const {
  if (partition == nullptr) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  // Newer epochs than this image knows: this node is probably no longer
  // the active controller (Kafka answers NOT_CONTROLLER so the leader
  // looks for the new one).
  if (item.leader_epoch > partition->leader_epoch ||
      item.partition_epoch > partition->partition_epoch)
    return ErrorCode::NOT_CONTROLLER;
  if (item.leader_epoch < partition->leader_epoch) return ErrorCode::FENCED_LEADER_EPOCH;
  if (broker_id != partition->leader) return ErrorCode::INVALID_REQUEST;
  if (item.partition_epoch < partition->partition_epoch) return ErrorCode::INVALID_UPDATE_VERSION;
  std::set<int32_t> seen;
  for (const IsrMember& member : item.new_isr)
    if (!contains(partition->replicas, member.broker_id) || !seen.insert(member.broker_id).second)
      return ErrorCode::INVALID_REQUEST;  // outside the replicas, or twice
  if (seen.count(partition->leader) == 0) return ErrorCode::INVALID_REQUEST;
  if (item.leader_recovery_state == leader_recovering && item.new_isr.size() > 1)
    return ErrorCode::INVALID_REQUEST;
  if (partition->leader_recovery_state == leader_recovered &&
      item.leader_recovery_state == leader_recovering)
    return ErrorCode::INVALID_REQUEST;
  for (const IsrMember& member : item.new_isr) {
    auto found = scratch.brokers().find(member.broker_id);
    const bool ineligible =
        found == scratch.brokers().end() || !found->second.active() ||
        (member.broker_epoch != -1 && member.broker_epoch != found->second.epoch);
    if (ineligible) {
      spdlog::info(
          "metadata: AlterPartition from broker {} names broker {} in the ISR, which is not "
          "registered, fenced, shutting down or of another epoch",
          broker_id, member.broker_id);
      return version > 1 ? ErrorCode::INELIGIBLE_REPLICA : ErrorCode::OPERATION_NOT_ATTEMPTED;
    }
  }
  return ErrorCode::NONE;
}

AlterPartitionReply Controller::alter_partition(
    int32_t broker_id, int64_t broker_epoch,
    const std::vector<std::vector<AlterPartitionItem>>& topics, int16_t version) {
  std::lock_guard lock(mutex_);
  AlterPartitionReply reply;
  MetadataImagePtr current = image();
  reply.error = check_broker_epoch(*current, broker_id, broker_epoch);
  if (!reply.error.ok()) return reply;
  MetadataDelta scratch(current);
  std::vector<std::vector<uint8_t>> records;
  for (const auto& items : topics) {
    auto& results = reply.topics.emplace_back();
    for (const AlterPartitionItem& item : items) {
      AlterPartitionResult& result = results.emplace_back();
      const TopicImage* topic =
          version > 1 ? scratch.topic(item.topic_id) : scratch.topic(item.topic_name);
      if (topic == nullptr) {
        result.error =
            version > 1 ? ErrorCode::UNKNOWN_TOPIC_ID : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
        continue;
      }
      const PartitionImage* partition = topic->partition(item.partition);
      result.error = check_alter_partition(scratch, broker_id, partition, item, version);
      if (result.error != ErrorCode::NONE) continue;
      PartitionChange change;
      change.topic_id = topic->id;
      change.topic_name = topic->name;
      change.partition = partition;
      change.acceptable_leader = [&scratch](int32_t id) { return broker_active(scratch, id); };
      change.election =
          unclean_election_enabled(scratch, *topic) ? Election::unclean : Election::online;
      std::vector<int32_t> isr;
      for (const IsrMember& member : item.new_isr) isr.push_back(member.broker_id);
      change.target_isr = std::move(isr);
      change.target_leader_recovery_state = item.leader_recovery_state;
      const Uuid topic_id = topic->id;
      if (auto record = build_partition_change(change)) {
        add_change(scratch, *record, records);
        spdlog::debug("metadata: broker {} changes the ISR of {}-{}", broker_id,
                      scratch.topic(topic_id)->name, item.partition);
        if (record->leader != -2 && record->leader != broker_id) {
          result = leader_moved(broker_id, scratch.topic(topic_id)->name, item.partition, version);
          continue;
        }
      }
      result = state_of(*scratch.topic(topic_id)->partition(item.partition));
    }
  }
  if (records.empty()) return reply;
  if (ApiError committed = commit_or_error(std::move(records)); !committed.ok()) {
    // Nothing changed: every partition answers the request's failure.
    AlterPartitionReply failed;
    failed.error = committed;
    return failed;
  }
  return reply;
}

ApiError Controller::elect_one(MetadataDelta& scratch, const std::string& topic_name,
                               int32_t partition_id, ElectionType type,
                               std::vector<std::vector<uint8_t>>& records) const {
  const TopicImage* topic = scratch.topic(topic_name);
  if (topic == nullptr)
    return ApiError{ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "No such topic as " + topic_name};
  const PartitionImage* partition = topic->partition(partition_id);
  if (partition == nullptr)
    return ApiError{ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    "No such partition as " + topic_name + "-" + std::to_string(partition_id)};
  const bool has_preferred_leader =
      !partition->replicas.empty() && partition->leader == partition->replicas.front();
  if ((type == ElectionType::preferred && has_preferred_leader) ||
      (type == ElectionType::unclean && partition->leader >= 0))
    return ApiError{ErrorCode::ELECTION_NOT_NEEDED, ""};
  PartitionChange change;
  change.topic_id = topic->id;
  change.topic_name = topic->name;
  change.partition = partition;
  change.acceptable_leader = [&scratch](int32_t id) { return broker_active(scratch, id); };
  change.election = type == ElectionType::preferred ? Election::preferred : Election::unclean;
  auto record = build_partition_change(change);
  if (!record)
    return ApiError{type == ElectionType::preferred ? ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE
                                                    : ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE,
                    ""};
  add_change(scratch, *record, records);
  return ApiError::none();
}

std::vector<ElectionResult> Controller::elect_leaders(
    ElectionType type,
    const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions) {
  std::lock_guard lock(mutex_);
  MetadataDelta scratch(image());
  std::vector<std::vector<uint8_t>> records;
  std::vector<ElectionResult> results;
  if (partitions) {
    for (const auto& [topic, partition] : *partitions)
      results.push_back({topic, partition, elect_one(scratch, topic, partition, type, records)});
  } else {
    // Every partition; those already led as asked are not reported (Kafka).
    for (const auto& [name, topic] : scratch.base().topics)
      for (const PartitionImage& partition : topic->partitions) {
        ApiError error = elect_one(scratch, name, partition.partition, type, records);
        if (error.code != ErrorCode::ELECTION_NOT_NEEDED)
          results.push_back({name, partition.partition, std::move(error)});
      }
  }
  if (records.empty()) return results;
  if (records.size() > records_per_operation_max) {
    for (ElectionResult& result : results)
      if (result.error.ok())
        result.error = ApiError{ErrorCode::POLICY_VIOLATION,
                                "Unable to perform excessively large batch operation."};
    return results;
  }
  const size_t elected = records.size();
  if (ApiError committed = commit_or_error(std::move(records)); !committed.ok()) {
    for (ElectionResult& result : results)
      if (result.error.ok()) result.error = committed;
    return results;
  }
  spdlog::info("metadata: {} election(s) of {} leaders", elected,
               type == ElectionType::preferred ? "preferred" : "unclean");
  return results;
}

void Controller::balance_partition_leaders() {
  std::lock_guard lock(mutex_);
  MetadataDelta scratch(image());
  std::vector<std::vector<uint8_t>> records;
  for (const auto& [name, topic] : scratch.base().topics)
    for (const PartitionImage& partition : topic->partitions) {
      if (records.size() >= elections_per_round_max) break;
      if (partition.replicas.empty() || partition.leader == partition.replicas.front()) continue;
      // Only a move to the preferred replica: a partition whose preferred
      // replica cannot lead stays where it is (not an error here).
      PartitionChange change;
      change.topic_id = topic->id;
      change.topic_name = name;
      change.partition = &partition;
      change.acceptable_leader = [&scratch](int32_t id) { return broker_active(scratch, id); };
      change.election = Election::preferred;
      if (elect_leader(change) != partition.replicas.front()) continue;
      elect_one(scratch, name, partition.partition, ElectionType::preferred, records);
    }
  if (records.empty()) return;
  spdlog::info("metadata: moving {} partition leader(s) back to their preferred replicas",
               records.size());
  commit_logged(std::move(records), "balancing partition leaders");
}

void Controller::elect_unclean_leaders() {
  std::lock_guard lock(mutex_);
  MetadataDelta scratch(image());
  std::vector<std::vector<uint8_t>> records;
  for (const auto& [name, topic] : scratch.base().topics) {
    std::optional<bool> enabled;
    for (const PartitionImage& partition : topic->partitions) {
      if (records.size() >= elections_per_round_max) break;
      if (partition.leader >= 0) continue;
      if (!enabled) enabled = unclean_election_enabled(scratch, *topic);
      if (!*enabled) break;
      ApiError error =
          elect_one(scratch, name, partition.partition, ElectionType::unclean, records);
      if (error.ok())
        spdlog::error("metadata: unclean leader election for offline partition {}-{}", name,
                      partition.partition);
    }
  }
  if (records.empty()) return;
  commit_logged(std::move(records), "electing leaders uncleanly");
}

}  // namespace sluice::cluster
