// DeleteRecords: raises a partition's log start offset (the low watermark)
// to the given offset (-1: the high watermark); whole segments below it are
// deleted. OFFSET_OUT_OF_RANGE beyond the high watermark; internal topics
// (the coordinators' state) are refused with INVALID_TOPIC_EXCEPTION, as in
// Kafka. On a single node
// the new start offset is known at once, so timeout_ms is not waited on.
#include "broker/broker.h"
#include "broker/handlers.h"
#include "broker/leader_hints.h"
#include "cluster/controller.h"

namespace sluice::broker {

using protocol::DeleteRecordsRequest;
using protocol::DeleteRecordsResponse;

void handle_delete_records(Broker& broker, RequestContext context, DeleteRecordsRequest request) {
  DeleteRecordsResponse response;
  for (const auto& topic : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.name = topic.name;
    const bool denied =  // Kafka: DELETE on the topic
        !broker.authorization().allows_topic(context.connection(), security::AclOperation::DELETE,
                                             topic.name);
    for (const auto& asked : topic.partitions) {
      auto& out = topic_out.partitions.emplace_back();
      out.partition_index = asked.partition_index;
      out.low_watermark = -1;
      if (denied) {
        out.error_code = to_wire(ErrorCode::TOPIC_AUTHORIZATION_FAILED);
        continue;
      }
      if (cluster::is_internal_topic(topic.name)) {
        out.error_code = to_wire(ErrorCode::INVALID_TOPIC_EXCEPTION);
        continue;
      }
      auto partition = broker.replica_manager().partition(topic.name, asked.partition_index);
      if (!partition) {
        out.error_code = to_wire(missing_partition_error(*broker.replica_manager().image(),
                                                         topic.name, asked.partition_index));
        continue;
      }
      cluster::Partition::Deleted deleted = partition->delete_records_before(Offset{asked.offset});
      out.error_code = to_wire(deleted.error);
      out.low_watermark = deleted.low_watermark;
    }
  }
  context.reply(response);
}

}  // namespace sluice::broker
