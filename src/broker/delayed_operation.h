#pragma once
// Delayed operations (Kafka's purgatory): requests whose answer waits for an
// event — a long-poll Fetch waiting for min.bytes — or for their deadline.
// An operation completes exactly once: the first of "enough data arrived"
// (a Partition wakes it, cluster/partition.h) or "deadline passed" (the
// timer thread) claims it; the other finds it done. Nothing polls.
//
// Threads: schedule() from any thread; expire() runs on the timer thread;
// stop() from the controlling thread expires everything still pending, so no
// request is left unanswered at shutdown.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <vector>

namespace sluice::broker {

class DelayedOperation {
 public:
  virtual ~DelayedOperation() = default;
  // Called by the timer at the deadline (or at stop). Typically
  // `if (claim()) answer(...)`.
  virtual void expire() = 0;
  bool done() const { return done_.load(std::memory_order_acquire); }

 protected:
  // True for exactly one caller: the one that must answer.
  bool claim() { return !done_.exchange(true, std::memory_order_acq_rel); }

 private:
  std::atomic<bool> done_{false};
};

class DelayedOperationTimer {
 public:
  using Clock = std::chrono::steady_clock;

  DelayedOperationTimer() = default;
  ~DelayedOperationTimer() { stop(); }
  DelayedOperationTimer(const DelayedOperationTimer&) = delete;
  DelayedOperationTimer& operator=(const DelayedOperationTimer&) = delete;

  void start();
  // Expires every pending operation now, then joins the thread. Later
  // schedule() calls expire the operation at once.
  void stop();

  // Calls op->expire() once `delay` has passed (unless it is done by then;
  // the timer keeps it alive until its deadline).
  void schedule(std::shared_ptr<DelayedOperation> op, std::chrono::milliseconds delay);
  size_t pending() const;

 private:
  struct Entry {
    Clock::time_point deadline;
    std::shared_ptr<DelayedOperation> op;
    bool operator>(const Entry& other) const { return deadline > other.deadline; }
  };
  void loop();

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::broker
