#pragma once
// Kafka's 128-bit UUID (topic ids, directory ids), big-endian on the wire.

#include <array>
#include <cstdint>
#include <string>

namespace sluice {

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  bool is_zero() const {
    for (uint8_t b : bytes)
      if (b != 0) return false;
    return true;
  }
  friend bool operator==(const Uuid&, const Uuid&) = default;
  friend auto operator<=>(const Uuid&, const Uuid&) = default;
};

}  // namespace sluice
