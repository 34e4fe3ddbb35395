#pragma once
// Group commit: makes appended data durable for many callers with as few
// fsyncs as possible (DESIGN.md "Durability").
//
// Callers (the broker after an acks=all append, the flush.messages/flush.ms
// checks) call request_flush(log, up_to_offset, done). A dedicated flusher
// thread repeatedly takes every pending request, across all partitions, and
// per log with pending requests: prepare_flush() under the partition lock,
// execute_flush() (the fdatasyncs) with no lock held, complete_flush() under
// the lock. Then it calls back every request whose offsets are now below the
// recovery point. Requests that arrive while a round is syncing wait for the
// next round, so one sync of a log per round serves any number of requests.
// The logs of a round are synced concurrently by up to `sync_threads`
// threads (the flusher thread and a WorkerPool): a device serves many
// fsyncs at once, so a round lasts about one fsync, not one per log.
//
// Callbacks: run on the flusher thread, a sync thread, or the thread calling
// run_round(),
// with no lock held, after the data is durable. They must be short and must
// not block: post the completion to the caller's reactor. A callback may
// call request_flush again.
//   - ok: every offset < up_to_offset is durable (survives a crash).
//   - Errc::io_error: the sync failed; the log dir is now offline.
//   - Errc::offset_out_of_range: the log was truncated below up_to_offset or
//     deleted before the data became durable (it is gone).
// Every request gets exactly one callback, at the latest in stop().
//
// Thread-safety: request_flush from any thread. Without start() nothing runs
// by itself: tests call run_round() on their own thread, deterministically.

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/worker_pool.h"
#include "storage/managed_log.h"

namespace sluice::storage {

struct FlusherStats {
  uint64_t rounds = 0;     // rounds that had at least one request
  uint64_t requests = 0;   // requests completed (any outcome)
  uint64_t log_syncs = 0;  // execute_flush calls (one per log per round at most)
};

class Flusher {
 public:
  using Callback = std::function<void(Status)>;

  // sync_threads: logs synced at once by the started flusher (at least 1).
  explicit Flusher(size_t sync_threads = 1) : sync_threads_(std::max<size_t>(sync_threads, 1)) {}
  ~Flusher() { stop(); }
  Flusher(const Flusher&) = delete;
  Flusher& operator=(const Flusher&) = delete;

  // Asks that every offset < up_to_offset of `log` be made durable; `done`
  // (may be empty) is called once when it is, or when it cannot be.
  void request_flush(std::shared_ptr<ManagedLog> log, int64_t up_to_offset, Callback done);

  void start();
  // Completes what is pending (one last round), then joins the thread.
  void stop();

  // One round; returns the number of logs synced. Without start() it runs
  // wholly on the calling thread, one log after another (deterministic).
  size_t run_round();
  size_t pending() const;
  FlusherStats stats() const;

 private:
  struct Request {
    std::shared_ptr<ManagedLog> log;
    int64_t up_to_offset;
    Callback done;
  };
  struct Completion {
    Callback done;
    Status status;
  };
  // What flushing one log's requests decided.
  struct LogOutcome {
    bool synced = false;
    std::vector<Completion> completions;
    std::vector<Request> retry;  // a concurrent truncation left them undecided
  };
  LogOutcome flush_log(std::vector<Request>& requests);
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Request> queue_;
  FlusherStats stats_;
  bool stopping_ = false;
  const size_t sync_threads_;
  std::unique_ptr<WorkerPool> sync_pool_;  // while started: sync_threads_ - 1 threads
  std::thread thread_;
};

}  // namespace sluice::storage
