#include "cluster/isr_manager.h"

#include <spdlog/spdlog.h>

#include "base/error_code.h"

namespace sluice::cluster {
namespace {

// Kafka's IsrShrinksPerSec / IsrExpandsPerSec as Prometheus counters: ISR
// changes this node asked for as leader and the controller committed.
void count_isr_change(size_t old_size, size_t new_size) {
  static metrics::Counter& shrinks = metrics::default_registry().counter(
      "sluice_isr_shrinks_total", "ISR shrinks of partitions this broker leads (committed).");
  static metrics::Counter& expands = metrics::default_registry().counter(
      "sluice_isr_expands_total", "ISR expansions of partitions this broker leads (committed).");
  if (new_size < old_size) shrinks.inc();
  if (new_size > old_size) expands.inc();
}

}  // namespace

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
  const size_t old_size = partition->isr().size();
  send_(std::move(request), [weak, old_size, proposed = change.new_isr](
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
    // Committed, and it completed a reassignment that moved leadership
    // away: the pending (maximal) ISR stays until the image replaces it
    // (Kafka): dropped now, the old ISR alone would bound the high
    // watermark and acknowledge records the new replicas may lack.
    if (answer.error_code == static_cast<int16_t>(ErrorCode::NEW_LEADER_ELECTED)) return;
    if (answer.error_code != 0) {
      spdlog::info("replication: AlterPartition of {}-{} answered error {}",
                   partition->topic_partition().topic, partition->topic_partition().partition,
                   answer.error_code);
      partition->isr_change_failed(static_cast<ErrorCode>(answer.error_code), proposed);
      return;
    }
    count_isr_change(old_size, answer.isr.size());
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
