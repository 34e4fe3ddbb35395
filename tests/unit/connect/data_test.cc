// The data model: schemas, structs and Kafka's validation messages
// (ConnectSchemaTest, StructTest).

#include "connect/data.h"

#include <gtest/gtest.h>

#include "connect/java_text.h"

namespace sluice::connect {
namespace {

SchemaPtr person_schema() {
  return SchemaBuilder::structure()
      .name("person")
      .field("name", primitive_schema(SchemaType::string))
      .field("age", primitive_schema(SchemaType::int32, true))
      .build_or_die();
}

TEST(ConnectData, StructPutAndGet) {
  Struct person(person_schema());
  ASSERT_TRUE(person.put("name", "Ada").is_ok());
  ASSERT_TRUE(person.put("age", 36).is_ok());
  EXPECT_EQ(person.get("name").value(), Value("Ada"));
  EXPECT_EQ(person.get("age").value(), Value(36));
  EXPECT_TRUE(person.validate().is_ok());
  EXPECT_EQ(person.to_string(), "Struct{name=Ada,age=36}");
}

TEST(ConnectData, KafkasMessagesForBadValues) {
  Struct person(person_schema());
  EXPECT_EQ(person.put("nope", 1).message(), "nope is not a valid field name");
  EXPECT_EQ(
      person.put("age", "old").message(),
      "Invalid Java object for schema with type INT32: class java.lang.String for field: \"age\"");
  EXPECT_EQ(person.put("name", Value()).message(),
            "Invalid value: null used for required field: \"name\", schema type: STRING");
  EXPECT_EQ(person.validate().message(),
            "Invalid value: null used for required field: \"name\", schema type: STRING");
  EXPECT_EQ(
      validate_value(*person_schema(), Value(int64_t{5})).message(),
      "Invalid Java object for schema \"person\" with type STRUCT: class java.lang.Long for value");
}

TEST(ConnectData, StructOfAnotherSchemaDoesNotMatch) {
  SchemaPtr other =
      SchemaBuilder::structure().field("x", primitive_schema(SchemaType::int8)).build_or_die();
  EXPECT_EQ(validate_value(*person_schema(), Value(Struct(other))).message(),
            "Struct schemas do not match.");
}

TEST(ConnectData, ArrayAndMapEntriesAreChecked) {
  SchemaPtr list = SchemaBuilder::array(primitive_schema(SchemaType::int32)).build_or_die();
  EXPECT_TRUE(validate_value(*list, Value(List{Value(1), Value(2)})).is_ok());
  EXPECT_EQ(validate_value(*list, Value(List{Value(1), Value("x")})).message(),
            "Invalid Java object for schema with type INT32: class java.lang.String for element of "
            "array value");
  SchemaPtr map =
      SchemaBuilder::map(primitive_schema(SchemaType::string), primitive_schema(SchemaType::int64))
          .build_or_die();
  EXPECT_EQ(validate_value(*map, Value(Map{MapEntry{Value("a"), Value()}})).message(),
            "Invalid value: null used for required value of map value, schema type: INT64");
}

TEST(ConnectData, DefaultsAndBuilderMisuse) {
  SchemaPtr with_default = SchemaBuilder::int32().default_value(7).build_or_die();
  SchemaPtr holder = SchemaBuilder::structure().field("n", with_default).build_or_die();
  Struct value(holder);
  EXPECT_EQ(value.get("n").value(), Value(7));
  EXPECT_TRUE(value.get_without_default("n")->is_null());
  EXPECT_TRUE(value.validate().is_ok());
  EXPECT_EQ(SchemaBuilder::int32().default_value("x").build().status().message(),
            "Invalid default value");
  EXPECT_EQ(SchemaBuilder::structure()
                .field("a", primitive_schema(SchemaType::int8))
                .field("a", primitive_schema(SchemaType::int8))
                .build()
                .status()
                .message(),
            "Cannot create field because of field name duplication a");
}

TEST(ConnectData, LogicalTypes) {
  SchemaPtr date = date_schema().build_or_die();
  EXPECT_EQ(*date->name, "org.apache.kafka.connect.data.Date");
  EXPECT_EQ(date->version, 1);
  EXPECT_TRUE(validate_value(*date, Value(DateTime{86'400'000})).is_ok());
  EXPECT_EQ(validate_value(*date, Value(1)).message(),
            "Invalid Java object for schema \"org.apache.kafka.connect.data.Date\" with type "
            "INT32: class "
            "java.lang.Integer for value");
  EXPECT_EQ(date_to_days(DateTime{86'400'001}).status().message(),
            "Kafka Connect Date type should not have any time fields set to non-zero values.");
  EXPECT_EQ(*decimal_scale(*decimal_schema(2).build_or_die()), 2);
}

TEST(ConnectData, SchemaEqualityIsDeep) {
  EXPECT_TRUE(schema_equals(person_schema(), person_schema()));
  EXPECT_FALSE(schema_equals(person_schema(),
                             SchemaBuilder::from(*person_schema()).optional().build_or_die()));
}

TEST(JavaText, NumbersAsJavaPrintsThem) {
  EXPECT_EQ(java_double_text(12.34), "12.34");
  EXPECT_EQ(java_double_text(1.0), "1.0");
  EXPECT_EQ(java_double_text(1e10), "1.0E10");
  EXPECT_EQ(java_double_text(1.5e-4), "1.5E-4");
  EXPECT_EQ(java_double_text(0.001), "0.001");
  EXPECT_EQ(java_double_text(-0.0), "-0.0");
  EXPECT_EQ(java_double_text(1234567.0), "1234567.0");
  EXPECT_EQ(java_float_text(12.34f), "12.34");
  EXPECT_EQ(java_float_text(0.1f), "0.1");
  EXPECT_EQ(java_float_text(1.1f), "1.1");
  EXPECT_EQ(java_float_text(3.4028235e38f), "3.4028235E38");
  EXPECT_EQ(java_double_text(100.0), "100.0");
  EXPECT_EQ(java_double_text(1e-5), "1.0E-5");
  EXPECT_EQ(java_double_text(123456789.0), "1.23456789E8");
  EXPECT_EQ(java_double_text(0.1 + 0.2), "0.30000000000000004");
}

TEST(JavaText, Base64AndDecimals) {
  EXPECT_EQ(base64_encode("test-string"), "dGVzdC1zdHJpbmc=");
  EXPECT_EQ(*base64_decode("dGVzdC1zdHJpbmc="), "test-string");
  EXPECT_FALSE(base64_decode("not base64!").has_value());
  EXPECT_EQ(twos_complement_bytes(156), std::string("\x00\x9c", 2));
  EXPECT_EQ(twos_complement_bytes(-1), std::string("\xff", 1));
  EXPECT_EQ(twos_complement_bytes(0), std::string("\x00", 1));
  Decimal decimal = *decimal_from_text("-1.56");
  EXPECT_EQ(decimal.scale, 2);
  EXPECT_EQ(decimal.unscaled, twos_complement_bytes(-156));
  EXPECT_EQ(decimal_to_text(decimal), "-1.56");
  EXPECT_EQ(decimal_to_text(Decimal{twos_complement_bytes(5), 3}), "0.005");
  EXPECT_EQ(iso8601_text(DateTime{0}), "00:00:00.000Z");
  EXPECT_EQ(iso8601_text(DateTime{86'400'000LL * 365}), "1971-01-01");
  EXPECT_EQ(iso8601_text(DateTime{1'700'000'000'123}), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace sluice::connect
