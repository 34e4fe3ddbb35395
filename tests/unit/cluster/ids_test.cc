#include <gtest/gtest.h>

#include <set>

#include "cluster/ids.h"

namespace sluice::cluster {
namespace {

TEST(Ids, ZeroUuidIsTwentyTwoAs) {
  EXPECT_EQ(uuid_to_string(Uuid{}), "AAAAAAAAAAAAAAAAAAAAAA");
}

TEST(Ids, KnownValue) {
  Uuid id;
  for (size_t i = 0; i < 16; ++i) id.bytes[i] = static_cast<uint8_t>(0xff);
  // 128 one-bits: 21 full '_' characters, then the last 2 bits as "w" (110000).
  EXPECT_EQ(uuid_to_string(id), "_____________________w");
}

TEST(Ids, RoundTripsAndRejectsBadText) {
  for (int i = 0; i < 200; ++i) {
    Uuid id = random_uuid(system_random());
    std::string text = uuid_to_string(id);
    ASSERT_EQ(text.size(), 22u);
    EXPECT_NE(text[0], '-');
    auto back = uuid_from_string(text);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, id);
  }
  EXPECT_FALSE(uuid_from_string("short").has_value());
  EXPECT_FALSE(uuid_from_string("AAAAAAAAAAAAAAAAAAAAA=").has_value());
  EXPECT_FALSE(uuid_from_string("AAAAAAAAAAAAAAAAAAAAAB").has_value());  // bits past 128
}

TEST(Ids, RandomIdsAreVersion4AndDistinct) {
  std::set<Uuid> seen;
  for (int i = 0; i < 100; ++i) {
    Uuid id = random_uuid(system_random());
    EXPECT_EQ(id.bytes[6] >> 4, 4);
    EXPECT_EQ(id.bytes[8] >> 6, 2);
    EXPECT_TRUE(seen.insert(id).second);
  }
}

}  // namespace
}  // namespace sluice::cluster
