// StringConverter, ByteArrayConverter, SimpleHeaderConverter and the
// factories by Kafka's class names.

#include <gtest/gtest.h>

#include "connect/converter.h"
#include "connect/values.h"

namespace sluice::connect {
namespace {

std::unique_ptr<Converter> configured_converter(const std::string& name,
                                                Properties properties = {}) {
  Result<std::unique_ptr<Converter>> converter = make_converter(name, properties, false);
  EXPECT_TRUE(converter.is_ok()) << converter.status().message();
  return converter.is_ok() ? std::move(converter).value() : nullptr;
}

TEST(StringConverter, BothDirections) {
  auto converter = configured_converter("org.apache.kafka.connect.storage.StringConverter");
  EXPECT_EQ(**converter->from_connect_data("t", primitive_schema(SchemaType::string), "hello"),
            "hello");
  EXPECT_EQ(**converter->from_connect_data("t", nullptr, 42), "42");
  EXPECT_FALSE(converter->from_connect_data("t", nullptr, Value())->has_value());
  SchemaAndValue back = *converter->to_connect_data("t", std::string("hello"));
  EXPECT_TRUE(schema_equals(back.schema, primitive_schema(SchemaType::string, true)));
  EXPECT_EQ(back.value, Value("hello"));
  EXPECT_TRUE(converter->to_connect_data("t", std::nullopt)->value.is_null());
}

TEST(ByteArrayConverter, BytesOnly) {
  auto converter = configured_converter("ByteArrayConverter");
  EXPECT_EQ(
      **converter->from_connect_data("t", primitive_schema(SchemaType::bytes), Bytes{"\x01\x02"}),
      "\x01\x02");
  EXPECT_EQ(converter->from_connect_data("t", primitive_schema(SchemaType::string), "x")
                .status()
                .message(),
            "Invalid schema type for ByteArrayConverter: STRING");
  EXPECT_EQ(converter->from_connect_data("t", nullptr, "x").status().message(),
            "ByteArrayConverter is not compatible with objects of type class java.lang.String");
  EXPECT_EQ(converter->to_connect_data("t", std::string("ab"))->value, Value(Bytes{"ab"}));
}

TEST(ConverterFactory, UnknownClassAndSettings) {
  EXPECT_EQ(make_converter("com.example.Nope", {}, false, "value.converter").status().message(),
            "Invalid value com.example.Nope for configuration value.converter: Class "
            "com.example.Nope could not be "
            "found.");
  EXPECT_TRUE(make_converter("org.apache.kafka.connect.json.JsonConverter",
                             {{"schemas.enable", "false"}}, true)
                  .is_ok());
}

TEST(SimpleHeaderConverter, InfersScalarsAndWritesTheirText) {
  Result<std::unique_ptr<HeaderConverter>> made =
      make_header_converter("org.apache.kafka.connect.storage.SimpleHeaderConverter", {});
  ASSERT_TRUE(made.is_ok());
  HeaderConverter& headers = **made;
  SchemaAndValue number = *headers.to_connect_header("t", "h", std::string("42"));
  EXPECT_EQ(number.schema->type, SchemaType::int8);
  EXPECT_EQ(number.value, Value(int8_t{42}));
  EXPECT_EQ(headers.to_connect_header("t", "h", std::string("100000"))->value, Value(100000));
  EXPECT_EQ(headers.to_connect_header("t", "h", std::string("1.5"))->value, Value(1.5f));
  EXPECT_EQ(headers.to_connect_header("t", "h", std::string("true"))->value, Value(true));
  EXPECT_EQ(headers.to_connect_header("t", "h", std::string("hello world"))->value,
            Value("hello world"));
  EXPECT_TRUE(headers.to_connect_header("t", "h", std::string("null"))->value.is_null());
  EXPECT_EQ(**headers.from_connect_header("t", "h", nullptr, int64_t{7}), "7");
  EXPECT_EQ(**headers.from_connect_header("t", "h", nullptr, List{Value("a"), Value(1)}),
            R"(["a",1])");
  EXPECT_FALSE(headers.from_connect_header("t", "h", nullptr, Value())->has_value());
}

}  // namespace
}  // namespace sluice::connect
