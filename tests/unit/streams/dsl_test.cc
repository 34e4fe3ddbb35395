// The DSL through the test driver: results equal what a model computes,
// and node, store and internal topic names are Kafka Streams' for the same
// program.

#include "streams/dsl.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "streams/test_driver.h"

namespace sluice::streams {
namespace {

using Pairs = std::vector<std::pair<std::string, int64_t>>;

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> words;
  std::istringstream in(line);
  for (std::string word; in >> word;) {
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    words.push_back(word);
  }
  return words;
}

// Kafka's WordCountDemo.
void word_count(StreamsBuilder& builder, Materialized<std::string, int64_t> store = {}) {
  builder.stream("streams-plaintext-input", Consumed{serdes::string(), serdes::string()})
      .flat_map_values(words_of)
      .group_by([](const std::string&, const std::string& word) { return word; })
      .count(std::move(store))
      .to_stream()
      .to("streams-wordcount-output", Produced{serdes::string(), serdes::long_()});
}

TEST(StreamsDsl, WordCountEqualsTheModel) {
  StreamsBuilder builder;
  word_count(builder);
  TopologyTestDriver driver(builder.build(), TestDriverSettings{"streams-wordcount"});
  auto input =
      driver.create_input_topic("streams-plaintext-input", serdes::string(), serdes::string());
  auto output =
      driver.create_output_topic("streams-wordcount-output", serdes::string(), serdes::long_());
  std::vector<std::string> lines = {"all streams lead to kafka", "hello kafka streams",
                                    "join kafka summit", "", "  Kafka   KAFKA "};
  std::map<std::string, int64_t> model;
  Pairs expected;
  for (const std::string& line : lines) {
    input.pipe_value(line);
    for (const std::string& word : words_of(line)) expected.emplace_back(word, ++model[word]);
  }
  EXPECT_EQ(output.read_key_values_to_list(), expected);
  auto& counts =
      driver.get_key_value_store<std::string, int64_t>("KSTREAM-AGGREGATE-STATE-STORE-0000000003");
  EXPECT_EQ(counts.get("kafka"), 5);
  // Kafka Streams' internal topic names for this program.
  std::set<std::string> topics = driver.produced_topic_names();
  EXPECT_TRUE(
      topics.count("streams-wordcount-KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition"));
  EXPECT_TRUE(topics.count("streams-wordcount-KSTREAM-AGGREGATE-STATE-STORE-0000000003-changelog"));
}

TEST(StreamsDsl, WordCountDescribesAsKafkasDoes) {
  StreamsBuilder builder;
  word_count(builder, Materialized<std::string, int64_t>::as("counts-store"));
  // Kafka 3.x: a named store names the repartition topic and its nodes.
  EXPECT_EQ(builder.build().describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])\n"
            "      --> KSTREAM-FLATMAPVALUES-0000000001\n"
            "    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])\n"
            "      --> KSTREAM-KEY-SELECT-0000000002\n"
            "      <-- KSTREAM-SOURCE-0000000000\n"
            "    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])\n"
            "      --> counts-store-repartition-filter\n"
            "      <-- KSTREAM-FLATMAPVALUES-0000000001\n"
            "    Processor: counts-store-repartition-filter (stores: [])\n"
            "      --> counts-store-repartition-sink\n"
            "      <-- KSTREAM-KEY-SELECT-0000000002\n"
            "    Sink: counts-store-repartition-sink (topic: counts-store-repartition)\n"
            "      <-- counts-store-repartition-filter\n"
            "\n"
            "   Sub-topology: 1\n"
            "    Source: counts-store-repartition-source (topics: [counts-store-repartition])\n"
            "      --> KSTREAM-AGGREGATE-0000000003\n"
            "    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])\n"
            "      --> KTABLE-TOSTREAM-0000000007\n"
            "      <-- counts-store-repartition-source\n"
            "    Processor: KTABLE-TOSTREAM-0000000007 (stores: [])\n"
            "      --> KSTREAM-SINK-0000000008\n"
            "      <-- KSTREAM-AGGREGATE-0000000003\n"
            "    Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)\n"
            "      <-- KTABLE-TOSTREAM-0000000007\n"
            "\n");
  EXPECT_EQ(builder.build().subtopologies().size(), 2u);
}

TEST(StreamsDsl, StatelessOperations) {
  StreamsBuilder builder;
  std::vector<std::string> peeked;
  auto numbers = builder.stream("numbers", Consumed{serdes::string(), serdes::long_()});
  auto branches = numbers.peek([&](const std::string& key, int64_t) { peeked.push_back(key); })
                      .split("parity-")
                      .branch([](const std::string&, int64_t n) { return n % 2 == 0; }, "even")
                      .default_branch();
  ASSERT_EQ(branches.size(), 2u);
  ASSERT_TRUE(branches.count("parity-even"));
  ASSERT_TRUE(branches.count("parity-0"));
  branches.at("parity-even")
      .map_values([](int64_t n) { return n * 10; })
      .filter([](const std::string&, int64_t n) { return n != 40; })
      .to("tens");
  branches.at("parity-0")
      .map([](const std::string& key, int64_t n) {
        return std::make_pair(key + "!", std::to_string(n));
      })
      .flat_map_values([](const std::string& text) {
        return std::vector<std::string>{text, text + text};
      })
      .to("odd-text", Produced{serdes::string(), serdes::string()});
  auto renamed =
      numbers.select_key([](const std::string& key, int64_t n) { return key + std::to_string(n); });
  renamed.merge(numbers.filter_not([](const std::string&, int64_t n) { return n > 1; }))
      .to("merged", Produced{serdes::string(), serdes::long_()});

  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("numbers", serdes::string(), serdes::long_());
  for (int64_t n = 1; n <= 4; ++n) in.pipe_input("k", n, n);
  EXPECT_EQ(peeked.size(), 4u);
  auto tens = driver.create_output_topic("tens", serdes::string(), serdes::long_());
  EXPECT_EQ(tens.read_values_to_list(), std::vector<int64_t>{20});
  auto odd = driver.create_output_topic("odd-text", serdes::string(), serdes::string());
  EXPECT_EQ(odd.read_key_values_to_list(),
            (std::vector<std::pair<std::string, std::string>>{
                {"k!", "1"}, {"k!", "11"}, {"k!", "3"}, {"k!", "33"}}));
  auto merged = driver.create_output_topic("merged", serdes::string(), serdes::long_());
  EXPECT_EQ(merged.read_key_values_to_list(),
            (Pairs{{"k1", 1}, {"k", 1}, {"k2", 2}, {"k3", 3}, {"k4", 4}}));
}

TEST(StreamsDsl, TablesApplyUpdatesAndTombstones) {
  StreamsBuilder builder;
  auto users = builder.table("users", Consumed{serdes::string(), serdes::string()});
  EXPECT_EQ(users.queryable_store_name(), "users-STATE-STORE-0000000000");
  users.filter([](const std::string&, const std::string& region) { return region != "hidden"; })
      .map_values([](const std::string& region) { return "region:" + region; })
      .to_stream()
      .to("visible", Produced{serdes::string(), serdes::string()});
  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("users", serdes::string(), serdes::string());
  in.pipe_input("ada", "eu", 1);
  in.pipe_input("bob", "us", 2);
  in.pipe_input("ada", "hidden", 3);  // filtered out: a deletion downstream (dropped by to_stream)
  in.pipe_tombstone("bob", 4);
  in.pipe_tombstone("nobody", 5);  // nothing to delete
  in.pipe_input("cy", "eu", 6);
  auto& store =
      driver.get_key_value_store<std::string, std::string>("users-STATE-STORE-0000000000");
  EXPECT_EQ(store.get("ada"), "hidden");
  EXPECT_EQ(store.get("bob"), std::nullopt);
  EXPECT_EQ(store.all().size(), 2u);
  auto out = driver.create_output_topic("visible", serdes::string(), serdes::string());
  EXPECT_EQ(out.read_key_values_to_list(),
            (std::vector<std::pair<std::string, std::string>>{
                {"ada", "region:eu"}, {"bob", "region:us"}, {"cy", "region:eu"}}));
}

TEST(StreamsDsl, TableDeletionsReachAStreamOfOptionalValues) {
  StreamsBuilder builder;
  builder.table("t", Consumed{serdes::string(), serdes::optional(serdes::string())})
      .to_stream()
      .to("out", Produced{serdes::string(), serdes::optional(serdes::string())});
  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("t", serdes::string(), serdes::optional(serdes::string()));
  in.pipe_input("a", std::optional<std::string>("1"), 1);
  in.pipe_tombstone("a", 2);
  std::deque<SerializedRecord>& out = driver.output("out");
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].value, "1");
  EXPECT_EQ(out[1].value, std::nullopt);  // a tombstone in the output topic
}

// The seed's use case: clicks enriched with a users table.
TEST(StreamsDsl, StreamTableJoinsEnrichClicks) {
  StreamsBuilder builder;
  auto users = builder.table("users", Consumed{serdes::string(), serdes::string()});
  auto clicks = builder.stream("clicks", Consumed{serdes::string(), serdes::string()});
  clicks
      .join(users,
            [](const std::string& page, const std::string& region) { return page + "@" + region; })
      .to("enriched", Produced{serdes::string(), serdes::string()});
  clicks
      .left_join(users,
                 [](const std::string& page, const std::optional<std::string>& region) {
                   return page + "@" + region.value_or("unknown");
                 })
      .to("enriched-all", Produced{serdes::string(), serdes::string()});
  TopologyTestDriver driver(builder.build());
  auto user_in = driver.create_input_topic("users", serdes::string(), serdes::string());
  auto click_in = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  user_in.pipe_input("ada", "eu", 1);
  click_in.pipe_input("ada", "/home", 2);
  click_in.pipe_input("bob", "/about", 3);  // no user yet
  user_in.pipe_input("bob", "us", 4);
  click_in.pipe_input("bob", "/cart", 5);
  user_in.pipe_tombstone("ada", 6);
  click_in.pipe_input("ada", "/exit", 7);
  using Strings = std::vector<std::pair<std::string, std::string>>;
  auto enriched = driver.create_output_topic("enriched", serdes::string(), serdes::string());
  EXPECT_EQ(enriched.read_key_values_to_list(),
            (Strings{{"ada", "/home@eu"}, {"bob", "/cart@us"}}));
  auto all = driver.create_output_topic("enriched-all", serdes::string(), serdes::string());
  EXPECT_EQ(all.read_key_values_to_list(), (Strings{{"ada", "/home@eu"},
                                                    {"bob", "/about@unknown"},
                                                    {"bob", "/cart@us"},
                                                    {"ada", "/exit@unknown"}}));
}

TEST(StreamsDsl, JoinsReadTablesComputedFromOthers) {
  StreamsBuilder builder;
  auto users =
      builder.table("users", Consumed{serdes::string(), serdes::string()})
          .filter([](const std::string&, const std::string& region) { return region == "eu"; })
          .map_values([](const std::string& region) { return region.size(); });
  builder.stream("clicks", Consumed{serdes::string(), serdes::string()})
      .join(users, [](const std::string& page,
                      size_t length) { return page + ":" + std::to_string(length); })
      .to("out", Produced{serdes::string(), serdes::string()});
  TopologyTestDriver driver(builder.build());
  auto user_in = driver.create_input_topic("users", serdes::string(), serdes::string());
  auto click_in = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  user_in.pipe_input("ada", "eu", 1);
  user_in.pipe_input("bob", "us", 1);
  click_in.pipe_input("ada", "/a", 2);
  click_in.pipe_input("bob", "/b", 2);
  auto out = driver.create_output_topic("out", serdes::string(), serdes::string());
  EXPECT_EQ(out.read_values_to_list(), std::vector<std::string>{"/a:2"});
}

TEST(StreamsDsl, ReduceAndAggregateByKey) {
  StreamsBuilder builder;
  auto views = builder.stream("views", Consumed{serdes::string(), serdes::long_()});
  views.group_by_key()
      .reduce([](int64_t total, int64_t value) { return total + value; })
      .to_stream()
      .to("sums");
  views.group_by_key()
      .aggregate<std::string>(
          [] { return std::string("^"); },
          [](const std::string&, int64_t value, std::string seen) {
            return seen + std::to_string(value);
          },
          Materialized<std::string, std::string>::as("seen").with_value_serde(serdes::string()))
      .to_stream()
      .to("seen-out", Produced{serdes::string(), serdes::string()});
  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("views", serdes::string(), serdes::long_());
  in.pipe_input("a", 1, 1);
  in.pipe_input("b", 5, 2);
  in.pipe_input("a", 2, 3);
  auto sums = driver.create_output_topic("sums", serdes::string(), serdes::long_());
  EXPECT_EQ(sums.read_key_values_to_list(), (Pairs{{"a", 1}, {"b", 5}, {"a", 3}}));
  auto seen = driver.create_output_topic("seen-out", serdes::string(), serdes::string());
  EXPECT_EQ(seen.read_key_values_to_map(),
            (std::map<std::string, std::string>{{"a", "^12"}, {"b", "^5"}}));
  // group_by_key needs no repartition: nothing was written to an internal topic but changelogs.
  for (const std::string& topic : driver.produced_topic_names()) {
    EXPECT_FALSE(topic.ends_with("-repartition")) << topic;
  }
}

TEST(StreamsDsl, GroupByKeyAfterAKeyChangeRepartitions) {
  StreamsBuilder builder;
  builder.stream("in", Consumed{serdes::string(), serdes::string()})
      .select_key([](const std::string&, const std::string& value) { return value.substr(0, 1); })
      .group_by_key(
          Grouped<std::string, std::string>{serdes::string(), serdes::string(), "by-initial"})
      .count()
      .to_stream()
      .to("out", Produced{serdes::string(), serdes::long_()});
  TopologyTestDriver driver(builder.build(), TestDriverSettings{"app"});
  auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
  in.pipe_input("x", "apple", 1);
  in.pipe_input("y", "avocado", 2);
  in.pipe_input("z", "banana", 3);
  EXPECT_TRUE(driver.produced_topic_names().count("app-by-initial-repartition"));
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  EXPECT_EQ(out.read_key_values_to_map(), (std::map<std::string, int64_t>{{"a", 2}, {"b", 1}}));
}

struct Opaque {
  int x = 0;
};

TEST(StreamsDsl, TypesWithoutADefaultSerdeNeedOne) {
  StreamsBuilder builder;
  auto mapped =
      builder.stream("in", Consumed{serdes::string(), serdes::string()})
          .map_values([](const std::string& v) { return Opaque{static_cast<int>(v.size())}; });
  EXPECT_THROW(mapped.to("out"), TopologyError);
  Serde<Opaque> opaque{[](const std::string&, const Opaque& o) -> std::optional<std::string> {
                         return std::to_string(o.x);
                       },
                       [](const std::string&, std::optional<std::string_view> bytes) {
                         return Opaque{std::stoi(std::string(bytes.value_or("0")))};
                       }};
  mapped.to("out", Produced{serdes::string(), opaque});
  TopologyTestDriver driver(builder.build());
  driver.create_input_topic("in", serdes::string(), serdes::string()).pipe_input("k", "four", 1);
  EXPECT_EQ(driver.output("out").front().value, "4");
}

}  // namespace
}  // namespace sluice::streams
