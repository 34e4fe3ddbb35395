#pragma once
// The log of one partition: a directory <log dir>/<topic>-<partition>/ of
// segments (segment.h), a leader-epoch cache and partition.metadata, in
// Kafka's on-disk format (docs/storage.md).
//
// Concurrency contract:
//   - Every method is called by one thread at a time, under the partition
//     lock; the Log itself takes no lock. Hold the lock only for the call:
//     the slow parts are designed to run outside it.
//   - read() returns FileRanges holding a shared handle to the segment file.
//     They stay valid (the bytes they name never change) after the lock is
//     released, even if the segment is later deleted by retention: only
//     truncate_to()/truncate_fully() below the range may change those bytes,
//     and replication calls those only on followers, which serve no fetches
//     of the truncated offsets.
//   - Flushing: prepare_flush() (under the lock) lists what to sync;
//     execute_flush() (on the fsync pool, no lock) writes the leader-epoch
//     checkpoint if epochs changed since its last write, then syncs it;
//     complete_flush() (under the lock) advances the recovery point. flush()
//     does the three in a row.
//
// Durability: append() returns when the batches are written to the page
// cache. They are durable once a flush covering their offsets completes
// (recovery_point() >= their next offset). After a crash, open() keeps every
// batch below the recovery point and every later batch that re-validates.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/strong_types.h"
#include "base/uuid.h"
#include "storage/aborted_txns.h"
#include "storage/checkpoint_file.h"
#include "storage/leader_epoch_cache.h"
#include "storage/next_segment.h"
#include "storage/producer_snapshot.h"
#include "storage/producer_state.h"
#include "storage/segment.h"

namespace sluice::storage {

using Logger = std::function<void(std::string_view line)>;

// Writes "sluice storage: <line>" to stderr.
void log_to_stderr(std::string_view line);

struct LogOptions {
  std::string dir;  // the partition directory; its name is "<topic>-<partition>"
  LogConfig config;
  Uuid topic_id;  // written to partition.metadata when not zero
  // From the log dir's checkpoints (LogDirectory passes them).
  int64_t recovery_point = 0;
  int64_t log_start_offset = 0;
  // True if the log dir had a clean-shutdown marker: skip the recovery scan.
  bool clean_shutdown = false;
  const Clock* clock = &system_clock();  // outlives the Log
  Logger logger = log_to_stderr;
  // Where the next segment's files are prepared ahead of a roll
  // (next_segment.h); null: a roll creates them inline.
  BackgroundRunner background;
  // producer.id.expiration.ms (a broker config): remove_expired_producers.
  int64_t producer_id_expiration_ms = 86'400'000;
};

// A byte range of a segment file holding whole batches, for sendfile/pread.
struct FileRange {
  FileHandle file;  // keeps the file open even if the segment is deleted
  uint64_t position = 0;
  uint64_t length = 0;
};

struct ReadResult {
  FileRange range;                  // length 0: nothing to return (offset == end)
  int64_t first_batch_offset = -1;  // base offset of the first batch in range
  int64_t next_offset = -1;         // offset after the last batch in range
  // A read with ReadWait::nowait that needed a page not in the page cache:
  // nothing was read (range empty). Read this range on a thread that may
  // wait, with no lock held (it brings the pages in), then read again.
  FileRange cold;
};

// Whether Log::read may wait on the device for a batch header. nowait is for
// reactor threads: the read then never blocks (File::pread_nowait) and
// reports what to bring in instead (ReadResult::cold).
enum class ReadWait { may_block, nowait };

struct AppendResult {
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  int64_t max_timestamp_ms = -1;
  int64_t log_append_time_ms = -1;
  size_t batch_count = 0;
  // Producer state (producer_state.h), leader appends only. Set when the
  // producer checks refused the set: Kafka's code; nothing was written.
  ProducerError producer_error;
  // The set's batch (with a producer id) is a retry of one already in the
  // log: nothing was written; first/last offset are the original batch's
  // and log_append_time_ms its timestamp, as Kafka answers a duplicate.
  bool duplicate = false;
  // Transactions the set's markers ended (ongoing ones are in producer_state()).
  std::vector<CompletedTxn> completed_txns;
};

// What ListOffsets asks for.
inline constexpr int64_t latest_timestamp = -1;
inline constexpr int64_t earliest_timestamp = -2;
inline constexpr int64_t max_timestamp = -3;

struct FoundOffset {
  int64_t offset = -1;
  int64_t timestamp_ms = -1;
  std::optional<int32_t> leader_epoch;
};

struct FlushPlan {
  std::vector<FileHandle> files;
  std::string dir_to_sync;  // empty: no new directory entries to sync
  int64_t target_offset = 0;
  uint64_t truncation_generation = 0;
  int64_t unsynced_index_base = -1;  // the active segment whose indexes were skipped
  Status write_error;  // writing buffered index entries failed: execute_flush reports it
  std::optional<EpochCheckpointWrite>
      epoch_checkpoint;  // epochs assigned since the file was written
  // Producer snapshots taken at rolls (producer_snapshot.h), written and
  // synced by execute_flush before the recovery point moves.
  std::vector<ProducerSnapshotWrite> producer_snapshots;
};

// What the log cleaner (cleaner.h) sees of a segment. The bytes of the file
// below size_bytes do not change while the segment stays in the log (only
// truncation, which bumps truncation_generation(), could), so the cleaner
// reads them off the lock.
struct SegmentSnapshot {
  int64_t base_offset = 0;
  int64_t next_offset = 0;
  uint64_t size_bytes = 0;
  int64_t max_timestamp_ms = -1;
  FileHandle log_file;
};

// Removes files taken by Log::take_deleted_files, with no lock held. A file
// already gone is no error: a segment of the same base deleted again
// replaced it, and that deletion's removal may have come first.
Status remove_deleted_files(FileSystem& fs, const std::vector<std::string>& paths);

struct RetentionResult {
  size_t deleted_segments = 0;
  uint64_t deleted_bytes = 0;
};

// Offsets, leader epochs and producer ids/epochs cross this interface as
// base/strong_types.h's Offset, LeaderEpoch, ProducerId and ProducerEpoch,
// so two of them cannot be passed in each other's place
// (log_strong_types_test.cc). Timestamps, byte counts and sequences stay
// plain integers; so do the accessors' results and the result structs'
// fields (issue 13, point 6: the parameters first).
class Log {
 public:
  // Opens (creating the directory if missing) and, unless options say the
  // last shutdown was clean, recovers everything after the recovery point.
  static Result<std::unique_ptr<Log>> open(FileSystem& fs, LogOptions options);
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Leader append: validates every batch of the record set (CRC, header,
  // max.message.bytes), assigns offsets from the log end offset and the
  // partition leader epoch `leader_epoch` by rewriting the batch headers in
  // `records`, writes them, and records a new epoch in the epoch cache.
  // Batches with a producer id are checked against the producer state
  // first (`origin`: how much; producer_state.h): a refused set or a
  // duplicate comes back as an ok Result with AppendResult::producer_error
  // or ::duplicate set, and nothing written.
  // `verification`: KIP-890's guard for a client's transactional batches.
  Result<AppendResult> append_as_leader(std::span<uint8_t> records, LeaderEpoch leader_epoch,
                                        AppendOrigin origin = AppendOrigin::client,
                                        const AppendVerification& verification = {});
  // Follower append: batches keep their offsets and epochs; the first must
  // start at or after the log end offset (Errc::invalid_value otherwise).
  // The producer state takes the batches unchecked.
  Result<AppendResult> append_as_follower(Bytes records);

  // Whole batches from the one containing `offset`, in one segment, up to
  // `max_bytes` (at least one batch if `min_one_batch`), stopping before any
  // batch starting at or after `max_offset` (the high watermark for
  // consumers). Errc::offset_out_of_range outside [start, end].
  // `wait`: see ReadWait.
  Result<ReadResult> read(Offset offset, uint64_t max_bytes, Offset max_offset,
                          bool min_one_batch = true, ReadWait wait = ReadWait::may_block);

  // ListOffsets: the first batch with a timestamp >= timestamp_ms (its base
  // offset: Kafka gives the record's offset; see README), or earliest /
  // latest / max_timestamp. nullopt when no batch qualifies.
  Result<std::optional<FoundOffset>> find_offset_for_timestamp(int64_t timestamp_ms);

  // ListOffsets v0 (Kafka's UnifiedLog.legacyFetchOffsetsBefore): the start
  // offsets of the segments last modified at or before `timestamp_ms`, plus
  // the log end offset (as of `now_ms`) when the active segment holds data;
  // -1 starts from the newest, -2 from the oldest. At most `max_count`,
  // largest first. A segment's start is never below the log start offset.
  std::vector<int64_t> legacy_offsets_before(int64_t timestamp_ms, int32_t max_count,
                                             int64_t now_ms) const;

  // DeleteRecords: raises the log start offset (never lowers it); segments
  // wholly below it are deleted. Errc::offset_out_of_range above the end.
  Status set_log_start_offset(Offset offset);
  // Drops every batch whose last offset >= `offset` (whole batches: the end
  // becomes the base offset of the first batch dropped).
  Status truncate_to(Offset offset);
  // Deletes everything and restarts empty at `new_start_offset`.
  Status truncate_fully(Offset new_start_offset);

  // OffsetForLeaderEpoch.
  EpochEndOffset end_offset_for_epoch(LeaderEpoch epoch) const;
  std::optional<int32_t> latest_epoch() const { return epoch_cache_->latest_epoch(); }
  // Kafka's maybeAssignEpochStartOffset: a new leader records its epoch as
  // starting at the log end before any append, so the epoch a follower last
  // fetched is never above every epoch the leader knows (its end is then
  // known: the divergence check answers it instead of nothing). No-op for
  // an epoch not above the latest one.
  void assign_epoch_start(LeaderEpoch epoch);
  const std::vector<EpochEntry>& epoch_entries() const { return epoch_cache_->entries(); }

  // sync_active_indexes = false (the group-commit flusher): the active
  // segment's indexes are not synced. Safe after a crash because the
  // recovery point then lies in the active segment, which recovery
  // re-scans and re-indexes; its indexes are synced once it is inactive.
  // close() syncs everything, as a clean shutdown skips the scan.
  FlushPlan prepare_flush(bool sync_active_indexes = true);
  static Status execute_flush(FileSystem& fs, const FlushPlan& plan);
  void complete_flush(const FlushPlan& plan);
  Status flush();
  // flush.messages / flush.ms say a flush is due.
  bool flush_due() const;

  // Retention: deletes whole segments (never the active one) that are wholly
  // below `high_watermark` and breach retention.ms, retention.bytes or the
  // log start offset; their files become *.deleted (renames: the segment
  // list and the names change together under the lock, as in Kafka) and
  // are removed once file.delete.delay.ms has passed.
  Result<RetentionResult> apply_retention(Offset high_watermark);
  // The *.deleted files to remove now: those whose file.delete.delay.ms has
  // passed, or all of them (`due_only` false: a full disk wants its space
  // back). They are forgotten here; the caller removes them with
  // remove_deleted_files() after releasing the partition lock, since
  // unlinking a large file frees its blocks and may wait on the disk.
  // Readers keep their open handles, so nothing breaks.
  std::vector<std::string> take_deleted_files(bool due_only = true);

  // Due-work registration for the LogManager's periodic jobs (flush.ms /
  // flush.messages, removal of *.deleted files), so that they visit only
  // the logs that may have work instead of every log each second. True
  // while a *.deleted file awaits removal, or while unflushed data can
  // become due for a flush without another append (flush.ms is set, or
  // flush.messages is already reached). Appends, retired files and config
  // changes are the only events that turn it true.
  bool has_background_work() const;
  // Called (under the partition lock, at most once until
  // release_background_watch) when has_background_work() turns true.
  void set_background_work_listener(std::function<void()> listener) {
    background_work_listener_ = std::move(listener);
    background_work_watched_ = false;
    note_background_work();
  }
  // The job that was told stops watching the log, unless it still has work
  // (then false: it stays watched). Under the partition lock.
  bool release_background_watch() {
    background_work_watched_ = has_background_work();
    return !background_work_watched_;
  }

  // Log compaction (cleaner.h); under the partition lock like the rest.
  // Every segment, oldest first; the last one is the active segment.
  std::vector<SegmentSnapshot> segment_snapshots() const;
  uint64_t truncation_generation() const { return truncation_generation_; }
  // Swaps `cleaned` (a segment with the ".cleaned" suffix, synced, holding
  // the kept batches of the consecutive inactive segments `replaced`, with
  // the first one's base offset) in for them, in three steps under the
  // lock with the two directory fsyncs the order needs in between, done by
  // the caller with no lock held (docs/storage.md, "Compaction"):
  //   begin_segment_swap: .cleaned -> .swap; reads are served from the
  //     cleaned segment from now on; the replaced files keep their names.
  //     False, touching nothing, if the log changed since the snapshot
  //     (truncation, retention, another swap): the caller then removes the
  //     cleaned files.                            Then sync the directory.
  //   retire_replaced_segments: their files -> *.deleted (readers keep
  //     their handles).                           Then sync the directory.
  //   finish_segment_swap: .swap -> the final names.
  // A truncation between the first two steps undoes the swap (the replaced
  // segments come back; the cleaned one is deleted); the later steps then
  // do nothing. A crash at any point is completed or undone by open()
  // (segment_swap.h).
  Result<bool> begin_segment_swap(std::unique_ptr<Segment> cleaned,
                                  const std::vector<SegmentSnapshot>& replaced,
                                  uint64_t truncation_generation);
  Status retire_replaced_segments();
  Status finish_segment_swap();

  // Flushes everything. After close() only the destructor may be called.
  Status close();
  // No more next segments are prepared, and a prepared one's files are
  // removed (close() does it; the log manager before deleting the log).
  void stop_preparing_segments();

  // A failure left the files and this object apart (a torn write that could
  // not be cut, a truncation left without a segment): appends fail with
  // Errc::io_error (the dir goes offline); only a reopen (recovery) repairs
  // it. Every other failed call leaves the log as it was.
  bool broken() const { return !broken_.empty(); }

  int64_t log_start_offset() const { return log_start_offset_; }
  int64_t log_end_offset() const { return active().next_offset(); }
  int64_t recovery_point() const { return recovery_point_; }
  uint64_t size_bytes() const;
  size_t segment_count() const { return segments_.size(); }
  const TopicPartition& topic_partition() const { return topic_partition_; }
  const std::string& dir() const { return options_.dir; }
  const LogConfig& config() const { return options_.config; }
  void set_config(const LogConfig& config) {
    options_.config = config;
    note_background_work();  // a shorter flush.ms may make unflushed data due
  }
  std::vector<int64_t> segment_base_offsets() const;
  // Per producer id: epoch, last batches, ongoing transaction. Rebuilt from
  // the log at open and on truncation.
  const ProducerStateManager& producer_state() const { return producers_; }
  // KIP-890: see ProducerStateManager::start_verification.
  VerificationGuard start_txn_verification(ProducerId producer_id, int32_t sequence,
                                           ProducerEpoch epoch, int64_t now_ms) {
    return producers_.start_verification(producer_id.value(), sequence, epoch.value(), now_ms);
  }
  // Forgets producers idle past producer.id.expiration.ms with no ongoing
  // transaction (Kafka checks every producer.id.expiration.check.interval.ms).
  size_t remove_expired_producers(int64_t now_ms);
  // Offsets of the producer snapshots on disk or about to be written.
  std::vector<int64_t> producer_snapshot_offsets() const;
  // Transactions an abort marker ended (aborted_txns.h): rebuilt from the
  // whole log at open, cut with truncation and the log start.
  const AbortedTxnIndex& aborted_txns() const { return aborted_txns_; }
  // Kafka's collectAbortedTransactions for a read_committed Fetch of
  // [fetch_offset, upper_bound_offset).
  std::vector<AbortedTxn> collect_aborted_txns(Offset fetch_offset,
                                               Offset upper_bound_offset) const {
    return aborted_txns_.collect(fetch_offset.value(), upper_bound_offset.value());
  }

 private:
  Log(FileSystem& fs, LogOptions options, TopicPartition tp);
  Status load();
  Status load_segments(const std::vector<std::string>& names);
  Status recover_segments();
  Status cut_overlapping_segments();
  void release_durable_index_files();
  Result<bool> recover_segment(Segment& segment);
  Result<std::vector<record::BatchHeader>> validate_leader_set(std::span<uint8_t> records,
                                                               int32_t epoch);
  Result<std::vector<record::BatchHeader>> validate_follower_set(Bytes records);
  Result<AppendResult> write(Bytes records, const std::vector<record::BatchHeader>& headers);
  ProducerError prepare_producers(Bytes records, const std::vector<record::BatchHeader>& headers,
                                  AppendOrigin origin, ProducerUpdates& updates,
                                  std::optional<ProducerBatch>& duplicate,
                                  const AppendVerification& verification = {}) const;
  Status rebuild_producer_state();
  Status load_producer_state(const std::vector<std::string>& names);
  bool load_producer_snapshot(int64_t offset);
  void take_producer_snapshot();
  Status remove_snapshots_above(int64_t offset);
  void retire_snapshots_below(int64_t offset);
  Status replay_segment_producers(const Segment& segment, int64_t from_offset);
  Status replay_segment_producers(const Segment& segment, int64_t from_offset,
                                  ProducerStateManager& into, AbortedTxnIndex* aborted) const;
  Status rebuild_aborted_txns();
  void record_aborted_txns(const std::vector<CompletedTxn>& completed);
  void forget_epochs_past_end();
  Status trim_epochs_before_start();
  Status maybe_roll(uint64_t incoming_bytes, int64_t first_offset, int64_t last_offset);
  Status roll(int64_t new_base_offset);
  Result<std::unique_ptr<Segment>> new_active_segment(int64_t base_offset);
  Status roll_into_empty_log(int64_t new_base_offset);
  Status replace_segments_with_new(int64_t new_base_offset);
  Status delete_segment(int64_t base_offset);
  Status retire_segment_files(Segment& segment);
  Status undo_segment_swap();
  Segment& active() const { return *segments_.rbegin()->second; }
  Segment* segment_for(int64_t offset) const;
  Result<std::optional<FoundOffset>> find_by_time(int64_t timestamp_ms);
  Result<std::optional<FoundOffset>> first_record_at_or_after(Segment& segment,
                                                              const BatchLocation& location,
                                                              int64_t timestamp_ms);
  void warn(const std::string& line) const { options_.logger(line); }
  // Tells the listener once when has_background_work() turns true.
  void note_background_work() {
    if (background_work_watched_ || !background_work_listener_ || !has_background_work()) return;
    background_work_watched_ = true;
    background_work_listener_();
  }

  FileSystem& fs_;
  LogOptions options_;
  TopicPartition topic_partition_;
  std::map<int64_t, std::unique_ptr<Segment>> segments_;
  std::unique_ptr<LeaderEpochCache> epoch_cache_;
  ProducerStateManager producers_;
  AbortedTxnIndex aborted_txns_;
  std::set<int64_t> snapshot_offsets_;                    // on disk or pending
  std::vector<ProducerSnapshotWrite> pending_snapshots_;  // until the next prepare_flush
  std::shared_ptr<ProducerSnapshotGuard> snapshot_guard_ =
      std::make_shared<ProducerSnapshotGuard>();
  NextSegment next_segment_;
  int64_t log_start_offset_ = 0;
  int64_t recovery_point_ = 0;
  uint64_t truncation_generation_ = 0;
  bool dir_entries_unsynced_ = false;
  std::string broken_;  // why broken(); empty while consistent
  int64_t last_flush_ms_ = 0;
  struct PendingDelete {
    std::string path;
    int64_t due_ms;
  };
  std::vector<PendingDelete> pending_deletes_;
  std::function<void()> background_work_listener_;
  bool background_work_watched_ = false;  // the listener was told; not yet released
  // A compaction swap between begin_segment_swap and finish_segment_swap.
  struct PendingSwap {
    const Segment* cleaned;  // in segments_ unless deleted or truncated away since
    std::vector<std::unique_ptr<Segment>> replaced;  // out of segments_; files renamed once retired
    bool retired = false;
  };
  std::optional<PendingSwap> pending_swap_;
};

}  // namespace sluice::storage
