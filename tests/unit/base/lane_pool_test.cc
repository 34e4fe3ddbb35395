#include "base/lane_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace sluice {
namespace {

using namespace std::chrono_literals;

// Each lane runs its own tasks in posting order, on its own thread.
TEST(LanePoolTest, ALaneRunsItsTasksInPostingOrderOnOneThread) {
  LanePool pool(3, "test-lane");
  ASSERT_EQ(pool.lanes(), 3u);
  std::mutex mutex;
  std::vector<std::vector<int>> order(3);
  std::vector<std::thread::id> threads(3);
  for (int i = 0; i < 300; ++i) {
    size_t lane = pool.lane_for(static_cast<size_t>(i));
    pool.post(lane, [&, lane, i] {
      std::lock_guard lock(mutex);
      order[lane].push_back(i);
      if (threads[lane] == std::thread::id()) threads[lane] = std::this_thread::get_id();
      EXPECT_EQ(threads[lane], std::this_thread::get_id());
    });
  }
  pool.stop();
  for (size_t lane = 0; lane < 3; ++lane) {
    ASSERT_EQ(order[lane].size(), 100u);
    for (size_t k = 0; k < order[lane].size(); ++k)
      EXPECT_EQ(order[lane][k], static_cast<int>(lane + 3 * k)) << "lane " << lane;
  }
  EXPECT_NE(threads[0], threads[1]);
  EXPECT_NE(threads[1], threads[2]);
}

// A lane that waits (a throttled write) does not hold up the others.
TEST(LanePoolTest, AStalledLaneDoesNotHoldUpTheOthers) {
  LanePool pool(2, "test-lane");
  std::atomic<bool> release{false};
  std::atomic<bool> other_ran{false};
  pool.post(0, [&] {
    while (!release.load()) std::this_thread::sleep_for(1ms);
  });
  pool.post(1, [&] { other_ran = true; });
  auto until = std::chrono::steady_clock::now() + 5s;
  while (!other_ran.load() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_TRUE(other_ran.load());
  release = true;
}

TEST(LanePoolTest, StopRunsWhatWasPostedThenTasksRunOnTheCaller) {
  std::atomic<int> ran{0};
  const auto caller = std::this_thread::get_id();
  LanePool pool(2, "test-lane");
  for (int i = 0; i < 50; ++i) pool.post(static_cast<size_t>(i % 2), [&] { ++ran; });
  pool.stop();
  EXPECT_EQ(ran.load(), 50);
  bool on_caller = false;
  pool.post(1, [&] { on_caller = std::this_thread::get_id() == caller; });
  EXPECT_TRUE(on_caller);
  LanePool none(0, "test-lane");
  EXPECT_EQ(none.lane_for(7), 0u);
  on_caller = false;
  none.post(0, [&] { on_caller = std::this_thread::get_id() == caller; });
  EXPECT_TRUE(on_caller);
}

}  // namespace
}  // namespace sluice
