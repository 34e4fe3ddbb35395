#include "base/lane_pool.h"

#include "base/assert.h"
#include "base/thread_name.h"

namespace sluice {

LanePool::LanePool(size_t lanes, const std::string& name) {
  lanes_.reserve(lanes);
  for (size_t i = 0; i < lanes; ++i) {
    auto lane = std::make_unique<Lane>();
    Lane* raw = lane.get();
    lane->thread = std::thread([raw, thread_name = name + "-" + std::to_string(i + 1)] {
      set_current_thread_name(thread_name);
      work(*raw);
    });
    lanes_.push_back(std::move(lane));
  }
}

void LanePool::post(size_t lane_index, std::function<void()> task) {
  if (!lanes_.empty()) {
    SLUICE_ASSERT(lane_index < lanes_.size(), "a task posted to a lane the pool does not have");
    Lane& lane = *lanes_[lane_index];
    std::unique_lock lock(lane.mutex);
    if (!lane.stopping) {
      lane.tasks.push_back(std::move(task));
      lock.unlock();
      lane.wake.notify_one();
      return;
    }
  }
  task();  // stopped, or no lanes: on the caller
}

void LanePool::stop() {
  for (auto& lane : lanes_) {
    std::lock_guard lock(lane->mutex);
    lane->stopping = true;
  }
  for (auto& lane : lanes_) {
    lane->wake.notify_all();
    if (lane->thread.joinable()) lane->thread.join();
  }
}

void LanePool::work(Lane& lane) {
  std::unique_lock lock(lane.mutex);
  while (true) {
    lane.wake.wait(lock, [&] { return lane.stopping || !lane.tasks.empty(); });
    if (lane.tasks.empty()) return;  // stopping, and everything posted has run
    std::function<void()> task = std::move(lane.tasks.front());
    lane.tasks.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
}

}  // namespace sluice
