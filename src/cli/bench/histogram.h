#pragma once
// A log-linear latency histogram in the manner of HdrHistogram.
//
// Values (nanoseconds, or any non-negative integer unit) below 2^8 are kept
// exactly; above, each power-of-two range is split into 128 equal buckets, so
// a bucket is never wider than 1/128 (< 0.8%) of the values it holds. A
// percentile is reported as the highest value its bucket can hold (clamped to
// the exact maximum seen), so reported figures err on the high side, never
// hide a slow tail. Recording is O(1) and allocation free; the bucket array
// is allocated once (about 50 KiB). Not thread-safe: one histogram per
// thread, merged at the end.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::cli::bench {

class LatencyHistogram {
 public:
  // Values above `value_max` are counted at `value_max` (and still set max()).
  explicit LatencyHistogram(uint64_t value_max);
  // Up to 2^42 ns, about 73 minutes.
  LatencyHistogram() : LatencyHistogram(uint64_t{1} << 42) {}

  void record(uint64_t value);
  // Adds every count of `other`, which must have the same value_max.
  void merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const;
  // `percentile` in [0, 100]. 0 when empty.
  uint64_t value_at_percentile(double percentile) const;

  // Bucket geometry, exposed for tests.
  static size_t bucket_index(uint64_t value);
  static uint64_t bucket_lowest(size_t index);
  static uint64_t bucket_highest(size_t index);

 private:
  uint64_t value_max_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace sluice::cli::bench
