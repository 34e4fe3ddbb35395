// ListOffsets (v1+): earliest (-2), latest (-1), max timestamp (-3, v7+),
// earliest local (-4, = earliest: no tiered storage), latest tiered (-5:
// none), or the first offset at or after a timestamp. Consumers see
// offsets up to the high watermark (read_uncommitted) or the last stable
// offset (read_committed; equal until transactions exist).
#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {

using protocol::ListOffsetsRequest;
using protocol::ListOffsetsResponse;

namespace {

ListOffsetsResponse::ListOffsetsPartitionResponse list_partition(Broker& broker, const std::string& topic,
                                                                 const ListOffsetsRequest::ListOffsetsPartition& asked,
                                                                 int16_t version) {
  ListOffsetsResponse::ListOffsetsPartitionResponse out;
  out.partition_index = asked.partition_index;
  auto partition = broker.replica_manager().partition(topic, asked.partition_index);
  if (!partition) {
    out.error_code = to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    return out;
  }
  int64_t timestamp = asked.timestamp;
  if (timestamp == -3 && version < 7) {
    out.error_code = to_wire(ErrorCode::UNSUPPORTED_VERSION);
    return out;
  }
  if (timestamp == -5) {  // latest tiered: nothing is tiered
    out.error_code = to_wire(partition->check_leader(asked.current_leader_epoch));
    return out;
  }
  if (timestamp == -4) timestamp = -2;
  cluster::Partition::ListedOffset listed = partition->list_offset(timestamp, asked.current_leader_epoch);
  out.error_code = to_wire(listed.error);
  out.offset = listed.offset;
  out.timestamp = listed.timestamp_ms;
  out.leader_epoch = listed.leader_epoch;
  return out;
}

}  // namespace

void handle_list_offsets(Broker& broker, RequestContext context, ListOffsetsRequest request) {
  ListOffsetsResponse response;
  for (const auto& topic : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.name = topic.name;
    for (const auto& partition : topic.partitions)
      topic_out.partitions.push_back(list_partition(broker, topic.name, partition, context.api_version()));
  }
  context.reply(response);
}

}  // namespace sluice::broker
