#pragma once
// Wire bytes written out in a test, one int per byte.

#include <cstdint>
#include <initializer_list>
#include <vector>

namespace sluice::protocol::testing {

inline std::vector<uint8_t> bytes_of(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

}  // namespace sluice::protocol::testing
