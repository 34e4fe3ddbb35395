#include "cli/bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "base/assert.h"

namespace sluice::cli::bench {
namespace {

// 2^kPrecisionBits exact values, then 2^(kPrecisionBits-1) buckets per
// power of two: relative bucket width <= 2^-(kPrecisionBits-1) = 1/128.
constexpr unsigned kPrecisionBits = 8;
constexpr uint64_t kExactCount = uint64_t{1} << kPrecisionBits;  // 256
constexpr uint64_t kHalfCount = kExactCount / 2;                 // 128

}  // namespace

size_t LatencyHistogram::bucket_index(uint64_t value) {
  if (value < kExactCount) return static_cast<size_t>(value);
  // shift >= 1; (value >> shift) lies in [128, 256).
  unsigned shift = static_cast<unsigned>(std::bit_width(value)) - kPrecisionBits;
  uint64_t sub_bucket = (value >> shift) - kHalfCount;
  return static_cast<size_t>(kExactCount + (shift - 1) * kHalfCount + sub_bucket);
}

uint64_t LatencyHistogram::bucket_lowest(size_t index) {
  if (index < kExactCount) return index;
  uint64_t shift = (index - kExactCount) / kHalfCount + 1;
  uint64_t sub_bucket = (index - kExactCount) % kHalfCount;
  return (kHalfCount + sub_bucket) << shift;
}

uint64_t LatencyHistogram::bucket_highest(size_t index) {
  if (index < kExactCount) return index;
  uint64_t shift = (index - kExactCount) / kHalfCount + 1;
  return bucket_lowest(index) + (uint64_t{1} << shift) - 1;
}

LatencyHistogram::LatencyHistogram(uint64_t value_max)
    : value_max_(value_max), counts_(bucket_index(value_max) + 1, 0) {
  SLUICE_ASSERT(value_max >= kExactCount, "histogram limit below its exact range");
}

void LatencyHistogram::record(uint64_t value) {
  max_ = std::max(max_, value);
  min_ = std::min(min_, value);
  sum_ += value;
  ++count_;
  ++counts_[bucket_index(std::min(value, value_max_))];
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  SLUICE_ASSERT(other.value_max_ == value_max_, "merging histograms of different limits");
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (other.count_ == 0) return;
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
}

double LatencyHistogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_);
}

uint64_t LatencyHistogram::value_at_percentile(double percentile) const {
  if (count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank of the value: at least 1, so p0 is the smallest value.
  auto rank = static_cast<uint64_t>(std::ceil(percentile / 100.0 * static_cast<double>(count_)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(bucket_highest(i), min(), max_);
  }
  return max_;
}

}  // namespace sluice::cli::bench
