// JsonConverter: the exact bytes Kafka's JsonConverter writes for the same
// schema and value (expected JSON from JsonConverterTest, in the key order
// JsonConverter.asJsonSchema builds), reading back, and Kafka's messages.

#include "connect/json_converter.h"

#include <gtest/gtest.h>

#include "connect/java_text.h"

namespace sluice::connect {
namespace {

JsonConverter converter(Properties properties = {}) {
  JsonConverter json;
  EXPECT_TRUE(json.configure(properties, false).is_ok());
  return json;
}

std::string to_json(JsonConverter& json, const SchemaPtr& schema, const Value& value) {
  Result<RecordBytes> bytes = json.from_connect_data("topic", schema, value);
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
  return bytes.is_ok() && *bytes ? **bytes : "<null>";
}

SchemaAndValue from_json(JsonConverter& json, const std::string& text) {
  Result<SchemaAndValue> result = json.to_connect_data("topic", text);
  EXPECT_TRUE(result.is_ok()) << result.status().message();
  return result.is_ok() ? *result : SchemaAndValue{};
}

std::string read_error(JsonConverter& json, const std::string& text) {
  return json.to_connect_data("topic", text).status().message();
}

TEST(JsonConverter, PrimitivesInTheEnvelope) {
  JsonConverter json = converter();
  EXPECT_EQ(to_json(json, primitive_schema(SchemaType::boolean), true),
            R"({"schema":{"type":"boolean","optional":false},"payload":true})");
  EXPECT_EQ(to_json(json, primitive_schema(SchemaType::boolean, true), Value()),
            R"({"schema":{"type":"boolean","optional":true},"payload":null})");
  EXPECT_EQ(to_json(json, primitive_schema(SchemaType::int8), int8_t{12}),
            R"({"schema":{"type":"int8","optional":false},"payload":12})");
  EXPECT_EQ(to_json(json, primitive_schema(SchemaType::int64), int64_t{4398046511104}),
            R"({"schema":{"type":"int64","optional":false},"payload":4398046511104})");
  EXPECT_EQ(to_json(json, primitive_schema(SchemaType::float32), 12.34f),
            R"({"schema":{"type":"float","optional":false},"payload":12.34})");
  EXPECT_EQ(to_json(json, primitive_schema(SchemaType::float64), 12.34),
            R"({"schema":{"type":"double","optional":false},"payload":12.34})");
  EXPECT_EQ(to_json(json, primitive_schema(SchemaType::bytes), Bytes{"test-string"}),
            R"({"schema":{"type":"bytes","optional":false},"payload":"dGVzdC1zdHJpbmc="})");
  EXPECT_EQ(to_json(json, primitive_schema(SchemaType::string), "test-string"),
            R"({"schema":{"type":"string","optional":false},"payload":"test-string"})");
}

TEST(JsonConverter, SchemaSettingsInKafkasOrder) {
  JsonConverter json = converter();
  EXPECT_EQ(to_json(json, SchemaBuilder::boolean().default_value(true).build_or_die(), true),
            R"({"schema":{"type":"boolean","optional":false,"default":true},"payload":true})");
  SchemaPtr named = SchemaBuilder::boolean()
                        .required()
                        .name("bool")
                        .version(3)
                        .doc("the documentation")
                        .parameter("foo", "bar")
                        .build_or_die();
  EXPECT_EQ(
      to_json(json, named, true),
      R"({"schema":{"type":"boolean","optional":false,"name":"bool","version":3,"doc":"the documentation",)"
      R"("parameters":{"foo":"bar"}},"payload":true})");
}

TEST(JsonConverter, ArraysMapsAndStructs) {
  JsonConverter json = converter();
  SchemaPtr int32 = primitive_schema(SchemaType::int32);
  EXPECT_EQ(
      to_json(json, SchemaBuilder::array(int32).build_or_die(), List{Value(1), Value(2), Value(3)}),
      R"({"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},)"
      R"("payload":[1,2,3]})");
  Map string_keys{MapEntry{"key1", 12}, MapEntry{"key2", 15}};
  EXPECT_EQ(
      to_json(json, SchemaBuilder::map(primitive_schema(SchemaType::string), int32).build_or_die(),
              string_keys),
      R"({"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32",)"
      R"("optional":false},"optional":false},"payload":{"key1":12,"key2":15}})");
  Map int_keys{MapEntry{1, 12}, MapEntry{2, 15}};
  EXPECT_EQ(
      to_json(json, SchemaBuilder::map(int32, int32).build_or_die(), int_keys),
      R"({"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32",)"
      R"("optional":false},"optional":false},"payload":[[1,12],[2,15]]})");
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("field1", primitive_schema(SchemaType::boolean))
                         .field("field2", primitive_schema(SchemaType::string))
                         .build_or_die();
  Struct value(schema);
  ASSERT_TRUE(value.put("field1", true).is_ok());
  ASSERT_TRUE(value.put("field2", "string2").is_ok());
  EXPECT_EQ(
      to_json(json, schema, value),
      R"({"schema":{"type":"struct","fields":[{"type":"boolean","optional":false,"field":"field1"},)"
      R"({"type":"string","optional":false,"field":"field2"}],"optional":false},)"
      R"("payload":{"field1":true,"field2":"string2"}})");
}

TEST(JsonConverter, LogicalTypes) {
  JsonConverter json = converter();
  Decimal decimal{twos_complement_bytes(156), 2};
  EXPECT_EQ(
      to_json(json, decimal_schema(2).build_or_die(), decimal),
      R"({"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal",)"
      R"("version":1,"parameters":{"scale":"2"}},"payload":"AJw="})");
  JsonConverter numeric = converter({{"decimal.format", "NUMERIC"}});
  EXPECT_EQ(
      to_json(numeric, decimal_schema(2).build_or_die(), decimal),
      R"({"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal",)"
      R"("version":1,"parameters":{"scale":"2"}},"payload":1.56})");
  EXPECT_EQ(
      to_json(json, date_schema().build_or_die(), DateTime{10000LL * 86'400'000}),
      R"({"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date",)"
      R"("version":1},"payload":10000})");
  EXPECT_EQ(
      to_json(json, time_schema().build_or_die(), DateTime{14'400'000}),
      R"({"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time",)"
      R"("version":1},"payload":14400000})");
  EXPECT_EQ(
      to_json(json, timestamp_schema().build_or_die(), DateTime{4'000'000'000}),
      R"({"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp",)"
      R"("version":1},"payload":4000000000})");
  EXPECT_EQ(
      json.from_connect_data("t", decimal_schema(3).build_or_die(), decimal).status().message(),
      "Decimal value has mismatching scale for given Decimal schema. Schema has scale 3, value has "
      "scale 2.");
  EXPECT_EQ(json.from_connect_data("t", nullptr, decimal).status().message(),
            "Java class class java.math.BigDecimal does not have corresponding schema type.");
}

TEST(JsonConverter, SchemalessAndDisabledSchemas) {
  JsonConverter json = converter();
  EXPECT_EQ(to_json(json, nullptr, true), R"({"schema":null,"payload":true})");
  JsonConverter plain = converter({{"schemas.enable", "false"}});
  EXPECT_EQ(to_json(plain, primitive_schema(SchemaType::boolean), true), "true");
  EXPECT_EQ(to_json(plain, nullptr, List{Value(1), Value("string"), Value(true)}),
            R"([1,"string",true])");
  Map mixed{MapEntry{"key1", 12}, MapEntry{"key2", "value2"}};
  EXPECT_EQ(to_json(plain, nullptr, mixed), R"({"key1":12,"key2":"value2"})");
  Map int_keys{MapEntry{1, 12}, MapEntry{"two", 15}};
  EXPECT_EQ(to_json(plain, nullptr, int_keys), R"([[1,12],["two",15]])");
  EXPECT_FALSE(json.from_connect_data("t", nullptr, Value())->has_value());
}

TEST(JsonConverter, NullsAndDefaults) {
  JsonConverter json = converter();
  SchemaPtr with_default = SchemaBuilder::int32().default_value(5).build_or_die();
  EXPECT_EQ(to_json(json, with_default, Value()),
            R"({"schema":{"type":"int32","optional":false,"default":5},"payload":5})");
  EXPECT_EQ(
      json.from_connect_data("t", primitive_schema(SchemaType::int32), Value()).status().message(),
      "Conversion error: null value for field that is required and has no default value");
  EXPECT_EQ(
      json.from_connect_data("t", primitive_schema(SchemaType::float64), true).status().message(),
      "Invalid type for FLOAT64: class java.lang.Boolean");
}

TEST(JsonConverter, ReadsTheEnvelope) {
  JsonConverter json = converter();
  SchemaAndValue boolean =
      from_json(json, R"({ "schema": { "type": "boolean" }, "payload": true })");
  EXPECT_TRUE(schema_equals(boolean.schema, primitive_schema(SchemaType::boolean)));
  EXPECT_EQ(boolean.value, Value(true));
  SchemaAndValue optional =
      from_json(json, R"({"schema":{"type":"string","optional":true},"payload":null})");
  EXPECT_TRUE(optional.schema->optional);
  EXPECT_TRUE(optional.value.is_null());
  SchemaAndValue map = from_json(
      json,
      R"({"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"int32"}},"payload":[[1,12],[2,15]]})");
  EXPECT_EQ(map.value, Value(Map{MapEntry{1, 12}, MapEntry{2, 15}}));
  SchemaAndValue decimal = from_json(
      json,
      R"({"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","version":1,)"
      R"("parameters":{"scale":"2"}},"payload":"AJw="})");
  EXPECT_EQ(decimal.value, Value(Decimal{twos_complement_bytes(156), 2}));
  SchemaAndValue date = from_json(
      json,
      R"({"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000})");
  EXPECT_EQ(date.value, Value(DateTime{10000LL * 86'400'000}));
  SchemaAndValue defaulted =
      from_json(json, R"({"schema":{"type":"int32","default":5},"payload":null})");
  EXPECT_EQ(defaulted.value, Value(5));
}

TEST(JsonConverter, RoundTripsANestedStruct) {
  JsonConverter json = converter();
  SchemaPtr inner =
      SchemaBuilder::structure()
          .name("inner")
          .field("when", timestamp_schema().optional().build_or_die())
          .field("tags", SchemaBuilder::array(primitive_schema(SchemaType::string)).build_or_die())
          .build_or_die();
  SchemaPtr outer = SchemaBuilder::structure()
                        .field("id", primitive_schema(SchemaType::int64))
                        .field("ratio", primitive_schema(SchemaType::float32, true))
                        .field("inner", inner)
                        .field("blob", primitive_schema(SchemaType::bytes, true))
                        .build_or_die();
  Struct inner_value(inner);
  ASSERT_TRUE(inner_value.put("when", DateTime{1'700'000'000'000}).is_ok());
  ASSERT_TRUE(inner_value.put("tags", List{Value("a"), Value("b")}).is_ok());
  Struct outer_value(outer);
  ASSERT_TRUE(outer_value.put("id", int64_t{42}).is_ok());
  ASSERT_TRUE(outer_value.put("ratio", 0.5f).is_ok());
  ASSERT_TRUE(outer_value.put("inner", inner_value).is_ok());
  std::string bytes = to_json(json, outer, outer_value);
  SchemaAndValue back = from_json(json, bytes);
  EXPECT_TRUE(schema_equals(back.schema, outer));
  EXPECT_EQ(back.value, Value(outer_value));
}

TEST(JsonConverter, SchemaCachesShareAndStayExact) {
  for (const char* cache_size : {"1000", "1", "0"}) {
    JsonConverter json = converter({{"schemas.cache.size", cache_size}});
    const std::string text =
        R"({"schema":{"type":"struct","fields":[{"type":"int8","optional":false,)"
        R"("field":"a"}],"optional":false},"payload":{"a":1}})";
    SchemaAndValue first = from_json(json, text);
    SchemaAndValue second = from_json(json, text);
    EXPECT_TRUE(schema_equals(first.schema, second.schema));
    if (std::string(cache_size) != "0") {
      EXPECT_EQ(first.schema, second.schema) << cache_size;  // one SchemaPtr for both
    }
    EXPECT_EQ(to_json(json, first.schema, first.value), text);
    EXPECT_EQ(to_json(json, second.schema, second.value), text);
    EXPECT_EQ(to_json(json, primitive_schema(SchemaType::int8), int8_t{2}),
              R"({"schema":{"type":"int8","optional":false},"payload":2})");
  }
}

TEST(JsonConverter, PlainJsonWithoutSchemas) {
  JsonConverter plain = converter({{"schemas.enable", "false"}});
  SchemaAndValue value = from_json(plain, R"({"a":1,"b":[1.5,"x",null],"c":{"d":true}})");
  EXPECT_EQ(value.schema, nullptr);
  Map expected{MapEntry{"a", int64_t{1}}, MapEntry{"b", List{Value(1.5), Value("x"), Value()}},
               MapEntry{"c", Map{MapEntry{"d", true}}}};
  EXPECT_EQ(value.value, Value(expected));
  EXPECT_TRUE(plain.to_connect_data("t", std::nullopt)->value.is_null());
}

TEST(JsonConverter, KafkasMessagesForBadInput) {
  JsonConverter json = converter();
  EXPECT_EQ(read_error(json, R"({"payload":1})"),
            "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may "
            "not contain "
            "additional fields. If you are trying to deserialize plain JSON data, set "
            "schemas.enable=false in your "
            "converter configuration.");
  EXPECT_EQ(read_error(json, "{not json"),
            "Converting byte[] to Kafka Connect data failed due to serialization error: ");
  EXPECT_EQ(read_error(json, R"({"schema":{},"payload":1})"), "Schema must contain 'type' field");
  EXPECT_EQ(read_error(json, R"({"schema":{"type":"foo"},"payload":1})"),
            "Unknown schema type: foo");
  EXPECT_EQ(read_error(json, R"({"schema":{"type":"string"},"payload":null})"),
            "Invalid null value for required STRING field");
  EXPECT_EQ(read_error(json, R"({"schema":{"type":"array"},"payload":[]})"),
            "Array schema did not specify the element type");
  EXPECT_EQ(read_error(json, R"({"schema":{"type":"struct","fields":{}},"payload":{}})"),
            "Struct schema's \"fields\" argument is not an array.");
  EXPECT_EQ(read_error(json, R"({"schema":{"type":"struct","fields":[]},"payload":1})"),
            "Structs should be encoded as JSON objects, but found NUMBER");
  EXPECT_EQ(read_error(json, R"({"schema":{"type":"int8","parameters":{"a":1}},"payload":1})"),
            "Schema parameters must have string values.");
  EXPECT_EQ(read_error(
                json, R"({"schema":{"type":"map","keys":{"type":"int8"},"values":{"type":"int8"}},)"
                      R"("payload":[[1,2,3]]})"),
            "Found invalid map entry, expected length 2 but found :3");
  EXPECT_EQ(
      read_error(json,
                 R"({"schema":{"type":"int64","name":"org.apache.kafka.connect.data.Timestamp"},)"
                 R"("payload":"x"})"),
      "Invalid type for Timestamp, underlying representation should be integral but was STRING");
}

TEST(JsonConverter, KafkasConfigurationMessages) {
  JsonConverter json;
  EXPECT_EQ(json.configure({{"decimal.format", "hex"}}, false).message(),
            "Invalid value hex for configuration decimal.format: String must be one of (case "
            "insensitive): BASE64, "
            "NUMERIC");
  EXPECT_EQ(json.configure({{"schemas.enable", "maybe"}}, false).message(),
            "Invalid value maybe for configuration schemas.enable: Expected value to be either "
            "true or false");
  EXPECT_TRUE(json.configure({{"decimal.format", "numeric"}}, true).is_ok());
  EXPECT_EQ(json.config().decimal_format, DecimalFormat::numeric);
}

}  // namespace
}  // namespace sluice::connect
