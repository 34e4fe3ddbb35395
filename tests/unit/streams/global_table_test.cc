// GlobalKTable and stream-globaltable joins through the test driver: the
// global store follows its topic (tombstones included), joins look up the
// key a selector picks, and the description is Kafka's.

#include "streams/global_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "streams/dsl.h"
#include "streams/test_driver.h"

namespace sluice::streams {
namespace {

using ClickPairs = std::vector<std::pair<std::string, std::string>>;

// A click's value is "user|page"; the join looks the user up.
std::string user_of(const std::string&, const std::string& click) {
  return click.substr(0, click.find('|'));
}

TEST(GlobalKTable, DescribesAsKafkasDoes) {
  StreamsBuilder builder;
  auto users = builder.global_table("users", Consumed{serdes::string(), serdes::string()});
  builder.stream("clicks", Consumed{serdes::string(), serdes::string()})
      .join(
          users, user_of,
          [](const std::string& click, const std::string& region) { return click + "@" + region; })
      .to("enriched", Produced{serdes::string(), serdes::string()});
  EXPECT_EQ(users.queryable_store_name(), "users-STATE-STORE-0000000000");
  EXPECT_EQ(builder.build().describe(),
            "Topologies:\n"
            "   Sub-topology: 0 for global store (will not generate tasks)\n"
            "    Source: KSTREAM-SOURCE-0000000001 (topics: [users])\n"
            "      --> KTABLE-SOURCE-0000000002\n"
            "    Processor: KTABLE-SOURCE-0000000002 (stores: [users-STATE-STORE-0000000000])\n"
            "      --> none\n"
            "      <-- KSTREAM-SOURCE-0000000001\n"
            "   Sub-topology: 1\n"
            "    Source: KSTREAM-SOURCE-0000000003 (topics: [clicks])\n"
            "      --> KSTREAM-LEFTJOIN-0000000004\n"
            "    Processor: KSTREAM-LEFTJOIN-0000000004 (stores: [])\n"
            "      --> KSTREAM-SINK-0000000005\n"
            "      <-- KSTREAM-SOURCE-0000000003\n"
            "    Sink: KSTREAM-SINK-0000000005 (topic: enriched)\n"
            "      <-- KSTREAM-LEFTJOIN-0000000004\n"
            "\n");
  EXPECT_TRUE(builder.build().is_global(builder.build().subtopologies()[0]));
  EXPECT_FALSE(builder.build().is_global(builder.build().subtopologies()[1]));
}

TEST(GlobalKTable, GlobalStoresHaveNoChangelog) {
  StoreBuilder store = stores::in_memory_key_value<std::string, std::string>("s", serdes::string(),
                                                                             serdes::string());
  Topology topology;
  topology.add_source<std::string, std::string>("src", serdes::string(), serdes::string(), {"t"});
  topology.add_processor<std::string, std::string, std::string, std::string>(
      "p",
      detail::supplier_of<std::string, std::string, std::string, std::string>(
          [](ProcessorContext<std::string, std::string>&) {
            return [](const Record<std::string, std::string>&) {};
          }),
      {"src"});
  EXPECT_THROW(topology.add_global_state_store(store, "p"), TopologyError);
}

TEST(GlobalKTable, JoinsEnrichEveryRecordWithTheCurrentRow) {
  StreamsBuilder builder;
  auto users = builder.global_table("users", Consumed{serdes::string(), serdes::string()},
                                    Materialized<std::string, std::string>::as("users-store"));
  auto clicks = builder.stream("clicks", Consumed{serdes::string(), serdes::string()});
  clicks
      .join(
          users, user_of,
          [](const std::string& click, const std::string& region) { return click + "@" + region; })
      .to("enriched", Produced{serdes::string(), serdes::string()});
  clicks
      .left_join(users, user_of,
                 [](const std::string& key, const std::string& click,
                    const std::optional<std::string>& region) {
                   return key + ":" + click + "@" + region.value_or("unknown");
                 })
      .to("enriched-all", Produced{serdes::string(), serdes::string()});
  TopologyTestDriver driver(builder.build());
  auto user_in = driver.create_input_topic("users", serdes::string(), serdes::string());
  auto click_in = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  std::mt19937 random(7);
  std::map<std::string, std::string> model_users;
  ClickPairs expected;
  ClickPairs expected_all;
  for (int step = 0; step < 600; ++step) {
    std::string user = "u" + std::to_string(random() % 10);
    switch (random() % 4) {
      case 0:
        model_users[user] = "region" + std::to_string(step);
        user_in.pipe_input(user, model_users[user], step);
        break;
      case 1:
        model_users.erase(user);
        user_in.pipe_tombstone(user, step);
        break;
      default: {
        // Clicks are keyed by session, not user: no co-partitioning needed.
        std::string session = "s" + std::to_string(random() % 5);
        std::string click = user + "|/p" + std::to_string(step);
        click_in.pipe_input(session, click, step);
        auto found = model_users.find(user);
        if (found != model_users.end()) expected.emplace_back(session, click + "@" + found->second);
        expected_all.emplace_back(
            session,
            session + ":" + click + "@" + (found != model_users.end() ? found->second : "unknown"));
      }
    }
  }
  auto enriched = driver.create_output_topic("enriched", serdes::string(), serdes::string());
  auto all = driver.create_output_topic("enriched-all", serdes::string(), serdes::string());
  EXPECT_EQ(enriched.read_key_values_to_list(), expected);
  EXPECT_EQ(all.read_key_values_to_list(), expected_all);
  auto& store = driver.get_key_value_store<std::string, std::string>("users-store");
  std::map<std::string, std::string> stored;
  for (auto& [key, value] : store.all()) stored[key] = value;
  EXPECT_EQ(stored, model_users);
  // The source topic is the changelog: nothing else is written.
  for (const std::string& topic : driver.produced_topic_names()) {
    EXPECT_TRUE(topic == "enriched" || topic == "enriched-all") << topic;
  }
}

}  // namespace
}  // namespace sluice::streams
