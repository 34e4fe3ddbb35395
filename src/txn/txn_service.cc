#include "txn/txn_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "cluster/features.h"

namespace sluice::txn {

TxnService::TxnService(cluster::Controller& controller, cluster::ReplicaManager& replicas,
                       TxnServiceOptions options)
    : controller_(controller), replicas_(replicas), options_(options) {
  coordinator::CoordinatorTopicSpec spec;
  spec.name = transaction_state_topic;
  spec.partitions = options_.txn.state_log_partitions;
  spec.replication_factor = options_.replication_factor;
  spec.replication_factor_key = "transaction.state.log.replication.factor";
  // Kafka's TransactionStateManager.transactionTopicConfigs.
  spec.configs = {{"cleanup.policy", "compact"},
                  {"compression.type", "uncompressed"},
                  {"min.insync.replicas", std::to_string(options_.min_isr)},
                  {"segment.bytes", std::to_string(options_.segment_bytes)},
                  {"unclean.leader.election.enable", "false"}};
  topic_ = std::make_unique<coordinator::CoordinatorTopic>(
      controller, replicas, std::move(spec), options_.node_id,
      [this](int32_t p, LeaderEpoch epoch) { coordinator_->on_election(p, epoch); },
      [this](int32_t p, LeaderEpoch epoch) { coordinator_->on_resignation(p, epoch); });
  log_ = std::make_unique<coordinator::CoordinatorTopicLog>(
      replicas, transaction_state_topic, *options_.clock, [this] { request_topic(); },
      options_.append_timeout_ms);
}

TxnService::~TxnService() { stop(); }

Result<std::unique_ptr<TxnService>> TxnService::open(cluster::Controller& controller,
                                                     cluster::ReplicaManager& replicas,
                                                     ProducerIdGenerator& producer_ids,
                                                     MarkerSender& markers,
                                                     TxnServiceOptions options) {
  std::unique_ptr<TxnService> service(new TxnService(controller, replicas, options));
  // An existing topic's partition count wins over the setting.
  auto image = replicas.image();
  const auto* topic = image->topic(transaction_state_topic);
  if (topic)
    service->options_.txn.state_log_partitions = static_cast<int32_t>(topic->partitions.size());
  const int32_t partitions = service->options_.txn.state_log_partitions;
  service->topic_->set_partitions(partitions);
  service->strands_ = std::make_unique<coordinator::StrandPool>(
      partitions,
      std::min<size_t>(static_cast<size_t>(partitions), service->options_.coordinator_threads));
  service->coordinator_ = std::make_unique<TxnCoordinator>(
      service->options_.txn, *service->options_.clock, *service->log_, producer_ids, markers,
      service->strands_.get());
  service->follow_features(*image);
  if (topic || !service->options_.lone_node) {
    // Nothing is served until an election (below, or by a later image).
    for (int32_t p = 0; p < partitions; ++p)
      service->coordinator_->on_resignation(p, LeaderEpoch{-1});
  }
  if (topic) {
    service->topic_->follow_leadership(*image);
    service->wait_for_loads();
  }
  service->ticker_ = std::thread([raw = service.get()] { raw->run_ticker(); });
  controller.subscribe(service.get());
  service->subscribed_ = true;
  return service;
}

void TxnService::wait_for_loads() {
  using namespace std::chrono_literals;
  uint64_t seen = coordinator_->load_progress();
  auto progressed_at = std::chrono::steady_clock::now();
  while (coordinator_->loading_partitions() > 0) {
    std::this_thread::sleep_for(10ms);
    coordinator_->continue_loads();
    const auto now = std::chrono::steady_clock::now();
    if (uint64_t progress = coordinator_->load_progress(); progress != seen) {
      seen = progress;
      progressed_at = now;
    } else if (now - progressed_at > 1s) {
      spdlog::info("{}: {} partition(s) still loading (waiting for their high watermark)",
                   transaction_state_topic, coordinator_->loading_partitions());
      return;
    }
  }
}

int32_t TxnService::coordinator_node(const std::string& transactional_id) const {
  auto image = replicas_.image();
  const auto* topic = image->topic(transaction_state_topic);
  if (topic == nullptr) return -1;
  const auto* partition = topic->partition(coordinator_->partition_for(transactional_id));
  return partition == nullptr ? -1 : partition->leader;
}

void TxnService::follow_features(const cluster::MetadataImage& image) {
  coordinator_->set_server_transaction_version(
      cluster::finalized_level(image, cluster::transaction_version_feature));
}

void TxnService::on_metadata_update(const cluster::MetadataDelta& delta,
                                    const cluster::MetadataImagePtr& new_image) {
  if (delta.features_changed()) follow_features(*new_image);
  topic_->follow_leadership(*new_image);
  log_->check_waits();  // appends to partitions no longer led here fail now
}

void TxnService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (subscribed_) controller_.unsubscribe(this);
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  if (strands_) strands_->stop();
}

// Every tick_interval_ms: appends past their timeout fail, loads waiting for
// their high watermark go on, and the coordinator's own intervals (timeouts,
// expiry) are checked.
void TxnService::run_ticker() {
  const auto interval = std::chrono::milliseconds(options_.tick_interval_ms);
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, interval, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    log_->check_waits();
    coordinator_->tick();
    lock.lock();
  }
}

}  // namespace sluice::txn
