#include "base/task_pool.h"

#include "base/thread_name.h"

namespace sluice {

TaskPool::TaskPool(size_t threads, const std::string& name) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this, thread_name = name + "-" + std::to_string(i + 1)] {
      set_current_thread_name(thread_name);
      work();
    });
}

void TaskPool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && !threads_.empty()) {
      tasks_.push_back(std::move(task));
      wake_.notify_one();
      return;
    }
  }
  task();  // stopped, or no threads: on the caller
}

void TaskPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void TaskPool::work() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
    if (tasks_.empty()) return;  // stopping, and everything posted has run
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace sluice
