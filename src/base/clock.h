#pragma once
// Time behind an interface (DESIGN.md "simulation-ready"): code that needs
// the time takes a `const Clock&`, so tests and the simulator drive it with a
// ManualClock while the broker passes system_clock().
//
// Two kinds of time, never mixed:
//   - now_ms(): wall-clock milliseconds since the Unix epoch. What Kafka
//     stores and compares (record timestamps, retention.ms, segment.ms). It
//     may jump (NTP, an operator setting the date).
//   - monotonic(): a steady duration since an arbitrary origin. For
//     deadlines and intervals (schedulers, timeouts); never goes back.
//
// Thread-safety: every method of both clocks may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;
  virtual std::chrono::nanoseconds monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
  std::chrono::nanoseconds monotonic() const override {
    return std::chrono::steady_clock::now().time_since_epoch();
  }
};

// The process-wide system clock (stateless, so one instance serves all).
inline const Clock& system_clock() {
  static const SystemClock clock;
  return clock;
}

// A clock that moves only when told to. advance() moves both times together;
// set_now_ms() moves the wall clock alone (to test a jump).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 1'000'000'000'000) : now_ms_(now_ms) {}

  int64_t now_ms() const override { return now_ms_.load(std::memory_order_relaxed); }
  std::chrono::nanoseconds monotonic() const override {
    return std::chrono::nanoseconds(monotonic_ns_.load(std::memory_order_relaxed));
  }

  void advance(std::chrono::nanoseconds by) {
    monotonic_ns_.fetch_add(by.count(), std::memory_order_relaxed);
    now_ms_.fetch_add(std::chrono::duration_cast<std::chrono::milliseconds>(by).count(), std::memory_order_relaxed);
  }
  void advance_ms(int64_t ms) { advance(std::chrono::milliseconds(ms)); }
  void set_now_ms(int64_t now_ms) { now_ms_.store(now_ms, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_ms_;
  std::atomic<int64_t> monotonic_ns_{0};
};

}  // namespace sluice
