#include "base/rate_limited_log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>
#include <string>

namespace sluice {
namespace {

using std::chrono::seconds;

TEST(RateLimitedLog, FirstOccurrenceIsWrittenThenSuppressedWithinTheInterval) {
  ManualClock clock;
  RateLimitedLog log(seconds(10), clock);
  EXPECT_TRUE(log.admit("bad frame").write);
  for (int i = 0; i < 5; ++i) {
    clock.advance(seconds(1));
    EXPECT_FALSE(log.admit("bad frame").write);
  }
}

TEST(RateLimitedLog, NextLineAfterTheIntervalCarriesTheSuppressedCount) {
  ManualClock clock;
  RateLimitedLog log(seconds(10), clock);
  ASSERT_TRUE(log.admit("bad frame").write);
  for (int i = 0; i < 7; ++i) log.admit("bad frame");
  clock.advance(seconds(10));
  RateLimitedLog::Admission next = log.admit("bad frame");
  EXPECT_TRUE(next.write);
  EXPECT_EQ(next.suppressed, 7u);
  EXPECT_EQ(next.since_last, seconds(10));
  EXPECT_EQ(RateLimitedLog::suppressed_note(next), " (7 similar suppressed in the last 10 s)");
  // The count starts again from the line just written.
  clock.advance(seconds(10));
  RateLimitedLog::Admission quiet = log.admit("bad frame");
  EXPECT_TRUE(quiet.write);
  EXPECT_EQ(quiet.suppressed, 0u);
  EXPECT_EQ(RateLimitedLog::suppressed_note(quiet), "");
}

TEST(RateLimitedLog, KeysAreLimitedIndependently) {
  ManualClock clock;
  RateLimitedLog log(seconds(10), clock);
  EXPECT_TRUE(log.admit("Produce v99").write);
  EXPECT_TRUE(log.admit("Fetch v99").write);
  EXPECT_FALSE(log.admit("Produce v99").write);
  EXPECT_FALSE(log.admit("Fetch v99").write);
}

TEST(RateLimitedLog, TheIntervalCountsFromTheLastWrittenLine) {
  ManualClock clock;
  RateLimitedLog log(seconds(10), clock);
  ASSERT_TRUE(log.admit("k").write);
  clock.advance(seconds(9));
  EXPECT_FALSE(log.admit("k").write);  // suppressed occurrences do not extend the interval
  clock.advance(seconds(1));
  EXPECT_TRUE(log.admit("k").write);
}

TEST(RateLimitedLog, KeysBeyondTheLimitShareOneOverflowEntry) {
  ManualClock clock;
  RateLimitedLog log(seconds(10), clock, /*keys_max=*/2);
  EXPECT_TRUE(log.admit("a").write);
  EXPECT_TRUE(log.admit("b").write);
  // The table is full and neither key may be forgotten yet: "c" and "d"
  // share the overflow entry, so only the first of them is written.
  EXPECT_TRUE(log.admit("c").write);
  EXPECT_FALSE(log.admit("d").write);
  EXPECT_FALSE(log.admit("c").write);
  // Once the interval is over, quiet keys are forgotten and new ones tracked.
  clock.advance(seconds(10));
  EXPECT_TRUE(log.admit("e").write);
  EXPECT_FALSE(log.admit("e").write);
}

TEST(RateLimitedLog, WithoutItsOwnIntervalUsesTheProcessOne) {
  ManualClock clock;
  RateLimitedLog log(std::nullopt, clock);
  std::chrono::nanoseconds previous = RateLimitedLog::process_interval();
  RateLimitedLog::set_process_interval(seconds(2));
  ASSERT_TRUE(log.admit("k").write);
  clock.advance(seconds(1));
  EXPECT_FALSE(log.admit("k").write);
  clock.advance(seconds(1));
  EXPECT_TRUE(log.admit("k").write);
  RateLimitedLog::set_process_interval(previous);
}

TEST(RateLimitedLog, WarnWritesOneLineWithTheCount) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  spdlog::set_pattern("%v");

  ManualClock clock;
  RateLimitedLog log(seconds(10), clock);
  for (int i = 0; i < 100; ++i) log.warn("version", "closing connection {}: Metadata v{}", i, 99);
  clock.advance(seconds(12));
  log.warn("version", "closing connection {}: Metadata v{}", 100, 99);

  spdlog::set_default_logger(previous);
  EXPECT_EQ(out.str(),
            "closing connection 0: Metadata v99\n"
            "closing connection 100: Metadata v99 (99 similar suppressed in the last 12 s)\n");
}

}  // namespace
}  // namespace sluice
