#pragma once
// MurmurHash3 x64 128-bit, as Kafka Streams' state.internals.Murmur3.hash128
// computes it (seed 104729 by default): a foreign-key join's subscription
// carries this hash of the primary table's serialized value, and the
// response resolver drops answers whose hash no longer matches.

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::streams {

// Kafka's long[2] {h1, h2}.
using Hash128 = std::array<int64_t, 2>;

constexpr int32_t kMurmur3DefaultSeed = 104729;

Hash128 murmur3_hash128(std::string_view data, int32_t seed = kMurmur3DefaultSeed);

}  // namespace sluice::streams
