#pragma once
// A fixed set of threads that run one indexed job at a time, for work that
// blocks on a device rather than a CPU (the flusher's fsyncs of different
// logs): for_each_index(n, f) runs f(0) .. f(n-1) spread over the pool's
// threads and the calling thread, and returns when all have returned.
//
// Thread contract: for_each_index is called by one thread at a time (the
// pool's owner); f must be safe to run concurrently for different indexes.
// With zero threads everything runs on the caller, in index order.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice {

class WorkerPool {
 public:
  // Its threads are named `name`-1, `name`-2, ... (the caller is the 0th).
  explicit WorkerPool(size_t threads, const std::string& name = "worker");
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void for_each_index(size_t count, const std::function<void(size_t)>& job);
  size_t threads() const { return threads_.size(); }

 private:
  void work();
  // Claims and runs indexes of the current job until none is left.
  void run_claimed(const std::function<void(size_t)>& job, size_t count);

  std::mutex mutex_;
  std::condition_variable wake_;      // a new job or stopping_
  std::condition_variable finished_;  // a worker left the current job
  const std::function<void(size_t)>* job_ = nullptr;
  size_t count_ = 0;
  std::atomic<size_t> next_index_{0};
  uint64_t generation_ = 0;  // one per job, so a worker joins each job once
  size_t workers_in_job_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sluice
