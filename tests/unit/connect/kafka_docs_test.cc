// The examples of Kafka's own documentation, end to end through the chain
// and the converters: the bytes must be the ones the documentation shows.

#include <gtest/gtest.h>

#include "connect/json_converter.h"
#include "connect/transform_chain.h"

namespace sluice::connect {
namespace {

// What FileStreamSource produces for a line: a STRING value with
// Schema.STRING_SCHEMA.
ConnectRecord file_line(const std::string& topic, const std::string& line) {
  return make_source_record({}, {}, topic, std::nullopt, nullptr, Value(),
                            primitive_schema(SchemaType::string), line);
}

std::string json_bytes(bool schemas_enable, const ConnectRecord& record) {
  JsonConverter converter;
  EXPECT_TRUE(
      converter.configure({{"schemas.enable", schemas_enable ? "true" : "false"}}, false).is_ok());
  Result<RecordBytes> bytes =
      converter.from_connect_data(record.topic, record.value_schema, record.value);
  EXPECT_TRUE(bytes.is_ok()) << bytes.status().message();
  return bytes.is_ok() && *bytes ? **bytes : "<null>";
}

// docs/quickstart.html: the file source's lines as the JsonConverter writes
// them with its default schemas.enable=true.
TEST(KafkaDocs, QuickstartFileSourceEnvelope) {
  EXPECT_EQ(json_bytes(true, file_line("connect-test", "foo")),
            R"({"schema":{"type":"string","optional":false},"payload":"foo"})");
}

// docs/connect.html, "Transformations": MakeMap and InsertSource turn each
// line into {"line":...,"data_source":"test-file-source"}.
TEST(KafkaDocs, HoistFieldThenInsertField) {
  Result<TransformationChain> chain = TransformationChain::from_config({
      {"name", "local-file-source"},
      {"connector.class", "FileStreamSource"},
      {"tasks.max", "1"},
      {"file", "test.txt"},
      {"topic", "connect-test"},
      {"transforms", "MakeMap, InsertSource"},
      {"transforms.MakeMap.type", "org.apache.kafka.connect.transforms.HoistField$Value"},
      {"transforms.MakeMap.field", "line"},
      {"transforms.InsertSource.type", "org.apache.kafka.connect.transforms.InsertField$Value"},
      {"transforms.InsertSource.static.field", "data_source"},
      {"transforms.InsertSource.static.value", "test-file-source"},
  });
  ASSERT_TRUE(chain.is_ok()) << chain.status().message();
  for (const char* line : {"foo", "bar", "hello world"}) {
    Result<std::optional<ConnectRecord>> out = chain->apply(file_line("connect-test", line));
    ASSERT_TRUE(out.is_ok() && *out) << out.status().message();
    EXPECT_EQ(json_bytes(false, **out),
              std::string(R"({"line":")") + line + R"(","data_source":"test-file-source"})");
  }
}

// docs/connect.html, "Predicates": drop topic foo, ExtractField on every
// topic but bar.
TEST(KafkaDocs, FilterAndNegatedExtract) {
  Result<TransformationChain> chain = TransformationChain::from_config({
      {"transforms", "Filter,Extract"},
      {"transforms.Filter.type", "org.apache.kafka.connect.transforms.Filter"},
      {"transforms.Filter.predicate", "IsFoo"},
      {"transforms.Extract.type", "org.apache.kafka.connect.transforms.ExtractField$Key"},
      {"transforms.Extract.field", "other_field"},
      {"transforms.Extract.predicate", "IsBar"},
      {"transforms.Extract.negate", "true"},
      {"predicates", "IsFoo,IsBar"},
      {"predicates.IsFoo.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"},
      {"predicates.IsFoo.pattern", "foo"},
      {"predicates.IsBar.type", "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"},
      {"predicates.IsBar.pattern", "bar"},
  });
  ASSERT_TRUE(chain.is_ok()) << chain.status().message();
  Map key{MapEntry{"other_field", 7}, MapEntry{"rest", 1}};
  auto record_in = [&key](const std::string& topic) {
    return make_source_record({}, {}, topic, std::nullopt, nullptr, key, nullptr, "v");
  };
  EXPECT_FALSE(chain->apply(record_in("foo"))->has_value());
  EXPECT_EQ((*chain->apply(record_in("bar")))->key, Value(key));
  EXPECT_EQ((*chain->apply(record_in("baz")))->key, Value(7));
}

}  // namespace
}  // namespace sluice::connect
