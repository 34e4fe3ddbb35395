#include "cluster/partition.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "record/batch.h"
#include "record/record_reader.h"
#include "record/record_set.h"

namespace sluice::cluster {

ErrorCode error_code_for(const Status& status) {
  switch (status.code()) {
    case Errc::ok:
      return ErrorCode::NONE;
    case Errc::offset_out_of_range:
      return ErrorCode::OFFSET_OUT_OF_RANGE;
    case Errc::record_too_large:
      return ErrorCode::MESSAGE_TOO_LARGE;
    case Errc::corrupt_crc:
    case Errc::truncated:
    case Errc::invalid_length:
    case Errc::varint_overflow:
    case Errc::compression_error:
    case Errc::unsupported_compression:
      return ErrorCode::CORRUPT_MESSAGE;
    case Errc::invalid_value:
      return ErrorCode::INVALID_RECORD;
    case Errc::io_error:
    case Errc::too_many_open_files:  // retriable: the client tries again
      return ErrorCode::KAFKA_STORAGE_ERROR;
    // A full disk: Kafka's own answer (its IOException becomes
    // KafkaStorageException), which clients retry after a metadata refresh
    // (Java: a RetriableException; librdkafka: refresh and retry), so
    // producers resume by themselves once space is freed.
    case Errc::no_space:
      return ErrorCode::KAFKA_STORAGE_ERROR;
    default:
      return ErrorCode::UNKNOWN_SERVER_ERROR;
  }
}

TopicMetrics topic_metrics(const std::string& topic) {
  metrics::Registry& registry = metrics::default_registry();
  static auto& bytes_in =
      registry.counter_family("sluice_topic_bytes_in_total",
                              "Record batch bytes appended by Produce, by topic.", {"topic"});
  static auto& messages_in = registry.counter_family(
      "sluice_topic_messages_in_total", "Records appended by Produce, by topic.", {"topic"});
  static auto& bytes_out = registry.counter_family(
      "sluice_topic_bytes_out_total", "Record batch bytes returned by Fetch, by topic.", {"topic"});
  return {&bytes_in.labels({topic}), &messages_in.labels({topic}), &bytes_out.labels({topic})};
}

Partition::Partition(storage::TopicPartition tp, Uuid topic_id,
                     std::shared_ptr<storage::ManagedLog> log, int32_t local_node_id,
                     const Clock& clock)
    : tp_(std::move(tp)),
      topic_id_(topic_id),
      log_(std::move(log)),
      local_node_id_(local_node_id),
      clock_(clock),
      metrics_(topic_metrics(tp_.topic)) {
  std::lock_guard lock(log_->mutex());
  if (log_->usable()) set_high_watermark_locked(initial_high_watermark_locked());
}

// Kafka's Partition.createLogIfNotExists: the checkpointed high watermark
// (storage::LogManager restored it into the ManagedLog at open, clamped to
// the log), or the log start without one. Never the log end: records a
// replicated partition's ISR may not have stay hidden until the leader
// knows they are committed. A partition this node leads alone (a single
// replica) moves it to the log end at its first update(), as Kafka's
// makeLeader does.
int64_t Partition::initial_high_watermark_locked() const {
  const storage::Log& log = log_->log();
  const int64_t checkpointed = log_->high_watermark();
  if (checkpointed >= 0)
    return std::clamp(checkpointed, log.log_start_offset(), log.log_end_offset());
  if (log.log_end_offset() > log.log_start_offset())
    spdlog::info("replication: no checkpointed high watermark for {}: starting at the log start {}",
                 tp_.dir_name(), log.log_start_offset());
  return log.log_start_offset();
}

void Partition::update(const PartitionImage& image, const AppendPolicy& policy) {
  bool moved = false;
  {
    std::lock_guard lock(log_->mutex());
    const bool was_leader = leads_locked();
    const int32_t old_epoch = leader_epoch_;
    leader_id_ = image.leader;
    leader_epoch_ = image.leader_epoch;
    policy_ = policy;
    replicas_ = image.replicas;
    // The image is the controller's word: it replaces an ISR an answer
    // applied, and ends any change in flight that it supersedes.
    if (image.partition_epoch >= partition_epoch_) {
      if (image.partition_epoch > partition_epoch_) pending_isr_.reset();
      isr_ = image.isr;
      partition_epoch_ = image.partition_epoch;
    }
    isr_size_ = isr_.size();
    if (leads_locked() && (!was_leader || old_epoch != leader_epoch_)) {
      // Kafka's makeLeader: followers start unknown, caught up as of now.
      followers_.clear();
      const int64_t now =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_.monotonic()).count();
      for (int32_t replica : replicas_)
        if (replica != local_node_id_) followers_[replica].last_caught_up_ms = now;
      leader_epoch_start_offset_ = log_->usable() ? log_->log().log_end_offset() : 0;
      // Kafka's makeLeader: the epoch starts at the log end now, appended
      // to or not. Without it a follower of the previous epoch fetched with
      // an epoch this log did not know and was told to cut back to the log
      // start (found by the partition simulation).
      if (log_->usable()) log_->log().assign_epoch_start(LeaderEpoch{leader_epoch_});
      pending_isr_.reset();
    }
    if (!leads_locked()) {
      followers_.clear();
      pending_isr_.reset();
    }
    if (leads_locked()) moved = advance_high_watermark_locked();
    // acks=all waits on a leadership lost end now (NOT_LEADER_OR_FOLLOWER),
    // not at their timeout.
    if (was_leader && (!leads_locked() || old_epoch != leader_epoch_)) moved = true;
  }
  if (moved) wake_waiters();
}

int64_t Partition::monotonic_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<int32_t> Partition::maximal_isr_locked() const {
  std::vector<int32_t> isr = isr_;
  if (pending_isr_)
    for (int32_t member : *pending_isr_)
      if (std::find(isr.begin(), isr.end(), member) == isr.end()) isr.push_back(member);
  return isr;
}

bool Partition::advance_high_watermark_locked() {
  if (!log_->usable()) return false;
  const int64_t end = log_->log().log_end_offset();
  // An ISR without this node (it was just elected and the image is older)
  // still bounds the high watermark by this log.
  int64_t low = isr_low_end(maximal_isr_locked(), local_node_id_, end, followers_);
  if (low <= high_watermark()) return false;
  set_high_watermark_locked(low);
  return true;
}

int32_t Partition::leader_id() const {
  std::lock_guard lock(log_->mutex());
  return leader_id_;
}

AppendPolicy Partition::append_policy() const {
  std::lock_guard lock(log_->mutex());
  return policy_;
}

int32_t Partition::leader_epoch() const {
  std::lock_guard lock(log_->mutex());
  return leader_epoch_;
}

ErrorCode Partition::check_leader(LeaderEpoch current_leader_epoch) const {
  std::lock_guard lock(log_->mutex());
  return check_leader_locked(current_leader_epoch.value());
}

ErrorCode Partition::check_leader_locked(int32_t current_leader_epoch, ReadFrom from) const {
  if (log_->offline()) return ErrorCode::KAFKA_STORAGE_ERROR;
  if (log_->deleted()) return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
  if (current_leader_epoch >= 0) {
    if (current_leader_epoch < leader_epoch_) return ErrorCode::FENCED_LEADER_EPOCH;
    if (current_leader_epoch > leader_epoch_) return ErrorCode::UNKNOWN_LEADER_EPOCH;
  }
  if (from == ReadFrom::leader && !leads_locked()) return ErrorCode::NOT_LEADER_OR_FOLLOWER;
  return ErrorCode::NONE;
}

void Partition::set_high_watermark_locked(int64_t offset) {
  high_watermark_.store(offset, std::memory_order_release);
  log_->set_high_watermark(offset);
}

// Kafka checks each record's timestamp; the batch's first and max
// timestamps bound them when producers stamp records in order (they do),
// without decoding the records a second time.
ErrorCode Partition::check_timestamps(std::span<const uint8_t> records, int64_t now_ms,
                                      std::optional<int32_t>& record_index) const {
  if (policy_.log_append_time) return ErrorCode::NONE;
  record::RecordSetReader reader(records);
  record::BatchView view;
  while (reader.next(view)) {
    const record::BatchHeader& header = view.header;
    if (header.timestamp_type() == record::TimestampType::log_append_time) continue;
    int64_t oldest = std::min(header.base_timestamp, header.max_timestamp);
    if (oldest >= 0 && policy_.timestamp_before_max_ms != INT64_MAX &&
        now_ms - oldest > policy_.timestamp_before_max_ms) {
      record_index = 0;
      return ErrorCode::INVALID_TIMESTAMP;
    }
    if (policy_.timestamp_after_max_ms != INT64_MAX &&
        header.max_timestamp - now_ms > policy_.timestamp_after_max_ms) {
      record_index = std::max(0, header.last_offset_delta);
      return ErrorCode::INVALID_TIMESTAMP;
    }
  }
  return ErrorCode::NONE;
}

namespace {

// Kafka's LogValidator.validateKey: a compacted log keeps the last record of
// each key, so a record without one could never be compacted. Returns the
// index of the first keyless record of `records`, counted across its batches.
// A batch whose records do not decode is left to the log's own validation.
std::optional<int32_t> first_keyless_record(std::span<const uint8_t> records) {
  record::RecordSetReader batches(records);
  record::BatchView view;
  int32_t index = 0;
  while (batches.next(view)) {
    auto reader = record::RecordReader::open(view.bytes);
    if (!reader) return std::nullopt;
    record::Record record;
    while (reader->next(record)) {
      if (!record.key) return index;
      ++index;
    }
  }
  return std::nullopt;
}

// Kafka's lastStableOffset: the first offset of the oldest ongoing
// transaction, never above the high watermark. (Kafka also holds it at a
// completed transaction until its marker is replicated; not yet here.)
int64_t last_stable_offset(const storage::Log& log, int64_t high_watermark) {
  const auto& ongoing = log.producer_state().ongoing_txns();
  return ongoing.empty() ? high_watermark : std::min(high_watermark, ongoing.begin()->first);
}

}  // namespace

Partition::TxnVerificationStart Partition::start_txn_verification(int64_t producer_id,
                                                                  int32_t sequence, int16_t epoch,
                                                                  int64_t now_ms) {
  TxnVerificationStart started;
  std::lock_guard lock(log_->mutex());
  started.error = check_leader_locked(-1);
  if (started.error == ErrorCode::NONE)
    started.guard = log_->log().start_txn_verification(ProducerId{producer_id}, sequence,
                                                       ProducerEpoch{epoch}, now_ms);
  return started;
}

PartitionAppendResult Partition::append_as_leader(std::span<uint8_t> records, int16_t required_acks,
                                                  int64_t now_ms, storage::AppendOrigin origin,
                                                  const storage::AppendVerification& verification) {
  PartitionAppendResult result;
  {
    std::lock_guard lock(log_->mutex());
    result.error = check_leader_locked(-1);
    if (result.error != ErrorCode::NONE) return result;
    if (required_acks == -1 && static_cast<int64_t>(isr_size_) < policy_.min_insync_replicas) {
      result.error = ErrorCode::NOT_ENOUGH_REPLICAS;
      result.error_message = "the ISR has " + std::to_string(isr_size_) +
                             " replicas, fewer than min.insync.replicas " +
                             std::to_string(policy_.min_insync_replicas);
      return result;
    }
    result.error = check_timestamps(records, now_ms, result.record_error_index);
    if (result.error != ErrorCode::NONE) {
      result.error_message = "a record timestamp is outside the range the topic accepts";
      return result;
    }
    if (log_->usable() && log_->log().config().cleanup_policy_compact) {
      result.record_error_index = first_keyless_record(records);
      if (result.record_error_index) {
        result.error = ErrorCode::INVALID_RECORD;
        result.error_message =
            "Compacted topic cannot accept message without key in topic partition " + tp_.topic +
            "-" + std::to_string(tp_.partition) + ".";
        return result;
      }
    }
    if (policy_.log_append_time) {
      record::RecordSetReader reader(records);
      record::BatchView view;
      while (reader.next(view)) {
        auto at = static_cast<size_t>(view.bytes.data() - records.data());
        record::set_log_append_time(records.subspan(at, view.bytes.size()), now_ms);
      }
      result.log_append_time_ms = now_ms;
    }
    storage::Log& log = log_->log();
    auto appended = log_->check(
        log.append_as_leader(records, LeaderEpoch{leader_epoch_}, origin, verification));
    if (!appended) {
      result.error = error_code_for(appended.status());
      result.error_message = appended.status().message();
      if (result.error == ErrorCode::INVALID_RECORD) result.record_error_index = 0;
      return result;
    }
    if (appended->producer_error || appended->duplicate) {
      answer_unwritten(*appended, result);
      return result;
    }
    log_->note_append_succeeded();
    result.base_offset = appended->first_offset;
    result.next_offset = appended->last_offset + 1;
    result.log_start_offset = log.log_start_offset();
    result.flush_due = log.flush_due();
    result.leader_epoch = leader_epoch_;
    // Committed once every ISR member has it: at once when this node is the
    // ISR alone (a single node), else as followers fetch (read_for_replica).
    advance_high_watermark_locked();
  }
  wake_waiters();
  return result;
}

// A set the producer state refused, or a duplicate: nothing was written.
// A duplicate is answered as Kafka does (UnifiedLog.append): no error, the
// original batch's offsets, and its timestamp as log_append_time_ms; an
// acks=all wait then covers the original batch.
void Partition::answer_unwritten(const storage::AppendResult& appended,
                                 PartitionAppendResult& result) const {
  if (appended.producer_error) {
    result.error = appended.producer_error.code;
    result.error_message = appended.producer_error.message;
    return;
  }
  result.duplicate = true;
  result.base_offset = appended.first_offset;
  result.next_offset = appended.last_offset + 1;
  result.log_append_time_ms = appended.log_append_time_ms;
  result.log_start_offset = log_->log().log_start_offset();
  result.leader_epoch = leader_epoch_;
}

PartitionReadResult Partition::read(Offset fetch_offset, LeaderEpoch current_leader_epoch,
                                    uint64_t max_bytes, bool min_one_batch, storage::ReadWait wait,
                                    ReadFrom from, bool read_committed) const {
  const int64_t offset = fetch_offset.value();
  PartitionReadResult result;
  // The lock may be held across an append's pwrite (an append lane), which
  // the kernel can throttle for tens of ms: a reactor does not wait for it.
  std::unique_lock lock(log_->mutex(), std::defer_lock);
  if (wait == storage::ReadWait::nowait) {
    if (!lock.try_lock()) {
      result.busy = true;
      return result;
    }
  } else {
    lock.lock();
  }
  result.error = check_leader_locked(current_leader_epoch.value(), from);
  if (result.error != ErrorCode::NONE) return result;
  storage::Log& log = log_->log();
  result.high_watermark = high_watermark();
  result.last_stable_offset = last_stable_offset(log, result.high_watermark);
  result.log_start_offset = log.log_start_offset();
  result.log_end_offset = log.log_end_offset();
  if (offset < result.log_start_offset || offset > result.log_end_offset) {
    result.error = ErrorCode::OFFSET_OUT_OF_RANGE;
    return result;
  }
  // Kafka's FetchIsolation: TXN_COMMITTED reads up to the last stable offset.
  const int64_t max_offset = read_committed ? result.last_stable_offset : result.high_watermark;
  if (read_committed) result.aborted_txns.emplace();
  if (offset >= max_offset || max_bytes == 0) return result;
  auto read =
      log_->check(log.read(fetch_offset, max_bytes, Offset{max_offset}, min_one_batch, wait));
  if (!read) {
    result.error = error_code_for(read.status());
    return result;
  }
  result.range = read->range;
  result.cold = read->cold;
  if (read_committed && read->range.length > 0)
    result.aborted_txns = log.collect_aborted_txns(fetch_offset, Offset{read->next_offset});
  return result;
}

Partition::ListedOffset Partition::list_offset(int64_t timestamp_ms,
                                               LeaderEpoch current_leader_epoch, int32_t replica_id,
                                               bool read_committed) const {
  ListedOffset listed;
  std::lock_guard lock(log_->mutex());
  const ReadFrom from =
      replica_id == debugging_replica_id ? ReadFrom::any_replica : ReadFrom::leader;
  listed.error = check_leader_locked(current_leader_epoch.value(), from);
  if (listed.error != ErrorCode::NONE) return listed;
  storage::Log& log = log_->log();
  const bool consumer = replica_id == consumer_replica_id;
  // Consumers see up to the high watermark, other askers the log end.
  // READ_COMMITTED consumers up to the last stable offset (Kafka's
  // fetchOffsetForTimestamp with IsolationLevel.READ_COMMITTED).
  const int64_t last_fetchable = !consumer        ? log.log_end_offset()
                                 : read_committed ? last_stable_offset(log, high_watermark())
                                                  : high_watermark();
  // Kafka's Partition.fetchOffsetForTimestamp: a leader just elected whose
  // high watermark has not reached the start of its epoch cannot say yet
  // which offsets a consumer may see.
  const ErrorCode not_yet =
      consumer && leads_locked() && leader_epoch_start_offset_ > high_watermark()
          ? ErrorCode::OFFSET_NOT_AVAILABLE
          : ErrorCode::NONE;
  if (timestamp_ms == storage::latest_timestamp) {
    listed.error = not_yet;
    if (not_yet != ErrorCode::NONE) return listed;
    listed.offset = last_fetchable;
    listed.leader_epoch = log.latest_epoch().value_or(-1);
    return listed;
  }
  auto found = log_->check(log.find_offset_for_timestamp(timestamp_ms));
  if (!found) {
    listed.error = error_code_for(found.status());
    return listed;
  }
  if (timestamp_ms == storage::earliest_timestamp && found->has_value()) {
    // Kafka answers the log start offset for earliest, even on an empty log.
    listed.offset = (*found)->offset;
    listed.leader_epoch = (*found)->leader_epoch.value_or(-1);
    return listed;
  }
  if (!found->has_value() || (*found)->offset >= last_fetchable) {
    // Kafka: no record at or after that time -> offset -1 (the end for -3 on an empty log).
    listed.error = not_yet;
    if (timestamp_ms == storage::max_timestamp) listed.offset = -1;
    return listed;
  }
  listed.offset = (*found)->offset;
  listed.timestamp_ms = (*found)->timestamp_ms;
  listed.leader_epoch = (*found)->leader_epoch.value_or(-1);
  return listed;
}

Partition::LegacyOffsets Partition::legacy_list_offsets(int64_t timestamp_ms, int32_t max_count,
                                                        bool from_consumer, int64_t now_ms) const {
  LegacyOffsets listed;
  std::lock_guard lock(log_->mutex());
  listed.error = check_leader_locked(-1);
  if (listed.error != ErrorCode::NONE) return listed;
  if (!log_->usable()) {
    listed.error = ErrorCode::KAFKA_STORAGE_ERROR;
    return listed;
  }
  listed.offsets = log_->log().legacy_offsets_before(timestamp_ms, max_count, now_ms);
  int64_t high_watermark = this->high_watermark();
  auto above = [high_watermark](int64_t offset) { return offset > high_watermark; };
  if (!from_consumer || std::none_of(listed.offsets.begin(), listed.offsets.end(), above))
    return listed;
  auto first_visible = std::find_if_not(listed.offsets.begin(), listed.offsets.end(), above);
  listed.offsets.erase(listed.offsets.begin(), first_visible);
  listed.offsets.insert(listed.offsets.begin(), high_watermark);
  return listed;
}

Partition::EpochEnd Partition::end_offset_for_epoch(LeaderEpoch epoch,
                                                    LeaderEpoch current_leader_epoch) const {
  EpochEnd end;
  std::lock_guard lock(log_->mutex());
  end.error = check_leader_locked(current_leader_epoch.value());
  if (end.error != ErrorCode::NONE) return end;
  storage::EpochEndOffset found = log_->log().end_offset_for_epoch(epoch);
  end.leader_epoch = found.epoch;
  end.end_offset = found.end_offset;
  return end;
}

Partition::Deleted Partition::delete_records_before(Offset offset) {
  Deleted deleted;
  std::vector<std::string> freed;
  {
    std::lock_guard lock(log_->mutex());
    deleted = delete_records_locked(offset.value(), freed);
  }
  // On a full disk the freed segments are removed now, not after
  // file.delete.delay.ms (that is what DeleteRecords is for then), but off
  // this thread and the partition lock: unlinks free blocks on the disk.
  log_->remove_in_background(std::move(freed));
  return deleted;
}

Partition::Deleted Partition::delete_records_locked(int64_t offset,
                                                    std::vector<std::string>& freed) {
  Deleted deleted;
  deleted.error = check_leader_locked(-1);
  if (deleted.error != ErrorCode::NONE) return deleted;
  storage::Log& log = log_->log();
  // Kafka's Partition.deleteRecordsOnLeader: only a log whose cleanup.policy
  // includes delete may lose records from its start.
  if (!log.config().cleanup_policy_delete) {
    deleted.error = ErrorCode::POLICY_VIOLATION;
    return deleted;
  }
  int64_t target = offset == -1 ? high_watermark() : offset;
  if (target < 0 || target > high_watermark()) {
    deleted.error = ErrorCode::OFFSET_OUT_OF_RANGE;
    return deleted;
  }
  if (Status status = log_->check(log.set_log_start_offset(Offset{target})); !status) {
    deleted.error = error_code_for(status);
    return deleted;
  }
  if (log_->dir_full()) freed = log.take_deleted_files(/*due_only=*/false);
  deleted.low_watermark = log.log_start_offset();
  return deleted;
}

PartitionOffsets Partition::offsets() const {
  PartitionOffsets offsets;
  std::lock_guard lock(log_->mutex());
  offsets.high_watermark = high_watermark();
  if (!log_->usable()) return offsets;
  const storage::Log& log = log_->log();
  offsets.log_start_offset = log.log_start_offset();
  offsets.log_end_offset = log.log_end_offset();
  offsets.size_bytes = log.size_bytes();
  return offsets;
}

void Partition::add_waiter(std::weak_ptr<AppendWaiter> waiter) {
  std::lock_guard lock(waiters_mutex_);
  std::erase_if(waiters_, [](const auto& w) { return w.expired(); });
  waiters_.push_back(std::move(waiter));
}

size_t Partition::waiter_count() const {
  std::lock_guard lock(waiters_mutex_);
  return waiters_.size();
}

void Partition::wake_waiters() {
  std::vector<std::shared_ptr<AppendWaiter>> alive;
  {
    std::lock_guard lock(waiters_mutex_);
    if (waiters_.empty()) return;
    alive.reserve(waiters_.size());
    std::erase_if(waiters_, [&](const std::weak_ptr<AppendWaiter>& waiter) {
      auto strong = waiter.lock();
      if (!strong) return true;
      alive.push_back(std::move(strong));
      return false;
    });
  }
  for (auto& waiter : alive) waiter->on_new_data();
}

}  // namespace sluice::cluster

// --- Replication (issue 16) ---

namespace sluice::cluster {

std::vector<int32_t> Partition::isr() const {
  std::lock_guard lock(log_->mutex());
  return isr_;
}

bool Partition::isr_change_failed(ErrorCode error, const std::vector<int32_t>& proposed) {
  std::lock_guard lock(log_->mutex());
  if (!pending_isr_) return true;
  if (*pending_isr_ != proposed) return false;  // a late answer to an older change
  if (error == ErrorCode::OPERATION_NOT_ATTEMPTED || error == ErrorCode::INELIGIBLE_REPLICA) {
    pending_isr_.reset();
    return true;
  }
  pending_isr_failed_ = true;
  return false;
}

std::optional<IsrChange> Partition::isr_change_to_retry() {
  std::lock_guard lock(log_->mutex());
  if (!leads_locked() || !pending_isr_ || !pending_isr_failed_) return std::nullopt;
  pending_isr_failed_ = false;
  return isr_change_locked(*pending_isr_);
}

bool Partition::isr_change_in_flight() const {
  std::lock_guard lock(log_->mutex());
  return pending_isr_.has_value();
}

AppendCommit Partition::append_commit(int32_t leader_epoch, int64_t end_offset) const {
  std::lock_guard lock(log_->mutex());
  if (!leads_locked() || leader_epoch_ != leader_epoch) return AppendCommit::not_leader;
  return high_watermark() >= end_offset ? AppendCommit::committed : AppendCommit::waiting;
}

ReplicaReadResult Partition::read_for_replica(int32_t replica_id, int64_t replica_epoch,
                                              Offset fetch_offset, LeaderEpoch last_fetched_epoch,
                                              LeaderEpoch current_leader_epoch, uint64_t max_bytes,
                                              int64_t now_ms, storage::ReadWait wait) {
  ReplicaReadResult result;
  PartitionReadResult& read = result.read;
  const int64_t offset = fetch_offset.value();
  bool moved = false;
  {
    std::lock_guard lock(log_->mutex());
    read.error = check_leader_locked(current_leader_epoch.value());
    if (read.error == ErrorCode::NONE && !log_->usable())
      read.error = ErrorCode::KAFKA_STORAGE_ERROR;
    // Kafka's followerReplicaOrThrow: with an epoch that matches, the
    // (replica, epoch) pair is not known yet here (a reassignment adding
    // it): UNKNOWN_LEADER_EPOCH, retried; without one, NOT_LEADER_OR_FOLLOWER.
    if (read.error == ErrorCode::NONE &&
        std::find(replicas_.begin(), replicas_.end(), replica_id) == replicas_.end())
      read.error = current_leader_epoch.value() >= 0 ? ErrorCode::UNKNOWN_LEADER_EPOCH
                                                     : ErrorCode::NOT_LEADER_OR_FOLLOWER;
    if (read.error != ErrorCode::NONE) return result;
    storage::Log& log = log_->log();
    read.log_start_offset = log.log_start_offset();
    read.log_end_offset = log.log_end_offset();
    // Kafka's validateFetchOffsetAndMaybeGetDivergingEpoch: the follower's
    // last epoch ends earlier here (or is unknown): it must truncate first.
    if (last_fetched_epoch.value() >= 0) {
      storage::EpochEndOffset end = log.end_offset_for_epoch(last_fetched_epoch);
      if (end.epoch < last_fetched_epoch.value() || end.end_offset < offset) {
        result.diverging_epoch = end.epoch;
        result.diverging_end_offset = end.end_offset;
        read.high_watermark = high_watermark();
        read.last_stable_offset = read.high_watermark;
        return result;
      }
    }
    if (offset < read.log_start_offset || offset > read.log_end_offset) {
      read.error = ErrorCode::OFFSET_OUT_OF_RANGE;
      read.high_watermark = high_watermark();
      return result;
    }
    FollowerState& follower = followers_[replica_id];
    follower.broker_epoch = replica_epoch;
    record_follower_fetch(follower, offset, read.log_end_offset, now_ms);
    moved = advance_high_watermark_locked();
    const bool in_isr = std::find(isr_.begin(), isr_.end(), replica_id) != isr_.end();
    result.may_join_isr =
        !in_isr && may_join_isr(follower, high_watermark(), leader_epoch_start_offset_);
    read.high_watermark = high_watermark();
    read.last_stable_offset = read.high_watermark;
    if (offset < read.log_end_offset && max_bytes > 0) {
      auto found =
          log_->check(log.read(fetch_offset, max_bytes, Offset{read.log_end_offset}, true, wait));
      if (!found) {
        read.error = error_code_for(found.status());
      } else {
        read.range = found->range;
        read.cold = found->cold;
      }
    }
  }
  if (moved) wake_waiters();
  return result;
}

std::vector<ReadReplica> Partition::read_replicas(Offset fetch_offset, int64_t now_ms) const {
  std::vector<ReadReplica> out;
  std::lock_guard lock(log_->mutex());
  if (!leads_locked() || !log_->usable()) return out;
  out.push_back({local_node_id_, std::nullopt, log_->log().log_end_offset(), 0});
  // Kafka leaves out replicas not in the ISR: a lagging follower would keep
  // its consumers behind. (Kafka also checks the follower's log start, not
  // tracked here; below the leader's, the offset is out of range anyway.)
  for (const auto& [id, follower] : followers_) {
    if (std::find(isr_.begin(), isr_.end(), id) == isr_.end()) continue;
    if (follower.log_end_offset < fetch_offset.value()) continue;
    out.push_back({id, std::nullopt, follower.log_end_offset, now_ms - follower.last_caught_up_ms});
  }
  return out;
}

FollowerPosition Partition::follower_position() const {
  FollowerPosition position;
  std::lock_guard lock(log_->mutex());
  position.leader = leader_id_;
  position.leader_epoch = leader_epoch_;
  position.follower = !leads_locked() && leader_id_ >= 0 && log_->usable() && !log_->deleted();
  if (!log_->usable()) return position;
  position.log_end_offset = log_->log().log_end_offset();
  position.last_fetched_epoch = log_->log().latest_epoch().value_or(-1);
  return position;
}

ErrorCode Partition::append_as_follower(LeaderEpoch fetched_in, Bytes records,
                                        Offset leader_high_watermark) {
  std::unique_lock lock(log_->mutex());
  if (leads_locked() || leader_epoch_ != fetched_in.value()) return ErrorCode::FENCED_LEADER_EPOCH;
  if (!log_->usable()) return ErrorCode::KAFKA_STORAGE_ERROR;
  storage::Log& log = log_->log();
  if (!records.empty()) {
    // Kafka's follower: an empty log restarted at the leader's log start
    // gets the whole batch holding that offset; it starts at the batch.
    record::RecordSetReader reader(records);
    record::BatchView first;
    if (log.log_end_offset() == log.log_start_offset() && reader.next(first) &&
        first.header.base_offset < log.log_end_offset()) {
      if (Status status = log_->check(log.truncate_fully(Offset{first.header.base_offset}));
          !status)
        return error_code_for(status);
    }
    auto appended = log_->check(log.append_as_follower(records));
    if (!appended) return error_code_for(appended.status());
    log_->note_append_succeeded();
  }
  // Kafka's follower: the leader's high watermark, never past this log.
  const int64_t previous = high_watermark();
  set_high_watermark_locked(std::min(leader_high_watermark.value(), log.log_end_offset()));
  // Consumers reading from this follower (KIP-392) park until it moves.
  const bool moved = high_watermark() > previous;
  lock.unlock();
  if (moved) wake_waiters();
  return ErrorCode::NONE;
}

ErrorCode Partition::truncate_as_follower(LeaderEpoch fetched_in, Offset offset) {
  std::lock_guard lock(log_->mutex());
  if (leads_locked() || leader_epoch_ != fetched_in.value()) return ErrorCode::FENCED_LEADER_EPOCH;
  if (!log_->usable()) return ErrorCode::KAFKA_STORAGE_ERROR;
  storage::Log& log = log_->log();
  // At or past the end too: Log::truncate_to then drops an epoch this node
  // assigned as leader without appending (a follower fetching with it
  // looped on the same divergence: found by the partition simulation).
  if (Status status = log_->check(log.truncate_to(offset)); !status) return error_code_for(status);
  if (high_watermark() > log.log_end_offset()) set_high_watermark_locked(log.log_end_offset());
  return ErrorCode::NONE;
}

ErrorCode Partition::restart_as_follower_at(LeaderEpoch fetched_in, Offset leader_log_start) {
  std::lock_guard lock(log_->mutex());
  if (leads_locked() || leader_epoch_ != fetched_in.value()) return ErrorCode::FENCED_LEADER_EPOCH;
  if (!log_->usable()) return ErrorCode::KAFKA_STORAGE_ERROR;
  storage::Log& log = log_->log();
  if (leader_log_start.value() <= log.log_end_offset()) return ErrorCode::NONE;
  if (Status status = log_->check(log.truncate_fully(leader_log_start)); !status)
    return error_code_for(status);
  set_high_watermark_locked(log.log_end_offset());
  return ErrorCode::NONE;
}

ErrorCode Partition::truncate_on_divergence(LeaderEpoch fetched_in, int32_t epoch,
                                            int64_t end_offset) {
  int64_t target = 0;
  {
    std::lock_guard lock(log_->mutex());
    if (!log_->usable()) return ErrorCode::KAFKA_STORAGE_ERROR;
    const storage::Log& log = log_->log();
    int32_t local_epoch = -1;
    int64_t local_end = -1;
    if (epoch >= 0) {
      storage::EpochEndOffset local = log.end_offset_for_epoch(LeaderEpoch{epoch});
      local_epoch = local.epoch;
      local_end = local.end_offset;
    }
    target = follower_truncation_offset(epoch, end_offset, local_epoch, local_end,
                                        log.log_end_offset(), high_watermark());
  }
  return truncate_as_follower(fetched_in, Offset{target});
}

std::optional<int32_t> Partition::tail_epoch_without_entry() const {
  std::lock_guard lock(log_->mutex());
  if (!log_->usable()) return std::nullopt;
  storage::Log& log = log_->log();
  const int64_t end = log.log_end_offset();
  if (end <= log.log_start_offset()) return std::nullopt;
  // The batch holding the last offset, whole (a 1-byte limit still gives one).
  auto last = log_->check(log.read(Offset{end - 1}, 1, Offset{end}, true));
  int32_t tail_epoch = record::no_partition_leader_epoch;
  if (last && last->range.length >= record::batch_header_bytes) {
    std::vector<uint8_t> header(record::batch_header_bytes);
    auto n = last->range.file->pread(last->range.position, header);
    if (n.is_ok() && *n == header.size())
      if (auto parsed = record::read_batch_header(header))
        tail_epoch = parsed->partition_leader_epoch;
  }
  std::optional<int32_t> cached = log.latest_epoch();
  if (cached && *cached >= tail_epoch) return std::nullopt;
  return tail_epoch < 0 ? -1 : tail_epoch;
}

Partition::EpochTruncation Partition::truncate_to_epoch_end(LeaderEpoch fetched_in,
                                                            int32_t requested_epoch,
                                                            int32_t leader_epoch,
                                                            int64_t leader_end_offset) {
  EpochTruncation truncation;
  int64_t end = 0;
  {
    std::lock_guard lock(log_->mutex());
    if (!log_->usable()) {
      truncation.error = ErrorCode::KAFKA_STORAGE_ERROR;
      return truncation;
    }
    end = log_->log().log_end_offset();
    truncation.offset = epoch_end_truncation_offset(requested_epoch, leader_epoch,
                                                    leader_end_offset, end, high_watermark());
  }
  // Asked about an older epoch than the tail's: the batch now last may
  // still be of an epoch the leader does not know.
  // Each round that is not the last cuts the log: the rounds end.
  truncation.done = leader_epoch < 0 || leader_end_offset < 0 || leader_epoch == requested_epoch ||
                    leader_end_offset >= end;
  truncation.error = truncate_as_follower(fetched_in, Offset{truncation.offset});
  return truncation;
}

IsrChange Partition::isr_change_locked(std::vector<int32_t> new_isr) {
  pending_isr_ = new_isr;
  pending_isr_failed_ = false;
  IsrChange change;
  change.topic_id = topic_id_;
  change.topic = tp_.topic;
  change.partition = tp_.partition;
  change.leader_epoch = leader_epoch_;
  change.partition_epoch = partition_epoch_;
  change.new_isr = std::move(new_isr);
  return change;
}

std::optional<IsrChange> Partition::isr_shrink(int64_t now_ms, int64_t lag_max_ms) {
  std::lock_guard lock(log_->mutex());
  if (!leads_locked() || pending_isr_ || !log_->usable()) return std::nullopt;
  std::vector<int32_t> out = out_of_sync_replicas(
      isr_, local_node_id_, log_->log().log_end_offset(), followers_, now_ms, lag_max_ms);
  if (out.empty()) return std::nullopt;
  std::vector<int32_t> new_isr;
  for (int32_t member : isr_)
    if (std::find(out.begin(), out.end(), member) == out.end()) new_isr.push_back(member);
  if (std::find(new_isr.begin(), new_isr.end(), local_node_id_) == new_isr.end())
    new_isr.insert(new_isr.begin(), local_node_id_);
  return isr_change_locked(std::move(new_isr));
}

std::optional<IsrChange> Partition::isr_expand(int32_t replica_id) {
  std::lock_guard lock(log_->mutex());
  if (!leads_locked() || pending_isr_) return std::nullopt;
  if (std::find(isr_.begin(), isr_.end(), replica_id) != isr_.end()) return std::nullopt;
  auto follower = followers_.find(replica_id);
  if (follower == followers_.end() ||
      !may_join_isr(follower->second, high_watermark(), leader_epoch_start_offset_))
    return std::nullopt;
  std::vector<int32_t> new_isr = isr_;
  new_isr.push_back(replica_id);
  return isr_change_locked(std::move(new_isr));
}

void Partition::isr_change_done(bool accepted, int32_t partition_epoch,
                                const std::vector<int32_t>& isr) {
  bool moved = false;
  {
    std::lock_guard lock(log_->mutex());
    const bool stale = accepted && partition_epoch <= partition_epoch_;
    if (!stale) pending_isr_.reset();
    if (accepted && partition_epoch > partition_epoch_) {
      isr_ = isr;
      isr_size_ = isr_.size();
      partition_epoch_ = partition_epoch;
    }
    if (leads_locked()) moved = advance_high_watermark_locked();
  }
  if (moved) wake_waiters();
}

}  // namespace sluice::cluster
