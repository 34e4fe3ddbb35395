#include "base/bytes.h"

#include <gtest/gtest.h>

#include <limits>

namespace sluice {
namespace {

std::vector<uint8_t> encode(auto&& write) {
  WireWriter writer;
  write(writer);
  return writer.to_vector();
}

TEST(WireReader, ReadsBigEndianIntegers) {
  const std::vector<uint8_t> input = {0x01, 0x02, 0x03, 0x04, 0xff, 0xfe};
  WireReader reader(input);
  EXPECT_EQ(reader.read_int32(), 0x01020304);
  EXPECT_EQ(reader.read_int16(), -2);
  EXPECT_TRUE(reader.ok());
  EXPECT_TRUE(reader.at_end());
}

TEST(WireReader, TruncationIsStickyAndNamesTheShortfall) {
  const std::vector<uint8_t> input = {0x00, 0x01};
  WireReader reader(input);
  EXPECT_EQ(reader.read_int32(), 0);
  EXPECT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), Errc::truncated);
  EXPECT_EQ(reader.status().message(), "need 4 bytes, 2 left");
  EXPECT_EQ(reader.read_int8(), 0);
  EXPECT_EQ(reader.status().message(), "need 4 bytes, 2 left");
}

TEST(WireReader, RejectsOverlongAndOverflowingVarints) {
  const std::vector<uint8_t> six_bytes = {0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  WireReader overlong(six_bytes);
  overlong.read_uvarint();
  EXPECT_EQ(overlong.status().code(), Errc::varint_overflow);

  const std::vector<uint8_t> too_big = {0xff, 0xff, 0xff, 0xff, 0x7f};  // 35 bits
  WireReader overflow(too_big);
  overflow.read_uvarint();
  EXPECT_EQ(overflow.status().code(), Errc::varint_overflow);

  const std::vector<uint8_t> unterminated = {0x80, 0x80};
  WireReader truncated(unterminated);
  truncated.read_uvarint();
  EXPECT_EQ(truncated.status().code(), Errc::truncated);
}

TEST(Varint, RoundTripsExtremesWithZigZag) {
  for (int32_t value : {0, 1, -1, 63, -64, 64, std::numeric_limits<int32_t>::max(),
                        std::numeric_limits<int32_t>::min()}) {
    auto bytes = encode([&](WireWriter& w) { w.write_varint(value); });
    EXPECT_EQ(bytes.size(), varint_size(value));
    WireReader reader(bytes);
    EXPECT_EQ(reader.read_varint(), value);
    EXPECT_TRUE(reader.at_end());
  }
  for (int64_t value : {int64_t{0}, int64_t{-1}, std::numeric_limits<int64_t>::max(),
                        std::numeric_limits<int64_t>::min()}) {
    auto bytes = encode([&](WireWriter& w) { w.write_varlong(value); });
    EXPECT_EQ(bytes.size(), varlong_size(value));
    WireReader reader(bytes);
    EXPECT_EQ(reader.read_varlong(), value);
  }
}

TEST(Varint, KnownEncodings) {
  EXPECT_EQ(encode([](WireWriter& w) { w.write_uvarint(300); }),
            (std::vector<uint8_t>{0xac, 0x02}));
  EXPECT_EQ(encode([](WireWriter& w) { w.write_varint(-1); }), (std::vector<uint8_t>{0x01}));
  EXPECT_EQ(encode([](WireWriter& w) { w.write_varint(1); }), (std::vector<uint8_t>{0x02}));
}

TEST(WireWriter, ReferencesLargeRangesInsteadOfCopying) {
  std::vector<uint8_t> large(WireWriter::external_threshold_bytes, 0xab);
  WireWriter writer;
  writer.write_int32(7);
  writer.write_external(large);
  writer.write_int8(1);
  auto slices = writer.slices();
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[1].data, large.data());
  EXPECT_EQ(writer.size(), 4 + large.size() + 1);
  auto flat = writer.to_vector();
  EXPECT_EQ(flat.size(), writer.size());
  EXPECT_EQ(flat.back(), 1);
  EXPECT_EQ(flat[4], 0xab);
}

}  // namespace
}  // namespace sluice
