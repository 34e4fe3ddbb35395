#include "base/worker_pool.h"

#include "base/thread_name.h"

namespace sluice {

WorkerPool::WorkerPool(size_t threads, const std::string& name) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this, thread_name = name + "-" + std::to_string(i + 1)] {
      set_current_thread_name(thread_name);
      work();
    });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void WorkerPool::for_each_index(size_t count, const std::function<void(size_t)>& job) {
  if (count == 0) return;
  if (threads_.empty() || count == 1) {
    for (size_t i = 0; i < count; ++i) job(i);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &job;
    count_ = count;
    next_index_.store(0, std::memory_order_relaxed);
    workers_in_job_ = threads_.size();
    ++generation_;
  }
  wake_.notify_all();
  run_claimed(job, count);
  // Every worker leaves the job before `job` (the caller's) goes out of scope.
  std::unique_lock lock(mutex_);
  finished_.wait(lock, [this] { return workers_in_job_ == 0; });
  job_ = nullptr;
}

void WorkerPool::run_claimed(const std::function<void(size_t)>& job, size_t count) {
  for (size_t i = next_index_.fetch_add(1, std::memory_order_relaxed); i < count;
       i = next_index_.fetch_add(1, std::memory_order_relaxed))
    job(i);
}

void WorkerPool::work() {
  uint64_t seen_generation = 0;
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || generation_ != seen_generation; });
    if (stopping_) return;
    seen_generation = generation_;
    const std::function<void(size_t)>* job = job_;
    size_t count = count_;
    lock.unlock();
    run_claimed(*job, count);
    lock.lock();
    if (--workers_in_job_ == 0) finished_.notify_one();
  }
}

}  // namespace sluice
