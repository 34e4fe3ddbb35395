// Every transform and predicate: Kafka's documented examples and its tests'
// cases (connect/transforms/src/test), schemaless and with schemas, and
// Kafka's messages for bad settings and bad records.

#include <gtest/gtest.h>

#include "connect/transform.h"
#include "connect/transform_chain.h"

namespace sluice::connect {
namespace {

std::unique_ptr<Transformation> make(const std::string& class_name, const Properties& properties) {
  Result<std::unique_ptr<Transformation>> transform = make_transformation(class_name, properties);
  EXPECT_TRUE(transform.is_ok()) << transform.status().message();
  return transform.is_ok() ? std::move(transform).value() : nullptr;
}

std::string config_message(const std::string& class_name, const Properties& properties) {
  return make_transformation(class_name, properties).status().message();
}

ConnectRecord record_with_value(SchemaPtr schema, Value value) {
  return make_source_record({}, {}, "test", 0, nullptr, Value(), std::move(schema),
                            std::move(value), 1234);
}

ConnectRecord record_with_key(SchemaPtr schema, Value key) {
  return make_source_record({}, {}, "test", 0, std::move(schema), std::move(key), nullptr, Value(),
                            1234);
}

ConnectRecord applied(Transformation& transform, ConnectRecord record) {
  Result<std::optional<ConnectRecord>> result = transform.apply(std::move(record));
  EXPECT_TRUE(result.is_ok()) << result.status().message();
  if (!result.is_ok() || !*result) return ConnectRecord{};
  return std::move(**result);
}

std::string apply_error(Transformation& transform, ConnectRecord record) {
  return transform.apply(std::move(record)).status().message();
}

SchemaPtr int64_schema(bool optional = false) {
  return primitive_schema(SchemaType::int64, optional);
}
SchemaPtr string_schema(bool optional = false) {
  return primitive_schema(SchemaType::string, optional);
}

Struct make_struct(const SchemaPtr& schema,
                   const std::vector<std::pair<std::string, Value>>& values) {
  Struct structure(schema);
  for (const auto& [name, value] : values) EXPECT_TRUE(structure.put(name, value).is_ok()) << name;
  return structure;
}

// --- InsertField ---

const Properties insert_field_settings = {{"topic.field", "topic_field!"},
                                          {"partition.field", "partition_field"},
                                          {"timestamp.field", "timestamp_field?"},
                                          {"static.field", "instance_id"},
                                          {"static.value", "my-instance-id"}};

TEST(InsertField, Schemaless) {
  auto transform =
      make("org.apache.kafka.connect.transforms.InsertField$Value", insert_field_settings);
  ConnectRecord out =
      applied(*transform, record_with_value(nullptr, Map{MapEntry{"magic", int64_t{42}}}));
  Map expected{MapEntry{"magic", int64_t{42}}, MapEntry{"topic_field", "test"},
               MapEntry{"partition_field", 0}, MapEntry{"timestamp_field", int64_t{1234}},
               MapEntry{"instance_id", "my-instance-id"}};
  EXPECT_EQ(out.value, Value(expected));
}

TEST(InsertField, WithSchema) {
  auto transform = make("InsertField$Value", insert_field_settings);
  SchemaPtr schema = SchemaBuilder::structure()
                         .name("name")
                         .version(1)
                         .field("magic", int64_schema())
                         .build_or_die();
  ConnectRecord out =
      applied(*transform, record_with_value(schema, make_struct(schema, {{"magic", int64_t{42}}})));
  const Schema& updated = *out.value_schema;
  EXPECT_EQ(updated.name, "name");
  EXPECT_EQ(updated.version, 1);
  ASSERT_EQ(updated.fields.size(), 5u);
  EXPECT_TRUE(schema_equals(updated.field("topic_field")->schema, string_schema()));
  EXPECT_TRUE(schema_equals(updated.field("partition_field")->schema,
                            primitive_schema(SchemaType::int32, true)));
  EXPECT_TRUE(schema_equals(updated.field("timestamp_field")->schema,
                            timestamp_schema().optional().build_or_die()));
  const Struct& value = out.value.as<Struct>();
  EXPECT_EQ(value.get("magic").value(), Value(int64_t{42}));
  EXPECT_EQ(value.get("topic_field").value(), Value("test"));
  EXPECT_EQ(value.get("partition_field").value(), Value(0));
  EXPECT_EQ(value.get("timestamp_field").value(), Value(DateTime{1234}));
  EXPECT_EQ(value.get("instance_id").value(), Value("my-instance-id"));
}

TEST(InsertField, OffsetOnlyForSinkRecordsAndMessages) {
  auto transform = make("InsertField$Value", {{"offset.field", "offset"}});
  EXPECT_EQ(apply_error(*transform, record_with_value(nullptr, Map{})),
            "Only SinkRecord supported for [field insertion], found: "
            "org.apache.kafka.connect.source.SourceRecord");
  ConnectRecord sink = make_sink_record("test", 0, nullptr, Value(), nullptr, Map{}, 77);
  EXPECT_EQ(applied(*transform, sink).value, Value(Map{MapEntry{"offset", int64_t{77}}}));
  EXPECT_EQ(apply_error(*transform, record_with_value(nullptr, "text")),
            "Only Map objects supported in absence of schema for [field insertion], found: "
            "java.lang.String");
  EXPECT_TRUE(
      applied(*transform, record_with_value(nullptr, Value())).value.is_null());  // tombstones pass
  EXPECT_EQ(config_message("InsertField$Value", {}), "No field insertion configured");
  EXPECT_EQ(
      config_message("InsertField$Value", {{"static.field", "f"}}),
      "Invalid value null for configuration static.value: No value specified for static field: f");
}

// --- ReplaceField ---

TEST(ReplaceField, SchemalessExcludeAndRenames) {
  auto transform =
      make("ReplaceField$Value", {{"exclude", "dont"}, {"renames", "abc:xyz,foo:bar"}});
  Map value{MapEntry{"dont", "whatever"}, MapEntry{"abc", 42}, MapEntry{"foo", true},
            MapEntry{"etc", "etc"}};
  Map expected{MapEntry{"xyz", 42}, MapEntry{"bar", true}, MapEntry{"etc", "etc"}};
  EXPECT_EQ(applied(*transform, record_with_value(nullptr, value)).value, Value(expected));
}

TEST(ReplaceField, WithSchemaIncludeAndRenames) {
  auto transform =
      make("ReplaceField$Value", {{"include", "abc,foo"}, {"renames", "abc:xyz,foo:bar"}});
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("dont", string_schema())
                         .field("abc", primitive_schema(SchemaType::int32))
                         .field("foo", primitive_schema(SchemaType::boolean))
                         .build_or_die();
  Struct value = make_struct(schema, {{"dont", "whatever"}, {"abc", 42}, {"foo", true}});
  ConnectRecord out = applied(*transform, record_with_value(schema, value));
  ASSERT_EQ(out.value_schema->fields.size(), 2u);
  EXPECT_EQ(out.value_schema->fields[0].name, "xyz");
  EXPECT_EQ(out.value.as<Struct>().get("xyz").value(), Value(42));
  EXPECT_EQ(out.value.as<Struct>().get("bar").value(), Value(true));
  EXPECT_EQ(config_message("ReplaceField$Value", {{"renames", "a,b:c"}}),
            "Invalid value [a, b:c] for configuration renames: Invalid rename mapping: a");
}

// --- MaskField ---

TEST(MaskField, NullValuesAndReplacements) {
  auto transform = make("MaskField$Value", {{"fields", "int,str,list"}});
  Map value{MapEntry{"int", 42}, MapEntry{"str", "secret"}, MapEntry{"list", List{Value(1)}},
            MapEntry{"keep", 1}};
  Map expected{MapEntry{"int", 0}, MapEntry{"str", ""}, MapEntry{"list", List{}},
               MapEntry{"keep", 1}};
  EXPECT_EQ(applied(*transform, record_with_value(nullptr, value)).value, Value(expected));

  auto stars = make("MaskField$Value", {{"fields", "str"}, {"replacement", "****"}});
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("str", string_schema())
                         .field("n", int64_schema())
                         .build_or_die();
  ConnectRecord out = applied(
      *stars,
      record_with_value(schema, make_struct(schema, {{"str", "secret"}, {"n", int64_t{5}}})));
  EXPECT_EQ(out.value.as<Struct>().get("str").value(), Value("****"));
  EXPECT_EQ(out.value.as<Struct>().get("n").value(), Value(int64_t{5}));

  auto numbers = make("MaskField$Value", {{"fields", "n"}, {"replacement", "123"}});
  EXPECT_EQ(applied(*numbers, record_with_value(nullptr, Map{MapEntry{"n", int64_t{9}}})).value,
            Value(Map{MapEntry{"n", int64_t{123}}}));
  auto bad = make("MaskField$Value", {{"fields", "n"}, {"replacement", "abc"}});
  EXPECT_EQ(apply_error(*bad, record_with_value(nullptr, Map{MapEntry{"n", 9}})),
            "Unable to convert abc (class java.lang.String) to a number");
  EXPECT_EQ(apply_error(*numbers, record_with_value(nullptr, Map{MapEntry{"n", true}})),
            "Cannot mask value of type class java.lang.Boolean with custom replacement.");
  EXPECT_EQ(config_message("MaskField$Value", {}),
            "Missing required configuration \"fields\" which has no default value.");
  EXPECT_EQ(config_message("MaskField$Value", {{"fields", ""}}),
            "Invalid value [] for configuration fields: Empty list");
  EXPECT_EQ(config_message("MaskField$Value", {{"fields", "a"}, {"replacement", ""}}),
            "Invalid value  for configuration replacement: String must be non-empty");
}

// --- ValueToKey ---

TEST(ValueToKey, SchemalessAndWithSchema) {
  auto transform = make("org.apache.kafka.connect.transforms.ValueToKey", {{"fields", "a,b"}});
  Map value{MapEntry{"a", 1}, MapEntry{"b", 2}, MapEntry{"c", 3}};
  ConnectRecord out = applied(*transform, record_with_value(nullptr, value));
  EXPECT_EQ(out.key, Value(Map{MapEntry{"a", 1}, MapEntry{"b", 2}}));
  EXPECT_EQ(out.key_schema, nullptr);

  SchemaPtr int32 = primitive_schema(SchemaType::int32);
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("a", int32)
                         .field("b", int32)
                         .field("c", int32)
                         .build_or_die();
  out = applied(*transform,
                record_with_value(schema, make_struct(schema, {{"a", 1}, {"b", 2}, {"c", 3}})));
  ASSERT_EQ(out.key_schema->fields.size(), 2u);
  EXPECT_EQ(out.key.as<Struct>().get("b").value(), Value(2));
  auto missing = make("ValueToKey", {{"fields", "d"}});
  EXPECT_EQ(apply_error(*missing, record_with_value(
                                      schema, make_struct(schema, {{"a", 1}, {"b", 2}, {"c", 3}}))),
            "Field does not exist: d");
}

// --- ExtractField and HoistField ---

TEST(ExtractField, SchemalessWithSchemaAndNulls) {
  auto transform = make("ExtractField$Key", {{"field", "magic"}});
  EXPECT_EQ(applied(*transform, record_with_key(nullptr, Map{MapEntry{"magic", 42}})).key,
            Value(42));
  SchemaPtr schema =
      SchemaBuilder::structure().field("magic", primitive_schema(SchemaType::int32)).build_or_die();
  ConnectRecord out =
      applied(*transform, record_with_key(schema, make_struct(schema, {{"magic", 42}})));
  EXPECT_EQ(out.key, Value(42));
  EXPECT_TRUE(schema_equals(out.key_schema, primitive_schema(SchemaType::int32)));
  EXPECT_TRUE(applied(*transform, record_with_key(nullptr, Value())).key.is_null());
  auto unknown = make("ExtractField$Key", {{"field", "nope"}});
  EXPECT_EQ(apply_error(*unknown, record_with_key(schema, make_struct(schema, {{"magic", 42}}))),
            "Unknown field: nope");
}

TEST(HoistField, SchemalessAndWithSchema) {
  auto transform = make("HoistField$Key", {{"field", "magic"}});
  EXPECT_EQ(applied(*transform, record_with_key(nullptr, 42)).key,
            Value(Map{MapEntry{"magic", 42}}));
  ConnectRecord out = applied(*transform, record_with_key(primitive_schema(SchemaType::int32), 42));
  EXPECT_EQ(out.key_schema->type, SchemaType::structure);
  EXPECT_EQ(out.key.as<Struct>().get("magic").value(), Value(42));
  EXPECT_EQ(config_message("HoistField$Value", {}),
            "Missing required configuration \"field\" which has no default value.");
}

// --- Cast ---

TEST(Cast, WholeValueAndFields) {
  auto whole = make("Cast$Value", {{"spec", "int8"}});
  EXPECT_EQ(applied(*whole, record_with_value(nullptr, 42)).value, Value(int8_t{42}));
  ConnectRecord typed = applied(*whole, record_with_value(primitive_schema(SchemaType::int32), 42));
  EXPECT_EQ(typed.value_schema->type, SchemaType::int8);

  auto fields =
      make("Cast$Value", {{"spec", "int8:int16,string:int32,bool:boolean,float:string,ts:int64"}});
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("int8", primitive_schema(SchemaType::int8))
                         .field("string", string_schema())
                         .field("bool", primitive_schema(SchemaType::boolean))
                         .field("float", primitive_schema(SchemaType::float32))
                         .field("ts", timestamp_schema().build_or_die())
                         .field("other", string_schema(true))
                         .build_or_die();
  Struct value = make_struct(schema, {{"int8", int8_t{8}},
                                      {"string", "42"},
                                      {"bool", true},
                                      {"float", 32.5f},
                                      {"ts", DateTime{1'700'000'000'000}}});
  ConnectRecord out = applied(*fields, record_with_value(schema, value));
  const Struct& cast = out.value.as<Struct>();
  EXPECT_EQ(cast.get("int8").value(), Value(int16_t{8}));
  EXPECT_EQ(cast.get("string").value(), Value(42));
  EXPECT_EQ(cast.get("bool").value(), Value(true));
  EXPECT_EQ(cast.get("float").value(), Value("32.5"));
  EXPECT_EQ(cast.get("ts").value(), Value(int64_t{1'700'000'000'000}));
  EXPECT_TRUE(out.value_schema->field("other")->schema->optional);

  auto to_string = make("Cast$Value", {{"spec", "string"}});
  EXPECT_EQ(applied(*to_string, record_with_value(timestamp_schema().build_or_die(),
                                                  DateTime{1'700'000'000'123}))
                .value,
            Value("2023-11-14T22:13:20.123Z"));
  EXPECT_EQ(applied(*to_string, record_with_value(nullptr, Bytes{"abc"})).value, Value("YWJj"));
}

TEST(Cast, KafkasMessages) {
  EXPECT_EQ(config_message("Cast$Value", {{"spec", ""}}),
            "Must specify at least one field to cast.");
  EXPECT_EQ(config_message("Cast$Value", {{"spec", "foo:faketype"}}),
            "Invalid type found in casting spec: faketype");
  EXPECT_EQ(config_message("Cast$Value", {{"spec", "foo:array"}}),
            "Cast transformation does not support casting to ARRAY; supported types are [INT8, "
            "INT16, INT32, INT64, "
            "FLOAT32, FLOAT64, BOOLEAN, STRING]");
  EXPECT_EQ(config_message("Cast$Value", {{"spec", "int8,foo:int16"}}),
            "Cast transformations that specify a type to cast the entire value to may only specify "
            "a single cast in "
            "their spec");
  EXPECT_EQ(config_message("Cast$Value", {{"spec", "a:b:c"}}),
            "Invalid value [a:b:c] for configuration renames: Invalid rename mapping: a:b:c");
  auto to_int8 = make("Cast$Value", {{"spec", "int8"}});
  EXPECT_EQ(apply_error(*to_int8, record_with_value(nullptr, "300")),
            "Value (300) was out of range for requested data type");
  EXPECT_EQ(apply_error(*to_int8, record_with_value(nullptr, Bytes{"x"})),
            "Unexpected type in Cast transformation: class [B");
  EXPECT_EQ(apply_error(*to_int8, record_with_value(nullptr, List{})),
            "Cast transformation does not support casting from ARRAY; supported types are [INT8, "
            "INT16, INT32, "
            "INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]");
}

// --- TimestampConverter (TimestampConverterTest's values) ---

constexpr int64_t date_plus_time_millis = 86'401'234;  // 1970-01-02 00:00:01.234 UTC
const char* const date_format = "yyyy MM dd HH mm ss SSS z";

TEST(TimestampConverter, SchemalessConversions) {
  auto to_string =
      make("TimestampConverter$Value", {{"target.type", "string"}, {"format", date_format}});
  EXPECT_EQ(applied(*to_string, record_with_value(nullptr, DateTime{date_plus_time_millis})).value,
            Value("1970 01 02 00 00 01 234 UTC"));
  auto from_string =
      make("TimestampConverter$Value", {{"target.type", "Timestamp"}, {"format", date_format}});
  EXPECT_EQ(applied(*from_string, record_with_value(nullptr, "1970 01 02 00 00 01 234 UTC")).value,
            Value(DateTime{date_plus_time_millis}));
  auto micros = make("TimestampConverter$Value",
                     {{"target.type", "Timestamp"}, {"unix.precision", "microseconds"}});
  EXPECT_EQ(applied(*micros, record_with_value(nullptr, int64_t{86'401'234'123})).value,
            Value(DateTime{date_plus_time_millis}));
  auto to_unix =
      make("TimestampConverter$Value", {{"target.type", "unix"}, {"unix.precision", "seconds"}});
  EXPECT_EQ(applied(*to_unix, record_with_value(nullptr, DateTime{date_plus_time_millis})).value,
            Value(int64_t{86'401}));
  auto to_date = make("TimestampConverter$Value", {{"target.type", "Date"}});
  EXPECT_EQ(applied(*to_date, record_with_value(nullptr, DateTime{date_plus_time_millis})).value,
            Value(DateTime{86'400'000}));
  auto to_time = make("TimestampConverter$Value", {{"target.type", "Time"}});
  EXPECT_EQ(applied(*to_time, record_with_value(nullptr, DateTime{date_plus_time_millis})).value,
            Value(DateTime{1234}));
}

TEST(TimestampConverter, FieldWithSchema) {
  auto transform = make("TimestampConverter$Value", {{"field", "ts"}, {"target.type", "Date"}});
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("ts", int64_schema())
                         .field("other", string_schema())
                         .build_or_die();
  ConnectRecord out = applied(
      *transform,
      record_with_value(
          schema, make_struct(schema, {{"ts", int64_t{date_plus_time_millis}}, {"other", "x"}})));
  EXPECT_TRUE(schema_equals(out.value_schema->field("ts")->schema, date_schema().build_or_die()));
  EXPECT_EQ(out.value.as<Struct>().get("ts").value(), Value(DateTime{86'400'000}));
  EXPECT_EQ(out.value.as<Struct>().get("other").value(), Value("x"));
}

TEST(TimestampConverter, KafkasMessages) {
  EXPECT_EQ(config_message("TimestampConverter$Value", {{"target.type", "foo"}}),
            "Invalid value foo for configuration target.type: String must be one of: string, unix, "
            "Date, Time, "
            "Timestamp");
  EXPECT_EQ(
      config_message("TimestampConverter$Value", {{"target.type", "string"}}),
      "TimestampConverter requires format option to be specified when using string timestamps");
  EXPECT_EQ(
      config_message("TimestampConverter$Value", {{"target.type", "string"}, {"format", "bad-q"}}),
      "TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: "
      "bad-q");
  auto from_string =
      make("TimestampConverter$Value", {{"target.type", "unix"}, {"format", "yyyy-MM-dd"}});
  EXPECT_EQ(apply_error(*from_string, record_with_value(nullptr, "not a date")),
            "Could not parse timestamp: value (not a date) does not match pattern (yyyy-MM-dd)");
  EXPECT_EQ(apply_error(*from_string, record_with_value(nullptr, 12)),
            "TimestampConverter does not support class java.lang.Integer objects as timestamps");
  EXPECT_EQ(applied(*from_string, record_with_value(nullptr, "2024-02-29")).value,
            Value(int64_t{1'709'164'800'000}));
}

// --- Flatten ---

TEST(Flatten, SchemalessNestedMaps) {
  auto transform = make("Flatten$Value", {});
  Map inner{MapEntry{"x", 1}, MapEntry{"y", "s"}};
  Map value{MapEntry{"A", Map{MapEntry{"B", inner}, MapEntry{"C", true}}}, MapEntry{"D", Value()}};
  Map expected{MapEntry{"A.B.x", 1}, MapEntry{"A.B.y", "s"}, MapEntry{"A.C", true},
               MapEntry{"D", Value()}};
  EXPECT_EQ(applied(*transform, record_with_value(nullptr, value)).value, Value(expected));
  auto hash = make("Flatten$Value", {{"delimiter", "#"}});
  EXPECT_EQ(
      applied(*hash, record_with_value(nullptr, Map{MapEntry{"A", Map{MapEntry{"b", 1}}}})).value,
      Value(Map{MapEntry{"A#b", 1}}));
}

TEST(Flatten, NestedStructsAndOptionality) {
  auto transform = make("Flatten$Value", {});
  SchemaPtr inner = SchemaBuilder::structure()
                        .field("x", primitive_schema(SchemaType::int32))
                        .field("y", string_schema())
                        .optional()
                        .build_or_die();
  SchemaPtr schema =
      SchemaBuilder::structure().field("A", inner).field("n", int64_schema()).build_or_die();
  Struct value =
      make_struct(schema, {{"A", make_struct(inner, {{"x", 1}, {"y", "s"}})}, {"n", int64_t{2}}});
  ConnectRecord out = applied(*transform, record_with_value(schema, value));
  ASSERT_EQ(out.value_schema->fields.size(), 3u);
  EXPECT_EQ(out.value_schema->fields[0].name, "A.x");
  EXPECT_TRUE(out.value_schema->field("A.x")->schema->optional);  // optional because A is
  EXPECT_FALSE(out.value_schema->field("n")->schema->optional);
  EXPECT_EQ(out.value.as<Struct>().get("A.y").value(), Value("s"));
  SchemaPtr with_map =
      SchemaBuilder::structure()
          .field("m", SchemaBuilder::map(string_schema(), string_schema()).build_or_die())
          .build_or_die();
  Struct map_value(with_map);
  EXPECT_EQ(apply_error(*transform, record_with_value(with_map, map_value)),
            "Flatten transformation does not support MAP for record with schemas (for field m).");
}

// --- routers ---

TEST(RegexRouter, KafkasExample) {
  auto transform = make("org.apache.kafka.connect.transforms.RegexRouter",
                        {{"regex", "soe-(.*)"}, {"replacement", "$1"}});
  ConnectRecord record = record_with_value(nullptr, Value());
  record.topic = "soe-orders";
  EXPECT_EQ(applied(*transform, record).topic, "orders");
  record.topic = "other";
  EXPECT_EQ(applied(*transform, record).topic, "other");
  auto literal = make("RegexRouter", {{"regex", "(.*)"}, {"replacement", "\\$$1"}});
  record.topic = "x";
  EXPECT_EQ(applied(*literal, record).topic, "$x");
  EXPECT_EQ(config_message("RegexRouter", {{"replacement", "x"}}),
            "Missing required configuration \"regex\" which has no default value.");
  EXPECT_EQ(config_message("RegexRouter", {{"regex", "("}, {"replacement", "x"}})
                .find("Invalid value ( for "
                      "configuration regex: Invalid regex: "),
            0u);
}

TEST(TimestampRouter, DefaultsAndFormats) {
  auto transform = make("TimestampRouter", {});
  ConnectRecord record = record_with_value(nullptr, Value());
  record.timestamp = 1'483'425'001'864;  // TimestampRouterTest: 2017-01-03
  EXPECT_EQ(applied(*transform, record).topic, "test-20170103");
  auto custom = make("TimestampRouter", {{"topic.format", "${topic}_${timestamp}"},
                                         {"timestamp.format", "yyyy-MM-dd HH"}});
  EXPECT_EQ(applied(*custom, record).topic, "test_2017-01-03 06");
  record.timestamp.reset();
  EXPECT_EQ(apply_error(*transform, record)
                .find("Timestamp missing on record: ConnectRecord{topic='test'"),
            0u);
}

// --- headers ---

TEST(InsertHeader, LiteralValuesParsedAsKafkaDoes) {
  auto transform = make("InsertHeader", {{"header", "h"}, {"value.literal", "42"}});
  ConnectRecord out = applied(*transform, record_with_value(nullptr, Value()));
  ASSERT_EQ(out.headers.size(), 1u);
  EXPECT_EQ(out.headers[0].key, "h");
  EXPECT_EQ(out.headers[0].value, Value(int8_t{42}));
  EXPECT_EQ(out.headers[0].schema->type, SchemaType::int8);
  auto text = make("InsertHeader", {{"header", "source"}, {"value.literal", "mysql-prod"}});
  EXPECT_EQ(applied(*text, record_with_value(nullptr, Value())).headers[0].value,
            Value("mysql-prod"));
  EXPECT_EQ(config_message("InsertHeader", {{"header", "h"}}),
            "Missing required configuration \"value.literal\" which has no default value.");
}

TEST(DropHeaders, RemovesEveryNamedHeader) {
  auto transform = make("DropHeaders", {{"headers", "a,b"}});
  ConnectRecord record = record_with_value(nullptr, Value());
  for (const char* key : {"a", "c", "b", "a"})
    record.headers.push_back(Header{key, nullptr, Value(1)});
  ConnectRecord out = applied(*transform, record);
  ASSERT_EQ(out.headers.size(), 1u);
  EXPECT_EQ(out.headers[0].key, "c");
  EXPECT_EQ(config_message("DropHeaders", {{"headers", ""}}),
            "Invalid value [] for configuration headers: Empty list");
}

TEST(HeaderFrom, MoveAndCopy) {
  auto move =
      make("HeaderFrom$Value", {{"fields", "a,b"}, {"headers", "ha,hb"}, {"operation", "move"}});
  Map value{MapEntry{"a", 1}, MapEntry{"b", "x"}, MapEntry{"c", true}};
  ConnectRecord out = applied(*move, record_with_value(nullptr, value));
  EXPECT_EQ(out.value, Value(Map{MapEntry{"c", true}}));
  ASSERT_EQ(out.headers.size(), 2u);
  EXPECT_EQ(out.headers[1], (Header{"hb", nullptr, Value("x")}));

  auto copy = make("HeaderFrom$Value", {{"fields", "a"}, {"headers", "ha"}, {"operation", "copy"}});
  SchemaPtr schema = SchemaBuilder::structure()
                         .field("a", primitive_schema(SchemaType::int32))
                         .field("c", string_schema())
                         .build_or_die();
  ConnectRecord copied =
      applied(*copy, record_with_value(schema, make_struct(schema, {{"a", 1}, {"c", "z"}})));
  EXPECT_TRUE(schema_equals(copied.value_schema, schema));
  EXPECT_EQ(copied.headers[0], (Header{"ha", primitive_schema(SchemaType::int32), Value(1)}));
  ConnectRecord moved = applied(*move, record_with_value(nullptr, value));
  EXPECT_EQ(moved.headers.size(), 2u);
  auto move_schema =
      make("HeaderFrom$Value", {{"fields", "a"}, {"headers", "ha"}, {"operation", "move"}});
  ConnectRecord moved_struct =
      applied(*move_schema, record_with_value(schema, make_struct(schema, {{"a", 1}, {"c", "z"}})));
  ASSERT_EQ(moved_struct.value_schema->fields.size(), 1u);
  EXPECT_EQ(moved_struct.value.as<Struct>().get("c").value(), Value("z"));

  EXPECT_EQ(config_message("HeaderFrom$Value",
                           {{"fields", "a,b"}, {"headers", "h"}, {"operation", "move"}}),
            "'fields' config must have the same number of elements as 'headers' config.");
  EXPECT_EQ(config_message("HeaderFrom$Value",
                           {{"fields", "a"}, {"headers", "h"}, {"operation", "swap"}}),
            "Invalid value swap for configuration operation: String must be one of: move, copy");
}

// --- the chain: Filter, predicates, negate (Kafka's documented examples) ---

Result<TransformationChain> chain(const Properties& config) {
  return TransformationChain::from_config(config);
}

TEST(TransformationChain, DropsTombstones) {
  Result<TransformationChain> built =
      chain({{"transforms", "dropTombstones"},
             {"transforms.dropTombstones.type", "org.apache.kafka.connect.transforms.Filter"},
             {"transforms.dropTombstones.predicate", "isTombstone"},
             {"predicates", "isTombstone"},
             {"predicates.isTombstone.type",
              "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"}});
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_FALSE(built->apply(record_with_value(nullptr, Value()))->has_value());
  EXPECT_TRUE(built->apply(record_with_value(nullptr, "kept"))->has_value());
}

TEST(TransformationChain, KeepsOnlyTopicFooWithNegate) {
  Result<TransformationChain> built = chain(
      {{"transforms", "Filter"},
       {"transforms.Filter.type", "org.apache.kafka.connect.transforms.Filter"},
       {"transforms.Filter.predicate", "IsFoo"},
       {"transforms.Filter.negate", "true"},
       {"predicates", "IsFoo"},
       {"predicates.IsFoo.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"},
       {"predicates.IsFoo.pattern", "foo"}});
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  ConnectRecord foo = record_with_value(nullptr, "v");
  foo.topic = "foo";
  EXPECT_TRUE(built->apply(foo)->has_value());
  EXPECT_FALSE(built->apply(record_with_value(nullptr, "v"))->has_value());
}

TEST(TransformationChain, StagesInOrderWithHeaderPredicate) {
  Result<TransformationChain> built = chain({{"transforms", "hoist,tag"},
                                             {"transforms.hoist.type", "HoistField$Value"},
                                             {"transforms.hoist.field", "line"},
                                             {"transforms.tag.type", "InsertField$Value"},
                                             {"transforms.tag.static.field", "tagged"},
                                             {"transforms.tag.static.value", "yes"},
                                             {"transforms.tag.predicate", "hasTrace"},
                                             {"predicates", "hasTrace"},
                                             {"predicates.hasTrace.type", "HasHeaderKey"},
                                             {"predicates.hasTrace.name", "trace"}});
  ASSERT_TRUE(built.is_ok()) << built.status().message();
  EXPECT_EQ(built->size(), 2u);
  ConnectRecord plain = **built->apply(record_with_value(nullptr, "hello"));
  EXPECT_EQ(plain.value, Value(Map{MapEntry{"line", "hello"}}));
  ConnectRecord traced_in = record_with_value(nullptr, "hello");
  traced_in.headers.push_back(Header{"trace", nullptr, Value("1")});
  ConnectRecord traced = **built->apply(traced_in);
  EXPECT_EQ(traced.value, Value(Map{MapEntry{"line", "hello"}, MapEntry{"tagged", "yes"}}));
}

TEST(TransformationChain, KafkasValidationMessages) {
  EXPECT_EQ(chain({{"transforms", "a,a"}}).status().message(),
            "Invalid value [a, a] for configuration transforms: Duplicate alias provided.");
  EXPECT_EQ(chain({{"transforms", "a"}}).status().message(),
            "Missing required configuration \"transforms.a.type\" which has no default value.");
  EXPECT_EQ(
      chain({{"transforms", "a"}, {"transforms.a.type", "com.example.Nope"}}).status().message(),
      "Invalid value com.example.Nope for configuration transforms.a.type: Class com.example.Nope "
      "could not be "
      "found.");
  EXPECT_EQ(
      chain({{"transforms", "a"}, {"transforms.a.type", "Filter"}, {"transforms.a.negate", "true"}})
          .status()
          .message(),
      "Config 'transforms.a.negate' was provided but there is no config 'transforms.a.predicate' "
      "defining a "
      "predicate to be negated.");
  EXPECT_EQ(
      chain({{"transforms", "a"}, {"transforms.a.type", "ExtractField$Value"}}).status().message(),
      "Missing required configuration \"transforms.a.field\" which has no default value.");
  EXPECT_EQ(
      chain({{"predicates", "p"}, {"predicates.p.type", "TopicNameMatches"}}).status().message(),
      "Missing required configuration \"predicates.p.pattern\" which has no default value.");
  EXPECT_TRUE(chain({}).is_ok());
}

TEST(TransformRegistry, KnowsKafkasClassNames) {
  std::vector<std::string> names = transformation_class_names();
  for (const char* expected : {"org.apache.kafka.connect.transforms.InsertField$Key",
                               "org.apache.kafka.connect.transforms.TimestampConverter$Value",
                               "org.apache.kafka.connect.transforms.ValueToKey",
                               "org.apache.kafka.connect.transforms.Filter"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  EXPECT_EQ(predicate_class_names().size(), 3u);
}

}  // namespace
}  // namespace sluice::connect
