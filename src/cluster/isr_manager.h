#pragma once
// Sends a partition leader's ISR changes to the active controller (Kafka's
// AlterPartitionManager): AlterPartition v3 with every member's broker
// epoch, one change in flight per partition (Partition marks it), the
// answer applied to the Partition (the image brings the same change too).
//
// Threads: submit() from any thread; answers arrive on whatever thread the
// injected `send` calls back on (the quorum thread when it is
// RaftManager::send_to_leader).

#include <functional>
#include <memory>

#include "cluster/metadata_image.h"
#include "cluster/partition.h"
#include "net/kafka_client.h"
#include "protocol/messages.h"

namespace sluice::cluster {

class IsrManager {
 public:
  using Send =
      std::function<void(protocol::AlterPartitionRequest,
                         std::function<void(net::ClientResult<protocol::AlterPartitionResponse>)>)>;
  IsrManager(int32_t node_id, std::function<int64_t()> broker_epoch,
             std::function<MetadataImagePtr()> image, Send send)
      : node_id_(node_id),
        broker_epoch_(std::move(broker_epoch)),
        image_(std::move(image)),
        send_(std::move(send)) {}

  // Sends `change` of `partition` (already marked in flight).
  void submit(const std::shared_ptr<Partition>& partition, IsrChange change);
  // Kafka's isr-expiration task: asks to shrink the ISR of every partition
  // led here with members not caught up for `lag_max_ms`, and resends the
  // changes whose last try failed (Partition::isr_change_to_retry).
  void check_shrinks(const std::vector<std::shared_ptr<Partition>>& partitions, int64_t lag_max_ms);

 private:
  int32_t node_id_;
  std::function<int64_t()> broker_epoch_;
  std::function<MetadataImagePtr()> image_;
  Send send_;
};

}  // namespace sluice::cluster
