// Serdes write Kafka's bytes (IntegerSerializer, LongSerializer,
// DoubleSerializer, StringSerializer), so topics are shared with Kafka's
// clients and Kafka Streams applications.

#include "streams/serde.h"

#include <gtest/gtest.h>

namespace sluice::streams {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (int value : values) out.push_back(static_cast<char>(value));
  return out;
}

TEST(StreamsSerde, IntegersAreBigEndianTwosComplement) {
  Serde<int32_t> integer = serdes::integer();
  EXPECT_EQ(integer.serialize("t", 1), bytes({0, 0, 0, 1}));
  EXPECT_EQ(integer.serialize("t", -2), bytes({0xff, 0xff, 0xff, 0xfe}));
  EXPECT_EQ(integer.deserialize("t", bytes({0x12, 0x34, 0x56, 0x78})), 0x12345678);
  Serde<int64_t> long_serde = serdes::long_();
  EXPECT_EQ(long_serde.serialize("t", 258), bytes({0, 0, 0, 0, 0, 0, 1, 2}));
  EXPECT_EQ(long_serde.deserialize("t", bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})),
            -1);
  EXPECT_EQ(serdes::short_().serialize("t", int16_t{-1}), bytes({0xff, 0xff}));
}

TEST(StreamsSerde, FloatingPointIsIeee754BigEndian) {
  EXPECT_EQ(serdes::double_().serialize("t", 1.0), bytes({0x3f, 0xf0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(serdes::double_().deserialize("t", bytes({0xc0, 0, 0, 0, 0, 0, 0, 0})), -2.0);
  EXPECT_EQ(serdes::float_().serialize("t", 1.5f), bytes({0x3f, 0xc0, 0, 0}));
}

TEST(StreamsSerde, WrongSizesAndNullsAreSerializationErrors) {
  try {
    serdes::integer().deserialize("t", bytes({1, 2}));
    FAIL() << "no error";
  } catch (const SerializationError& e) {
    EXPECT_STREQ(e.what(), "Size of data received by IntegerDeserializer is not 4");
  }
  EXPECT_THROW(serdes::long_().deserialize("t", std::nullopt), SerializationError);
  EXPECT_THROW(serdes::json().deserialize("t", std::string_view("{nope")), SerializationError);
}

TEST(StreamsSerde, StringsReadNullAsEmptyAndOptionalKeepsNull) {
  EXPECT_EQ(serdes::string().serialize("t", "héllo"), "héllo");
  EXPECT_EQ(serdes::string().deserialize("t", std::nullopt), "");
  Serde<std::optional<int64_t>> optional = serdes::optional(serdes::long_());
  EXPECT_EQ(optional.serialize("t", std::nullopt), std::nullopt);
  EXPECT_EQ(optional.deserialize("t", std::nullopt), std::nullopt);
  EXPECT_EQ(optional.deserialize("t", bytes({0, 0, 0, 0, 0, 0, 0, 7})), 7);
  EXPECT_TRUE(is_null_value(std::optional<int>()));
  EXPECT_FALSE(is_null_value(std::string()));
}

struct PageView {
  std::string user;
  std::string page;
  int64_t time = 0;
};
void to_json(nlohmann::json& json, const PageView& view) {
  json = {{"user", view.user}, {"page", view.page}, {"time", view.time}};
}
void from_json(const nlohmann::json& json, PageView& view) {
  json.at("user").get_to(view.user);
  json.at("page").get_to(view.page);
  json.at("time").get_to(view.time);
}

TEST(StreamsSerde, UserTypesThroughJson) {
  Serde<PageView> serde = serdes::json_of<PageView>();
  std::optional<std::string> text = serde.serialize("t", PageView{"ada", "/home", 5});
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, R"({"page":"/home","time":5,"user":"ada"})");
  PageView back = serde.deserialize("t", std::string_view(*text));
  EXPECT_EQ(back.user, "ada");
  EXPECT_EQ(back.time, 5);
  EXPECT_THROW(serde.deserialize("t", std::string_view(R"({"user":"x"})")), SerializationError);
}

}  // namespace
}  // namespace sluice::streams
