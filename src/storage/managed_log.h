#pragma once
// A partition's Log as the log manager hands it out: the Log, the partition
// lock that guards it (log.h's contract), and the health of the log dir it
// lives in. Shared (std::shared_ptr) by the broker, the flusher and the
// background jobs; the LogManager must outlive every holder's use of log().
//
// Rules for every caller:
//   - Lock mutex() around every call into log(), and only while usable().
//   - Pass each Status a log() call returns through check(): an
//     Errc::io_error takes the whole log dir offline (once, with a log line
//     naming the dir and the error); from then on offline() is true for
//     every partition of that dir, and the broker answers
//     KAFKA_STORAGE_ERROR for them. Nothing crashes.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "storage/log.h"

namespace sluice::storage {

// The health of one log dir, shared by its partitions.
class LogDirHealth {
 public:
  using OnFailure = std::function<void(const std::string& path, const Status& error)>;
  LogDirHealth(std::string path, OnFailure on_failure) : path_(std::move(path)), on_failure_(std::move(on_failure)) {}

  const std::string& path() const { return path_; }
  bool offline() const { return offline_.load(std::memory_order_acquire); }
  // Marks the dir offline; the first call reports it, later ones do nothing.
  void fail(const Status& error) {
    if (offline_.exchange(true, std::memory_order_acq_rel)) return;
    if (on_failure_) on_failure_(path_, error);
  }

 private:
  std::string path_;
  OnFailure on_failure_;
  std::atomic<bool> offline_{false};
};

class ManagedLog {
 public:
  ManagedLog(Log& log, FileSystem& fs, std::shared_ptr<LogDirHealth> dir)
      : log_(&log), fs_(fs), dir_(std::move(dir)), topic_partition_(log.topic_partition()) {}

  std::mutex& mutex() const { return mutex_; }
  // With mutex() held and usable() only.
  Log& log() const {
    SLUICE_ASSERT(usable(), "log() of an offline or deleted partition");
    return *log_;
  }
  bool usable() const { return !offline() && !deleted(); }
  bool offline() const { return dir_->offline(); }
  // delete_log() was called: the partition is gone (with mutex() held).
  bool deleted() const { return deleted_; }

  Status check(Status status) {
    if (status.code() == Errc::io_error) dir_->fail(status);
    return status;
  }
  template <class T>
  Result<T> check(Result<T> result) {
    if (!result && result.status().code() == Errc::io_error) dir_->fail(result.status());
    return result;
  }

  const TopicPartition& topic_partition() const { return topic_partition_; }
  const std::string& log_dir() const { return dir_->path(); }
  FileSystem& fs() const { return fs_; }

  // The high watermark the replica layer last set (-1: none yet; retention
  // then treats the log end offset as committed: a single replica).
  int64_t high_watermark() const { return high_watermark_.load(std::memory_order_acquire); }
  void set_high_watermark(int64_t offset) { high_watermark_.store(offset, std::memory_order_release); }

  // Called by the LogManager under mutex(): the partition is being deleted;
  // the ManagedLog now owns the Log so holders' pointers stay valid.
  void mark_deleted(std::unique_ptr<Log> owned) {
    deleted_ = true;
    owned_ = std::move(owned);
  }

 private:
  mutable std::mutex mutex_;
  Log* log_;
  std::unique_ptr<Log> owned_;
  FileSystem& fs_;
  std::shared_ptr<LogDirHealth> dir_;
  TopicPartition topic_partition_;
  std::atomic<int64_t> high_watermark_{-1};
  bool deleted_ = false;
};

}  // namespace sluice::storage
