#include "storage/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

namespace sluice::storage {
namespace {

using std::chrono::milliseconds;

TEST(SchedulerTest, PeriodicTaskRunsOncePerPeriodOfTheClock) {
  ManualClock clock;
  Scheduler scheduler(clock);
  int runs = 0;
  scheduler.schedule_periodic("tick", milliseconds(100), milliseconds(100), [&] { ++runs; });
  EXPECT_EQ(scheduler.run_due(), 0u);
  clock.advance_ms(99);
  EXPECT_EQ(scheduler.run_due(), 0u);
  clock.advance_ms(1);
  EXPECT_EQ(scheduler.run_due(), 1u);
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(scheduler.run_due(), 0u);  // not again until the next period
  clock.advance_ms(100);
  scheduler.run_due();
  EXPECT_EQ(runs, 2);
}

TEST(SchedulerTest, TaskFarBehindRunsOnceThenResumesItsPeriod) {
  ManualClock clock;
  Scheduler scheduler(clock);
  int runs = 0;
  scheduler.schedule_periodic("tick", milliseconds(10), milliseconds(10), [&] { ++runs; });
  clock.advance_ms(1000);
  scheduler.run_due();
  EXPECT_EQ(runs, 1);  // no burst of 100 runs
  clock.advance_ms(9);
  scheduler.run_due();
  EXPECT_EQ(runs, 1);
  clock.advance_ms(1);
  scheduler.run_due();
  EXPECT_EQ(runs, 2);
}

TEST(SchedulerTest, OneShotRunsOnceAndCancelStopsATask) {
  ManualClock clock;
  Scheduler scheduler(clock);
  int once = 0, periodic = 0;
  scheduler.schedule_once("once", milliseconds(50), [&] { ++once; });
  auto id = scheduler.schedule_periodic("tick", milliseconds(10), milliseconds(10), [&] { ++periodic; });
  EXPECT_EQ(scheduler.task_count(), 2u);
  clock.advance_ms(50);
  EXPECT_EQ(scheduler.run_due(), 2u);
  EXPECT_EQ(scheduler.task_count(), 1u);
  scheduler.cancel(id);
  clock.advance_ms(100);
  EXPECT_EQ(scheduler.run_due(), 0u);
  EXPECT_EQ(once, 1);
  EXPECT_EQ(periodic, 1);
  EXPECT_EQ(scheduler.task_count(), 0u);
}

TEST(SchedulerTest, TaskMayScheduleAndCancelItself) {
  ManualClock clock;
  Scheduler scheduler(clock);
  int follow_ups = 0;
  Scheduler::TaskId self = 0;
  self = scheduler.schedule_periodic("self", milliseconds(1), milliseconds(1), [&] {
    scheduler.cancel(self);
    scheduler.schedule_once("follow-up", milliseconds(0), [&] { ++follow_ups; });
  });
  clock.advance_ms(1);
  scheduler.run_due();
  clock.advance_ms(1);
  scheduler.run_due();
  EXPECT_EQ(follow_ups, 1);
  EXPECT_EQ(scheduler.task_count(), 0u);
}

TEST(SchedulerTest, ThreadRunsTasksOnTheSystemClock) {
  Scheduler scheduler(system_clock());
  std::promise<std::thread::id> ran;
  scheduler.schedule_once("soon", milliseconds(5), [&] { ran.set_value(std::this_thread::get_id()); });
  scheduler.start();
  auto future = ran.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_NE(future.get(), std::this_thread::get_id());
  scheduler.stop();
}

TEST(SchedulerTest, WallClockJumpDoesNotFireTasks) {
  ManualClock clock;
  Scheduler scheduler(clock);
  int runs = 0;
  scheduler.schedule_periodic("tick", milliseconds(100), milliseconds(100), [&] { ++runs; });
  clock.set_now_ms(clock.now_ms() + 3'600'000);
  EXPECT_EQ(scheduler.run_due(), 0u);
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace sluice::storage
