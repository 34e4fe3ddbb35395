// ListOffsets v1+: earliest (-2), latest (-1), max timestamp (-3, v7+),
// earliest local (-4, = earliest: no tiered storage), latest tiered (-5:
// none), or the first offset at or after a timestamp. Consumers see
// offsets up to the high watermark (read_uncommitted) or the last stable
// offset (read_committed; equal until transactions exist).
// ListOffsets v0 (Kafka's KafkaApis.handleListOffsetRequestV0): up to
// max_num_offsets segment start offsets before a time, in old_style_offsets
// (cluster::Partition::legacy_list_offsets).
#include "base/clock.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/leader_hints.h"

namespace sluice::broker {

using protocol::ListOffsetsRequest;
using protocol::ListOffsetsResponse;

namespace {

ListOffsetsResponse::ListOffsetsPartitionResponse list_partition(
    Broker& broker, const std::string& topic, const ListOffsetsRequest::ListOffsetsPartition& asked,
    int16_t version, int32_t replica_id, bool read_committed) {
  ListOffsetsResponse::ListOffsetsPartitionResponse out;
  out.partition_index = asked.partition_index;
  auto partition = broker.replica_manager().partition(topic, asked.partition_index);
  if (!partition) {
    out.error_code = to_wire(
        missing_partition_error(*broker.replica_manager().image(), topic, asked.partition_index));
    return out;
  }
  int64_t timestamp = asked.timestamp;
  if (timestamp == -3 && version < 7) {
    out.error_code = to_wire(ErrorCode::UNSUPPORTED_VERSION);
    return out;
  }
  if (timestamp == -5) {  // latest tiered: nothing is tiered
    out.error_code = to_wire(partition->check_leader(LeaderEpoch{asked.current_leader_epoch}));
    return out;
  }
  if (timestamp == -4) timestamp = -2;
  cluster::Partition::ListedOffset listed = partition->list_offset(
      timestamp, LeaderEpoch{asked.current_leader_epoch}, replica_id, read_committed);
  // Kafka: only v5+ clients know OFFSET_NOT_AVAILABLE (a new leader's high
  // watermark below its epoch's start); older ones retry on this one.
  if (listed.error == ErrorCode::OFFSET_NOT_AVAILABLE && version < 5)
    listed.error = ErrorCode::LEADER_NOT_AVAILABLE;
  out.error_code = to_wire(listed.error);
  out.offset = listed.offset;
  out.timestamp = listed.timestamp_ms;
  out.leader_epoch = listed.leader_epoch;
  return out;
}

ListOffsetsResponse::ListOffsetsPartitionResponse list_partition_v0(
    Broker& broker, const std::string& topic, const ListOffsetsRequest::ListOffsetsPartition& asked,
    int32_t replica_id) {
  ListOffsetsResponse::ListOffsetsPartitionResponse out;
  out.partition_index = asked.partition_index;
  // v0 knows only latest (-1) and earliest (-2) among the negative times.
  if (asked.timestamp < storage::earliest_timestamp) {
    out.error_code = to_wire(ErrorCode::UNSUPPORTED_VERSION);
    return out;
  }
  auto partition = broker.replica_manager().partition(topic, asked.partition_index);
  if (!partition) {
    out.error_code = to_wire(
        missing_partition_error(*broker.replica_manager().image(), topic, asked.partition_index));
    return out;
  }
  // A consumer (-1) sees no offset above the high watermark.
  cluster::Partition::LegacyOffsets listed = partition->legacy_list_offsets(
      asked.timestamp, asked.max_num_offsets, replica_id == cluster::consumer_replica_id,
      system_clock().now_ms());
  out.error_code = to_wire(listed.error);
  out.old_style_offsets = std::move(listed.offsets);
  return out;
}

// v2+ carries the isolation level; READ_COMMITTED (1) consumers see up to
// the last stable offset.
bool read_committed(const RequestContext& context, const ListOffsetsRequest& request) {
  return context.api_version() >= 2 && request.isolation_level == 1;
}

void answer_list_offsets(Broker& broker, RequestContext& context,
                         const ListOffsetsRequest& request) {
  ListOffsetsResponse response;
  for (const auto& topic : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.name = topic.name;
    // Kafka: DESCRIBE on the topic, else TOPIC_AUTHORIZATION_FAILED.
    if (!broker.authorization().allows_topic(context.connection(), security::AclOperation::DESCRIBE,
                                             topic.name)) {
      for (const auto& partition : topic.partitions) {
        auto& refused = topic_out.partitions.emplace_back();
        refused.partition_index = partition.partition_index;
        refused.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
      }
      continue;
    }
    for (const auto& partition : topic.partitions)
      topic_out.partitions.push_back(
          context.api_version() == 0
              ? list_partition_v0(broker, topic.name, partition, request.replica_id)
              : list_partition(broker, topic.name, partition, context.api_version(),
                               request.replica_id, read_committed(context, request)));
  }
  context.reply(response);
}

}  // namespace

void handle_list_offsets(Broker& broker, RequestContext context, ListOffsetsRequest request) {
  if (context.api_version() != 0) return answer_list_offsets(broker, context, request);
  // v0 asks the file system for every segment's modification time (an fstat
  // each, under the partition lock): not on a reactor (issue 13, point 2).
  auto moved = std::make_shared<std::pair<RequestContext, ListOffsetsRequest>>(std::move(context),
                                                                               std::move(request));
  broker.fetch_reads().post(
      [&broker, moved] { answer_list_offsets(broker, moved->first, moved->second); });
}

}  // namespace sluice::broker
