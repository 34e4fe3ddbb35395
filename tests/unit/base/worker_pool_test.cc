#include "base/worker_pool.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace sluice {
namespace {

TEST(WorkerPoolTest, RunsEveryIndexOnceAndReturnsWhenAllAreDone) {
  WorkerPool pool(3);
  for (size_t count : {0u, 1u, 2u, 7u, 100u}) {
    std::vector<std::atomic<int>> runs(count);
    pool.for_each_index(count, [&](size_t i) { ++runs[i]; });
    for (size_t i = 0; i < count; ++i) EXPECT_EQ(runs[i].load(), 1) << "count " << count << " index " << i;
  }
}

TEST(WorkerPoolTest, BlockingJobsOverlap) {
  WorkerPool pool(3);
  std::atomic<int> running{0}, most_running{0};
  pool.for_each_index(4, [&](size_t) {
    int now = ++running;
    for (int seen = most_running.load(); now > seen && !most_running.compare_exchange_weak(seen, now);) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // an fsync
    --running;
  });
  EXPECT_GE(most_running.load(), 2);
}

TEST(WorkerPoolTest, WithoutThreadsTheCallerRunsInOrder) {
  WorkerPool pool(0);
  std::vector<size_t> order;
  pool.for_each_index(5, [&](size_t i) { order.push_back(i); });
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
}

TEST(WorkerPoolTest, ManyJobsInARow) {
  WorkerPool pool(2);
  std::atomic<long> total{0};
  for (int round = 0; round < 2000; ++round) pool.for_each_index(3, [&](size_t i) { total += static_cast<long>(i) + 1; });
  EXPECT_EQ(total.load(), 2000 * 6);
}

}  // namespace
}  // namespace sluice
