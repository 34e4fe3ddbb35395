#include "broker/delayed_operation.h"

#include "base/thread_name.h"

namespace sluice::broker {

void DelayedOperationTimer::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    set_current_thread_name("delayed-ops");
    loop();
  });
}

void DelayedOperationTimer::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Without a thread (never started), expire what is left here.
  std::vector<std::shared_ptr<DelayedOperation>> left;
  {
    std::lock_guard lock(mutex_);
    while (!queue_.empty()) {
      left.push_back(queue_.top().op);
      queue_.pop();
    }
  }
  for (auto& op : left) op->expire();
}

void DelayedOperationTimer::schedule(std::shared_ptr<DelayedOperation> op, std::chrono::milliseconds delay) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      bool earliest = queue_.empty() || Clock::now() + delay < queue_.top().deadline;
      queue_.push(Entry{Clock::now() + delay, std::move(op)});
      if (earliest) wake_.notify_one();
      return;
    }
  }
  op->expire();
}

size_t DelayedOperationTimer::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void DelayedOperationTimer::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (queue_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto deadline = queue_.top().deadline;
    if (Clock::now() < deadline) {
      wake_.wait_until(lock, deadline);
      continue;
    }
    std::vector<std::shared_ptr<DelayedOperation>> due;
    while (!queue_.empty() && queue_.top().deadline <= Clock::now()) {
      due.push_back(queue_.top().op);
      queue_.pop();
    }
    lock.unlock();
    for (auto& op : due)
      if (!op->done()) op->expire();
    due.clear();  // release outside the lock
    lock.lock();
  }
  // stop() expires the rest after the join.
}

}  // namespace sluice::broker
