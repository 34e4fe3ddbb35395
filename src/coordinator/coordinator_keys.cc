// Kafka's partitioning of coordinator keys (see coordinator_keys.h).
#include "coordinator/coordinator_keys.h"

#include <cstddef>

namespace sluice::coordinator {

int32_t java_string_hash(const std::string& text) {
  // UTF-8 -> UTF-16 code units, then h = 31 * h + unit (wrapping, as Java).
  uint32_t hash = 0;
  auto mix = [&hash](uint32_t unit) { hash = 31 * hash + unit; };
  for (size_t i = 0; i < text.size();) {
    auto byte = static_cast<uint8_t>(text[i]);
    uint32_t code = byte;
    size_t length = 1;
    if (byte >= 0xF0)
      length = 4, code = byte & 0x07;
    else if (byte >= 0xE0)
      length = 3, code = byte & 0x0F;
    else if (byte >= 0xC0)
      length = 2, code = byte & 0x1F;
    if (i + length > text.size()) length = 1, code = byte;  // malformed tail: one unit per byte
    for (size_t k = 1; k < length; ++k)
      code = (code << 6) | (static_cast<uint8_t>(text[i + k]) & 0x3F);
    i += length;
    if (code >= 0x10000) {
      code -= 0x10000;
      mix(0xD800 + (code >> 10));
      mix(0xDC00 + (code & 0x3FF));
    } else {
      mix(code);
    }
  }
  return static_cast<int32_t>(hash);
}

int32_t partition_for_key(const std::string& key, int32_t partitions) {
  int32_t hash = java_string_hash(key);
  // Kafka's Utils.abs: Integer.MIN_VALUE maps to 0.
  int32_t positive = hash == INT32_MIN ? 0 : (hash < 0 ? -hash : hash);
  return positive % partitions;
}

}  // namespace sluice::coordinator
