#include "group/group_service.h"

#include <spdlog/spdlog.h>

#include "record/batch_builder.h"
#include "record/record_reader.h"
#include "record/record_set.h"
#include "storage/log.h"

namespace sluice::group {

void OffsetsTopicLog::append(int32_t partition_index, std::vector<CoordinatorRecord> records,
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
  record::BatchBuilder builder;
  for (const CoordinatorRecord& entry : records) {
    std::optional<Bytes> value;
    if (entry.value) value = Bytes(*entry.value);
    builder.append(now_ms, Bytes(entry.key), value);
  }
  auto batch = builder.build();
  if (!batch) return done(ErrorCode::UNKNOWN_SERVER_ERROR);
  auto appended = partition->append_as_leader(*batch, -1, now_ms);
  if (appended.error != ErrorCode::NONE) return done(appended.error);
  replicas_.log_manager().flusher().request_flush(
      partition->managed_log(), appended.next_offset, [done = std::move(done)](Status status) {
        done(status ? ErrorCode::NONE : ErrorCode::KAFKA_STORAGE_ERROR);
      });
}

namespace {

// A record the coordinator cannot use: logged (with where it is) and skipped.
void skip(const std::string& where, int64_t offset, const std::string& what, const Status& why,
          ReplayCounts& counts) {
  ++counts.skipped;
  spdlog::warn("{} offset {}: skipping {}: {}", where, offset, what, why.to_string());
}

// The records of one batch from `from_offset` on.
void replay_batch(const record::BatchView& view, int64_t from_offset, GroupCoordinator& coordinator,
                  const std::string& where, ReplayCounts& counts) {
  auto reader = record::RecordReader::open(view.bytes);
  if (!reader)
    return skip(where, view.header.base_offset, "an unreadable batch", reader.status(), counts);
  record::Record record;
  while (reader->next(record)) {
    if (record.offset < from_offset || !record.key) continue;
    if (Status status = coordinator.replay(*record.key, record.value); !status)
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
  record::RecordSetReader batches{record_set};
  record::BatchView view;
  int64_t next = from_offset;
  while (batches.next(view)) {
    next = view.header.base_offset + view.header.last_offset_delta + 1;
    if (view.header.is_control()) continue;
    replay_batch(view, from_offset, coordinator, where, counts);
  }
  return next;
}

Result<ReplayCounts> OffsetsTopicLog::replay(int32_t partition_index,
                                             GroupCoordinator& coordinator) const {
  auto partition = replicas_.partition(offsets_topic, partition_index);
  if (!partition)
    return Status(Errc::io_error,
                  "no local __consumer_offsets partition " + std::to_string(partition_index));
  const std::string where = std::string(offsets_topic) + "-" + std::to_string(partition_index);
  ReplayCounts counts;
  int64_t offset = partition->offsets().log_start_offset;
  std::vector<uint8_t> buffer;
  while (offset < partition->high_watermark()) {
    auto read = partition->read(Offset{offset}, LeaderEpoch{-1}, 1 << 20, true);
    if (read.error != ErrorCode::NONE)
      return Status(Errc::io_error,
                    std::string("reading __consumer_offsets: ") + error_name(read.error));
    if (read.range.length == 0) break;
    buffer.resize(read.range.length);
    size_t done = 0;
    while (done < buffer.size()) {
      auto n = read.range.file->pread(read.range.position + done, std::span(buffer).subspan(done));
      if (!n) return n.status();
      if (*n == 0) return Status(Errc::io_error, "short read of __consumer_offsets");
      done += *n;
    }
    int64_t next = replay_record_set(Bytes(buffer), offset, coordinator, where, counts);
    if (next <= offset) break;  // no progress: stop rather than loop
    offset = next;
  }
  return counts;
}

GroupService::GroupService(cluster::Controller& controller, cluster::ReplicaManager& replicas,
                           GroupServiceOptions options)
    : controller_(controller), options_(options) {
  log_ = std::make_unique<OffsetsTopicLog>(replicas, *options_.clock,
                                           [this] { request_offsets_topic(); });
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
  if (topic) {
    service->topic_exists_ = true;
    for (int32_t p = 0; p < service->options_.group.offsets_topic_partitions; ++p) {
      // Bad records were skipped one by one; a partition that cannot be
      // read at all is left unloaded (its groups answer
      // COORDINATOR_LOAD_IN_PROGRESS). Either way the broker starts: one
      // partition's groups must not take all groups down.
      auto replayed = service->log_->replay(p, *service->coordinator_);
      if (!replayed) {
        spdlog::error(
            "{}-{}: cannot be read, its groups stay unloaded until a restart reads it: {}",
            offsets_topic, p, replayed.status().to_string());
        service->coordinator_->unload_partition(p);
      } else if (replayed->skipped > 0)
        spdlog::warn("{}-{}: loaded {} records, skipped {} that could not be read", offsets_topic,
                     p, replayed->replayed, replayed->skipped);
    }
  }
  service->coordinator_->on_earlier_deadline([raw = service.get()] {
    {
      std::lock_guard lock(raw->mutex_);
      raw->deadline_moved_ = true;
    }
    raw->wake_.notify_all();
  });
  service->coordinator_->finish_loading();
  service->ticker_ = std::thread([raw = service.get()] { raw->run_ticker(); });
  return service;
}

void GroupService::request_offsets_topic() {
  if (offsets_topic_exists() || topic_requested_.exchange(true)) return;
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
    coordinator_->tick();
    now = clock.monotonic();
    if (now >= next_periodic) next_periodic = now + interval;
    lock.lock();
  }
}

}  // namespace sluice::group
