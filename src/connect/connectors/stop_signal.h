#pragma once
// How a source task's poll waits without blocking forever: it sleeps on a
// condition variable that stop() (called from another thread) wakes, so a
// poll waiting for data returns as soon as the task is asked to stop.
// Shared by the connectors in this folder; thread-safe.

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace sluice::connect {

class StopSignal {
 public:
  void request() {
    {
      std::lock_guard lock(mutex_);
      requested_ = true;
    }
    wake_.notify_all();
  }

  bool requested() const {
    std::lock_guard lock(mutex_);
    return requested_;
  }

  // Sleeps until `deadline` or until a stop is requested; true when the
  // deadline came first (the caller may go on working).
  bool sleep_until(std::chrono::steady_clock::time_point deadline) const {
    std::unique_lock lock(mutex_);
    return !wake_.wait_until(lock, deadline, [this] { return requested_; });
  }

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable wake_;
  bool requested_ = false;
};

}  // namespace sluice::connect
