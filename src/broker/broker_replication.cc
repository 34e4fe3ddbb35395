// The broker's replication wiring (issue 16): the replica fetchers that
// make this node follow the partitions other brokers lead, and the periodic
// ISR check (Kafka's isr-expiration task, every replica.lag.time.max.ms / 2)
// whose shrinks, like the expansions the leader's Fetch handling proposes,
// go to the active controller as AlterPartition.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {
namespace {

class RepeatingTask final : public DelayedOperation {
 public:
  explicit RepeatingTask(std::function<void()> run) : run_(std::move(run)) {}
  void expire() override {
    if (claim()) run_();
  }

 private:
  std::function<void()> run_;
};

}  // namespace

Status Broker::open_replication() {
  auto broker_epoch = [this] {
    std::lock_guard lock(registration_mutex_);
    return broker_epoch_;
  };
  cluster::ReplicaFetcherOptions options;
  options.node_id = config_.node_id;
  options.listener_name = config_.quorum.inter_broker_listener_name;
  options.broker_epoch = broker_epoch;
  options.fetch_max_bytes =
      static_cast<int32_t>(config_.values.get_int("replica.fetch.response.max.bytes"));
  options.partition_max_bytes =
      static_cast<int32_t>(config_.values.get_int("replica.fetch.max.bytes"));
  options.max_wait_ms = static_cast<int32_t>(config_.values.get_int("replica.fetch.wait.max.ms"));
  options.num_fetchers =
      std::max(1, static_cast<int32_t>(config_.values.get_int("num.replica.fetchers")));
  options.clock = environment_.clock;
  replica_fetchers_ = std::make_unique<cluster::ReplicaFetcherManager>(std::move(options));
  isr_manager_ = std::make_unique<cluster::IsrManager>(
      config_.node_id, broker_epoch, [this] { return replica_manager_->image(); },
      [this](protocol::AlterPartitionRequest request,
             std::function<void(net::ClientResult<protocol::AlterPartitionResponse>)> done) {
        send_alter_partition(std::move(request), std::move(done));
      });
  return Status::ok();
}

// A node that is the active controller runs its own AlterPartition on its
// controller thread: the quorum refuses to forward to itself.
void Broker::send_alter_partition(
    protocol::AlterPartitionRequest request,
    std::function<void(net::ClientResult<protocol::AlterPartitionResponse>)> done) {
  constexpr int16_t kVersion = 3;
  if (!controller_->is_active())
    return controller_->quorum().send_to_leader(std::move(request), kVersion, std::move(done));
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  controller_->submit(
      [this, request = std::move(request), shared_done] {
        net::ClientResult<protocol::AlterPartitionResponse> result;
        result.message = alter_partition_here(*controller_, request, kVersion);
        (*shared_done)(std::move(result));
      },
      [shared_done] {
        net::ClientResult<protocol::AlterPartitionResponse> result;
        result.status = {net::ClientErrc::closed, "the controller stopped"};
        (*shared_done)(std::move(result));
      });
}

// On the metadata loader thread, after the ReplicaManager applied `image`.
void Broker::follow_replicas(const cluster::MetadataImagePtr& image) {
  if (replica_fetchers_ && replica_manager_)
    replica_fetchers_->follow(replica_manager_->partitions(), *image);
}

void Broker::schedule_isr_check() {
  if (stopped_.load() || !delayed_operations_ || !isr_manager_) return;
  const int64_t lag_ms = config_.values.get_int("replica.lag.time.max.ms");
  const auto period = std::chrono::milliseconds(std::clamp<int64_t>(lag_ms / 2, 10, 15000));
  delayed_operations_->schedule(std::make_shared<RepeatingTask>([this, lag_ms] {
                                  // On the timer thread: stop() sets stopped_ first.
                                  if (stopped_.load()) return;
                                  isr_manager_->check_shrinks(replica_manager_->partitions(),
                                                              lag_ms);
                                  schedule_isr_check();
                                }),
                                period);
}

void Broker::close_replication() {
  if (replica_fetchers_) replica_fetchers_->stop();
}

}  // namespace sluice::broker
