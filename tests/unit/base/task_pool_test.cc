#include "base/task_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace sluice {
namespace {

TEST(TaskPoolTest, RunsPostedTasksOffTheCallerAndStopRunsWhatWasPosted) {
  TaskPool pool(2, "test-pool");
  std::atomic<int> ran{0};
  std::atomic<int> on_caller{0};
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 100; ++i)
    pool.post([&] {
      if (std::this_thread::get_id() == caller) ++on_caller;
      ++ran;
    });
  pool.stop();
  EXPECT_EQ(ran.load(), 100);
  EXPECT_EQ(on_caller.load(), 0);
  // After stop: on the caller, at once.
  pool.post([&] {
    if (std::this_thread::get_id() == caller) ++on_caller;
  });
  EXPECT_EQ(on_caller.load(), 1);
}

}  // namespace
}  // namespace sluice
