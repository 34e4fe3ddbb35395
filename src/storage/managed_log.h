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
//   - An Errc::no_space (a full disk) does not: the failed call left the
//     log as it was (Log's contract), so the dir stays online, reads go on,
//     and the dir is marked full() (one log line) until an append to one of
//     its partitions succeeds again (note_append_succeeded()).

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "storage/log.h"

namespace sluice::storage {

// The health of one log dir, shared by its partitions.
class LogDirHealth {
 public:
  // Called on each change: `error` is the failure that took the dir offline
  // (any code but no_space), the no_space that made it full, or ok when a
  // full dir took an append again.
  using OnFailure = std::function<void(const std::string& path, const Status& error)>;
  LogDirHealth(std::string path, OnFailure on_failure) : path_(std::move(path)), on_failure_(std::move(on_failure)) {}

  const std::string& path() const { return path_; }
  bool offline() const { return offline_.load(std::memory_order_acquire); }
  bool full() const { return full_.load(std::memory_order_acquire); }
  // Marks the dir offline (the first call reports it, later ones do
  // nothing), or only full() for Errc::no_space: a full disk is not a lost
  // one.
  void fail(const Status& error) {
    if (error.code() == Errc::no_space) {
      if (!full_.exchange(true, std::memory_order_acq_rel) && on_failure_) on_failure_(path_, error);
      return;
    }
    if (offline_.exchange(true, std::memory_order_acq_rel)) return;
    if (on_failure_) on_failure_(path_, error);
  }
  // An append succeeded: the dir has space again (one load when it was not full).
  void note_space() {
    if (full_.load(std::memory_order_relaxed) && full_.exchange(false, std::memory_order_acq_rel) && on_failure_)
      on_failure_(path_, Status::ok());
  }

 private:
  std::string path_;
  OnFailure on_failure_;
  std::atomic<bool> offline_{false};
  std::atomic<bool> full_{false};
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
    if (is_storage_failure(status.code())) dir_->fail(status);
    return status;
  }
  template <class T>
  Result<T> check(Result<T> result) {
    if (!result && is_storage_failure(result.status().code())) dir_->fail(result.status());
    return result;
  }
  // Removes files taken from the log under mutex() (Log::take_deleted_files)
  // on the background runner the LogManager gave (its scheduler thread),
  // never on the caller's: a reactor must not wait for an unlink to free a
  // large file's blocks. Failures go through check(). Without a runner
  // (tests that build a ManagedLog by hand) they are removed right here.
  // Call it after releasing mutex().
  void remove_in_background(std::vector<std::string> paths) {
    if (paths.empty()) return;
    auto remove = [&fs = fs_, dir = dir_, paths = std::move(paths)] {
      Status removed = remove_deleted_files(fs, paths);
      if (is_storage_failure(removed.code())) dir->fail(removed);
    };
    if (background_)
      background_(std::move(remove));
    else
      remove();
  }
  void set_background(BackgroundRunner background) { background_ = std::move(background); }

  // With mutex() held, after an append succeeded: clears full().
  void note_append_succeeded() { dir_->note_space(); }
  // The dir is full (appends fail with Errc::no_space until space is freed).
  bool dir_full() const { return dir_->full(); }
  static bool is_storage_failure(Errc code) { return code == Errc::io_error || code == Errc::no_space; }

  const TopicPartition& topic_partition() const { return topic_partition_; }
  const std::string& log_dir() const { return dir_->path(); }
  FileSystem& fs() const { return fs_; }

  // The high watermark the replica layer last set, or at open the log
  // dir's replication-offset-checkpoint entry clamped to the log (-1: none
  // yet; retention then treats the log end offset as committed: a single
  // replica).
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
  BackgroundRunner background_;
};

}  // namespace sluice::storage
