#pragma once
// A fixed set of threads, each with its own queue (a "lane"): a task posted
// to lane i runs on thread i, after every task posted to lane i before it.
// For work that must keep an order per key and may wait on a device, so must
// not run on a reactor: the appends of Produce (broker/produce.cc), one lane
// per partition (its key's hash), so a partition's appends keep their
// request order and never contend for its lock with each other.
//
// Thread contract: post() from any thread. stop() (also run by the
// destructor) runs every task already posted, then joins; a task posted
// after stop(), or to a pool of zero lanes, runs on the posting thread, so
// nothing posted is dropped.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sluice {

class LanePool {
 public:
  // Its threads are named `name`-1, `name`-2, ... (lane 0 is `name`-1).
  LanePool(size_t lanes, const std::string& name);
  ~LanePool() { stop(); }
  LanePool(const LanePool&) = delete;
  LanePool& operator=(const LanePool&) = delete;

  size_t lanes() const { return lanes_.size(); }
  // The lane of `key`: the same key, the same lane (0 with no lanes).
  size_t lane_for(size_t key) const { return lanes_.empty() ? 0 : key % lanes_.size(); }
  void post(size_t lane, std::function<void()> task);
  void stop();

 private:
  struct Lane {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<std::function<void()>> tasks;
    bool stopping = false;
    std::thread thread;
  };
  static void work(Lane& lane);

  std::vector<std::unique_ptr<Lane>> lanes_;
};

}  // namespace sluice
