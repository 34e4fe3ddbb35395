#include "cluster/isr_manager.h"

#include <spdlog/spdlog.h>

namespace sluice::cluster {

void IsrManager::submit(const std::shared_ptr<Partition>& partition, IsrChange change) {
  protocol::AlterPartitionRequest request;
  request.broker_id = node_id_;
  request.broker_epoch = broker_epoch_();
  auto& topic = request.topics.emplace_back();
  topic.topic_name = change.topic;
  topic.topic_id = change.topic_id;
  auto& data = topic.partitions.emplace_back();
  data.partition_index = change.partition;
  data.leader_epoch = change.leader_epoch;
  data.partition_epoch = change.partition_epoch;
  data.new_isr = change.new_isr;
  // v3 names each member's broker epoch: the controller refuses a member
  // whose registration changed since (INELIGIBLE_REPLICA).
  MetadataImagePtr image = image_();
  for (int32_t member : change.new_isr) {
    auto found = image->brokers.find(member);
    data.new_isr_with_epochs.push_back(
        {member, found == image->brokers.end() ? -1 : found->second.epoch, {}});
  }
  spdlog::info("replication: asking to change the ISR of {}-{} to [{}] (partition epoch {})",
               change.topic, change.partition, fmt::join(change.new_isr, ","),
               change.partition_epoch);
  std::weak_ptr<Partition> weak = partition;
  send_(std::move(request), [weak, proposed = change.new_isr](
                                net::ClientResult<protocol::AlterPartitionResponse> result) {
    auto partition = weak.lock();
    if (!partition) return;
    if (!result.ok() || result.message.error_code != 0 || result.message.topics.empty() ||
        result.message.topics[0].partitions.empty()) {
      spdlog::info("replication: AlterPartition of {}-{} failed: {} {}",
                   partition->topic_partition().topic, partition->topic_partition().partition,
                   result.status.message, result.ok() ? result.message.error_code : -1);
      // No answer for the partition: it may have been applied (retried).
      partition->isr_change_failed(ErrorCode::REQUEST_TIMED_OUT, proposed);
      return;
    }
    const auto& answer = result.message.topics[0].partitions[0];
    if (answer.error_code != 0) {
      spdlog::info("replication: AlterPartition of {}-{} answered error {}",
                   partition->topic_partition().topic, partition->topic_partition().partition,
                   answer.error_code);
      partition->isr_change_failed(static_cast<ErrorCode>(answer.error_code), proposed);
      return;
    }
    partition->isr_change_done(true, answer.partition_epoch, answer.isr);
  });
}

void IsrManager::check_shrinks(const std::vector<std::shared_ptr<Partition>>& partitions,
                               int64_t lag_max_ms) {
  const int64_t now = Partition::monotonic_ms();
  for (const auto& partition : partitions) {
    if (auto retry = partition->isr_change_to_retry()) submit(partition, std::move(*retry));
    if (auto change = partition->isr_shrink(now, lag_max_ms)) submit(partition, std::move(*change));
  }
}

}  // namespace sluice::cluster
