#include "streams/murmur3.h"

#include <bit>

namespace sluice::streams {
namespace {

constexpr uint64_t kC1 = 0x87c37b91114253d5ULL;
constexpr uint64_t kC2 = 0x4cf5ad432745937fULL;

uint64_t fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Little-endian 64-bit word from up to 8 bytes.
uint64_t little_endian(std::string_view bytes) {
  uint64_t word = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    word |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  }
  return word;
}

uint64_t mix_k1(uint64_t k1) { return std::rotl(k1 * kC1, 31) * kC2; }
uint64_t mix_k2(uint64_t k2) { return std::rotl(k2 * kC2, 33) * kC1; }

}  // namespace

Hash128 murmur3_hash128(std::string_view data, int32_t seed) {
  // Java sign-extends the int seed into both longs.
  auto h1 = static_cast<uint64_t>(static_cast<int64_t>(seed));
  uint64_t h2 = h1;
  const size_t blocks = data.size() / 16;
  for (size_t i = 0; i < blocks; ++i) {
    h1 ^= mix_k1(little_endian(data.substr(i * 16, 8)));
    h1 = std::rotl(h1, 27) + h2;
    h1 = h1 * 5 + 0x52dce729;
    h2 ^= mix_k2(little_endian(data.substr(i * 16 + 8, 8)));
    h2 = std::rotl(h2, 31) + h1;
    h2 = h2 * 5 + 0x38495ab5;
  }
  std::string_view tail = data.substr(blocks * 16);
  if (tail.size() > 8) h2 ^= mix_k2(little_endian(tail.substr(8)));
  if (!tail.empty()) h1 ^= mix_k1(little_endian(tail.substr(0, 8)));
  h1 ^= data.size();
  h2 ^= data.size();
  h1 += h2;
  h2 += h1;
  h1 = fmix64(h1);
  h2 = fmix64(h2);
  h1 += h2;
  h2 += h1;
  return {static_cast<int64_t>(h1), static_cast<int64_t>(h2)};
}

}  // namespace sluice::streams
