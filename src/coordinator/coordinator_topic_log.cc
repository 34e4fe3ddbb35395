// Appending to and loading from a coordinator topic's partitions (see
// coordinator_topic_log.h); moved from the group coordinator's service,
// unchanged but for the topic's name, when the transaction coordinator came.
#include "coordinator/coordinator_topic_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "record/batch_builder.h"
#include "record/record_reader.h"
#include "record/record_set.h"
#include "storage/log.h"

namespace sluice::coordinator {

// One append waiting for its partition's high watermark (Kafka's
// DelayedProduce with acks=all, for the coordinator's own writes). Held by
// the CoordinatorTopicLog until it finishes; the partition holds it weakly and
// wakes it when its high watermark moves.
class CoordinatorTopicLog::ReplicationWait final
    : public cluster::AppendWaiter,
      public std::enable_shared_from_this<ReplicationWait> {
 public:
  ReplicationWait(CoordinatorTopicLog& log, std::shared_ptr<cluster::Partition> partition,
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
    } else if (BrokerId{partition.leader_id()} != log_.replicas_.node_id()) {
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
  CoordinatorTopicLog& log_;
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
CoordinatorTopicLog::~CoordinatorTopicLog() {
  std::lock_guard lock(waits_mutex_);
  waits_.clear();
}

void CoordinatorTopicLog::append(int32_t partition_index, std::vector<CoordinatorRecord> records,
                                 std::function<void(ErrorCode)> done) {
  append_batch(partition_index, std::move(records), record::BatchOptions{}, std::move(done));
}

// A transactional batch of the producer (Kafka's coordinator writes it
// without a sequence: the partition checks the producer's epoch only).
void CoordinatorTopicLog::append_transactional(int32_t partition_index,
                                               const TransactionalProducer& producer,
                                               std::vector<CoordinatorRecord> records,
                                               std::function<void(ErrorCode)> done) {
  record::BatchOptions options;
  options.transactional = true;
  options.producer_id = producer.producer_id.value();
  options.producer_epoch = producer.producer_epoch.value();
  append_batch(partition_index, std::move(records), options, std::move(done),
               producer.verification);
}

void CoordinatorTopicLog::append_batch(int32_t partition_index,
                                       std::vector<CoordinatorRecord> records,
                                       const record::BatchOptions& options,
                                       std::function<void(ErrorCode)> done,
                                       const storage::AppendVerification& verification) {
  auto partition = replicas_.partition(topic_, partition_index);
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
  // As the coordinator (Kafka's AppendOrigin.COORDINATOR): its
  // transactional batches carry no sequence, only the producer's epoch.
  auto appended = partition->append_as_leader(*batch, -1, now_ms,
                                              storage::AppendOrigin::coordinator, verification);
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

void CoordinatorTopicLog::finished(const std::shared_ptr<ReplicationWait>& wait) {
  std::lock_guard lock(waits_mutex_);
  waits_.erase(wait);
}

void CoordinatorTopicLog::check_waits() {
  std::vector<std::shared_ptr<ReplicationWait>> waiting;
  {
    std::lock_guard lock(waits_mutex_);
    waiting.assign(waits_.begin(), waits_.end());
  }
  const auto now = clock_.monotonic();
  for (const auto& wait : waiting) wait->check(now);
}

size_t CoordinatorTopicLog::waits_in_flight() const {
  std::lock_guard lock(waits_mutex_);
  return waits_.size();
}

int64_t CoordinatorTopicLog::load_end_offset(int32_t partition_index) {
  auto partition = replicas_.partition(topic_, partition_index);
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

int64_t replay_record_set(Bytes record_set, int64_t from_offset, const RecordSink& sink,
                          const std::string& where, ReplayCounts& counts, const BatchSink& batch) {
  record::RecordSetReader batches{record_set};
  record::BatchView view;
  int64_t next = from_offset;
  while (batches.next(view)) {
    next = view.header.base_offset + view.header.last_offset_delta + 1;
    if (batch) {
      if (next <= from_offset) continue;  // read again from a batch before the start
      batch({view.header.base_offset, ProducerId{view.header.producer_id},
             ProducerEpoch{view.header.producer_epoch}, view.header.is_transactional(),
             view.header.is_control()});
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
                               ReplayCounts& counts, const BatchSink& batch) {
  if (offset >= partition.high_watermark()) return offset;
  auto read = partition.read(Offset{offset}, LeaderEpoch{-1}, 1 << 20, true);
  if (read.error != ErrorCode::NONE)
    return Status(Errc::io_error, "reading " + where + ": " + error_name(read.error));
  if (read.range.length == 0) return offset;
  std::vector<uint8_t> buffer(read.range.length);
  size_t done = 0;
  while (done < buffer.size()) {
    auto n = read.range.file->pread(read.range.position + done, std::span(buffer).subspan(done));
    if (!n) return n.status();
    if (*n == 0) return Status(Errc::io_error, "short read of " + where);
    done += *n;
  }
  return std::max(offset, replay_record_set(Bytes(buffer), offset, sink, where, counts, batch));
}

}  // namespace

Result<ReplayCounts> CoordinatorTopicLog::replay_all(int32_t partition_index,
                                                     const RecordSink& sink,
                                                     const BatchSink& batch) const {
  auto partition = replicas_.partition(topic_, partition_index);
  if (!partition)
    return Status(Errc::io_error,
                  "no local " + topic_ + " partition " + std::to_string(partition_index));
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

LoadStep CoordinatorTopicLog::load(int32_t partition_index, int64_t from_offset, int64_t end_offset,
                                   const RecordSink& sink) {
  return load_with_batches(partition_index, from_offset, end_offset, sink, {});
}

LoadStep CoordinatorTopicLog::load_with_batches(int32_t partition_index, int64_t from_offset,
                                                int64_t /*end_offset*/, const RecordSink& sink,
                                                const BatchSink& batch) {
  LoadStep step;
  step.next_offset = from_offset;
  auto partition = replicas_.partition(topic_, partition_index);
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

}  // namespace sluice::coordinator
