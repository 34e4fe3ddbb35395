// JsonConverter reads bytes from topics it does not control: mutated and
// truncated envelopes must give a value or Kafka's DataException, never an
// assertion or a crash, and whatever reads must write back.

#include <gtest/gtest.h>

#include <random>

#include "connect/json_converter.h"

namespace sluice::connect {
namespace {

const char* const seeds[] = {
    R"({"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},)"
    R"({"type":"string","optional":true,"field":"name"},{"type":"array","items":{"type":"double"},)"
    R"("optional":false,"field":"scores"}],"optional":false,"name":"row"},"payload":{"id":1,"name":"a",)"
    R"("scores":[1.5,2]}})",
    R"({"schema":{"type":"map","keys":{"type":"int64"},"values":{"type":"bytes","optional":true},)"
    R"("optional":false},"payload":[[1,"AQI="],[2,null]]})",
    R"({"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","version":1,)"
    R"("parameters":{"scale":"2"},"default":"AJw="},"payload":"AJw="})",
    R"({"schema":{"type":"int32","name":"org.apache.kafka.connect.data.Date","default":3},"payload":10000})",
    R"({"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int64",)"
    R"("name":"org.apache.kafka.connect.data.Timestamp","field":"t"}],"field":"inner","optional":true}]},)"
    R"("payload":{"inner":{"t":5}}})",
    R"({"a":[1,{"b":null}],"c":"d"})",
};

std::string mutate(std::string text, std::mt19937& random) {
  std::uniform_int_distribution<int> action(0, 3);
  int edits = 1 + static_cast<int>(random() % 4);
  for (int i = 0; i < edits && !text.empty(); ++i) {
    size_t at = random() % text.size();
    switch (action(random)) {
      case 0:
        text[at] = static_cast<char>(random() % 128);
        break;
      case 1:
        text.erase(at, 1 + random() % 8);
        break;
      case 2:
        text.insert(at, 1, "{}[]\",:0n-."[random() % 11]);
        break;
      case 3:
        text.resize(at);
        break;
    }
  }
  return text;
}

TEST(JsonConverterRobustness, MutatedEnvelopesNeverCrash) {
  std::mt19937 random(19);
  JsonConverter with_schemas;
  JsonConverter plain;
  ASSERT_TRUE(with_schemas.configure({}, false).is_ok());
  ASSERT_TRUE(plain.configure({{"schemas.enable", "false"}}, false).is_ok());
  int read = 0;
  for (const char* seed : seeds) {
    for (int round = 0; round < 2000; ++round) {
      std::string bytes = round == 0 ? seed : mutate(seed, random);
      for (JsonConverter* converter : {&with_schemas, &plain}) {
        Result<SchemaAndValue> value = converter->to_connect_data("t", bytes);
        if (!value.is_ok()) {
          EXPECT_FALSE(value.status().message().empty());
          continue;
        }
        ++read;
        // Whatever was read writes back (or fails with a message).
        Result<RecordBytes> written =
            converter->from_connect_data("t", value->schema, value->value);
        if (!written.is_ok()) {
          EXPECT_FALSE(written.status().message().empty());
        }
      }
    }
  }
  EXPECT_GT(read, 100);
}

}  // namespace
}  // namespace sluice::connect
