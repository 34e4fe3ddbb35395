#include "cluster/ids.h"

namespace sluice::cluster {
namespace {

constexpr char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int alphabet_index(char c) {
  for (int i = 0; i < 64; ++i)
    if (alphabet[i] == c) return i;
  return -1;
}

bool is_reserved(const Uuid& id) {
  Uuid metadata_topic_id;
  metadata_topic_id.bytes[15] = 1;
  return id.is_zero() || id == metadata_topic_id;
}

}  // namespace

Uuid random_uuid(RandomSource& random) {
  for (;;) {
    Uuid id;
    for (size_t i = 0; i < 16; i += 8) {
      uint64_t word = random.next();
      for (size_t j = 0; j < 8; ++j) id.bytes[i + j] = static_cast<uint8_t>(word >> (8 * j));
    }
    id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
    id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // IETF variant
    if (!is_reserved(id) && uuid_to_string(id)[0] != '-') return id;
  }
}

std::string uuid_to_string(const Uuid& id) {
  std::string out;
  out.reserve(22);
  // 16 bytes = 5 groups of 3 bytes (4 characters each) + 1 byte (2 characters).
  for (size_t i = 0; i < 15; i += 3) {
    uint32_t group = (uint32_t{id.bytes[i]} << 16) | (uint32_t{id.bytes[i + 1]} << 8) |
                     id.bytes[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out += alphabet[(group >> shift) & 63];
  }
  out += alphabet[id.bytes[15] >> 2];
  out += alphabet[(id.bytes[15] & 3) << 4];
  return out;
}

std::optional<Uuid> uuid_from_string(std::string_view text) {
  if (text.size() != 22) return std::nullopt;
  int values[22];
  for (size_t i = 0; i < 22; ++i) {
    values[i] = alphabet_index(text[i]);
    if (values[i] < 0) return std::nullopt;
  }
  if ((values[21] & 15) != 0) return std::nullopt;  // bits past the 128th must be zero
  Uuid id;
  for (size_t g = 0; g < 5; ++g) {
    uint32_t group = 0;
    for (size_t k = 0; k < 4; ++k) group = (group << 6) | static_cast<uint32_t>(values[g * 4 + k]);
    id.bytes[g * 3] = static_cast<uint8_t>(group >> 16);
    id.bytes[g * 3 + 1] = static_cast<uint8_t>(group >> 8);
    id.bytes[g * 3 + 2] = static_cast<uint8_t>(group);
  }
  id.bytes[15] = static_cast<uint8_t>((values[20] << 2) | (values[21] >> 4));
  return id;
}

}  // namespace sluice::cluster
