#pragma once
// A fixed set of threads running posted tasks in order of posting, for work
// that may wait on a device and so must not run on a reactor (Fetch's reads
// of pages that are not in the page cache, broker/fetch.cc).
//
// Thread contract: post() from any thread. stop() (also run by the
// destructor) runs every task already posted, then joins; a task posted
// after stop() runs on the posting thread, so nothing posted is dropped.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice {

class TaskPool {
 public:
  // Its threads are named `name`-1, `name`-2, ...
  explicit TaskPool(size_t threads, const std::string& name = "task");
  ~TaskPool() { stop(); }
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  void post(std::function<void()> task);
  void stop();
  size_t threads() const { return threads_.size(); }

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace sluice
