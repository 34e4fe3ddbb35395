#include "group/group_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "record/batch_builder.h"
#include "record/record_reader.h"
#include "record/record_set.h"
#include "storage/log.h"

namespace sluice::group {

// One append waiting for its partition's high watermark (Kafka's
// DelayedProduce with acks=all, for the coordinator's own writes). Held by
// the OffsetsTopicLog until it finishes; the partition holds it weakly and
// wakes it when its high watermark moves.
class OffsetsTopicLog::ReplicationWait final
    : public cluster::AppendWaiter,
      public std::enable_shared_from_this<ReplicationWait> {
 public:
  ReplicationWait(OffsetsTopicLog& log, std::shared_ptr<cluster::Partition> partition,
                  int64_t end_offset, std::chrono::nanoseconds deadline,
                  std::function<void(ErrorCode)> done)
      : log_(log),
        partition_(std::move(partition)),
        end_offset_(end_offset),
        deadline_(deadline),
        done_(std::move(done)) {}

  void on_new_data() override { check(std::chrono::nanoseconds::min()); }

  // Finishes if committed, if this node no longer leads (the records may
  // be lost), or if `now` is past the deadline.
  void check(std::chrono::nanoseconds now) {
    const cluster::Partition& partition = *partition_;
    ErrorCode error = ErrorCode::NONE;
    if (partition.high_watermark() >= end_offset_) {
      if (static_cast<int64_t>(partition.isr().size()) <
          partition.append_policy().min_insync_replicas)
        error = ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND;
    } else if (partition.leader_id() != log_.replicas_.node_id()) {
      error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    } else if (now >= deadline_) {
      error = ErrorCode::REQUEST_TIMED_OUT;
    } else {
      return;
    }
    if (finished_.exchange(true)) return;
    auto self = shared_from_this();
    log_.finished(self);
    done_(error);
  }

 private:
  OffsetsTopicLog& log_;
  const std::shared_ptr<cluster::Partition> partition_;
  const int64_t end_offset_;
  const std::chrono::nanoseconds deadline_;
  std::function<void(ErrorCode)> done_;
  std::atomic<bool> finished_{false};
};

namespace {

// An append is done when both its fsync and its replication are: the first
// error wins.
class Joint {
 public:
  explicit Joint(std::function<void(ErrorCode)> done) : done_(std::move(done)) {}
  void finish_one(ErrorCode error) {
    std::unique_lock lock(mutex_);
    if (error_ == ErrorCode::NONE) error_ = error;
    if (--remaining_ > 0) return;
    lock.unlock();
    done_(error_);
  }

 private:
  std::mutex mutex_;
  int remaining_ = 2;
  ErrorCode error_ = ErrorCode::NONE;
  std::function<void(ErrorCode)> done_;
};

}  // namespace

// The server has drained and the strands are stopped: waits still open are
// dropped unanswered (their partitions hold them weakly).
OffsetsTopicLog::~OffsetsTopicLog() {
  std::lock_guard lock(waits_mutex_);
  waits_.clear();
}

void OffsetsTopicLog::append(int32_t partition_index, std::vector<CoordinatorRecord> records,
                             std::function<void(ErrorCode)> done) {
  append_batch(partition_index, std::move(records), record::BatchOptions{}, std::move(done));
}

// A transactional batch of the producer (Kafka's coordinator writes it
// without a sequence: the partition checks the producer's epoch only).
void OffsetsTopicLog::append_transactional(int32_t partition_index,
                                           const TransactionalProducer& producer,
                                           std::vector<CoordinatorRecord> records,
                                           std::function<void(ErrorCode)> done) {
  record::BatchOptions options;
  options.transactional = true;
  options.producer_id = producer.producer_id;
  options.producer_epoch = producer.producer_epoch;
  append_batch(partition_index, std::move(records), options, std::move(done));
}

void OffsetsTopicLog::append_batch(int32_t partition_index, std::vector<CoordinatorRecord> records,
                                   const record::BatchOptions& options,
                                   std::function<void(ErrorCode)> done) {
  auto partition = replicas_.partition(offsets_topic, partition_index);
  // Not created yet (a raw request that did not look the coordinator up):
  // creation goes to the controller thread, this append fails (the client
  // sees COORDINATOR_NOT_AVAILABLE and retries).
  if (!partition) {
    topic_missing_();
    return done(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  }
  int64_t now_ms = clock_.now_ms();
  record::BatchBuilder builder(options);
  for (const CoordinatorRecord& entry : records) {
    std::optional<Bytes> value;
    if (entry.value) value = Bytes(*entry.value);
    builder.append(now_ms, Bytes(entry.key), value);
  }
  auto batch = builder.build();
  if (!batch) return done(ErrorCode::UNKNOWN_SERVER_ERROR);
  // acks=all, as Kafka's coordinator writes: min.insync.replicas first.
  auto appended = partition->append_as_leader(*batch, -1, now_ms);
  if (appended.error != ErrorCode::NONE) return done(appended.error);
  auto joint = std::make_shared<Joint>(std::move(done));
  replicas_.log_manager().flusher().request_flush(
      partition->managed_log(), appended.next_offset, [joint](Status status) {
        joint->finish_one(status ? ErrorCode::NONE : ErrorCode::KAFKA_STORAGE_ERROR);
      });
  auto wait = std::make_shared<ReplicationWait>(
      *this, partition, appended.next_offset,
      clock_.monotonic() + std::chrono::milliseconds(commit_timeout_ms_),
      [joint](ErrorCode error) { joint->finish_one(error); });
  {
    std::lock_guard lock(waits_mutex_);
    waits_.insert(wait);
  }
  partition->add_waiter(wait);
  wait->check(clock_.monotonic());  // a single replica: committed already
}

void OffsetsTopicLog::finished(const std::shared_ptr<ReplicationWait>& wait) {
  std::lock_guard lock(waits_mutex_);
  waits_.erase(wait);
}

void OffsetsTopicLog::check_waits() {
  std::vector<std::shared_ptr<ReplicationWait>> waiting;
  {
    std::lock_guard lock(waits_mutex_);
    waiting.assign(waits_.begin(), waits_.end());
  }
  const auto now = clock_.monotonic();
  for (const auto& wait : waiting) wait->check(now);
}

size_t OffsetsTopicLog::waits_in_flight() const {
  std::lock_guard lock(waits_mutex_);
  return waits_.size();
}

int64_t OffsetsTopicLog::load_end_offset(int32_t partition_index) {
  auto partition = replicas_.partition(offsets_topic, partition_index);
  if (!partition) return -1;
  return partition->offsets().log_end_offset;
}

namespace {

// A record the coordinator cannot use: logged (with where it is) and skipped.
void skip(const std::string& where, int64_t offset, const std::string& what, const Status& why,
          ReplayCounts& counts) {
  ++counts.skipped;
  spdlog::warn("{} offset {}: skipping {}: {}", where, offset, what, why.to_string());
}

// The records of one batch from `from_offset` on.
void replay_batch(const record::BatchView& view, int64_t from_offset, const RecordSink& sink,
                  const std::string& where, ReplayCounts& counts) {
  auto reader = record::RecordReader::open(view.bytes);
  if (!reader)
    return skip(where, view.header.base_offset, "an unreadable batch", reader.status(), counts);
  record::Record record;
  while (reader->next(record)) {
    if (record.offset < from_offset || !record.key) continue;
    if (Status status = sink(*record.key, record.value); !status)
      skip(where, record.offset, "a record that does not decode", status, counts);
    else
      ++counts.replayed;
  }
  if (!reader->status())
    skip(where, view.header.base_offset, "the rest of a malformed batch", reader->status(), counts);
}

}  // namespace

int64_t replay_record_set(Bytes record_set, int64_t from_offset, GroupCoordinator& coordinator,
                          const std::string& where, ReplayCounts& counts) {
  const RecordSink sink = [&coordinator](Bytes key, std::optional<Bytes> value) {
    return coordinator.replay(key, value);
  };
  return replay_record_set(record_set, from_offset, sink, where, counts);
}

int64_t replay_record_set(Bytes record_set, int64_t from_offset, const RecordSink& sink,
                          const std::string& where, ReplayCounts& counts, const BatchSink& batch) {
  record::RecordSetReader batches{record_set};
  record::BatchView view;
  int64_t next = from_offset;
  while (batches.next(view)) {
    next = view.header.base_offset + view.header.last_offset_delta + 1;
    if (batch) {
      if (next <= from_offset) continue;  // read again from a batch before the start
      batch({view.header.base_offset, view.header.producer_id, view.header.producer_epoch,
             view.header.is_transactional(), view.header.is_control()});
    } else if (view.header.is_control()) {
      continue;
    }
    replay_batch(view, from_offset, sink, where, counts);
  }
  return next;
}

namespace {

// Reads the committed batches from `offset` (at most ~1 MiB, at least one
// batch) and feeds their records to `sink`; returns the offset after them
// (`offset` itself when nothing is committed there yet).
Result<int64_t> read_committed(cluster::Partition& partition, int64_t offset,
                               const RecordSink& sink, const std::string& where,
                               ReplayCounts& counts, const BatchSink& batch = {}) {
  if (offset >= partition.high_watermark()) return offset;
  auto read = partition.read(Offset{offset}, LeaderEpoch{-1}, 1 << 20, true);
  if (read.error != ErrorCode::NONE)
    return Status(Errc::io_error,
                  std::string("reading __consumer_offsets: ") + error_name(read.error));
  if (read.range.length == 0) return offset;
  std::vector<uint8_t> buffer(read.range.length);
  size_t done = 0;
  while (done < buffer.size()) {
    auto n = read.range.file->pread(read.range.position + done, std::span(buffer).subspan(done));
    if (!n) return n.status();
    if (*n == 0) return Status(Errc::io_error, "short read of __consumer_offsets");
    done += *n;
  }
  return std::max(offset, replay_record_set(Bytes(buffer), offset, sink, where, counts, batch));
}

std::string where_of(int32_t partition) {
  return std::string(offsets_topic) + "-" + std::to_string(partition);
}

}  // namespace

Result<ReplayCounts> OffsetsTopicLog::replay(int32_t partition_index,
                                             GroupCoordinator& coordinator) const {
  auto partition = replicas_.partition(offsets_topic, partition_index);
  if (!partition)
    return Status(Errc::io_error,
                  "no local __consumer_offsets partition " + std::to_string(partition_index));
  // Transactional commits stay pending until their producer's marker, as
  // a load holds them.
  LoadedBatch current;
  const BatchSink batch = [&current](const LoadedBatch& loaded) { current = loaded; };
  const RecordSink sink = [&](Bytes key, std::optional<Bytes> value) {
    if (current.control)
      return coordinator.replay_control(partition_index, current.producer_id, key);
    return coordinator.replay(key, value, current.transactional ? current.producer_id : -1);
  };
  ReplayCounts counts;
  int64_t offset = partition->offsets().log_start_offset;
  for (;;) {
    auto next = read_committed(*partition, offset, sink, where_of(partition_index), counts, batch);
    if (!next) return next.status();
    if (*next <= offset) break;  // at the high watermark, or no progress: stop rather than loop
    offset = *next;
  }
  return counts;
}

LoadStep OffsetsTopicLog::load(int32_t partition_index, int64_t from_offset, int64_t end_offset,
                               const RecordSink& sink) {
  return load_with_batches(partition_index, from_offset, end_offset, sink, {});
}

LoadStep OffsetsTopicLog::load_with_batches(int32_t partition_index, int64_t from_offset,
                                            int64_t /*end_offset*/, const RecordSink& sink,
                                            const BatchSink& batch) {
  LoadStep step;
  step.next_offset = from_offset;
  auto partition = replicas_.partition(offsets_topic, partition_index);
  if (!partition) {
    step.error = ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
    return step;
  }
  const int64_t start = std::max(from_offset, partition->offsets().log_start_offset);
  ReplayCounts counts;
  auto next = read_committed(*partition, start, sink, where_of(partition_index), counts, batch);
  step.replayed = counts.replayed;
  step.skipped = counts.skipped;
  if (!next) {
    spdlog::error("{}: {}", where_of(partition_index), next.status().to_string());
    step.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return step;
  }
  step.next_offset = *next;
  return step;
}

GroupService::GroupService(cluster::Controller& controller, cluster::ReplicaManager& replicas,
                           GroupServiceOptions options)
    : controller_(controller), replicas_(replicas), options_(options) {
  log_ = std::make_unique<OffsetsTopicLog>(
      replicas, *options_.clock, [this] { request_offsets_topic(); }, options_.commit_timeout_ms);
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
  service->leadership_.resize(static_cast<size_t>(partitions));
  service->coordinator_->on_earlier_deadline([raw = service.get()] {
    {
      std::lock_guard lock(raw->mutex_);
      raw->deadline_moved_ = true;
    }
    raw->wake_.notify_all();
  });
  if (topic || !service->options_.lone_node) {
    // Nothing is served until an election (below, or by a later image).
    for (int32_t p = 0; p < partitions; ++p) service->coordinator_->on_resignation(p, -1);
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

void GroupService::follow_leadership(const cluster::MetadataImage& image) {
  const cluster::TopicImage* topic = image.topic(offsets_topic);
  if (topic == nullptr) return;
  topic_exists_.store(true, std::memory_order_release);
  std::lock_guard lock(leadership_mutex_);
  if (topic->partitions.size() != leadership_.size() && !partition_count_warned_) {
    partition_count_warned_ = true;
    spdlog::error("{} has {} partitions, the coordinator was started with {}: restart the broker",
                  offsets_topic, topic->partitions.size(), leadership_.size());
  }
  for (size_t p = 0; p < leadership_.size(); ++p) {
    const cluster::PartitionImage* partition = topic->partition(static_cast<int32_t>(p));
    if (partition == nullptr) continue;
    const bool leads = partition->leader == options_.node_id;
    Leadership& known = leadership_[p];
    if (known.known && known.leads == leads && known.leader_epoch == partition->leader_epoch)
      continue;
    known = {true, leads, partition->leader_epoch};
    if (leads)
      coordinator_->on_election(static_cast<int32_t>(p), partition->leader_epoch);
    else
      coordinator_->on_resignation(static_cast<int32_t>(p), partition->leader_epoch);
  }
}

void GroupService::request_offsets_topic() {
  if (offsets_topic_exists() || topic_requested_.exchange(true)) return;
  // Only the active controller creates topics: another node asks it
  // (Kafka's brokers send CreateTopics to the controller for their internal
  // topics too). A node that leads the quorum but has not caught up creates
  // it locally (its controller waits for that).
  if (!controller_.is_active() && controller_.quorum().status().leader != controller_.node_id())
    return forward_topic_creation();
  // Creating blocks on the metadata log's fsync: the controller thread's job.
  controller_.submit(
      [this] {
        if (Status created = ensure_offsets_topic(); !created) {
          spdlog::warn("{}", created.to_string());
          topic_requested_ = false;  // the next lookup asks again
        }
      },
      [this] { topic_requested_ = false; });
}

int16_t GroupService::capped_replication_factor(const cluster::MetadataImage& image) const {
  const auto live = static_cast<int16_t>(
      std::max<size_t>(1, std::count_if(image.brokers.begin(), image.brokers.end(),
                                        [](const auto& entry) { return entry.second.active(); })));
  if (options_.offsets_replication_factor <= live) return options_.offsets_replication_factor;
  spdlog::warn(
      "metadata: internal topic {} gets replication factor {} instead of the configured {} "
      "(offsets.topic.replication.factor): only {} broker(s) are registered",
      offsets_topic, live, options_.offsets_replication_factor, live);
  return live;
}

void GroupService::forward_topic_creation() {
  protocol::CreateTopicsRequest request;
  request.timeout_ms = 30000;
  auto& topic = request.topics.emplace_back();
  topic.name = offsets_topic;
  topic.num_partitions = options_.group.offsets_topic_partitions;
  topic.replication_factor = capped_replication_factor(*replicas_.image());
  topic.configs.push_back({"cleanup.policy", "compact", {}});
  topic.configs.push_back({"segment.bytes", std::to_string(options_.offsets_segment_bytes), {}});
  // The answer comes on the quorum's thread; the image says when the topic
  // exists (follow_leadership). A failure is asked again by the next lookup.
  controller_.quorum().send_to_leader(
      std::move(request), protocol::CreateTopicsRequest::max_version, [this](auto result) {
        if (!result.ok())
          spdlog::warn("creating {}: the controller did not answer: {}", offsets_topic,
                       result.status.message);
        else
          for (const auto& created : result.message.topics)
            if (created.error_code != 0 &&
                created.error_code != to_wire(ErrorCode::TOPIC_ALREADY_EXISTS))
              spdlog::warn("creating {}: {}", offsets_topic,
                           created.error_message.value_or(
                               error_name(static_cast<ErrorCode>(created.error_code))));
        topic_requested_ = false;
      });
}

Status GroupService::ensure_offsets_topic() {
  if (topic_exists_.load(std::memory_order_acquire)) return Status::ok();
  std::lock_guard lock(topic_mutex_);
  if (topic_exists_.load(std::memory_order_relaxed)) return Status::ok();
  std::map<std::string, std::string> configs = {
      {"cleanup.policy", "compact"},
      {"segment.bytes", std::to_string(options_.offsets_segment_bytes)}};
  auto created =
      controller_.ensure_internal_topic(offsets_topic, options_.group.offsets_topic_partitions,
                                        options_.offsets_replication_factor, configs);
  if (!created.error.ok())
    return Status(Errc::invalid_value, "creating __consumer_offsets: " + created.error.message);
  topic_exists_.store(true, std::memory_order_release);
  return Status::ok();
}

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

void GroupService::handle_txn_completion(int64_t producer_id,
                                         const std::vector<int32_t>& offsets_partitions,
                                         bool commit) {
  for (int32_t partition : offsets_partitions)
    coordinator_->complete_transaction(producer_id, partition, commit);
}

}  // namespace sluice::group
