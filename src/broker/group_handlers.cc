// The group coordinator's APIs (src/group/): FindCoordinator, JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch,
// DescribeGroups, ListGroups, DeleteGroups, OffsetDelete, TxnOffsetCommit;
// and the broker's
// GroupService (open at start, stopped after the server drained).
#include <spdlog/spdlog.h>

#include "broker/admin_common.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "group/group_service.h"
#include "txn/txn_verifier.h"

namespace sluice::broker {

using namespace protocol;

namespace {

group::ClientInfo client_of(const RequestContext& context) {
  std::string host = context.connection().peer_address;
  auto colon = host.rfind(':');
  if (colon != std::string::npos) host = host.substr(0, colon);
  return {context.header().client_id.value_or(""), "/" + host};
}

// Replies from the coordinator partition's strand that completes the
// operation; RequestContext::reply may be called from any thread.
template <class Response>
group::Reply<Response> reply_to(RequestContext context) {
  auto shared = std::make_shared<RequestContext>(std::move(context));
  return [shared](Response response) { shared->reply(response); };
}

}  // namespace

Status Broker::open_groups() {
  group::GroupServiceOptions options;
  options.clock = environment_.clock;
  options.random = environment_.random;
  group::GroupConfig& groups = options.group;
  groups.min_session_timeout_ms = static_cast<int32_t>(config_.get_int("group.min.session.timeout.ms"));
  groups.max_session_timeout_ms = static_cast<int32_t>(config_.get_int("group.max.session.timeout.ms"));
  groups.initial_rebalance_delay_ms = static_cast<int32_t>(config_.get_int("group.initial.rebalance.delay.ms"));
  groups.max_size = static_cast<int32_t>(config_.get_int("group.max.size"));
  groups.offset_metadata_max_bytes = static_cast<int32_t>(config_.get_int("offset.metadata.max.bytes"));
  groups.offsets_retention_ms = config_.get_int("offsets.retention.minutes") * 60 * 1000;
  groups.offsets_retention_check_interval_ms = config_.get_int("offsets.retention.check.interval.ms");
  groups.offsets_topic_partitions = static_cast<int32_t>(config_.get_int("offsets.topic.num.partitions"));
  options.offsets_replication_factor = static_cast<int16_t>(config_.get_int("offsets.topic.replication.factor"));
  options.offsets_segment_bytes = config_.get_int("offsets.topic.segment.bytes");
  options.commit_timeout_ms = config_.get_int("offsets.commit.timeout.ms");
  options.node_id = BrokerId{config_.node_id};
  options.lone_node = lone_node();
  auto service = group::GroupService::open(*controller_, *replica_manager_, options);
  if (!service) return service.status();
  groups_ = std::move(*service);
  spdlog::info("group coordinator loaded {} groups from {}", groups_->coordinator().group_count(),
               group::offsets_topic);
  return Status::ok();
}

void Broker::close_groups() {
  if (groups_) groups_->stop();
}

// The group's __consumer_offsets partition (Kafka's partitionFor(groupId));
// none while the topic does not exist.
static std::optional<int32_t> offsets_partition_of(const cluster::MetadataImage& image,
                                                   const std::string& group_id) {
  const cluster::TopicImage* offsets = image.topic(std::string(group::offsets_topic));
  if (offsets == nullptr || offsets->partitions.empty()) return std::nullopt;
  return group::partition_for_group(group_id, static_cast<int32_t>(offsets->partitions.size()));
}

// Kafka's coordinator of a group: the leader of its __consumer_offsets
// partition, at its address on the listener the request came in on; none
// while that partition has no live leader there.
static std::optional<BrokerAddress> coordinator_of(const cluster::MetadataImage& image,
                                                   const std::string& listener_name,
                                                   const std::string& group_id) {
  const std::optional<int32_t> partition = offsets_partition_of(image, group_id);
  if (!partition) return std::nullopt;
  const int32_t leader = image.topic(std::string(group::offsets_topic))
                             ->partitions[static_cast<size_t>(*partition)]
                             .leader;
  for (const BrokerAddress& address : brokers_for_listener(image, listener_name))
    if (address.node_id == leader) return address;
  return std::nullopt;
}

static void answer_find_coordinator(Broker& broker, RequestContext& context, const FindCoordinatorRequest& request) {
  int16_t version = context.api_version();
  std::vector<std::string> keys = version >= 4 ? request.coordinator_keys : std::vector<std::string>{request.key};
  const cluster::MetadataImagePtr image = broker.metadata_image();
  bool offsets_topic_ready = broker.groups().offsets_topic_exists();
  FindCoordinatorResponse response;
  for (const std::string& key : keys) {
    FindCoordinatorResponse::Coordinator out;
    out.key = key;
    ErrorCode error = ErrorCode::NONE;
    std::optional<BrokerAddress> coordinator;
    if (request.key_type == 0 && offsets_topic_ready)
      coordinator = coordinator_of(*image, context.connection().listener_name, key);
    if (request.key_type != 0)
      error = ErrorCode::INVALID_REQUEST;
    else if (!broker.authorization().allows_group(context.connection(),
                                                  security::AclOperation::DESCRIBE, key))
      error = ErrorCode::GROUP_AUTHORIZATION_FAILED;
    else if (!coordinator)
      error = ErrorCode::COORDINATOR_NOT_AVAILABLE;
    out.error_code = to_wire(error);
    if (error == ErrorCode::NONE) {
      out.node_id = coordinator->node_id;
      out.host = coordinator->host;
      out.port = coordinator->port;
      out.error_message = std::nullopt;
    } else {
      out.node_id = -1;
      out.host = "";
      out.port = -1;
      out.error_message = error_name(error);
    }
    response.coordinators.push_back(std::move(out));
  }
  if (version < 4) {
    const auto& only = response.coordinators.front();
    response.error_code = only.error_code;
    response.error_message = only.error_message;
    response.node_id = only.node_id;
    response.host = only.host;
    response.port = only.port;
    response.coordinators.clear();
  }
  context.reply(response);
}

// Kafka creates __consumer_offsets when a group coordinator is first looked
// up, and answers COORDINATOR_NOT_AVAILABLE until it exists (clients retry).
// Creating blocks on the metadata log's fsync: it is handed to the
// controller thread, never run here on a reactor.
// Handled at its turn (RequestContext::handle_at_turn), as Kafka handles a
// connection's requests one at a time: an answer built at arrival behind a
// long-polling Fetch or a slow Produce may name a coordinator that has moved
// since, and librdkafka's OffsetFetch to it, answered NOT_COORDINATOR, is
// not retried (its partitions are then never fetched).
void handle_find_coordinator(Broker& broker, RequestContext context, FindCoordinatorRequest request) {
  context.handle_at_turn([&broker, request = std::move(request)](RequestContext turn) {
    if (request.key_type == 1)
      return handle_find_transaction_coordinator(broker, std::move(turn), request);
    if (request.key_type == 0) broker.groups().request_offsets_topic();
    answer_find_coordinator(broker, turn, request);
  });
}

// Kafka's group APIs need READ on the group (DescribeGroups DESCRIBE,
// DeleteGroups DELETE): refused ones answer GROUP_AUTHORIZATION_FAILED.
template <class Response>
bool refuse_unless_group_read(Broker& broker, RequestContext& context,
                              const std::string& group_id) {
  if (broker.authorization().allows_group(context.connection(), security::AclOperation::READ,
                                          group_id))
    return false;
  Response response;
  response.error_code = to_wire(ErrorCode::GROUP_AUTHORIZATION_FAILED);
  context.reply(response);
  return true;
}

void handle_join_group(Broker& broker, RequestContext context, JoinGroupRequest request) {
  if (refuse_unless_group_read<JoinGroupResponse>(broker, context, request.group_id)) return;
  int16_t version = context.api_version();
  group::ClientInfo client = client_of(context);
  broker.groups().coordinator().join_group(request, version, client,
                                           reply_to<JoinGroupResponse>(std::move(context)));
}

void handle_sync_group(Broker& broker, RequestContext context, SyncGroupRequest request) {
  if (refuse_unless_group_read<SyncGroupResponse>(broker, context, request.group_id)) return;
  int16_t version = context.api_version();
  broker.groups().coordinator().sync_group(request, version, reply_to<SyncGroupResponse>(std::move(context)));
}

void handle_heartbeat(Broker& broker, RequestContext context, HeartbeatRequest request) {
  if (refuse_unless_group_read<HeartbeatResponse>(broker, context, request.group_id)) return;
  int16_t version = context.api_version();
  broker.groups().coordinator().heartbeat(request, version, reply_to<HeartbeatResponse>(std::move(context)));
}

void handle_leave_group(Broker& broker, RequestContext context, LeaveGroupRequest request) {
  if (refuse_unless_group_read<LeaveGroupResponse>(broker, context, request.group_id)) return;
  int16_t version = context.api_version();
  broker.groups().coordinator().leave_group(request, version, reply_to<LeaveGroupResponse>(std::move(context)));
}

namespace {

// Adds one partition's answer to `response`, under its topic's entry.
void add_commit_answer(OffsetCommitResponse& response, const std::string& topic, int32_t partition,
                       int16_t error_code) {
  if (response.topics.empty() || response.topics.back().name != topic)
    response.topics.emplace_back().name = topic;
  response.topics.back().partitions.push_back({partition, error_code, {}});
}

// Kafka's KafkaApis.handleOffsetCommitRequest: a partition the metadata does
// not know (its topic or the partition itself) is answered
// UNKNOWN_TOPIC_OR_PARTITION at once and never reaches the coordinator, so
// no offset is stored for it. Moves those out of `request` into the answer.
OffsetCommitResponse answer_unknown_partitions(const cluster::MetadataImage& image,
                                               OffsetCommitRequest& request) {
  OffsetCommitResponse unknown;
  std::vector<OffsetCommitRequest::OffsetCommitRequestTopic> known_topics;
  for (auto& topic : request.topics) {
    const cluster::TopicImage* topic_image = image.topic(topic.name);
    std::vector<OffsetCommitRequest::OffsetCommitRequestPartition> known;
    for (auto& partition : topic.partitions) {
      if (topic_image != nullptr && topic_image->partition(partition.partition_index) != nullptr)
        known.push_back(std::move(partition));
      else
        add_commit_answer(unknown, topic.name, partition.partition_index,
                          to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    }
    if (known.empty()) continue;
    topic.partitions = std::move(known);
    known_topics.push_back(std::move(topic));
  }
  request.topics = std::move(known_topics);
  return unknown;
}

// What a TxnOffsetCommit's verification ends with: the error every
// partition is answered, or the verification its append carries.
using VerifiedCommit = std::function<void(ErrorCode, storage::AppendVerification)>;

// KIP-890 for TxnOffsetCommit (Kafka verifies it as it verifies Produce):
// the group's __consumer_offsets partition must be in the producer's
// transaction before offsets are written there. On that partition's
// append lane (a reactor never takes the producer state's lock) the
// partition hands out a guard; unless the producer's transaction is
// ongoing there already, the transaction coordinator is asked first (v5,
// transactions v2: asked to add the partition itself), and the append
// must carry the guard. A partition not led here skips this: the group
// coordinator answers NOT_COORDINATOR.
void verify_txn_commit(Broker& broker, const TxnOffsetCommitRequest& request, int16_t version,
                       VerifiedCommit commit) {
  if (!broker.config().transaction_partition_verification) return commit(ErrorCode::NONE, {});
  const std::optional<int32_t> found =
      offsets_partition_of(*broker.metadata_image(), request.group_id);
  if (!found) return commit(ErrorCode::NONE, {});
  const int32_t index = *found;
  auto partition = broker.replica_manager().partition(group::offsets_topic, index);
  if (!partition) return commit(ErrorCode::NONE, {});
  txn::TxnVerification verification;
  verification.transactional_id = request.transactional_id;
  verification.producer_id = request.producer_id;
  verification.producer_epoch = request.producer_epoch;
  verification.partitions.push_back({std::string(group::offsets_topic), index});
  verification.add_partitions = version >= 5;
  verification.abortable_error_supported = version >= 4;
  broker.appends().post(
      broker.append_lane(group::offsets_topic, index),
      [&broker, partition, verification = std::move(verification),
       commit = std::move(commit)]() mutable {
        auto started = partition->start_txn_verification(
            verification.producer_id, -1, verification.producer_epoch, system_clock().now_ms());
        if (started.error != ErrorCode::NONE) return commit(started.error, {});
        if (started.guard == storage::no_verification_guard)
          return commit(ErrorCode::NONE, {true, storage::no_verification_guard});
        broker.txn_verifier().verify(
            std::move(verification),
            [commit, guard = started.guard](const txn::TxnVerificationErrors& errors) {
              if (errors.empty()) return commit(ErrorCode::NONE, {true, guard});
              commit(txn::produce_error_for_verification(errors.begin()->second), {});
            });
      });
}

// Kafka: without READ on the group every partition answers
// GROUP_AUTHORIZATION_FAILED; a topic without READ answers
// TOPIC_AUTHORIZATION_FAILED. Moves refused partitions into the answer.
OffsetCommitResponse answer_unauthorized_commits(const Broker& broker,
                                                 const RequestContext& context,
                                                 OffsetCommitRequest& request) {
  OffsetCommitResponse refused;
  const Authorization& authorization = broker.authorization();
  const bool group_denied = !authorization.allows_group(
      context.connection(), security::AclOperation::READ, request.group_id);
  std::vector<OffsetCommitRequest::OffsetCommitRequestTopic> allowed;
  for (auto& topic : request.topics) {
    const bool denied =
        group_denied ||
        !authorization.allows_topic(context.connection(), security::AclOperation::READ, topic.name);
    if (!denied) {
      allowed.push_back(std::move(topic));
      continue;
    }
    const ErrorCode error = group_denied ? ErrorCode::GROUP_AUTHORIZATION_FAILED
                                         : ErrorCode::TOPIC_AUTHORIZATION_FAILED;
    for (const auto& partition : topic.partitions)
      add_commit_answer(refused, topic.name, partition.partition_index, to_wire(error));
  }
  request.topics = std::move(allowed);
  return refused;
}

// Kafka: DESCRIBE on the group, and on each topic: a topic the client may
// not describe answers TOPIC_AUTHORIZATION_FAILED when named, and is left
// out of an all-topics answer.
template <class Topics>
void filter_fetched_topics(const Broker& broker, const RequestContext& context, Topics& topics,
                           bool named) {
  std::erase_if(topics, [&](auto& topic) {
    if (broker.authorization().allows_topic(context.connection(), security::AclOperation::DESCRIBE,
                                            topic.name))
      return false;
    for (auto& partition : topic.partitions) {
      partition.committed_offset = -1;
      partition.metadata = "";
      partition.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    }
    return !named;
  });
}

}  // namespace

void handle_offset_commit(Broker& broker, RequestContext context, OffsetCommitRequest request) {
  int16_t version = context.api_version();
  OffsetCommitResponse unknown = answer_unauthorized_commits(broker, context, request);
  OffsetCommitResponse missing = answer_unknown_partitions(*broker.metadata_image(), request);
  for (const auto& topic : missing.topics)
    for (const auto& partition : topic.partitions)
      add_commit_answer(unknown, topic.name, partition.partition_index, partition.error_code);
  if (request.topics.empty()) return context.reply(unknown);
  auto reply = reply_to<OffsetCommitResponse>(std::move(context));
  broker.groups().coordinator().offset_commit(
      request, version,
      [reply, unknown = std::move(unknown)](const OffsetCommitResponse& response) {
        OffsetCommitResponse merged = unknown;
        for (const auto& topic : response.topics)
          for (const auto& partition : topic.partitions)
            add_commit_answer(merged, topic.name, partition.partition_index, partition.error_code);
        reply(std::move(merged));
      });
}

void handle_offset_fetch(Broker& broker, RequestContext context, OffsetFetchRequest request) {
  int16_t version = context.api_version();
  const Authorization& authorization = broker.authorization();
  if (version < 8 &&
      !authorization.allows_group(context.connection(), security::AclOperation::DESCRIBE,
                                  request.group_id)) {
    OffsetFetchResponse refused;
    refused.error_code = to_wire(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    return context.reply(refused);
  }
  if (!authorization.enabled())
    return broker.groups().coordinator().offset_fetch(
        request, version, reply_to<OffsetFetchResponse>(std::move(context)));
  auto shared = std::make_shared<RequestContext>(std::move(context));
  const bool named = version < 8 ? request.topics.has_value() : false;
  std::map<std::string, bool> group_named;  // v8+: per group
  for (const auto& group : request.groups) group_named[group.group_id] = group.topics.has_value();
  broker.groups().coordinator().offset_fetch(
      request, version, [&broker, shared, named, group_named](OffsetFetchResponse response) {
        filter_fetched_topics(broker, *shared, response.topics, named);
        for (auto& group : response.groups) {
          if (!broker.authorization().allows_group(
                  shared->connection(), security::AclOperation::DESCRIBE, group.group_id)) {
            group.topics.clear();
            group.error_code = to_wire(ErrorCode::GROUP_AUTHORIZATION_FAILED);
            continue;
          }
          auto found = group_named.find(group.group_id);
          filter_fetched_topics(broker, *shared, group.topics,
                                found != group_named.end() && found->second);
        }
        shared->reply(response);
      });
}

// A group the client may not DESCRIBE is answered GROUP_AUTHORIZATION_FAILED
// with nothing of it; KIP-430's operations are READ, DESCRIBE and DELETE.
void handle_describe_groups(Broker& broker, RequestContext context, DescribeGroupsRequest request) {
  int16_t version = context.api_version();
  auto shared = std::make_shared<RequestContext>(std::move(context));
  const bool operations = request.include_authorized_operations;
  broker.groups().coordinator().describe_groups(
      request, version, [&broker, shared, operations](DescribeGroupsResponse response) {
        constexpr int32_t group_operations_all = (1 << 3) | (1 << 6) | (1 << 8);
        const Authorization& authorization = broker.authorization();
        for (auto& group : response.groups) {
          if (!authorization.allows_group(shared->connection(), security::AclOperation::DESCRIBE,
                                          group.group_id)) {
            DescribeGroupsResponse::DescribedGroup refused;
            refused.group_id = group.group_id;
            refused.error_code = to_wire(ErrorCode::GROUP_AUTHORIZATION_FAILED);
            group = std::move(refused);
          } else if (operations) {
            group.authorized_operations = authorization.authorized_operations(
                shared->connection(), security::ResourceType::GROUP, group.group_id,
                group_operations_all);
          }
        }
        shared->reply(response);
      });
}

// Kafka lists every group to a client that may DESCRIBE the cluster, else
// only the groups it may DESCRIBE.
void handle_list_groups(Broker& broker, RequestContext context, ListGroupsRequest request) {
  int16_t version = context.api_version();
  auto shared = std::make_shared<RequestContext>(std::move(context));
  broker.groups().coordinator().list_groups(
      request, version, [&broker, shared](ListGroupsResponse response) {
        const Authorization& authorization = broker.authorization();
        if (!authorization.allows_cluster(shared->connection(), security::AclOperation::DESCRIBE))
          std::erase_if(response.groups, [&](const auto& group) {
            return !authorization.allows_group(shared->connection(),
                                               security::AclOperation::DESCRIBE, group.group_id);
          });
        shared->reply(response);
      });
}

// Groups the client may not DELETE are answered GROUP_AUTHORIZATION_FAILED
// and left alone.
void handle_delete_groups(Broker& broker, RequestContext context, DeleteGroupsRequest request) {
  int16_t version = context.api_version();
  DeleteGroupsResponse refused;
  std::erase_if(request.groups_names, [&](const std::string& group) {
    if (broker.authorization().allows_group(context.connection(), security::AclOperation::DELETE,
                                            group))
      return false;
    refused.results.push_back({group, to_wire(ErrorCode::GROUP_AUTHORIZATION_FAILED), {}});
    return true;
  });
  if (request.groups_names.empty()) return context.reply(refused);
  auto shared = std::make_shared<RequestContext>(std::move(context));
  broker.groups().coordinator().delete_groups(
      request, version, [shared, refused = std::move(refused)](DeleteGroupsResponse response) {
        response.results.insert(response.results.end(), refused.results.begin(),
                                refused.results.end());
        shared->reply(response);
      });
}

void handle_offset_delete(Broker& broker, RequestContext context, OffsetDeleteRequest request) {
  if (!broker.authorization().allows_group(context.connection(), security::AclOperation::DELETE,
                                           request.group_id)) {
    OffsetDeleteResponse refused;
    refused.error_code = to_wire(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    return context.reply(refused);
  }
  int16_t version = context.api_version();
  broker.groups().coordinator().offset_delete(request, version, reply_to<OffsetDeleteResponse>(std::move(context)));
}

namespace {

void add_txn_commit_answer(TxnOffsetCommitResponse& response, const std::string& topic,
                           int32_t partition, int16_t error_code) {
  if (response.topics.empty() || response.topics.back().name != topic)
    response.topics.emplace_back().name = topic;
  auto& answer = response.topics.back().partitions.emplace_back();
  answer.partition_index = partition;
  answer.error_code = error_code;
}

// Kafka's KafkaApis.handleTxnOffsetCommitRequest: partitions the metadata
// does not know answer UNKNOWN_TOPIC_OR_PARTITION and never reach the
// coordinator. Moves them out of `request` into the answer.
TxnOffsetCommitResponse answer_unknown_txn_partitions(const cluster::MetadataImage& image,
                                                      TxnOffsetCommitRequest& request) {
  TxnOffsetCommitResponse unknown;
  std::vector<TxnOffsetCommitRequest::TxnOffsetCommitRequestTopic> known_topics;
  for (auto& topic : request.topics) {
    const cluster::TopicImage* topic_image = image.topic(topic.name);
    std::vector<TxnOffsetCommitRequest::TxnOffsetCommitRequestPartition> known;
    for (auto& partition : topic.partitions) {
      if (topic_image != nullptr && topic_image->partition(partition.partition_index) != nullptr)
        known.push_back(std::move(partition));
      else
        add_txn_commit_answer(unknown, topic.name, partition.partition_index,
                              to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION));
    }
    if (known.empty()) continue;
    topic.partitions = std::move(known);
    known_topics.push_back(std::move(topic));
  }
  request.topics = std::move(known_topics);
  return unknown;
}

}  // namespace

namespace {

// Kafka: WRITE on the transactional id, READ on the group (else every
// partition fails) and READ on each topic. Moves refused partitions into
// the answer.
TxnOffsetCommitResponse answer_unauthorized_txn_commits(const Broker& broker,
                                                        const RequestContext& context,
                                                        TxnOffsetCommitRequest& request) {
  const Authorization& authorization = broker.authorization();
  const net::ConnectionInfo& connection = context.connection();
  std::optional<ErrorCode> all_error;
  if (!authorization.allows(connection, security::AclOperation::WRITE,
                            security::ResourceType::TRANSACTIONAL_ID, request.transactional_id))
    all_error = ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  else if (!authorization.allows_group(connection, security::AclOperation::READ, request.group_id))
    all_error = ErrorCode::GROUP_AUTHORIZATION_FAILED;
  TxnOffsetCommitResponse refused;
  std::erase_if(request.topics, [&](const auto& topic) {
    if (!all_error &&
        authorization.allows_topic(connection, security::AclOperation::READ, topic.name))
      return false;
    for (const auto& partition : topic.partitions)
      add_txn_commit_answer(refused, topic.name, partition.partition_index,
                            to_wire(all_error.value_or(ErrorCode::TOPIC_AUTHORIZATION_FAILED)));
    return true;
  });
  return refused;
}

}  // namespace

void handle_txn_offset_commit(Broker& broker, RequestContext context,
                              TxnOffsetCommitRequest request) {
  int16_t version = context.api_version();
  TxnOffsetCommitResponse unknown = answer_unauthorized_txn_commits(broker, context, request);
  TxnOffsetCommitResponse missing =
      answer_unknown_txn_partitions(*broker.metadata_image(), request);
  for (const auto& topic : missing.topics)
    for (const auto& partition : topic.partitions)
      add_txn_commit_answer(unknown, topic.name, partition.partition_index, partition.error_code);
  if (request.topics.empty()) return context.reply(unknown);
  auto reply = reply_to<TxnOffsetCommitResponse>(std::move(context));
  auto answer = [reply, version,
                 unknown = std::move(unknown)](const TxnOffsetCommitResponse& response) {
    TxnOffsetCommitResponse merged = unknown;
    for (const auto& topic : response.topics)
      for (const auto& partition : topic.partitions) {
        int16_t code = partition.error_code;
        // Producers before 2.0 (v0-1) do not retry a loading coordinator
        // (KAFKA-7296): Kafka answers them COORDINATOR_NOT_AVAILABLE.
        if (version < 2 && code == to_wire(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS))
          code = to_wire(ErrorCode::COORDINATOR_NOT_AVAILABLE);
        add_txn_commit_answer(merged, topic.name, partition.partition_index, code);
      }
    reply(std::move(merged));
  };
  auto commit = [&broker, request, version, answer](ErrorCode error,
                                                    storage::AppendVerification verification) {
    if (error == ErrorCode::NONE)
      return broker.groups().coordinator().txn_offset_commit(request, version, answer,
                                                             verification);
    // Kafka's coordinator maps a verification's error as an append's.
    TxnOffsetCommitResponse refused;
    for (const auto& topic : request.topics)
      for (const auto& partition : topic.partitions)
        add_txn_commit_answer(refused, topic.name, partition.partition_index,
                              to_wire(group::coordinator_error(error)));
    answer(refused);
  };
  verify_txn_commit(broker, request, version, std::move(commit));
}

}  // namespace sluice::broker
