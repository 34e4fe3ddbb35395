#pragma once
// Message values of a bench run. Values are letters drawn at random (so
// compression sees realistic, not all-zero, input), taken at varying offsets
// of one pool. An e2e value starts with a header carrying the run id, a
// sequence number and the intended send time, read back by the consumer:
// latency is then consume time minus that time, on the same host clock
// (std::chrono::steady_clock, both ends in this process).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace sluice::cli::bench {

constexpr size_t kPayloadHeaderBytes = 28;
constexpr uint64_t kWarmupSequence = UINT64_MAX;

struct PayloadHeader {
  uint64_t run_id = 0;
  uint64_t sequence = 0;  // kWarmupSequence for warm-up messages
  int64_t intended_send_ns = 0;
};

// Writes the header into the first kPayloadHeaderBytes of `value`.
void write_payload_header(const PayloadHeader& header, char* value);
// The header of `value`, or nullopt when it is too short or not one of ours.
std::optional<PayloadHeader> read_payload_header(const void* value, size_t size);

// `size` + `spread` random capital letters; a value of `size` bytes may
// start at any offset in [0, spread).
std::string make_payload_pool(size_t size, size_t spread, uint64_t seed);

inline int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
inline int64_t to_ns(std::chrono::steady_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

}  // namespace sluice::cli::bench
