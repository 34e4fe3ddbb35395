#include "cli/bench/pacer.h"

#include <gtest/gtest.h>

namespace sluice::cli::bench {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

TEST(PacerTest, DueTimesFollowTheRateFromStart) {
  Pacer::Clock::time_point start{};
  Pacer pacer(20000, start);  // one message every 50 us
  EXPECT_EQ(pacer.due(0), start);
  EXPECT_EQ(pacer.due(1), start + nanoseconds(50000));
  EXPECT_EQ(pacer.due(20000), start + milliseconds(1000));
}

// The timetable is fixed: however late the sender is, message i stays due at
// start + i/rate, so latency measured from it includes the stall.
TEST(PacerTest, FallingBehindDoesNotShiftTheSchedule) {
  Pacer::Clock::time_point start{};
  Pacer pacer(1000, start);
  Pacer::Clock::time_point late = start + milliseconds(500);  // stalled 500 ms
  EXPECT_EQ(pacer.due_count(late), 501u);                      // 0..500 all due
  EXPECT_EQ(pacer.due(10), start + milliseconds(10));          // still its old time
  EXPECT_EQ(late - pacer.due(10), milliseconds(490));          // the latency it is charged
}

TEST(PacerTest, DueCountBeforeAndAtStart) {
  Pacer::Clock::time_point start{milliseconds(100)};
  Pacer pacer(100, start);
  EXPECT_EQ(pacer.due_count(start - milliseconds(1)), 0u);
  EXPECT_EQ(pacer.due_count(start), 1u);
  EXPECT_EQ(pacer.due_count(start + milliseconds(9)), 1u);
  EXPECT_EQ(pacer.due_count(start + milliseconds(10)), 2u);
}

TEST(PacerTest, UnpacedIsAlwaysDue) {
  Pacer::Clock::time_point start{milliseconds(5)};
  Pacer pacer(0, start);
  EXPECT_FALSE(pacer.paced());
  EXPECT_EQ(pacer.due(12345), start);
  EXPECT_EQ(pacer.due_count(start), UINT64_MAX);
}

}  // namespace
}  // namespace sluice::cli::bench
