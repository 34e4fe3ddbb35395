// DescribeProducers (v0, KIP-664): the active producers of partitions this
// broker hosts, from each log's producer state (storage/producer_state.h),
// as Kafka's Partition.activeProducerState answers: every replica answers
// (leader or follower), a partition not hosted here gets getPartitionOrError's
// code (leader_hints.h).
#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/leader_hints.h"

namespace sluice::broker {

using protocol::DescribeProducersRequest;
using protocol::DescribeProducersResponse;

namespace {

void describe_partition(cluster::Partition& partition,
                        DescribeProducersResponse::PartitionResponse& out) {
  const auto& managed = partition.managed_log();
  std::lock_guard lock(managed->mutex());
  // Kafka's getPartitionOrError: an offline log dir KAFKA_STORAGE_ERROR.
  if (!managed->usable()) {
    out.error_code = to_wire(managed->offline() ? ErrorCode::KAFKA_STORAGE_ERROR
                                                : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
    return;
  }
  for (const auto& [producer_id, entry] : managed->log().producer_state().producers()) {
    auto& state = out.active_producers.emplace_back();
    state.producer_id = producer_id;
    state.producer_epoch = entry.producer_epoch;
    state.last_sequence = entry.last_sequence();
    state.last_timestamp = entry.last_timestamp_ms;
    state.coordinator_epoch = entry.coordinator_epoch;
    state.current_txn_start_offset = entry.current_txn_first_offset.value_or(-1);
  }
}

}  // namespace

void handle_describe_producers(Broker& broker, RequestContext context,
                               DescribeProducersRequest request) {
  DescribeProducersResponse response;
  for (const auto& topic : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.name = topic.name;
    const bool denied =  // Kafka: READ on the topic
        !broker.authorization().allows_topic(context.connection(), security::AclOperation::READ,
                                             topic.name);
    for (int32_t index : topic.partition_indexes) {
      auto& out = topic_out.partitions.emplace_back();
      out.partition_index = index;
      if (denied) {
        out.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      auto partition = broker.replica_manager().partition(topic.name, index);
      if (!partition) {
        out.error_code =
            to_wire(missing_partition_error(*broker.replica_manager().image(), topic.name, index));
        continue;
      }
      describe_partition(*partition, out);
    }
  }
  context.reply(response);
}

}  // namespace sluice::broker
