#pragma once
// A test's text as the bytes a SASL exchange carries.

#include <cstdint>
#include <string_view>

#include "base/bytes.h"

namespace sluice::security::testing {

inline Bytes bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

}  // namespace sluice::security::testing
