#pragma once
// The log cleaner: Kafka's log compaction for topics with
// cleanup.policy=compact (or compact,delete). Keeps at least the last record
// of every key, removes tombstones delete.retention.ms after the clean that
// first kept them, never touches the active segment, never changes the
// offset or order of what it keeps (compactor.h has the algorithm;
// docs/storage.md the files).
//
// Which log, when (Kafka's LogCleanerManager): for each registered log with
// the compact policy, the dirty section runs from its cleaner checkpoint
// (cleaner-offset-checkpoint in its log dir; the log start if absent) to the
// first uncleanable offset: the smallest of the active segment's base, the
// log's cleanable end (cleanable_end_offset: last stable offset / high
// watermark) and, with min.compaction.lag.ms, the base of the first segment
// holding a record younger than the lag. A log is cleanable when
//   dirty bytes / (clean + dirty bytes) > min.cleanable.dirty.ratio, or
//   it has dirty bytes and its oldest dirty batch is older than
//   max.compaction.lag.ms, or
//   a tombstone it keeps has passed its delete horizon (unknown after a
//   restart: each log gets one such pass).
// The cleanable log with the highest ratio is cleaned first.
//
// Concurrency: the cleaner's threads (log.cleaner.threads) read segment files
// without any lock, through the handles of a snapshot; they take the
// partition lock (CleanableLog::with_lock) only for the snapshot and for the
// three steps of each swap (renames; the two directory fsyncs between them
// run with no lock held: Log::begin_segment_swap), so appends are never
// blocked for long. A log is cleaned by one thread at a time. All public methods are
// thread-safe. Never call unregister_log() while holding that log's partition
// lock: it waits for a clean in progress.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "storage/compactor.h"
#include "storage/log.h"

namespace sluice::storage {

inline constexpr char cleaner_offset_checkpoint_file[] = "cleaner-offset-checkpoint";

// The broker's log.cleaner.* settings, with Kafka's defaults.
struct CleanerConfig {
  bool enable = true;                                   // log.cleaner.enable
  int threads = 1;                                      // log.cleaner.threads
  int64_t backoff_ms = 15000;                           // log.cleaner.backoff.ms: sleep when nothing is cleanable
  uint64_t dedupe_buffer_bytes = 128ull * 1024 * 1024;  // log.cleaner.dedupe.buffer.size, shared by the threads
  uint64_t io_buffer_bytes = 512 * 1024;                // log.cleaner.io.buffer.size, per thread (read + write)
  double io_buffer_load_factor = 0.9;                   // log.cleaner.io.buffer.load.factor (offset map fill)
};

struct CleanerOptions {
  CleanerConfig config;
  const Clock* clock = &system_clock();  // outlives the cleaner
  Logger logger = log_to_stderr;
};

// A log the cleaner may compact, registered by the owner of the logs.
struct CleanableLog {
  std::string log_dir;  // the log dir holding the partition (and cleaner-offset-checkpoint)
  TopicPartition topic_partition;
  // Runs `f` with the partition lock held; `f` is short (a snapshot, a swap).
  std::function<void(const std::function<void(Log&)>& f)> with_lock;
  // Called under the lock: offsets at or above it are never cleaned (the last
  // stable offset). Unset: no limit beyond the active segment.
  std::function<int64_t(const Log&)> cleanable_end_offset;
};

class LogCleaner {
 public:
  LogCleaner(FileSystem& fs, CleanerOptions options);
  ~LogCleaner();  // stop()
  LogCleaner(const LogCleaner&) = delete;
  LogCleaner& operator=(const LogCleaner&) = delete;

  // Adds a log (logs without the compact policy are registered too: the
  // policy is read at each round). The first log of a dir loads its
  // cleaner-offset-checkpoint (a malformed file is an error).
  Status register_log(CleanableLog log);
  // Removes a log, waiting for a clean of it in progress to finish;
  // `forget_checkpoint` (partition deleted) drops its checkpoint entry.
  Status unregister_log(const std::string& log_dir, const TopicPartition& tp, bool forget_checkpoint);
  // After a truncation of the log to `offset`: the checkpoint may not stay
  // above it (else new data there would pass for clean).
  Status on_truncation(const std::string& log_dir, const TopicPartition& tp, int64_t offset);

  // Starts log.cleaner.threads threads (none if log.cleaner.enable is false),
  // each cleaning the dirtiest log in a loop, sleeping log.cleaner.backoff.ms
  // when there is nothing to clean.
  void start();
  // Stops and joins the threads (a clean in progress finishes its current
  // group first). Idempotent.
  void stop();
  // Makes sleeping threads look for work now instead of after
  // log.cleaner.backoff.ms (e.g. a topic's cleanup.policy became compact).
  void wake();

  // One round on the calling thread, for tests and tools: picks the
  // dirtiest cleanable log and cleans it. nullopt: nothing was cleanable.
  // An error leaves that log out of later rounds until re-registered.
  Result<std::optional<CleanStats>> clean_once();

  const CleanerConfig& config() const { return options_.config; }

  // The cleaner checkpoint of a log: offsets below it have been cleaned.
  std::optional<int64_t> checkpoint(const std::string& log_dir, const TopicPartition& tp) const;

 private:
  struct LogState;
  struct Candidate;
  using Key = std::pair<std::string, TopicPartition>;

  Result<std::optional<CleanStats>> clean_with(Compactor& compactor);
  std::optional<Candidate> grab_filthiest();
  std::optional<Candidate> assess(const std::shared_ptr<LogState>& state, int64_t now_ms);
  Result<CleanStats> clean(Compactor& compactor, Candidate& candidate);
  Result<bool> swap_in(LogState& state, std::unique_ptr<Segment> cleaned,
                       const std::vector<SegmentSnapshot>& replaced,
                       uint64_t truncation_generation);
  Status write_checkpoint(const std::string& log_dir);
  void run_thread(size_t index);

  FileSystem& fs_;
  CleanerOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::map<Key, std::shared_ptr<LogState>> logs_;
  std::map<std::string, OffsetCheckpoint> checkpoints_;  // per log dir
  std::mutex checkpoint_write_mutex_;
  std::mutex manual_mutex_;  // clean_once() callers, one at a time
  std::unique_ptr<Compactor> manual_compactor_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
  bool wake_requested_ = false;
};

}  // namespace sluice::storage
