// OffsetForLeaderEpoch (v2+): the end offset of a leader epoch, which
// consumers use after a leader change to detect log truncation (KIP-320),
// and followers later to truncate divergent tails.
#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/leader_hints.h"

namespace sluice::broker {

using protocol::OffsetForLeaderEpochRequest;
using protocol::OffsetForLeaderEpochResponse;

void handle_offset_for_leader_epoch(Broker& broker, RequestContext context,
                                    OffsetForLeaderEpochRequest request) {
  // Kafka: a follower (replica id set) needs CLUSTER_ACTION, a consumer
  // DESCRIBE on each topic.
  const Authorization& authorization = broker.authorization();
  const bool follower = context.api_version() >= 3 && request.replica_id >= 0;
  const bool cluster_denied =
      follower &&
      !authorization.allows_cluster(context.connection(), security::AclOperation::CLUSTER_ACTION);
  OffsetForLeaderEpochResponse response;
  for (const auto& topic : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.topic = topic.topic;
    const bool topic_denied =
        !follower && !authorization.allows_topic(context.connection(),
                                                 security::AclOperation::DESCRIBE, topic.topic);
    for (const auto& asked : topic.partitions) {
      auto& out = topic_out.partitions.emplace_back();
      out.partition = asked.partition;
      if (cluster_denied || topic_denied) {
        out.error_code = to_wire(cluster_denied ? ErrorCode::CLUSTER_AUTHORIZATION_FAILED
                                                : ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      auto partition = broker.replica_manager().partition(topic.topic, asked.partition);
      if (!partition) {
        out.error_code = to_wire(missing_partition_error(*broker.replica_manager().image(),
                                                         topic.topic, asked.partition));
        continue;
      }
      cluster::Partition::EpochEnd end = partition->end_offset_for_epoch(
          LeaderEpoch{asked.leader_epoch}, LeaderEpoch{asked.current_leader_epoch});
      out.error_code = to_wire(end.error);
      out.leader_epoch = end.leader_epoch;
      out.end_offset = end.end_offset;
    }
  }
  context.reply(response);
}

}  // namespace sluice::broker
