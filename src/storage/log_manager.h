#pragma once
// All the partition logs of a broker, across its log.dirs (Kafka's
// LogManager): placement of new partitions, lookup, deletion, the health of
// each dir, and the background jobs (retention, checkpoints, time-based
// flushes, removal of deleted files) on its own Scheduler thread, plus the
// group-commit Flusher thread and the LogCleaner's threads (compaction).
//
// Compaction: every log is registered with the cleaner (at open and on
// create_log), whatever its policy, because the cleaner reads
// cleanup.policy from the log's config at each round: a topic switched to
// compact (update_config, or Log::set_config under the partition lock) is
// picked up without re-registration. The cleaner never cleans at or above
// the partition's high watermark (the log end offset while none is set).
// delete_log unregisters the log and drops its cleaner checkpoint;
// truncations must go through truncate_to/truncate_fully below (or be
// followed by cleaner().on_truncation) so the checkpoint follows.
//
// Failures: a log dir that cannot be opened at start, or whose I/O fails
// later (any Errc::io_error passed through ManagedLog::check, including the
// flusher's and the background jobs'), goes offline with a log line naming
// the dir and the error. Its partitions report offline() (the broker answers
// KAFKA_STORAGE_ERROR); the other dirs keep working. open() fails only when
// no dir is usable, or with Errc::too_many_open_files when the process runs
// out of descriptors while opening the logs; if every dir goes offline
// later, on_all_dirs_offline is called (the broker halts, as Kafka does).
//
// Running out of file descriptors (Errc::too_many_open_files, EMFILE or
// ENFILE) is not a failing disk and never takes a dir offline: the call
// that met it fails (a produce answers the retriable KAFKA_STORAGE_ERROR, a
// new partition is not created until the next metadata change), and a
// checkpoint is retried at its next interval. A full disk (Errc::no_space)
// is not a failure of the dir either: it stays online and is marked full
// (appends fail, reads go on) until an append succeeds again; a partition
// deleted from a full dir is removed at once instead of after the delay.
//
// Threads: every public method may be called from any thread. Lock order:
// a partition's ManagedLog::mutex() before any LogManager-internal lock;
// the manager never takes a partition lock while holding its own.
// Calls that do file I/O (create_log, delete_log, the background jobs,
// close) must not run on a reactor thread.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/random.h"
#include "storage/cleaner.h"
#include "storage/flusher.h"
#include "storage/log_directory.h"
#include "storage/managed_log.h"
#include "storage/scheduler.h"

namespace sluice::storage {

// Broker settings, with Kafka's names and defaults.
struct LogManagerOptions {
  std::vector<std::string> log_dirs;  // log.dirs
  std::function<LogConfig(const TopicPartition&)> config_for = [](const TopicPartition&) { return LogConfig{}; };
  const Clock* clock = &system_clock();  // outlives the LogManager
  // The suffix of a deleted log's dir (outlives the LogManager).
  RandomSource* random = &system_random();
  Logger logger = log_to_stderr;
  int64_t retention_check_interval_ms = 300000;               // log.retention.check.interval.ms
  int64_t producer_id_expiration_ms = 86400000;               // producer.id.expiration.ms
  // producer.id.expiration.check.interval.ms
  int64_t producer_id_expiration_check_interval_ms = 600000;
  int64_t flush_offset_checkpoint_interval_ms = 60000;        // log.flush.offset.checkpoint.interval.ms
  int64_t flush_start_offset_checkpoint_interval_ms = 60000;  // log.flush.start.offset.checkpoint.interval.ms
  int64_t high_watermark_checkpoint_interval_ms = 5000;       // replica.high.watermark.checkpoint.interval.ms
  // log.flush.scheduler.interval.ms: how often flush.ms is checked. Kafka's
  // default is "never" (Long.MAX_VALUE); Sluice checks every second so a
  // topic's flush.ms works without a broker setting (flush.ms itself still
  // defaults to never).
  int64_t flush_scheduler_interval_ms = 1000;
  // log.segment.delete.delay.ms: how long a deleted partition's directory
  // (and a deleted segment, via file.delete.delay.ms) lingers.
  int64_t segment_delete_delay_ms = 60000;
  // Sluice's own: how often expired *.deleted segment files are removed.
  int64_t deleted_files_check_interval_ms = 1000;
  // sluice.log.flush.threads (Sluice's own): logs the group-commit flusher
  // syncs at once; a device serves concurrent fsyncs, so an acks=all round
  // over many partitions costs about one fsync instead of one per log.
  size_t flush_threads = 8;
  // num.recovery.threads.per.data.dir: logs opened (recovered) at open() and
  // closed (flushed, synced) at close() at once, per dir. The work waits on
  // the device, not the CPU, so more threads than cores pay off: closing
  // thousands of partitions one fsync after another took tens of seconds.
  size_t recovery_threads = 8;
  // log.cleaner.*: enable, threads, backoff.ms, dedupe.buffer.size,
  // io.buffer.size, io.buffer.load.factor (Kafka's defaults).
  CleanerConfig cleaner;
  // Called (once, on the thread whose I/O failed) when every log dir has
  // gone offline after open(); the broker halts. Unset: nothing happens.
  std::function<void(const std::string& reason)> on_all_dirs_offline;
  // false: no thread runs; tests drive scheduler().run_due(),
  // flusher().run_round() and cleaner().clean_once() themselves.
  bool background_threads = true;
};

struct LogDirStatus {
  std::string path;
  bool online = true;
  bool full = false;  // appends fail for want of space (online dirs only)
  std::string error;  // why it went offline, or the last no_space while full
  size_t partition_count = 0;
};

class LogManager {
 public:
  // Opens every dir (recovering its logs), then schedules the background
  // jobs and starts the threads (unless options say not to).
  static Result<std::unique_ptr<LogManager>> open(FileSystem& fs, LogManagerOptions options);
  // close() if it was not called.
  ~LogManager();
  LogManager(const LogManager&) = delete;
  LogManager& operator=(const LogManager&) = delete;

  // The partition's log, or nullptr. An offline one is still returned (its
  // offline() says so) so the broker can answer KAFKA_STORAGE_ERROR.
  std::shared_ptr<ManagedLog> find(const TopicPartition& tp) const;
  std::vector<std::shared_ptr<ManagedLog>> logs() const;
  // Returns the existing log, or creates one in the online dir with the
  // fewest partitions. Errc::io_error if no dir is online or creation fails
  // (that dir then goes offline).
  Result<std::shared_ptr<ManagedLog>> create_log(const TopicPartition& tp, const Uuid& topic_id);
  // Renames the partition dir to "<topic>-<partition>.<32 hex>-delete"
  // (durably) and removes it after log.segment.delete.delay.ms in the
  // background. Holders of the ManagedLog see deleted(); read ranges handed
  // out before stay valid. Errc::invalid_value if the partition is unknown.
  Status delete_log(const TopicPartition& tp);

  // Sets a partition's topic config (under its lock) and, if it changed and
  // the log is compacted, wakes the cleaner. The ReplicaManager calls it for
  // every hosted partition on each metadata image, so topic config changes
  // reach the logs this way. Errc::invalid_value if the partition is
  // unknown; offline or deleted logs are left alone (ok).
  Status update_config(const TopicPartition& tp, const LogConfig& config);

  // Follower truncation, with managed.mutex() held (like Log::truncate_to /
  // truncate_fully, which they call): also lowers the cleaner checkpoint so
  // data appended again at those offsets is seen as dirty. I/O errors are
  // passed through managed.check().
  Status truncate_to(ManagedLog& managed, Offset offset);
  Status truncate_fully(ManagedLog& managed, Offset new_start_offset);

  std::vector<LogDirStatus> dir_status() const;

  Flusher& flusher() { return flusher_; }
  Scheduler& scheduler() { return scheduler_; }
  LogCleaner& cleaner() { return cleaner_; }

  // The background jobs (public so tests and operators can run them now).
  void run_retention();
  // Forgets idle producer ids in every log (Log::remove_expired_producers).
  void expire_producer_ids();
  // These two visit only the logs registered as having background work
  // (Log::has_background_work): an idle log costs them nothing. They return
  // how many logs they visited.
  size_t flush_due_logs();
  void write_recovery_point_checkpoints();
  void write_log_start_offset_checkpoints();
  void write_replication_offset_checkpoints();
  size_t remove_expired_deleted_files();
  // How many logs are registered as having background work now.
  size_t watched_log_count() const;

  // Stops the threads (the cleaner first, its clean in progress finishing
  // its current group; the flusher completes pending requests), then
  // closes every online dir: flush, checkpoints, clean-shutdown marker.
  // Callers must have stopped using the logs. Returns the first failure
  // (the other dirs are still closed).
  Status close();

 private:
  struct Dir {
    std::shared_ptr<LogDirHealth> health;
    std::unique_ptr<LogDirectory> directory;  // null if it failed to open
    std::mutex mutex;                         // guards directory's dir-level state
  };

  LogManager(FileSystem& fs, LogManagerOptions options);
  Status open_dirs();
  Status adopt_logs(Dir& dir);
  void on_checkpoint_failure(Dir& dir, const char* file_name, const Status& error);
  void on_dir_failure(const std::string& path, const Status& error);
  void on_dir_space_change(const std::string& path, const Status& error);
  void register_with_cleaner(const std::shared_ptr<ManagedLog>& managed);
  // At open, before the log is shared: its replication-offset-checkpoint entry.
  static void restore_high_watermark(ManagedLog& managed, const OffsetCheckpoint& checkpoint);
  // Runs a job once, now, on the scheduler thread.
  BackgroundRunner run_on_scheduler(const char* name);
  std::shared_ptr<ManagedLog> managed_log(Log& log, const std::shared_ptr<LogDirHealth>& health);
  void schedule_jobs();
  void schedule_dir_removal(const std::string& path, int64_t delay_ms);
  Status remove_tree(const std::string& path);
  Dir* dir_for_new_log();
  Dir* dir_named(const std::string& path);
  // The logs with background work, registered by their Log's listener
  // (under the partition lock, then watched_mutex_).
  void watch(const std::weak_ptr<ManagedLog>& managed);
  std::vector<std::shared_ptr<ManagedLog>> watched_logs() const;
  // Under managed.mutex(): stops watching a log left without work (or
  // unusable).
  void unwatch_if_idle(ManagedLog& managed);
  // Runs `job` under each online log's lock, reporting its I/O errors.
  void for_each_online_log(const std::function<Status(ManagedLog&)>& job);
  void write_checkpoint(const char* file_name, const std::function<int64_t(ManagedLog&)>& offset_of);

  FileSystem& fs_;
  LogManagerOptions options_;
  // recovery_threads - 1 threads (the caller is the last); null with one.
  // Used by open() and close() only, one dir after the other.
  std::unique_ptr<WorkerPool> recovery_pool_;
  std::vector<std::unique_ptr<Dir>> dirs_;
  mutable std::mutex mutex_;  // guards logs_ and errors_
  std::map<TopicPartition, std::shared_ptr<ManagedLog>> logs_;
  std::map<std::string, std::string> errors_;  // offline dir -> why
  std::map<std::string, std::string> full_errors_;  // full dir -> the last no_space
  std::mutex create_delete_mutex_;             // one create_log/delete_log at a time
  // After any partition lock and mutex_ (never held while taking them).
  mutable std::mutex watched_mutex_;
  std::map<const ManagedLog*, std::weak_ptr<ManagedLog>> watched_;
  Scheduler scheduler_;
  Flusher flusher_;
  LogCleaner cleaner_;
  bool closed_ = false;
  std::atomic<bool> dirs_opened_{false};  // open_dirs() finished
};

}  // namespace sluice::storage
