#include "cli/bench/payload.h"

#include <gtest/gtest.h>

namespace sluice::cli::bench {
namespace {

TEST(PayloadTest, HeaderRoundTrips) {
  std::string value(64, 'x');
  write_payload_header({0x0102030405060708, 42, 1234567890123}, value.data());
  auto header = read_payload_header(value.data(), value.size());
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->run_id, 0x0102030405060708u);
  EXPECT_EQ(header->sequence, 42u);
  EXPECT_EQ(header->intended_send_ns, 1234567890123);
  EXPECT_EQ(value.substr(kPayloadHeaderBytes), std::string(64 - kPayloadHeaderBytes, 'x'));
}

TEST(PayloadTest, ForeignOrShortValuesHaveNoHeader) {
  std::string value(64, 'x');
  EXPECT_FALSE(read_payload_header(value.data(), value.size()).has_value());
  write_payload_header({1, 2, 3}, value.data());
  EXPECT_FALSE(read_payload_header(value.data(), kPayloadHeaderBytes - 1).has_value());
  EXPECT_FALSE(read_payload_header(nullptr, 0).has_value());
}

TEST(PayloadTest, PoolIsLettersAndSeeded) {
  std::string pool = make_payload_pool(100, 50, 9);
  EXPECT_EQ(pool.size(), 150u);
  for (char c : pool) EXPECT_TRUE(c >= 'A' && c <= 'Z');
  EXPECT_EQ(pool, make_payload_pool(100, 50, 9));
  EXPECT_NE(pool, make_payload_pool(100, 50, 10));
}

}  // namespace
}  // namespace sluice::cli::bench
