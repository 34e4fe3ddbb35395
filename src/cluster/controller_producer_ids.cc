// Producer ids (issue 17), Kafka's ProducerIdControlManager: the active
// controller hands out blocks of ids through the metadata log, so every id
// is unique across the brokers and survives restarts and failovers.
#include <spdlog/spdlog.h>

#include <limits>

#include "cluster/controller.h"
#include "protocol/metadata_records.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {

ProducerIdBlock Controller::allocate_producer_ids(int32_t broker_id, int64_t broker_epoch) {
  std::lock_guard lock(mutex_);
  ProducerIdBlock block;
  // Only an image holding every committed record knows the next free id:
  // a node that is not active must not answer from a stale one.
  if (Status active = wait_active(); !active) {
    block.error = {ErrorCode::NOT_CONTROLLER, active.message()};
    return block;
  }
  MetadataImagePtr current = image();
  block.error = check_broker_epoch(*current, broker_id, broker_epoch);
  if (!block.error.ok()) return block;
  const int64_t first = std::max<int64_t>(current->next_producer_id, 0);
  if (first > std::numeric_limits<int64_t>::max() - producer_id_block_size) {
    block.error = {ErrorCode::UNKNOWN_SERVER_ERROR,
                   "Exhausted all producerIds as the next block's end producerId has exceeded "
                   "the int64 type limit"};
    return block;
  }
  protocol::metadata::ProducerIdsRecord record;
  record.broker_id = broker_id;
  record.broker_epoch = broker_epoch;
  record.next_producer_id = first + producer_id_block_size;
  std::vector<std::vector<uint8_t>> records;
  records.push_back(protocol::metadata::encode_framed(record, 0));
  if (ApiError committed = commit_or_error(std::move(records)); !committed.ok()) {
    block.error = committed;
    return block;
  }
  spdlog::info("metadata: producer ids {}..{} allocated to broker {}", first,
               first + producer_id_block_size - 1, broker_id);
  block.first_producer_id = first;
  block.size = producer_id_block_size;
  return block;
}

}  // namespace sluice::cluster
