#include "cli/bench/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace sluice::cli::bench {
namespace {

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (uint64_t v = 0; v < 256; ++v) histogram.record(v);
  EXPECT_EQ(histogram.count(), 256u);
  EXPECT_EQ(histogram.min(), 0u);
  EXPECT_EQ(histogram.max(), 255u);
  EXPECT_EQ(histogram.value_at_percentile(50), 127u);
  EXPECT_EQ(histogram.value_at_percentile(100), 255u);
  EXPECT_EQ(histogram.value_at_percentile(0), 0u);
}

TEST(LatencyHistogramTest, BucketsAreContiguousWithBoundedWidth) {
  // Every value maps to a bucket that holds it, buckets tile the line
  // without gaps, and no bucket is wider than 1/128 of its lowest value.
  uint64_t expected_lowest = 0;
  for (size_t index = 0; index < LatencyHistogram::bucket_index(uint64_t{1} << 40); ++index) {
    uint64_t lowest = LatencyHistogram::bucket_lowest(index);
    uint64_t highest = LatencyHistogram::bucket_highest(index);
    ASSERT_EQ(lowest, expected_lowest) << index;
    ASSERT_LE(lowest, highest);
    ASSERT_EQ(LatencyHistogram::bucket_index(lowest), index);
    ASSERT_EQ(LatencyHistogram::bucket_index(highest), index);
    if (lowest >= 256) {
      ASSERT_LE(highest - lowest + 1, lowest / 128) << index;
    }
    expected_lowest = highest + 1;
  }
}

// Percentiles of a known distribution: uniform 1 us .. 1 s in ns, shuffled.
TEST(LatencyHistogramTest, PercentilesOfUniformWithinOnePercent) {
  std::vector<uint64_t> values;
  for (uint64_t i = 1; i <= 100000; ++i) values.push_back(i * 10000);  // 10 us .. 1 s
  std::shuffle(values.begin(), values.end(), std::mt19937_64(7));
  LatencyHistogram histogram;
  for (uint64_t value : values) histogram.record(value);
  for (double percentile : {1.0, 25.0, 50.0, 90.0, 95.0, 99.0, 99.9, 99.99}) {
    double exact = std::ceil(percentile / 100 * 100000) * 10000;
    double reported = static_cast<double>(histogram.value_at_percentile(percentile));
    EXPECT_GE(reported, exact) << percentile;  // never below: errs high
    EXPECT_LE(reported, exact * 1.01) << percentile;
  }
  EXPECT_EQ(histogram.max(), 1000000000u);
  EXPECT_EQ(histogram.value_at_percentile(100), 1000000000u);
  EXPECT_NEAR(histogram.mean(), 500005000.0, 1.0);
}

// A long tail: 99% at ~1 ms, 1% at ~50 ms. p99 sits at the boundary,
// p99.9 in the tail.
TEST(LatencyHistogramTest, TailIsNotHidden) {
  LatencyHistogram histogram;
  for (int i = 0; i < 99000; ++i) histogram.record(1000000 + i % 1000);
  for (int i = 0; i < 1000; ++i) histogram.record(50000000 + i);
  EXPECT_LE(histogram.value_at_percentile(50), 1010000u);
  EXPECT_LE(histogram.value_at_percentile(99), 1010000u);
  EXPECT_GE(histogram.value_at_percentile(99.9), 50000000u);
  EXPECT_LE(histogram.value_at_percentile(99.9), 50500000u);
  EXPECT_EQ(histogram.max(), 50000999u);
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a, b, all;
  std::mt19937_64 random(3);
  std::exponential_distribution<double> latency(1.0 / 2e6);
  for (int i = 0; i < 20000; ++i) {
    auto value = static_cast<uint64_t>(latency(random));
    (i % 3 == 0 ? a : b).record(value);
    all.record(value);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double percentile : {50.0, 99.0, 99.9}) {
    EXPECT_EQ(a.value_at_percentile(percentile), all.value_at_percentile(percentile));
  }
}

TEST(LatencyHistogramTest, ValuesAboveTheLimitAreClampedButMaxIsExact) {
  LatencyHistogram histogram(1 << 20);
  histogram.record(1 << 30);
  EXPECT_EQ(histogram.max(), uint64_t{1} << 30);
  EXPECT_EQ(histogram.value_at_percentile(50), uint64_t{1} << 30);  // clamped to max, not lost
}

TEST(LatencyHistogramTest, EmptyReportsZero) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.value_at_percentile(99), 0u);
  EXPECT_EQ(histogram.min(), 0u);
  EXPECT_EQ(histogram.mean(), 0.0);
}

}  // namespace
}  // namespace sluice::cli::bench
