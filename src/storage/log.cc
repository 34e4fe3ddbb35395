#include "storage/log.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "base/metrics.h"
#include "record/record_reader.h"
#include "record/record_set.h"
#include "storage/segment_swap.h"

namespace sluice::storage {

void log_to_stderr(std::string_view line) {
  std::fprintf(stderr, "sluice storage: %.*s\n", static_cast<int>(line.size()), line.data());
}

namespace {

// Kafka's ProducerStateManager.lastStableOffset(completedTxn) for each
// transaction a set (or a replayed batch) completed, in marker order: the
// set's completed transactions count as ongoing until their own marker (as
// Kafka completes them one by one after the append), so a follower taking
// a whole set indexes what the leader did batch by batch. The oldest other
// ongoing transaction's first offset, at most the offset after the marker.
void index_aborted(std::vector<CompletedTxn> completed, const ProducerStateManager& state,
                   AbortedTxnIndex& index) {
  // apply() lists them producer by producer: back into marker order.
  std::sort(completed.begin(), completed.end(), [](const CompletedTxn& a, const CompletedTxn& b) {
    return a.last_offset < b.last_offset;
  });
  std::map<int64_t, int64_t> ongoing = state.ongoing_txns();
  for (const CompletedTxn& txn : completed) ongoing.emplace(txn.first_offset, txn.producer_id);
  for (const CompletedTxn& txn : completed) {
    ongoing.erase(txn.first_offset);
    if (!txn.aborted) continue;
    int64_t lso = txn.last_offset + 1;
    if (!ongoing.empty()) lso = std::min(lso, ongoing.begin()->first);
    index.add({txn.producer_id, txn.first_offset, txn.last_offset, lso});
  }
}

}  // namespace

Log::Log(FileSystem& fs, LogOptions options, TopicPartition tp)
    : fs_(fs),
      options_(std::move(options)),
      topic_partition_(std::move(tp)),
      producers_(topic_partition_),
      next_segment_(fs, options_.dir, options_.background) {}

Log::~Log() = default;

Result<std::unique_ptr<Log>> Log::open(FileSystem& fs, LogOptions options) {
  auto tp = parse_partition_dir_name(file_name(options.dir));
  if (!tp) return tp.status();
  std::unique_ptr<Log> log(new Log(fs, std::move(options), std::move(*tp)));
  if (Status s = log->load(); !s) return s;
  return log;
}

Status Log::load() {
  auto exists = fs_.exists(options_.dir);
  if (!exists) return exists.status();
  if (!*exists) {
    if (Status s = fs_.make_dirs(options_.dir); !s) return s;
    if (Status s = fs_.sync_dir(parent_path(options_.dir)); !s) return s;
    options_.clean_shutdown = true;  // a new log: nothing to recover
  }
  if (!options_.topic_id.is_zero()) {
    auto stored = read_partition_metadata(fs_, options_.dir);
    // Unsynced when written (checkpoint_file.h): a crash may have cut it.
    if (!stored && stored.status().code() == Errc::invalid_value) {
      warn(stored.status().message() + "; writing it again");
      stored = Uuid{};
    }
    if (!stored) return stored.status();
    if (stored->is_zero()) {
      if (Status s = write_partition_metadata(fs_, options_.dir, options_.topic_id); !s) return s;
    } else if (*stored != options_.topic_id) {
      return Status(Errc::invalid_value, "inconsistent topic id in " + options_.dir + ": stored " +
                                             uuid_to_base64(*stored) + ", expected " +
                                             uuid_to_base64(options_.topic_id));
    }
  }
  epoch_cache_ = std::make_unique<LeaderEpochCache>(
      fs_, join_path(options_.dir, leader_epoch_checkpoint_file));
  if (Status s = epoch_cache_->load(); !s) {
    warn(s.message() + "; rebuilding the leader epoch cache from the log");
    if (Status c = epoch_cache_->clear(); !c) return c;
    options_.clean_shutdown = false;
    options_.recovery_point = 0;
  }
  if (Status s = complete_segment_swaps(fs_, options_.dir, options_.config,
                                        options_.clock->now_ms(), options_.logger);
      !s)
    return s;
  auto names = fs_.list_dir(options_.dir);
  if (!names) return names.status();
  if (Status s = load_segments(*names); !s) return s;
  recovery_point_ = std::min(options_.recovery_point, log_end_offset());
  if (Status s = recover_segments(); !s) return s;
  if (Status s = cut_overlapping_segments(); !s) return s;
  recovery_point_ = std::min(recovery_point_, log_end_offset());
  log_start_offset_ =
      std::min(std::max(options_.log_start_offset, segments_.begin()->first), log_end_offset());
  // Recovery rewrote the active segment's indexes: synced now, their files
  // can be closed (release_durable_index_files) instead of staying open
  // until the next flush; one descriptor per partition after a crash too.
  if (!options_.clean_shutdown)
    if (Status s = active().sync(); !s) return s;
  release_durable_index_files();
  if (Status s = epoch_cache_->truncate_from_end(log_end_offset()); !s) return s;
  if (Status s = epoch_cache_->truncate_from_start(log_start_offset_); !s) return s;
  if (Status s = load_producer_state(*names); !s) return s;
  if (Status s = rebuild_aborted_txns(); !s) return s;
  last_flush_ms_ = options_.clock->now_ms();
  return Status::ok();
}

// Opens every segment; removes what a crash or a delayed delete left behind.
Status Log::load_segments(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (name.ends_with(".deleted") || name.ends_with(".tmp")) {
      if (Status s = fs_.remove(join_path(options_.dir, name)); !s) return s;
      continue;
    }
    auto base = parse_segment_file_name(name, ".log");
    if (!base) continue;
    auto segment =
        Segment::open(fs_, options_.dir, *base, options_.config, options_.clock->now_ms());
    if (!segment) return segment.status();
    segments_[*base] = std::move(*segment);
  }
  // Index files whose .log is gone belong to no segment.
  for (const auto& name : names) {
    auto base = parse_segment_file_name(name, ".index");
    if (!base) base = parse_segment_file_name(name, ".timeindex");
    if (base && !segments_.count(*base))
      if (Status s = fs_.remove(join_path(options_.dir, name)); !s) return s;
  }
  if (segments_.empty()) {
    auto segment = Segment::create(fs_, options_.dir, options_.log_start_offset, options_.config,
                                   options_.clock->now_ms());
    if (!segment) return segment.status();
    segments_[options_.log_start_offset] = std::move(*segment);
    dir_entries_unsynced_ = true;
  }
  return Status::ok();
}

// After an unclean stop every segment from the one holding the recovery
// point on is re-validated; before it, only segments with a missing or
// corrupt index are (their index is rebuilt). A segment with a corrupt batch
// is cut there and every later segment is deleted.
Status Log::recover_segments() {
  int64_t scan_from = INT64_MAX;
  if (!options_.clean_shutdown) {
    auto it = segments_.upper_bound(recovery_point_);
    scan_from = it == segments_.begin() ? it->first : std::prev(it)->first;
    if (Status s = epoch_cache_->truncate_from_end(scan_from); !s) return s;
  }
  for (auto it = segments_.begin(); it != segments_.end(); ++it) {
    if (it->first < scan_from && !it->second->needs_recovery()) continue;
    auto truncated = recover_segment(*it->second);
    if (!truncated) return truncated.status();
    if (!*truncated) continue;
    while (std::next(it) != segments_.end()) {
      Segment& later = *std::next(it)->second;
      warn("recovery: deleting segment " + later.log_path() + " after the corrupt one");
      if (Status s = delete_segment(later.base_offset()); !s) return s;
    }
    return remove_deleted_files(fs_, take_deleted_files(/*due_only=*/false));
  }
  return Status::ok();
}

// A crash can undo the removal of segments a truncation deleted (their
// renames were not yet dir-synced) while keeping a segment rolled after it:
// the old segment then runs into the newer one. What it holds from the
// newer one's base on was truncated away: cut it there.
Status Log::cut_overlapping_segments() {
  for (auto it = segments_.begin(); std::next(it) != segments_.end(); ++it) {
    int64_t next_base = std::next(it)->first;
    if (it->second->next_offset() <= next_base) continue;
    warn("recovery: " + it->second->log_path() + " runs to offset " +
         std::to_string(it->second->next_offset()) + ", past the next segment's base " +
         std::to_string(next_base) + "; truncating it there");
    if (Status s = it->second->truncate_to(next_base); !s) return s;
  }
  return Status::ok();
}

// Re-validates one segment; true if a corrupt tail was cut off.
Result<bool> Log::recover_segment(Segment& segment) {
  bool had_index_problem = segment.needs_recovery();
  auto recovery = segment.recover([this](const record::BatchHeader& header) {
    auto latest = epoch_cache_->latest_epoch();
    if (header.partition_leader_epoch >= 0 && (!latest || header.partition_leader_epoch > *latest))
      epoch_cache_->assign(header.partition_leader_epoch, header.base_offset);
    return Status::ok();
  });
  if (!recovery) return recovery.status();
  if (had_index_problem) warn("rebuilt the indexes of " + segment.log_path());
  if (recovery->truncated_bytes == 0) return false;
  warn("recovery of " + segment.log_path() + ": truncated " +
       std::to_string(recovery->truncated_bytes) + " bytes from offset " +
       std::to_string(segment.next_offset()) + " (position " +
       std::to_string(recovery->valid_bytes) + "): " + recovery->first_problem.to_string());
  return true;
}

Segment* Log::segment_for(int64_t offset) const {
  auto it = segments_.upper_bound(offset);
  if (it == segments_.begin()) return nullptr;
  return std::prev(it)->second.get();
}

uint64_t Log::size_bytes() const {
  uint64_t total = 0;
  for (const auto& [base, segment] : segments_) total += segment->size_bytes();
  return total;
}

std::vector<int64_t> Log::segment_base_offsets() const {
  std::vector<int64_t> bases;
  for (const auto& [base, segment] : segments_) bases.push_back(base);
  return bases;
}

Result<std::vector<record::BatchHeader>> Log::validate_leader_set(std::span<uint8_t> records,
                                                                  int32_t epoch) {
  std::vector<record::BatchHeader> headers;
  record::RecordSetReader reader(records);
  record::BatchView view;
  int64_t next_offset = log_end_offset();
  while (reader.next(view)) {
    if (view.bytes.size() > options_.config.max_message_bytes)
      return Status(Errc::record_too_large, "batch of " + std::to_string(view.bytes.size()) +
                                                " bytes exceeds max.message.bytes " +
                                                std::to_string(options_.config.max_message_bytes));
    if (Status s = record::validate_records(view.bytes); !s) return s;
    auto offset_in_set = static_cast<size_t>(view.bytes.data() - records.data());
    std::span<uint8_t> batch = records.subspan(offset_in_set, view.bytes.size());
    record::set_base_offset(batch, next_offset);
    record::set_partition_leader_epoch(batch, epoch);
    view.header.base_offset = next_offset;
    view.header.partition_leader_epoch = epoch;
    next_offset = view.header.next_offset();
    headers.push_back(view.header);
  }
  if (!reader.status()) return reader.status();
  if (reader.incomplete()) return Status(Errc::truncated, "record set ends with a partial batch");
  if (headers.empty()) return Status(Errc::invalid_value, "empty record set");
  return headers;
}

Result<std::vector<record::BatchHeader>> Log::validate_follower_set(Bytes records) {
  std::vector<record::BatchHeader> headers;
  record::RecordSetReader reader(records);
  record::BatchView view;
  int64_t next_offset = log_end_offset();
  while (reader.next(view)) {
    if (Status s = record::validate_batch(view.bytes); !s) return s;
    if (view.header.base_offset < next_offset)
      return Status(Errc::invalid_value,
                    "batch at offset " + std::to_string(view.header.base_offset) +
                        " is below the next offset " + std::to_string(next_offset));
    next_offset = view.header.next_offset();
    headers.push_back(view.header);
  }
  if (!reader.status()) return reader.status();
  if (reader.incomplete()) return Status(Errc::truncated, "record set ends with a partial batch");
  if (headers.empty()) return Status(Errc::invalid_value, "empty record set");
  return headers;
}

Result<AppendResult> Log::append_as_leader(std::span<uint8_t> records, LeaderEpoch epoch,
                                           AppendOrigin origin,
                                           const AppendVerification& verification) {
  const int32_t leader_epoch = epoch.value();
  auto headers = validate_leader_set(records, leader_epoch);
  if (!headers) return headers.status();
  ProducerUpdates updates;
  std::optional<ProducerBatch> duplicate;
  if (ProducerError e =
          prepare_producers(records, *headers, origin, updates, duplicate, verification);
      e) {
    AppendResult refused;
    refused.producer_error = std::move(e);
    return refused;
  }
  if (duplicate) {
    AppendResult answer;
    answer.duplicate = true;
    answer.first_offset = duplicate->first_offset;
    answer.last_offset = duplicate->last_offset;
    answer.log_append_time_ms = duplicate->timestamp_ms;
    return answer;
  }
  epoch_cache_->assign(leader_epoch, headers->front().base_offset);
  auto written = write(records, *headers);
  if (!written) {
    if (!broken()) forget_epochs_past_end();
    return written;
  }
  written->completed_txns = producers_.apply(updates, log_end_offset());
  record_aborted_txns(written->completed_txns);
  note_background_work();
  return written;
}

Result<AppendResult> Log::append_as_follower(Bytes records) {
  auto headers = validate_follower_set(records);
  if (!headers) return headers.status();
  ProducerUpdates updates;
  std::optional<ProducerBatch> unused;
  // Replication refuses nothing (Kafka's AppendOrigin.REPLICATION).
  (void)prepare_producers(records, *headers, AppendOrigin::replication, updates, unused);
  for (const auto& header : *headers) {
    auto latest = epoch_cache_->latest_epoch();
    if (header.partition_leader_epoch >= 0 && (!latest || header.partition_leader_epoch > *latest))
      epoch_cache_->assign(header.partition_leader_epoch, header.base_offset);
  }
  auto written = write(records, *headers);
  if (!written) {
    if (!broken()) forget_epochs_past_end();
    return written;
  }
  written->completed_txns = producers_.apply(updates, log_end_offset());
  record_aborted_txns(written->completed_txns);
  note_background_work();
  return written;
}

// Kafka's analyzeAndValidateProducerState: each batch with a producer id
// is checked on top of the state and the set's earlier batches. A client's
// batch that repeats a retained one is a duplicate and ends the check.
ProducerError Log::prepare_producers(Bytes records, const std::vector<record::BatchHeader>& headers,
                                     AppendOrigin origin, ProducerUpdates& updates,
                                     std::optional<ProducerBatch>& duplicate,
                                     const AppendVerification& verification) const {
  size_t position = 0;
  for (const auto& header : headers) {
    const size_t at = position;
    position += header.size_bytes();
    if (header.producer_id < 0) continue;
    if (origin == AppendOrigin::client) {
      duplicate = producers_.find_duplicate(header);
      if (duplicate) return {};
    }
    std::optional<TxnMarker> marker;
    if (header.is_control()) {
      auto parsed = txn_marker_of(records.subspan(at, header.size_bytes()));
      if (!parsed) {
        if (origin != AppendOrigin::replication)
          return {ErrorCode::INVALID_RECORD, parsed.status().message()};
        warn("a control batch at offset " + std::to_string(header.base_offset) + " of " +
             options_.dir + " holds no transaction marker: " + parsed.status().message());
        continue;
      }
      marker = *parsed;
    }
    if (ProducerError e = producers_.prepare(header, marker, origin, updates, verification); e)
      return e;
  }
  return {};
}

// At open: the snapshots on disk are indexed; those past the (recovered)
// log end describe batches that are gone, those below the log start
// batches deleted.
Status Log::load_producer_state(const std::vector<std::string>& names) {
  for (const auto& name : names)
    if (auto offset = parse_producer_snapshot_name(name)) snapshot_offsets_.insert(*offset);
  if (Status s = remove_snapshots_above(log_end_offset()); !s) return s;
  retire_snapshots_below(log_start_offset_);
  return rebuild_producer_state();
}

// From the latest readable snapshot at or below the log end, replaying the
// batches after it; without one, from every batch of the log (Kafka's
// truncateAndReload + loadProducersFromRecords).
Status Log::rebuild_producer_state() {
  producers_.clear(log_start_offset_);
  int64_t from = log_start_offset_;
  // A copy: loading a corrupt snapshot forgets it.
  const std::vector<int64_t> offsets(snapshot_offsets_.rbegin(), snapshot_offsets_.rend());
  for (int64_t offset : offsets) {
    if (offset > log_end_offset() || offset < log_start_offset_) continue;
    if (load_producer_snapshot(offset)) {
      from = offset;
      break;
    }
  }
  for (const auto& [base, segment] : segments_)
    if (segment->next_offset() > from)
      if (Status s = replay_segment_producers(*segment, from); !s) return s;
  producers_.set_map_end_offset(log_end_offset());
  return Status::ok();
}

// False if the snapshot cannot be used: not written yet (a flush is about
// to), or corrupt (logged and deleted: the log is replayed instead, as
// Kafka does; a snapshot never stops the broker).
bool Log::load_producer_snapshot(int64_t offset) {
  const std::string path = join_path(options_.dir, producer_snapshot_name(offset));
  std::vector<uint8_t> bytes;
  auto pending = std::find_if(pending_snapshots_.begin(), pending_snapshots_.end(),
                              [&](const ProducerSnapshotWrite& w) { return w.offset == offset; });
  if (pending != pending_snapshots_.end()) {
    bytes = pending->bytes;
  } else {
    auto read = read_whole_file(fs_, path);
    if (!read) {
      if (read.status().code() != Errc::io_error || *fs_.exists(path))
        warn("cannot read producer snapshot " + path + ": " + read.status().to_string());
      return false;
    }
    bytes = std::move(*read);
  }
  auto entries = decode_producer_snapshot(bytes);
  if (!entries) {
    warn("producer snapshot " + path + " is corrupt (" + entries.status().to_string() +
         "); rebuilding the producer state from the log");
    snapshot_offsets_.erase(offset);
    if (Status s = fs_.remove(path); !s) warn("cannot remove " + path + ": " + s.to_string());
    return false;
  }
  const int64_t now_ms = options_.clock->now_ms();
  std::erase_if(*entries, [&](const ProducerEntry& entry) {
    return !entry.current_txn_first_offset &&
           now_ms - entry.last_timestamp_ms >= options_.producer_id_expiration_ms;
  });
  producers_.load(std::move(*entries), offset);
  return true;
}

// Kafka's takeSnapshot at a roll: the state as of the new segment's base,
// encoded here (memory only) and written by the next flush, off the lock.
// The two latest snapshots are kept (a truncation near the end reloads
// from one); older ones are removed like deleted segment files.
void Log::take_producer_snapshot() {
  const int64_t offset = producers_.map_end_offset();
  if (!snapshot_offsets_.empty() && *snapshot_offsets_.rbegin() >= offset) return;
  ProducerSnapshotWrite write;
  write.guard = snapshot_guard_;
  write.generation = snapshot_guard_->generation;  // changed only under the partition lock
  write.path = join_path(options_.dir, producer_snapshot_name(offset));
  write.offset = offset;
  write.bytes = encode_producer_snapshot(producers_.producers());
  pending_snapshots_.push_back(std::move(write));
  snapshot_offsets_.insert(offset);
  while (snapshot_offsets_.size() > 2)
    retire_snapshots_below(*std::next(snapshot_offsets_.begin()));
}

// Truncation: snapshots above the new end describe batches that are gone.
// Removed now (a truncation is rare), after fencing off planned writes.
Status Log::remove_snapshots_above(int64_t offset) {
  snapshot_guard_->invalidate();
  std::erase_if(pending_snapshots_,
                [&](const ProducerSnapshotWrite& w) { return w.offset > offset; });
  for (auto it = snapshot_offsets_.upper_bound(offset); it != snapshot_offsets_.end();) {
    const std::string path = join_path(options_.dir, producer_snapshot_name(*it));
    if (Status s = fs_.remove(path); !s && *fs_.exists(path)) return s;
    it = snapshot_offsets_.erase(it);
  }
  for (auto& write : pending_snapshots_) write.generation = snapshot_guard_->generation;
  return Status::ok();
}

// Snapshots below `offset` go with the deleted segments: removed off the
// lock by take_deleted_files' caller, after file.delete.delay.ms like them.
// One left behind by a crash is harmless: an older snapshot is still the
// true state at its offset.
void Log::retire_snapshots_below(int64_t offset) {
  const int64_t due_ms = options_.clock->now_ms() + options_.config.file_delete_delay_ms;
  for (auto it = snapshot_offsets_.begin(); it != snapshot_offsets_.end() && *it < offset;) {
    std::erase_if(pending_snapshots_,
                  [&](const ProducerSnapshotWrite& w) { return w.offset == *it; });
    pending_deletes_.push_back({join_path(options_.dir, producer_snapshot_name(*it)), due_ms});
    it = snapshot_offsets_.erase(it);
  }
  note_background_work();
}

size_t Log::remove_expired_producers(int64_t now_ms) {
  return producers_.remove_expired(now_ms, options_.producer_id_expiration_ms);
}

std::vector<int64_t> Log::producer_snapshot_offsets() const {
  return {snapshot_offsets_.begin(), snapshot_offsets_.end()};
}

// Replays the batches of `segment` from `from_offset` on into the state,
// reading headers only (and the one record of a transaction marker).
Status Log::replay_segment_producers(const Segment& segment, int64_t from_offset) {
  return replay_segment_producers(segment, from_offset, producers_, nullptr);
}

// As above into `into`; with `aborted`, also lists the transactions abort
// markers end (Kafka's LogSegment.recover updating the .txnindex).
Status Log::replay_segment_producers(const Segment& segment, int64_t from_offset,
                                     ProducerStateManager& into, AbortedTxnIndex* aborted) const {
  uint64_t position = 0;
  while (position < segment.size_bytes()) {
    auto header = segment.read_header_at(position);
    if (!header) return header.status();
    if (!*header) break;
    const record::BatchHeader& batch = **header;
    const uint64_t at = position;
    position += batch.size_bytes();
    if (batch.producer_id < 0 || batch.last_offset() < from_offset) continue;
    std::optional<TxnMarker> marker;
    if (batch.is_control()) {
      std::vector<uint8_t> bytes(batch.size_bytes());
      auto read = segment.log_file()->pread(at, bytes);
      if (!read) return read.status();
      auto parsed = txn_marker_of(Bytes(bytes.data(), *read));
      if (parsed) marker = *parsed;
    }
    ProducerUpdates updates;
    (void)into.prepare(batch, marker, AppendOrigin::replication, updates);
    auto completed = into.apply(updates, batch.next_offset());
    if (aborted) index_aborted(completed, into, *aborted);
  }
  return Status::ok();
}

// The aborted transactions are not in the producer snapshots: at open they
// come from a replay of every batch from the log start into a scratch
// producer state (headers only; the index is memory, see aborted_txns.h).
Status Log::rebuild_aborted_txns() {
  aborted_txns_.clear();
  ProducerStateManager scratch(topic_partition_);
  scratch.clear(log_start_offset_);
  for (const auto& [base, segment] : segments_)
    if (segment->next_offset() > log_start_offset_)
      if (Status s = replay_segment_producers(*segment, log_start_offset_, scratch, &aborted_txns_);
          !s)
        return s;
  return Status::ok();
}

void Log::record_aborted_txns(const std::vector<CompletedTxn>& completed) {
  index_aborted(completed, producers_, aborted_txns_);
}

// A failed write left nothing at the log end (Segment::append is all or
// nothing), so an epoch assigned for it starts at no batch: drop it. If the
// checkpoint cannot be rewritten now, open() trims it the same way.
void Log::forget_epochs_past_end() {
  if (Status s = epoch_cache_->truncate_from_end(log_end_offset()); !s)
    warn("dropping the epoch of a failed append from " + options_.dir + ": " + s.to_string());
}

Result<AppendResult> Log::write(Bytes records, const std::vector<record::BatchHeader>& headers) {
  if (broken()) return Status(Errc::io_error, broken_);
  if (Status s =
          maybe_roll(records.size(), headers.front().base_offset, headers.back().last_offset());
      !s)
    return s;
  if (Status s = active().append(records, headers); !s) {
    if (active().torn())
      broken_ = options_.dir + " holds a torn write it could not cut: " + s.message();
    return s;
  }
  next_segment_.prepare_if_due(active(), options_.config, options_.clock->now_ms());
  AppendResult result;
  result.first_offset = headers.front().base_offset;
  result.last_offset = headers.back().last_offset();
  result.batch_count = headers.size();
  for (const auto& header : headers)
    result.max_timestamp_ms = std::max(result.max_timestamp_ms, header.max_timestamp);
  return result;
}

Status Log::maybe_roll(uint64_t incoming_bytes, int64_t first_offset, int64_t last_offset) {
  Segment& current = active();
  if (!current.should_roll(options_.config, incoming_bytes, last_offset, options_.clock->now_ms()))
    return Status::ok();
  if (current.empty()) {
    // An empty active segment cannot hold these offsets: replace it. The
    // new one first when its base is free, so a failure (a full disk, no
    // descriptor) leaves the log with one.
    int64_t base = current.base_offset();
    if (base == first_offset) {
      if (Status s = delete_segment(base); !s) return s;
      return roll_into_empty_log(first_offset);
    }
    if (Status s = roll(first_offset); !s) return s;
    return delete_segment(base);
  }
  // The reserve's give-back (log.preallocate) waits on the disk: on the
  // background thread when there is one (issue 13, point 2).
  if (Status s = current.on_become_inactive(bool(options_.background)); !s) return s;
  if (auto release = current.take_reserve_release()) options_.background(std::move(release));
  if (Status s = roll(std::max(first_offset, current.next_offset())); !s) return s;
  take_producer_snapshot();
  return Status::ok();
}

// Every segment is gone: a log that cannot get a new one is broken (no
// append may follow) until the next open recreates it.
Status Log::roll_into_empty_log(int64_t new_base_offset) {
  if (Status s = roll(new_base_offset); !s) {
    broken_ = options_.dir + " was left without a segment: " + s.message();
    return Status(Errc::io_error, broken_);
  }
  return Status::ok();
}

Status Log::roll(int64_t new_base_offset) {
  auto segment = new_active_segment(new_base_offset);
  if (!segment) return segment.status();
  (*segment)->release_synced_index_files();  // empty: reopened at the first index batch
  segments_[new_base_offset] = std::move(*segment);
  dir_entries_unsynced_ = true;
  return Status::ok();
}

// From the files prepared ahead (next_segment.h) when they are ready: three
// renames instead of three creations (and a fallocate) on the caller's
// thread; else, or if the renames fail, created here.
Result<std::unique_ptr<Segment>> Log::new_active_segment(int64_t base_offset) {
  static auto& rolls = metrics::default_registry().counter_family(
      "sluice_log_segment_rolls_total",
      "New active segments by where their files came from: prepared ahead off the append path, or "
      "created inline.",
      {"new_segment"});
  static metrics::Counter& prepared_rolls = rolls.labels({"prepared"});
  static metrics::Counter& created_rolls = rolls.labels({"created"});
  const int64_t now_ms = options_.clock->now_ms();
  if (auto prepared = next_segment_.take()) {
    auto adopted =
        Segment::adopt_prepared(fs_, options_.dir, base_offset, options_.config, now_ms, *prepared);
    if (adopted) {
      prepared_rolls.inc();
      return adopted;
    }
    warn("could not use the prepared next segment of " + options_.dir + ": " +
         adopted.status().to_string());
    remove_prepared_files(fs_, *prepared);
  }
  created_rolls.inc();
  return Segment::create(fs_, options_.dir, base_offset, options_.config, now_ms);
}

// Unlinks a segment from the log; its files become *.deleted and are removed
// after file.delete.delay.ms. Open handles (readers' ranges) stay valid.
Status Log::delete_segment(int64_t base_offset) {
  auto it = segments_.find(base_offset);
  SLUICE_ASSERT(it != segments_.end(), "deleting an unknown segment");
  if (Status s = retire_segment_files(*it->second); !s) return s;
  segments_.erase(it);
  return Status::ok();
}

// Renames a segment's files to *.deleted and schedules their removal.
Status Log::retire_segment_files(Segment& segment) {
  auto deleted = segment.rename_to_deleted();
  if (!deleted) return deleted.status();
  // A segment of the same base deleted within file.delete.delay.ms (the log
  // was truncated, regrew and rolled there again, or was cleaned again): the
  // rename above replaced its *.deleted files, so forget their removal.
  std::erase_if(pending_deletes_, [&](const PendingDelete& p) {
    return std::find(deleted->begin(), deleted->end(), p.path) != deleted->end();
  });
  int64_t due = options_.clock->now_ms() + options_.config.file_delete_delay_ms;
  for (auto& path : *deleted) pending_deletes_.push_back({std::move(path), due});
  note_background_work();
  dir_entries_unsynced_ = true;
  return Status::ok();
}

std::vector<std::string> Log::take_deleted_files(bool due_only) {
  const int64_t now = options_.clock->now_ms();
  std::vector<std::string> due;
  std::erase_if(pending_deletes_, [&](PendingDelete& pending) {
    if (due_only && pending.due_ms > now) return false;
    due.push_back(std::move(pending.path));
    return true;
  });
  return due;
}

Status remove_deleted_files(FileSystem& fs, const std::vector<std::string>& paths) {
  for (const auto& path : paths) {
    Status removed = fs.remove(path);
    if (removed) continue;
    if (auto exists = fs.exists(path); exists && !*exists) continue;
    return removed;
  }
  return Status::ok();
}

namespace {

// What a nowait read asks the caller to bring into the page cache when a
// header it needed was not there: from where it was reading, the range it
// is about to hand out (capped) and the next header, so that one read of it
// normally lets the second attempt, and the sending of its range, find
// every page cached.
constexpr uint64_t cold_read_bytes_max = 8 << 20;

ReadResult cold_read(const FileHandle& file, uint64_t from, uint64_t length, uint64_t extra = 0) {
  ReadResult result;
  result.cold = FileRange{
      file, from, std::min(length, cold_read_bytes_max) + extra + record::batch_header_bytes};
  return result;
}

bool would_block(const Status& status) { return status.code() == Errc::would_block; }

}  // namespace

Result<ReadResult> Log::read(Offset from, uint64_t max_bytes, Offset below, bool min_one_batch,
                             ReadWait wait) {
  const int64_t offset = from.value();
  const int64_t max_offset = below.value();
  const bool nowait = wait == ReadWait::nowait;
  if (offset < log_start_offset_ || offset > log_end_offset())
    return Status(Errc::offset_out_of_range, "offset " + std::to_string(offset) + " outside [" +
                                                 std::to_string(log_start_offset_) + ", " +
                                                 std::to_string(log_end_offset()) + "] of " +
                                                 options_.dir);
  ReadResult result;
  result.next_offset = offset;
  result.range.file = active().log_file();
  for (auto it = segments_.find(segment_for(offset)->base_offset()); it != segments_.end(); ++it) {
    Segment& segment = *it->second;
    auto found = segment.find_batch(offset, nowait);
    if (!found && would_block(found.status()))
      return cold_read(segment.log_file(), segment.lookup_position(offset), max_bytes,
                       2 * uint64_t{options_.config.index_interval_bytes});
    if (!found) return found.status();
    if (!*found) continue;
    record::BatchHeader header = (*found)->header;
    uint64_t start = (*found)->position, end = start;
    while (header.base_offset < max_offset) {
      bool first = end == start;
      if (end - start + header.size_bytes() > max_bytes && !(first && min_one_batch)) break;
      if (first) result.first_batch_offset = header.base_offset;
      end += header.size_bytes();
      result.next_offset = header.next_offset();
      // Once: jump over whole batches the segment end or the offset index
      // vouch for, instead of reading each header (a 1 MiB range of 16 KiB
      // batches was 64 header reads).
      if (first && max_bytes >= end - start) {
        const uint64_t limit = max_bytes > UINT64_MAX - start ? UINT64_MAX : start + max_bytes;
        if (auto skip = segment.skip_ahead(end, limit, max_offset)) {
          end = skip->position;
          if (skip->next_offset >= 0) result.next_offset = skip->next_offset;
        }
      }
      auto next = segment.read_header_at(end, nowait);
      if (!next && would_block(next.status()))
        return cold_read(segment.log_file(), start, end - start);
      if (!next) return next.status();
      if (!*next) break;
      header = **next;
    }
    result.range = FileRange{segment.log_file(), start, end - start};
    return result;
  }
  return result;
}

Result<std::optional<FoundOffset>> Log::find_offset_for_timestamp(int64_t timestamp_ms) {
  auto epoch_at = [this](int64_t offset) -> std::optional<int32_t> {
    std::optional<int32_t> epoch;
    for (const auto& entry : epoch_cache_->entries())
      if (entry.start_offset <= offset) epoch = entry.epoch;
    return epoch;
  };
  if (timestamp_ms == earliest_timestamp)
    return std::optional<FoundOffset>(
        FoundOffset{log_start_offset_, -1, epoch_at(log_start_offset_)});
  if (timestamp_ms == latest_timestamp)
    return std::optional<FoundOffset>(
        FoundOffset{log_end_offset(), -1, epoch_cache_->latest_epoch()});
  if (timestamp_ms == max_timestamp) {
    TimestampOffset best{-1, -1};
    for (const auto& [base, segment] : segments_)
      if (segment->max_timestamp().timestamp_ms > best.timestamp_ms)
        best = segment->max_timestamp();
    if (best.offset < 0) return std::optional<FoundOffset>();
    // The segment statistics name the batch's last offset; KIP-734 wants the
    // record itself. No record is newer, so the first one at or after the
    // maximum is the first record holding it.
    auto exact = find_by_time(best.timestamp_ms);
    if (!exact || !*exact) return exact;
    (*exact)->leader_epoch = epoch_at((*exact)->offset);
    return exact;
  }
  auto found = find_by_time(timestamp_ms);
  if (!found || !*found) return found;
  (*found)->leader_epoch = epoch_at((*found)->offset);
  return found;
}

// The first record with a timestamp >= timestamp_ms, at or after the log start.
Result<std::optional<FoundOffset>> Log::find_by_time(int64_t timestamp_ms) {
  for (const auto& [base, segment] : segments_) {
    if (segment->max_timestamp().timestamp_ms < timestamp_ms) continue;
    auto location = segment->find_batch_by_timestamp(timestamp_ms);
    if (!location) return location.status();
    // Usually the first batch qualifying by time holds the answer; only a
    // batch straddling the log start may have its qualifying records below
    // it, and then the answer is in a later batch of the same segment.
    for (std::optional<BatchLocation> at = *location; at;) {
      if (at->header.max_timestamp >= timestamp_ms) {
        auto found = first_record_at_or_after(*segment, *at, timestamp_ms);
        if (!found || *found) return found;
      }
      uint64_t next_position = at->position + at->header.size_bytes();
      auto next = segment->read_header_at(next_position);
      if (!next) return next.status();
      at.reset();
      if (*next) at = BatchLocation{next_position, **next};
    }
  }
  return std::optional<FoundOffset>();
}

// The first record of the batch at `location` with a timestamp >= timestamp_ms
// at or after the log start.
Result<std::optional<FoundOffset>> Log::first_record_at_or_after(Segment& segment,
                                                                 const BatchLocation& location,
                                                                 int64_t timestamp_ms) {
  std::vector<uint8_t> batch(location.header.size_bytes());
  auto read = segment.log_file()->pread(location.position, batch);
  if (!read) return read.status();
  auto reader = record::RecordReader::open(batch);
  if (!reader) return reader.status();
  record::Record record;
  while (reader->next(record)) {
    if (record.timestamp_ms >= timestamp_ms && record.offset >= log_start_offset_)
      return std::optional<FoundOffset>(
          FoundOffset{record.offset, record.timestamp_ms, std::nullopt});
  }
  if (!reader->status()) return reader->status();
  return std::optional<FoundOffset>();
}

Status Log::set_log_start_offset(Offset new_start) {
  const int64_t offset = new_start.value();
  if (offset > log_end_offset())
    return Status(Errc::offset_out_of_range, "log start offset " + std::to_string(offset) +
                                                 " above the log end " +
                                                 std::to_string(log_end_offset()));
  if (offset <= log_start_offset_) return Status::ok();
  log_start_offset_ = offset;
  producers_.on_log_start_offset_incremented(offset);
  aborted_txns_.drop_below(offset);
  while (segments_.size() > 1 && std::next(segments_.begin())->first <= offset)
    if (Status s = delete_segment(segments_.begin()->first); !s) return s;
  retire_snapshots_below(offset);
  return trim_epochs_before_start();
}

// The epoch checkpoint needs no trimming to stay correct (open() trims
// epochs below the log start), so the trim changes memory only and the next
// flush writes it: DeleteRecords (a reactor) and retention (under the
// partition lock a reactor may wait on) do no epoch-file I/O, and a full
// disk cannot fail them (they are how space comes back).
Status Log::trim_epochs_before_start() {
  return epoch_cache_->truncate_from_start(log_start_offset_);
}

Status Log::truncate_to(Offset end) {
  const int64_t offset = end.value();
  // Nothing to cut, but an epoch that starts at the log end goes (as in
  // Kafka): a leader assigned it and was replaced before appending, and a
  // follower fetching with it would be told to truncate here forever.
  if (offset >= log_end_offset()) return epoch_cache_->truncate_from_end(log_end_offset());
  if (Status s = undo_segment_swap(); !s) return s;
  if (offset < log_start_offset_) return truncate_fully(end);
  ++truncation_generation_;
  while (segments_.size() > 1 && segments_.rbegin()->first >= offset)
    if (Status s = delete_segment(segments_.rbegin()->first); !s) return s;
  if (Status s = active().truncate_to(offset); !s) return s;
  // Whole batches go, so the end may fall below the log start (the batch
  // holding `offset` began below it, or a crash left offsets with no batch
  // before it): nothing at or above the start is left, restart empty there.
  if (log_end_offset() < log_start_offset_) return truncate_fully(Offset{log_start_offset_});
  recovery_point_ = std::min(recovery_point_, log_end_offset());
  aborted_txns_.truncate_from(log_end_offset());
  if (Status s = remove_snapshots_above(log_end_offset()); !s) return s;
  if (Status s = rebuild_producer_state(); !s) return s;
  return epoch_cache_->truncate_from_end(log_end_offset());
}

// Creates the new segment before deleting the old ones when its base is
// free, so that a failure to create it (out of descriptors: the log dir
// stays online) leaves the log as it was instead of without any segment.
Status Log::replace_segments_with_new(int64_t new_base_offset) {
  std::unique_ptr<Segment> fresh;
  if (!segments_.count(new_base_offset)) {
    auto created = Segment::create(fs_, options_.dir, new_base_offset, options_.config,
                                   options_.clock->now_ms());
    if (!created) return created.status();
    fresh = std::move(*created);
  }
  while (!segments_.empty())
    if (Status s = delete_segment(segments_.begin()->first); !s) return s;
  if (!fresh) return roll_into_empty_log(new_base_offset);
  fresh->release_synced_index_files();
  segments_[new_base_offset] = std::move(fresh);
  dir_entries_unsynced_ = true;
  return Status::ok();
}

Status Log::truncate_fully(Offset new_start) {
  const int64_t new_start_offset = new_start.value();
  ++truncation_generation_;
  if (Status s = undo_segment_swap(); !s) return s;
  if (Status s = replace_segments_with_new(new_start_offset); !s) return s;
  log_start_offset_ = new_start_offset;
  recovery_point_ = new_start_offset;
  producers_.clear(new_start_offset);
  aborted_txns_.clear();
  if (Status s = remove_snapshots_above(-1); !s) return s;
  return epoch_cache_->clear();
}

void Log::assign_epoch_start(LeaderEpoch epoch) {
  auto latest = epoch_cache_->latest_epoch();
  if (!latest || epoch.value() > *latest) epoch_cache_->assign(epoch.value(), log_end_offset());
}

EpochEndOffset Log::end_offset_for_epoch(LeaderEpoch epoch) const {
  return epoch_cache_->end_offset_for(epoch.value(), log_end_offset());
}

FlushPlan Log::prepare_flush(bool sync_active_indexes) {
  FlushPlan plan;
  plan.target_offset = log_end_offset();
  plan.truncation_generation = truncation_generation_;
  // >=: a segment that ended exactly at the recovery point when it rolled
  // still gets its final index entries synced before the point moves on.
  for (const auto& [base, segment] : segments_) {
    if (segment->next_offset() < recovery_point_ && base < recovery_point_) continue;
    if (segment.get() == &active() && !sync_active_indexes) {
      plan.unsynced_index_base = base;
      plan.files.push_back(segment->log_file());
      continue;
    }
    // Buffered index entries go to the files before they are synced. On a
    // full disk they stay buffered: the file is then a shorter prefix, still
    // a valid (sparser) index, and the .log's data must still be synced.
    if (Status s = segment->write_index_entries();
        !s && s.code() != Errc::no_space && plan.write_error.is_ok())
      plan.write_error = s;
    for (auto& file : segment->files()) plan.files.push_back(file);
  }
  if (dir_entries_unsynced_) plan.dir_to_sync = options_.dir;
  dir_entries_unsynced_ = false;
  plan.epoch_checkpoint = epoch_cache_->unwritten();
  plan.producer_snapshots = std::move(pending_snapshots_);
  pending_snapshots_.clear();
  return plan;
}

namespace {

Status sync_flush_files(FileSystem& fs, const FlushPlan& plan) {
  for (const auto& file : plan.files)
    if (Status s = file->sync(); !s) return s;
  if (!plan.dir_to_sync.empty()) return fs.sync_dir(plan.dir_to_sync);
  return Status::ok();
}

}  // namespace

Status Log::execute_flush(FileSystem& fs, const FlushPlan& plan) {
  if (!plan.write_error.is_ok()) return plan.write_error;
  static metrics::Counter& flushes = metrics::default_registry().counter(
      "sluice_log_flushes_total", "Log flushes (fsyncs of a log's files).");
  static metrics::Histogram& flush_seconds = metrics::default_registry().histogram(
      "sluice_log_flush_duration_seconds",
      "Time of one log flush: the fsyncs of its files and directory.",
      metrics::latency_buckets_seconds());
  // Epochs assigned by appends reach their file here, before the recovery
  // point can pass the batches they describe (leader_epoch_cache.h).
  if (plan.epoch_checkpoint)
    if (Status s = plan.epoch_checkpoint->write(fs); !s) return s;
  // A snapshot that fails to be written is only a longer replay at open.
  for (const auto& snapshot : plan.producer_snapshots)
    if (Status s = snapshot.write(fs); !s && s.code() != Errc::no_space) return s;
  if (plan.files.empty() && plan.dir_to_sync.empty()) return Status::ok();
  auto started = std::chrono::steady_clock::now();
  Status status = sync_flush_files(fs, plan);
  flushes.inc();
  flush_seconds.observe(std::chrono::steady_clock::now() - started);
  return status;
}

void Log::complete_flush(const FlushPlan& plan) {
  last_flush_ms_ = options_.clock->now_ms();
  if (plan.truncation_generation != truncation_generation_) {
    dir_entries_unsynced_ = true;  // be safe: resync the directory next time
    return;
  }
  int64_t durable = std::min(plan.target_offset, log_end_offset());
  // The segment whose indexes the plan skipped rolled meanwhile: keep the
  // recovery point inside it, so recovery re-scans and re-indexes it.
  if (plan.unsynced_index_base >= 0 && active().base_offset() != plan.unsynced_index_base)
    if (auto it = segments_.find(plan.unsynced_index_base);
        it != segments_.end() && !it->second->empty())
      durable = std::min(durable, it->second->next_offset() - 1);
  recovery_point_ = std::max(recovery_point_, durable);
  release_durable_index_files();
}

// Inactive segments wholly below the recovery point are never flushed again
// (prepare_flush skips them): their index files need no descriptor. The
// others' are closed if nothing in them awaits a sync (an idle partition
// then holds only its active .log).
void Log::release_durable_index_files() {
  for (auto& [base, segment] : segments_) {
    if (segment.get() != &active() && segment->next_offset() < recovery_point_)
      segment->release_index_files();
    else
      segment->release_synced_index_files();
  }
}

Status Log::flush() {
  FlushPlan plan = prepare_flush();
  Status status = execute_flush(fs_, plan);
  if (!status) {
    if (!plan.dir_to_sync.empty()) dir_entries_unsynced_ = true;
    return status;
  }
  complete_flush(plan);
  return Status::ok();
}

bool Log::has_background_work() const {
  if (!pending_deletes_.empty()) return true;
  int64_t unflushed = log_end_offset() - recovery_point_;
  if (unflushed <= 0) return false;
  // flush.messages alone cannot become due before the next append.
  return options_.config.flush_ms != std::numeric_limits<int64_t>::max() ||
         unflushed >= options_.config.flush_messages;
}

bool Log::flush_due() const {
  int64_t unflushed = log_end_offset() - recovery_point_;
  if (unflushed <= 0) return false;
  return unflushed >= options_.config.flush_messages ||
         options_.clock->now_ms() - last_flush_ms_ >= options_.config.flush_ms;
}

Result<RetentionResult> Log::apply_retention(Offset high_watermark_offset) {
  const int64_t high_watermark = high_watermark_offset.value();
  RetentionResult result;
  int64_t now = options_.clock->now_ms();
  uint64_t total = size_bytes();
  const LogConfig& config = options_.config;
  while (segments_.size() > 1) {
    Segment& oldest = *segments_.begin()->second;
    int64_t next_base = std::next(segments_.begin())->first;
    if (next_base > high_watermark) break;
    bool by_start = next_base <= log_start_offset_;
    bool by_time = config.cleanup_policy_delete && config.retention_ms >= 0 &&
                   oldest.max_timestamp().timestamp_ms >= 0 &&
                   now - oldest.max_timestamp().timestamp_ms > config.retention_ms;
    bool by_size = config.cleanup_policy_delete && config.retention_bytes >= 0 &&
                   total - oldest.size_bytes() >= static_cast<uint64_t>(config.retention_bytes) &&
                   total > static_cast<uint64_t>(config.retention_bytes);
    if (!by_start && !by_time && !by_size) break;
    ++result.deleted_segments;
    result.deleted_bytes += oldest.size_bytes();
    total -= oldest.size_bytes();
    if (Status s = delete_segment(oldest.base_offset()); !s) return s;
  }
  if (result.deleted_segments > 0) {
    log_start_offset_ = std::max(log_start_offset_, segments_.begin()->first);
    producers_.on_log_start_offset_incremented(log_start_offset_);
    aborted_txns_.drop_below(log_start_offset_);
    retire_snapshots_below(log_start_offset_);
    if (Status s = trim_epochs_before_start(); !s) return s;
  }
  return result;
}

namespace {

// A segment's age as Kafka reads it: the log file's modification time. A
// file system without descriptors (the in-memory one of tests) falls back to
// the segment's largest record timestamp.
int64_t last_modified_ms(const Segment& segment) {
  struct stat status {};
  int fd = segment.log_file()->native_handle();
  if (fd >= 0 && ::fstat(fd, &status) == 0)
    return static_cast<int64_t>(status.st_mtim.tv_sec) * 1000 + status.st_mtim.tv_nsec / 1000000;
  return segment.max_timestamp().timestamp_ms;
}

}  // namespace

std::vector<int64_t> Log::legacy_offsets_before(int64_t timestamp_ms, int32_t max_count,
                                                int64_t now_ms) const {
  // (offset, last modified) per segment, oldest first, then the log end.
  std::vector<std::pair<int64_t, int64_t>> starts;
  for (const auto& [base, segment] : segments_)
    starts.emplace_back(std::max(base, log_start_offset_), last_modified_ms(*segment));
  if (active().size_bytes() > 0) starts.emplace_back(log_end_offset(), now_ms);
  int64_t index = static_cast<int64_t>(starts.size()) - 1;  // latest (-1)
  if (timestamp_ms == earliest_timestamp) {
    index = 0;
  } else if (timestamp_ms != latest_timestamp) {
    while (index >= 0 && starts[static_cast<size_t>(index)].second > timestamp_ms) --index;
  }
  std::vector<int64_t> offsets;
  for (; index >= 0 && std::ssize(offsets) < max_count; --index)
    offsets.push_back(starts[static_cast<size_t>(index)].first);
  std::sort(offsets.begin(), offsets.end(), std::greater<>());
  return offsets;
}

std::vector<SegmentSnapshot> Log::segment_snapshots() const {
  std::vector<SegmentSnapshot> snapshots;
  for (const auto& [base, segment] : segments_)
    snapshots.push_back({base, segment->next_offset(), segment->size_bytes(),
                         segment->max_timestamp().timestamp_ms, segment->log_file()});
  return snapshots;
}

Result<bool> Log::begin_segment_swap(std::unique_ptr<Segment> cleaned,
                                     const std::vector<SegmentSnapshot>& replaced,
                                     uint64_t truncation_generation) {
  SLUICE_ASSERT(!replaced.empty() && cleaned->base_offset() == replaced.front().base_offset,
                "a cleaned segment takes the base offset of the first segment it replaces");
  if (truncation_generation != truncation_generation_ || pending_swap_) return false;
  for (const auto& old : replaced) {
    auto it = segments_.find(old.base_offset);
    if (it == segments_.end() || it->second.get() == &active() ||
        it->second->size_bytes() != old.size_bytes || it->second->next_offset() != old.next_offset)
      return false;
  }
  if (Status s = cleaned->rename_suffix(".swap"); !s) return s;
  PendingSwap swap{cleaned.get(), {}, false};
  for (const auto& old : replaced) {
    auto it = segments_.find(old.base_offset);
    swap.replaced.push_back(std::move(it->second));
    segments_.erase(it);
  }
  segments_[cleaned->base_offset()] = std::move(cleaned);
  pending_swap_ = std::move(swap);
  dir_entries_unsynced_ = true;
  return true;
}

// The .swap files are durable now (the caller synced the directory), so
// recovery would complete the swap: the replaced names may go.
Status Log::retire_replaced_segments() {
  if (!pending_swap_ || pending_swap_->retired) return Status::ok();
  for (auto& old : pending_swap_->replaced)
    if (Status s = retire_segment_files(*old); !s) return s;
  pending_swap_->retired = true;
  return Status::ok();
}

// The replaced names are gone for good (the caller synced the directory):
// the cleaned segment may take its final names without ever overlapping
// them after a crash.
Status Log::finish_segment_swap() {
  if (!pending_swap_) return Status::ok();
  SLUICE_ASSERT(pending_swap_->retired, "a swap finishes after its replaced segments are retired");
  const Segment* cleaned = pending_swap_->cleaned;
  pending_swap_.reset();
  auto it = segments_.find(cleaned->base_offset());
  if (it == segments_.end() || it->second.get() != cleaned)
    return Status::ok();  // deleted meanwhile
  dir_entries_unsynced_ = true;
  return it->second->rename_suffix("");
}

// A truncation (or truncate_fully) while the replaced segments' files still
// carry their names: put them back in place of the cleaned segment, whose
// .swap files are deleted, so the truncation acts on what the files hold
// and a crash finds either the old segments or a .swap complete over them
// (the truncation itself is durable only at the next flush, as always).
// Retention or DeleteRecords may have deleted the cleaned segment already:
// then the replaced ones are deleted too.
Status Log::undo_segment_swap() {
  if (!pending_swap_ || pending_swap_->retired) return Status::ok();
  PendingSwap swap = std::move(*pending_swap_);
  pending_swap_.reset();
  auto it = segments_.find(swap.cleaned->base_offset());
  if (it == segments_.end() || it->second.get() != swap.cleaned) {
    for (auto& old : swap.replaced)
      if (Status s = retire_segment_files(*old); !s) return s;
    return Status::ok();
  }
  if (Status s = delete_segment(swap.cleaned->base_offset()); !s) return s;
  for (auto& old : swap.replaced) {
    int64_t base = old->base_offset();
    segments_[base] = std::move(old);
  }
  return Status::ok();
}

void Log::stop_preparing_segments() {
  if (auto prepared = next_segment_.discard()) remove_prepared_files(fs_, *prepared);
}

Status Log::close() {
  stop_preparing_segments();
  take_producer_snapshot();  // a clean shutdown: open() replays nothing
  if (Status s = active().on_become_inactive(); !s) return s;
  dir_entries_unsynced_ = true;
  return flush();
}

}  // namespace sluice::storage
