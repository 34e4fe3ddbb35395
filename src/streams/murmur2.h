#pragma once
// Kafka's Utils.murmur2 (MurmurHash2, seed 0x9747b28c) and the partition a
// Java producer's default partitioner gives a key (BuiltInPartitioner
// .partitionForKey: the hash's low 31 bits modulo the partition count).
// librdkafka's "murmur2_random" partitioner, which the stream threads'
// producers use, computes the same; interactive queries use it to find the
// partition, hence the instance, a key's store lives on.

#include <cstdint>
#include <string_view>

namespace sluice::streams {

// Java's int arithmetic (wrapping) on uint32_t, returned as Java's int.
inline int32_t murmur2(std::string_view data) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kMix = 0x5bd1e995;
  constexpr int kShift = 24;
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(data[i])); };
  const size_t length = data.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  for (size_t i = 0; i + 4 <= length; i += 4) {
    uint32_t k = byte(i) | (byte(i + 1) << 8) | (byte(i + 2) << 16) | (byte(i + 3) << 24);
    k *= kMix;
    k ^= k >> kShift;
    k *= kMix;
    h *= kMix;
    h ^= k;
  }
  const size_t tail = length & ~size_t{3};
  switch (length % 4) {
    case 3:
      h ^= byte(tail + 2) << 16;
      [[fallthrough]];
    case 2:
      h ^= byte(tail + 1) << 8;
      [[fallthrough]];
    case 1:
      h ^= byte(tail);
      h *= kMix;
      break;
    default:
      break;
  }
  h ^= h >> 13;
  h *= kMix;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

// Kafka's BuiltInPartitioner.partitionForKey (Utils.toPositive: the sign
// bit cleared, not the absolute value).
inline int32_t partition_for_key(std::string_view key_bytes, int32_t num_partitions) {
  return static_cast<int32_t>(static_cast<uint32_t>(murmur2(key_bytes)) & 0x7fffffffU) %
         num_partitions;
}

}  // namespace sluice::streams
