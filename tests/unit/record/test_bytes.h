#pragma once
// Helpers the record layer's unit tests share.

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "record/compression.h"

namespace sluice::record::testing {

inline constexpr Compression all_codecs[] = {
    Compression::none, Compression::gzip, Compression::snappy, Compression::lz4, Compression::zstd};

inline Bytes as_bytes(std::string_view text) {
  return Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

inline std::string as_string(Bytes bytes) { return std::string(bytes.begin(), bytes.end()); }

}  // namespace sluice::record::testing
