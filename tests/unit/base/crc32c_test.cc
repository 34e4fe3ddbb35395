#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string_view>
#include <vector>

namespace sluice {
namespace {

Bytes as_bytes(std::string_view text) {
  return Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

std::vector<uint8_t> random_bytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(size);
  for (auto& byte : out) byte = static_cast<uint8_t>(rng());
  return out;
}

// Known answers, from RFC 3720 (iSCSI) appendix B.4 and the common check value.
TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c_portable(as_bytes("123456789")), 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0x00), ones(32, 0xff), ascending(32), descending(32);
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<uint8_t>(i);
    descending[i] = static_cast<uint8_t>(31 - i);
  }
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(crc32c(descending), 0x113FDB5Cu);
  EXPECT_EQ(crc32c_portable(zeros), 0x8A9136AAu);
  EXPECT_EQ(crc32c_portable(descending), 0x113FDB5Cu);
  EXPECT_EQ(crc32c(Bytes{}), 0u);
}

TEST(Crc32c, ExtendsAcrossSplits) {
  std::vector<uint8_t> data = random_bytes(5000, 7);
  uint32_t whole = crc32c(data);
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{768}, size_t{4999}, size_t{5000}}) {
    Bytes all(data);
    EXPECT_EQ(crc32c(all.subspan(split), crc32c(all.first(split))), whole) << split;
    EXPECT_EQ(crc32c_portable(all.subspan(split), crc32c_portable(all.first(split))), whole);
  }
}

TEST(Crc32c, HardwareAndPortableAgreeOnEveryLengthAndAlignment) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::vector<uint8_t> data = random_bytes(300 + 8, 42);
  for (size_t start = 0; start < 8; ++start) {
    for (size_t size = 0; size <= 300; ++size) {
      Bytes view(data.data() + start, size);
      ASSERT_EQ(crc32c_hardware(view), crc32c_portable(view)) << start << " " << size;
      ASSERT_EQ(crc32c_hardware(view, 0x12345678u), crc32c_portable(view, 0x12345678u));
    }
  }
}

// Large buffers go through the three-stream rounds (12 KiB and 768 B blocks).
TEST(Crc32c, HardwareAndPortableAgreeOnLargeBuffers) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  std::vector<uint8_t> data = random_bytes(70000, 3);
  for (size_t size : {767, 768, 769, 12287, 12288, 12289, 16384, 16391, 40000, 69990}) {
    for (size_t start : {0, 3}) {
      Bytes view(data.data() + start, size);
      ASSERT_EQ(crc32c_hardware(view), crc32c_portable(view)) << start << " " << size;
    }
  }
  EXPECT_EQ(crc32c(data), crc32c_portable(data));
}

}  // namespace
}  // namespace sluice
