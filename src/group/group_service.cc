#include "group/group_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace sluice::group {

int64_t replay_record_set(Bytes record_set, int64_t from_offset, GroupCoordinator& coordinator,
                          const std::string& where, ReplayCounts& counts) {
  const RecordSink sink = [&coordinator](Bytes key, std::optional<Bytes> value) {
    return coordinator.replay(key, value);
  };
  return replay_record_set(record_set, from_offset, sink, where, counts);
}

Result<ReplayCounts> OffsetsTopicLog::replay(int32_t partition_index,
                                             GroupCoordinator& coordinator) const {
  // Transactional commits stay pending until their producer's marker, as
  // a load holds them.
  LoadedBatch current;
  const BatchSink batch = [&current](const LoadedBatch& loaded) { current = loaded; };
  const RecordSink sink = [&](Bytes key, std::optional<Bytes> value) {
    if (current.control)
      return coordinator.replay_control(partition_index, current.producer_id, key);
    return coordinator.replay(key, value,
                              current.transactional ? current.producer_id : non_transactional);
  };
  return replay_all(partition_index, sink, batch);
}

// The leader epoch in which `image` elects `node_id` to lead `partition`
// of __consumer_offsets, or -1.
static LeaderEpoch elected_epoch_here(const cluster::MetadataImage& image, BrokerId node_id,
                                      int32_t partition) {
  const cluster::TopicImage* topic = image.topic(offsets_topic);
  const cluster::PartitionImage* led = topic ? topic->partition(partition) : nullptr;
  return LeaderEpoch{led != nullptr && BrokerId{led->leader} == node_id ? led->leader_epoch : -1};
}

GroupService::GroupService(cluster::Controller& controller, cluster::ReplicaManager& replicas,
                           GroupServiceOptions options)
    : controller_(controller), replicas_(replicas), options_(options) {
  coordinator::CoordinatorTopicSpec spec;
  spec.name = offsets_topic;
  spec.partitions = options_.group.offsets_topic_partitions;
  spec.replication_factor = options_.offsets_replication_factor;
  spec.replication_factor_key = "offsets.topic.replication.factor";
  spec.configs = {{"cleanup.policy", "compact"},
                  {"segment.bytes", std::to_string(options_.offsets_segment_bytes)}};
  // coordinator_ exists before any image is followed (open()).
  topic_ = std::make_unique<coordinator::CoordinatorTopic>(
      controller_, replicas_, std::move(spec), options_.node_id,
      [this](int32_t p, LeaderEpoch epoch) { coordinator_->on_election(p, epoch); },
      [this](int32_t p, LeaderEpoch epoch) { coordinator_->on_resignation(p, epoch); });
  log_ = std::make_unique<OffsetsTopicLog>(
      replicas_, *options_.clock, [this] { request_offsets_topic(); }, options_.commit_timeout_ms);
}

GroupService::~GroupService() { stop(); }

Result<std::unique_ptr<GroupService>> GroupService::open(cluster::Controller& controller,
                                                         cluster::ReplicaManager& replicas,
                                                         GroupServiceOptions options) {
  std::unique_ptr<GroupService> service(new GroupService(controller, replicas, options));
  // The topic may have been created with another partition count earlier:
  // the image says how many partitions there are.
  auto image = replicas.image();
  const auto* topic = image->topic(offsets_topic);
  if (topic)
    service->options_.group.offsets_topic_partitions =
        static_cast<int32_t>(topic->partitions.size());
  int32_t partitions = service->options_.group.offsets_topic_partitions;
  service->strands_ = std::make_unique<StrandPool>(
      partitions,
      std::min<size_t>(static_cast<size_t>(partitions), service->options_.coordinator_threads));
  service->coordinator_ = std::make_unique<GroupCoordinator>(
      service->options_.group, *service->options_.clock, *service->options_.random, *service->log_,
      service->strands_.get());
  service->topic_->set_partitions(partitions);
  // FindCoordinator names this broker as soon as the image does, before the
  // election reaches the partition's strand (the ReplicaManager follows the
  // image first).
  service->coordinator_->follow_image_elections(
      [&controller, node_id = service->options_.node_id](int32_t partition) {
        return elected_epoch_here(*controller.image(), node_id, partition);
      });
  service->coordinator_->on_earlier_deadline([raw = service.get()] {
    {
      std::lock_guard lock(raw->mutex_);
      raw->deadline_moved_ = true;
    }
    raw->wake_.notify_all();
  });
  if (topic || !service->options_.lone_node) {
    // Nothing is served until an election (below, or by a later image).
    for (int32_t p = 0; p < partitions; ++p)
      service->coordinator_->on_resignation(p, LeaderEpoch{-1});
  }
  if (topic) {
    // The partitions led here load now (bad records are skipped one by
    // one; a partition that cannot be read is left failed: its groups
    // answer COORDINATOR_LOAD_IN_PROGRESS, the others serve); the others
    // answer NOT_COORDINATOR.
    service->follow_leadership(*image);
    service->wait_for_loads();
  }
  service->ticker_ = std::thread([raw = service.get()] { raw->run_ticker(); });
  // From now on the coordinator follows the image (at once, with the image
  // as it is now).
  controller.subscribe(service.get());
  service->subscribed_ = true;
  return service;
}

void GroupService::wait_for_loads() {
  using namespace std::chrono_literals;
  uint64_t seen = coordinator_->load_progress();
  auto progressed_at = std::chrono::steady_clock::now();
  while (coordinator_->loading_partitions() > 0) {
    std::this_thread::sleep_for(10ms);
    coordinator_->continue_loads();  // those waiting for their high watermark
    const auto now = std::chrono::steady_clock::now();
    if (uint64_t progress = coordinator_->load_progress(); progress != seen) {
      seen = progress;
      progressed_at = now;
    } else if (now - progressed_at > 1s) {
      // Waiting for followers to replicate what this leader holds: the
      // loads go on behind the ticker (COORDINATOR_LOAD_IN_PROGRESS meanwhile).
      spdlog::info("{}: {} partition(s) still loading (waiting for their high watermark)",
                   offsets_topic, coordinator_->loading_partitions());
      return;
    }
  }
}

void GroupService::on_metadata_update(const cluster::MetadataDelta& /*delta*/,
                                      const cluster::MetadataImagePtr& new_image) {
  follow_leadership(*new_image);
  log_->check_waits();  // appends to partitions no longer led here fail now
}

void GroupService::request_offsets_topic() { topic_->request(); }

Status GroupService::ensure_offsets_topic() { return topic_->ensure(); }

void GroupService::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (subscribed_) controller_.unsubscribe(this);
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  // What was posted runs (answers included); appends finishing later are
  // dropped: the server has drained.
  if (strands_) strands_->stop();
}

// A timer on the coordinator's earliest deadline (Kafka's DelayedHeartbeat
// and DelayedJoin expire at theirs): a session ends when it is due, not at
// the next of a fixed series of ticks. A deadline set earlier than the one
// waited for wakes the wait to re-arm it.
void GroupService::run_ticker() {
  const Clock& clock = *options_.clock;
  const std::chrono::nanoseconds interval = std::chrono::milliseconds(options_.tick_interval_ms);
  std::chrono::nanoseconds next_periodic = clock.monotonic() + interval;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    std::chrono::nanoseconds wake_at = std::min(next_periodic, coordinator_->next_deadline());
    std::chrono::nanoseconds now = clock.monotonic();
    if (wake_at > now) {
      wake_.wait_for(lock, wake_at - now, [this] { return stopping_ || deadline_moved_; });
      if (stopping_) break;
      if (deadline_moved_) {
        deadline_moved_ = false;
        if (clock.monotonic() < std::min(next_periodic, coordinator_->next_deadline())) continue;
      }
    }
    lock.unlock();
    log_->check_waits();  // appends past offsets.commit.timeout.ms fail
    coordinator_->tick();
    now = clock.monotonic();
    if (now >= next_periodic) next_periodic = now + interval;
    lock.lock();
  }
}

void GroupService::handle_txn_completion(ProducerId producer_id,
                                         const std::vector<int32_t>& offsets_partitions,
                                         bool commit) {
  for (int32_t partition : offsets_partitions)
    coordinator_->complete_transaction(producer_id, partition, commit);
}

}  // namespace sluice::group
