#pragma once
// Randomness behind an interface, as time is behind Clock (DESIGN.md
// "simulation-ready"): code that makes ids (topic, cluster, directory and
// incarnation ids, group member ids, the suffix of a deleted log's dir)
// takes a `RandomSource&` from its owner, so tests and the simulator get the
// same ids from the same seed while the broker passes system_random().
//
// Thread-safety: next() may be called from any thread.

#include <cstdint>
#include <mutex>
#include <random>

namespace sluice {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // 64 uniformly distributed bits.
  virtual uint64_t next() = 0;
};

// A reproducible sequence: the same seed gives the same values.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  uint64_t next() override {
    std::lock_guard lock(mutex_);
    return engine_();
  }

 private:
  std::mutex mutex_;
  std::mt19937_64 engine_;
};

// The process's source, seeded once from the system's entropy.
inline RandomSource& system_random() {
  static SeededRandom random([] {
    std::random_device device;
    return (static_cast<uint64_t>(device()) << 32) ^ device();
  }());
  return random;
}

}  // namespace sluice
