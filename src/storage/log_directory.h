#pragma once
// One of the broker's log.dirs: the partition logs in it and its per-dir
// files (docs/storage.md): recovery-point-offset-checkpoint,
// log-start-offset-checkpoint, replication-offset-checkpoint and the
// clean-shutdown marker .kafka_cleanshutdown.
//
// open() reads the checkpoints and the marker, then removes the marker
// (durably) before any log is written, so a crash from then on is seen as
// unclean at the next start. close() flushes every log, writes the
// checkpoints, then the marker: the next open skips the recovery scans.
//
// Concurrency: open/close and create_log/remove-style calls are made by one
// thread (the log manager); each Log then follows its own contract (log.h).
// open() and close() open, recover and close the dir's logs concurrently on
// `LogDirectoryOptions::pool` (Kafka's num.recovery.threads.per.data.dir):
// each log is independent and the work blocks on the device (reads at
// recovery, fsyncs at close), so thousands of partitions take a fraction of
// the time one after the other would.

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "base/worker_pool.h"
#include "storage/log.h"

namespace sluice::storage {

inline constexpr char clean_shutdown_file[] = ".kafka_cleanshutdown";

struct LogDirectoryOptions {
  std::string path;
  std::function<LogConfig(const TopicPartition&)> config_for = [](const TopicPartition&) { return LogConfig{}; };
  const Clock* clock = &system_clock();  // outlives the LogDirectory
  Logger logger = log_to_stderr;
  WorkerPool* pool = nullptr;  // outlives open() and close(); null: one log at a time
  BackgroundRunner background;  // LogOptions::background of every log
  int64_t producer_id_expiration_ms = 86400000;  // LogOptions::producer_id_expiration_ms
};

class LogDirectory {
 public:
  static Result<std::unique_ptr<LogDirectory>> open(FileSystem& fs, LogDirectoryOptions options);

  // The log of a partition in this dir, or nullptr.
  Log* find(const TopicPartition& tp) const;
  // Creates (or opens, if present) the log of a partition.
  Result<Log*> create_log(const TopicPartition& tp, const Uuid& topic_id);
  const std::map<TopicPartition, std::unique_ptr<Log>>& logs() const { return logs_; }
  // Takes a partition's log out of this dir (the log manager deletes it);
  // nullptr if absent. Its checkpoint entries go with it.
  std::unique_ptr<Log> release_log(const TopicPartition& tp);

  // The high watermarks saved at the last checkpoint (the replica manager's).
  const OffsetCheckpoint& replication_offsets() const { return replication_offsets_; }
  void set_replication_offset(const TopicPartition& tp, int64_t high_watermark) {
    replication_offsets_[tp] = high_watermark;
  }
  // Writes the three checkpoints from the logs' current state (periodically,
  // as Kafka's log.flush.offset.checkpoint.interval.ms).
  Status write_checkpoints();
  // Closes every log, writes the checkpoints and the clean-shutdown marker.
  Status close();
  bool had_clean_shutdown() const { return had_clean_shutdown_; }

 private:
  LogDirectory(FileSystem& fs, LogDirectoryOptions options) : fs_(fs), options_(std::move(options)) {}
  Status load();
  Result<Log*> open_log(const TopicPartition& tp, const Uuid& topic_id);
  // Opens (recovers) a log without adding it: safe for different partitions
  // at once (reads only this dir's checkpoints).
  Result<std::unique_ptr<Log>> load_log(const TopicPartition& tp, const Uuid& topic_id) const;
  Status open_existing_logs(const std::vector<TopicPartition>& partitions);
  Status close_logs();
  void for_each_index(size_t count, const std::function<void(size_t)>& job) const;
  std::string at(const char* name) const { return join_path(options_.path, name); }

  FileSystem& fs_;
  LogDirectoryOptions options_;
  std::map<TopicPartition, std::unique_ptr<Log>> logs_;
  OffsetCheckpoint recovery_points_;
  OffsetCheckpoint log_start_offsets_;
  OffsetCheckpoint replication_offsets_;
  bool had_clean_shutdown_ = false;
};

}  // namespace sluice::storage
