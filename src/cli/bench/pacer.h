#pragma once
// The send schedule of a rate-limited run.
//
// Message i is due at start + i / rate: a fixed timetable that never resets
// when the sender falls behind. Latency is measured from that *intended*
// time, so a stall (of the broker or of the client) is charged to every
// message that should have been sent during it, not only to the one in
// flight: the correction for coordinated omission.

#include <chrono>
#include <cstdint>

namespace sluice::cli::bench {

class Pacer {
 public:
  using Clock = std::chrono::steady_clock;

  // rate_per_sec == 0 means unpaced: every message is due at once.
  Pacer(double rate_per_sec, Clock::time_point start) : rate_per_sec_(rate_per_sec), start_(start) {}

  // When message `index` (0-based) is due.
  Clock::time_point due(uint64_t index) const {
    if (rate_per_sec_ <= 0) return start_;
    auto offset_ns = static_cast<int64_t>(static_cast<double>(index) * 1e9 / rate_per_sec_);
    return start_ + std::chrono::nanoseconds(offset_ns);
  }
  // How many messages are due by `now` (the count, not an index).
  uint64_t due_count(Clock::time_point now) const;
  bool paced() const { return rate_per_sec_ > 0; }

 private:
  double rate_per_sec_;
  Clock::time_point start_;
};

inline uint64_t Pacer::due_count(Clock::time_point now) const {
  if (rate_per_sec_ <= 0) return UINT64_MAX;
  if (now < start_) return 0;
  double elapsed_sec = std::chrono::duration<double>(now - start_).count();
  return static_cast<uint64_t>(elapsed_sec * rate_per_sec_) + 1;
}

}  // namespace sluice::cli::bench
