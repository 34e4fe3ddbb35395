// Foreign-key table-table joins through the test driver: Kafka's scenario
// gives Kafka's outputs; random updates to both tables (foreign key changes
// and deletions included) leave the result equal to a brute-force join of
// the two tables after every update; the wrappers' bytes are Kafka's.

#include "streams/fk_join.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "streams/dsl.h"
#include "streams/test_driver.h"

namespace sluice::streams {
namespace {

using OutputRows = std::vector<std::pair<std::string, std::optional<std::string>>>;
using Table = std::map<std::string, std::string>;

// "value|foreign key" -> "foreign key".
std::string foreign_key_of(const std::string& value) { return value.substr(value.find('|') + 1); }

std::string joined(const std::string& left, const std::string& right) {
  return "(" + left + "," + right + ")";
}

TEST(Murmur3, Hash128IsKafkas) {
  // Kafka's Murmur3Test vectors (seed 123).
  EXPECT_EQ(murmur3_hash128("21", 123), (Hash128{5857341059704281894L, -5288187638297930763L}));
  EXPECT_EQ(murmur3_hash128("foobar", 123), (Hash128{-351361463397418609L, 8959716011862540668L}));
  EXPECT_EQ(murmur3_hash128("a-little-bit-long-string", 123),
            (Hash128{8836256500583638442L, -198172363548498523L}));
  EXPECT_EQ(murmur3_hash128("a-little-bit-longer-string", 123),
            (Hash128{1838346159335108511L, 8794688210320490705L}));
  EXPECT_EQ(murmur3_hash128("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 123),
            (Hash128{-4024021876037397259L, -1482317706335141238L}));
  EXPECT_EQ(murmur3_hash128("abc", 123), (Hash128{1489494923063836066L, -5440978547625122829L}));
}

TEST(ForeignKeyJoinWire, SubscriptionWrapperBytesAreKafkas) {
  fkjoin::SubscriptionBytes subscription{
      1, Hash128{1, -1}, fkjoin::Instruction::propagate_only_if_fk_val_available, "pk", 7};
  std::string bytes = fkjoin::encode_subscription(subscription);
  std::string expected("\x01\x03", 2);
  expected += std::string("\0\0\0\0\0\0\0\x01", 8) + std::string(8, '\xff') + "pk" +
              std::string("\0\0\0\x07", 4);
  EXPECT_EQ(bytes, expected);
  fkjoin::SubscriptionBytes back = fkjoin::decode_subscription(bytes);
  EXPECT_EQ(back.hash, subscription.hash);
  EXPECT_EQ(back.instruction, subscription.instruction);
  EXPECT_EQ(back.primary_key, "pk");
  EXPECT_EQ(back.primary_partition, 7);
  // A null hash sets the top bit and leaves the hash out; v0 has no partition.
  std::string v0 = fkjoin::encode_subscription(
      {0, std::nullopt, fkjoin::Instruction::delete_key_and_propagate, "k", std::nullopt});
  EXPECT_EQ(v0, std::string("\x80\x01k", 3));
  EXPECT_EQ(fkjoin::decode_subscription(v0).primary_key, "k");
  EXPECT_FALSE(fkjoin::decode_subscription(v0).primary_partition);
}

TEST(ForeignKeyJoinWire, ResponseAndCombinedKeyBytesAreKafkas) {
  std::string bytes = fkjoin::encode_response({0, Hash128{2, 3}, std::string("v")});
  EXPECT_EQ(bytes, std::string("\x00", 1) + std::string("\0\0\0\0\0\0\0\x02", 8) +
                       std::string("\0\0\0\0\0\0\0\x03", 8) + "v");
  fkjoin::ResponseBytes back = fkjoin::decode_response(bytes);
  EXPECT_EQ(back.hash, (Hash128{2, 3}));
  EXPECT_EQ(back.foreign_value, "v");
  EXPECT_EQ(fkjoin::encode_response({0, std::nullopt, std::nullopt}), std::string("\x80"));
  EXPECT_FALSE(fkjoin::decode_response(std::string("\x80")).foreign_value);

  std::string key = fkjoin::combined_key("fk", "pk");
  EXPECT_EQ(key, std::string("\0\0\0\x02", 4) + "fkpk");
  EXPECT_TRUE(key.starts_with(fkjoin::combined_key_prefix("fk")));
  EXPECT_EQ(fkjoin::primary_key_of(key), "pk");
  EXPECT_EQ(fkjoin::prefix_upper_bound(std::string("a\xff", 2)), std::string("b\0", 2));
}

TEST(ForeignKeyJoinWire, MalformedBytesAreSerializationErrors) {
  EXPECT_THROW(fkjoin::decode_subscription(""), SerializationError);
  EXPECT_THROW(fkjoin::decode_subscription(std::string("\x01\x07pk\0\0\0\0", 8)),
               SerializationError);                                           // unknown instruction
  EXPECT_THROW(fkjoin::decode_subscription("\x05\x01"), SerializationError);  // version 5
  EXPECT_THROW(fkjoin::decode_subscription(std::string("\x01\x01\0\0", 4)),
               SerializationError);  // truncated hash
  EXPECT_THROW(fkjoin::decode_subscription(std::string("\x81\x01\0", 3)),
               SerializationError);  // no partition
  EXPECT_THROW(fkjoin::decode_response(""), SerializationError);
  EXPECT_THROW(fkjoin::decode_response("\x01"), SerializationError);  // version 1
  EXPECT_THROW(fkjoin::primary_key_of(std::string("\0\0\0\x09", 4) + "fk"), SerializationError);
}

// Kafka's KTableKTableForeignKeyJoinScenarioTest layout: two source tables
// (names 0 to 5), then the join. The result's values are optional, so its
// deletions reach the output topic as tombstones (dsl.h's to_stream()).
struct FkJoinApp {
  using Result = std::optional<std::string>;
  explicit FkJoinApp(bool left_join, std::string store = "") {
    StreamsBuilder builder;
    auto left = builder.table("left_table", Consumed{serdes::string(), serdes::string()});
    auto right = builder.table("right_table", Consumed{serdes::string(), serdes::string()});
    Materialized<std::string, Result> materialized;
    if (!store.empty()) {
      materialized = Materialized<std::string, Result>::as(store);
      materialized.value_serde = serdes::optional(serdes::string());
    }
    KTable<std::string, Result> result =
        left_join
            ? left.left_join(
                  right, foreign_key_of,
                  [](const std::string& l, const std::optional<std::string>& r) -> Result {
                    return joined(l, r.value_or("null"));
                  },
                  materialized)
            : left.join(
                  right, foreign_key_of,
                  [](const std::string& l, const std::string& r) -> Result { return joined(l, r); },
                  materialized);
    result.to_stream().to("output", Produced{serdes::string(), serdes::optional(serdes::string())});
    topology = builder.build();
  }
  Topology topology;
};

OutputRows read_all(TopologyTestDriver& driver) {
  auto output =
      driver.create_output_topic("output", serdes::string(), serdes::optional(serdes::string()));
  OutputRows out;
  while (!output.is_empty()) {
    auto [key, value] = output.read_key_value();
    out.emplace_back(key, value);
  }
  return out;
}

TEST(ForeignKeyJoin, NamesAndInternalTopicsAreKafkas) {
  FkJoinApp app(false);
  std::string description = app.topology.describe();
  for (const char* name :
       {"Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007 (stores: [])",
        "Sink: KTABLE-SINK-0000000008 (topic: "
        "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic)",
        "Source: KTABLE-SOURCE-0000000009 (topics: "
        "[KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic])",
        "Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011 (stores: "
        "[KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])",
        "Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012 (stores: "
        "[right_table-STATE-STORE-0000000003])",
        "Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013 (stores: "
        "[KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])",
        "Sink: KTABLE-SINK-0000000015 (topic: "
        "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic)",
        "      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012, "
        "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013",
        "Source: KTABLE-SOURCE-0000000016 (topics: "
        "[KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic])",
        "Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017 (stores: "
        "[left_table-STATE-STORE-0000000000])",
        "Processor: KTABLE-FK-JOIN-OUTPUT-0000000018 (stores: [])",
        "Processor: KTABLE-TOSTREAM-0000000020 (stores: [])"}) {
    EXPECT_NE(description.find(name), std::string::npos) << name << "\n" << description;
  }
  // Two sub-topologies: this table's side and the other's, as Kafka's.
  EXPECT_EQ(app.topology.subtopologies().size(), 2u);
  TopologyTestDriver driver(app.topology, TestDriverSettings{"app"});
  auto left = driver.create_input_topic("left_table", serdes::string(), serdes::string());
  auto right = driver.create_input_topic("right_table", serdes::string(), serdes::string());
  left.pipe_input("lhs1", "v|rhs1", 1);
  right.pipe_input("rhs1", "r", 2);
  std::set<std::string> topics = driver.produced_topic_names();
  EXPECT_TRUE(topics.count("app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"));
  EXPECT_TRUE(topics.count("app-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"));
  EXPECT_TRUE(topics.count("app-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010-changelog"));
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", "(v|rhs1,r)"}}));
}

TEST(ForeignKeyJoin, KafkasScenarioGivesKafkasOutput) {
  // KStreamImplTest.shouldSupportForeignKeyTableTableJoinWithKTableFromKStream's steps.
  FkJoinApp app(false);
  TopologyTestDriver driver(app.topology);
  auto left = driver.create_input_topic("left_table", serdes::string(), serdes::string());
  auto right = driver.create_input_topic("right_table", serdes::string(), serdes::string());
  right.pipe_input("rhs1", "rhsValue1", 0);
  right.pipe_input("rhs2", "rhsValue2", 0);
  right.pipe_input("rhs3", "rhsValue3", 0);  // never referenced: never in the output
  EXPECT_TRUE(read_all(driver).empty());
  left.pipe_input("lhs1", "lhsValue1|rhs1", 1);
  left.pipe_input("lhs2", "lhsValue2|rhs2", 1);
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", "(lhsValue1|rhs1,rhsValue1)"},
                                          {"lhs2", "(lhsValue2|rhs2,rhsValue2)"}}));
  left.pipe_input("lhs3", "lhsValue3|rhs1", 2);  // another reference to rhs1
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs3", "(lhsValue3|rhs1,rhsValue1)"}}));
  right.pipe_input("rhs1", "rhsValue1+", 3);  // both subscribers hear of it
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", "(lhsValue1|rhs1,rhsValue1+)"},
                                          {"lhs3", "(lhsValue3|rhs1,rhsValue1+)"}}));
  left.pipe_input("lhs1", "lhsValue1|rhs4", 4);  // a foreign key without a row: null
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", std::nullopt}}));
  right.pipe_input("rhs4", "rhsValue4", 5);
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", "(lhsValue1|rhs4,rhsValue4)"}}));
  right.pipe_tombstone("rhs1", 6);  // lhs3 loses its match; lhs1 left rhs1 already
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs3", std::nullopt}}));
  left.pipe_tombstone("lhs2", 7);
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs2", std::nullopt}}));
}

TEST(ForeignKeyJoin, LeftJoinKeepsRowsWithoutAMatch) {
  FkJoinApp app(true);
  TopologyTestDriver driver(app.topology);
  auto left = driver.create_input_topic("left_table", serdes::string(), serdes::string());
  auto right = driver.create_input_topic("right_table", serdes::string(), serdes::string());
  left.pipe_input("lhs1", "a|rhs1", 1);
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", "(a|rhs1,null)"}}));
  right.pipe_input("rhs1", "r1", 2);
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", "(a|rhs1,r1)"}}));
  right.pipe_tombstone("rhs1", 3);
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", "(a|rhs1,null)"}}));
  left.pipe_tombstone("lhs1", 4);  // Kafka: one tombstone per instruction
  EXPECT_EQ(read_all(driver), (OutputRows{{"lhs1", std::nullopt}, {"lhs1", std::nullopt}}));
}

TEST(ForeignKeyJoin, ResponsesToAnOlderValueAreDropped) {
  // The subscription's hash travels with the response: one made for a value
  // the row no longer has is dropped by the resolver, so a quick succession
  // of foreign keys ends at the latest one's result only.
  FkJoinApp app(false);
  TopologyTestDriver driver(app.topology);
  auto left = driver.create_input_topic("left_table", serdes::string(), serdes::string());
  auto right = driver.create_input_topic("right_table", serdes::string(), serdes::string());
  right.pipe_input("a", "A", 0);
  right.pipe_input("b", "B", 0);
  auto response = driver.create_output_topic(
      "test-driver-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic", serdes::string(),
      fkjoin::response_serde(serdes::string()));
  left.pipe_input("k", "1|a", 1);
  EXPECT_EQ(read_all(driver), (OutputRows{{"k", "(1|a,A)"}}));
  ASSERT_EQ(response.queue_size(), 1u);
  fkjoin::SubscriptionResponseWrapper<std::string> stale = response.read_value();
  left.pipe_input("k", "2|b", 2);
  EXPECT_EQ(read_all(driver), (OutputRows{{"k", "(2|b,B)"}}));
  // The answer to "1|a" arriving late changes nothing.
  SerializedRecord late;
  late.topic = "test-driver-KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic";
  late.partition = 0;
  late.timestamp = 3;
  late.key = "k";
  late.value = fkjoin::response_serde(serdes::string()).serialize("", stale);
  driver.pipe(late);
  EXPECT_TRUE(read_all(driver).empty());
}

// Brute force: every left row whose foreign key has a right row (inner), or
// every left row (left join).
Table model_join(const Table& left, const Table& right, bool left_join) {
  Table joined_rows;
  for (const auto& [key, value] : left) {
    auto match = right.find(foreign_key_of(value));
    if (match != right.end()) {
      joined_rows[key] = joined(value, match->second);
    } else if (left_join) {
      joined_rows[key] = joined(value, "null");
    }
  }
  return joined_rows;
}

void random_updates_match_the_model(bool left_join, bool materialized, uint32_t seed) {
  FkJoinApp app(left_join, materialized ? "fk-result" : "");
  TopologyTestDriver driver(app.topology);
  auto left = driver.create_input_topic("left_table", serdes::string(), serdes::string());
  auto right = driver.create_input_topic("right_table", serdes::string(), serdes::string());
  auto output =
      driver.create_output_topic("output", serdes::string(), serdes::optional(serdes::string()));
  std::mt19937 random(seed);
  auto pick = [&](int n) { return static_cast<int>(random() % static_cast<uint32_t>(n)); };
  Table left_rows;
  Table right_rows;
  Table result;  // the output topic read as a table
  for (int step = 0; step < 1500; ++step) {
    int64_t timestamp = step;
    int what = pick(10);
    if (what < 5) {  // a left row, new or with a new value and maybe a new foreign key
      std::string key = "k" + std::to_string(pick(25));
      std::string value = "v" + std::to_string(step) + "|f" + std::to_string(pick(8));
      left_rows[key] = value;
      left.pipe_input(key, value, timestamp);
    } else if (what < 6) {
      std::string key = "k" + std::to_string(pick(25));
      left_rows.erase(key);
      left.pipe_tombstone(key, timestamp);
    } else if (what < 9) {
      std::string key = "f" + std::to_string(pick(8));
      std::string value = "r" + std::to_string(step);
      right_rows[key] = value;
      right.pipe_input(key, value, timestamp);
    } else {
      std::string key = "f" + std::to_string(pick(8));
      right_rows.erase(key);
      right.pipe_tombstone(key, timestamp);
    }
    while (!output.is_empty()) {
      auto [key, value] = output.read_key_value();
      if (value) {
        result[key] = *value;
      } else {
        result.erase(key);
      }
    }
    ASSERT_EQ(result, model_join(left_rows, right_rows, left_join)) << "after step " << step;
  }
  if (materialized) {
    auto& store = driver.get_key_value_store<std::string, FkJoinApp::Result>("fk-result");
    Table stored;
    for (auto& [key, value] : store.all()) stored[key] = value.value();
    EXPECT_EQ(stored, result);
  }
}

TEST(ForeignKeyJoin, InnerJoinEqualsTheModelAfterEveryRandomUpdate) {
  random_updates_match_the_model(false, false, 1);
  random_updates_match_the_model(false, true, 2);
}

TEST(ForeignKeyJoin, LeftJoinEqualsTheModelAfterEveryRandomUpdate) {
  random_updates_match_the_model(true, false, 3);
  random_updates_match_the_model(true, true, 4);
}

TEST(ForeignKeyJoin, AnUnmaterializedResultCannotBeJoined) {
  StreamsBuilder builder;
  auto left = builder.table("l", Consumed{serdes::string(), serdes::string()});
  auto right = builder.table("r", Consumed{serdes::string(), serdes::string()});
  auto result = left.join(right, foreign_key_of, joined);
  builder.stream("s", Consumed{serdes::string(), serdes::string()})
      .join(result, [](const std::string& a, const std::string& b) { return a + b; })
      .to("o", Produced{serdes::string(), serdes::string()});
  EXPECT_THROW(TopologyTestDriver driver(builder.build()), TopologyError);
}

}  // namespace
}  // namespace sluice::streams
