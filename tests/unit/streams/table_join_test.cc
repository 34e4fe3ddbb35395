// Table-table joins through the test driver: every change (new and old
// result) equals a model of two tables over random updates and deletes,
// the result's store and value getter hold the model's join; Kafka's
// documented semantics table; node names as Kafka 3.x describes them.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

#include "streams/copartition.h"
#include "streams/dsl.h"
#include "streams/test_driver.h"

namespace sluice::streams::table_join_test {
namespace {

using detail::join_inner;
using detail::join_left;
using detail::join_outer;
using Result = std::optional<std::string>;

std::string text(const std::string& value) { return value; }
template <class T>
std::string text(const std::optional<T>& value) {
  return value ? text(*value) : "null";
}
auto bracket_joiner() {
  return [](const auto& left, const auto& right) {
    return "[" + text(left) + ", " + text(right) + "]";
  };
}

struct Emitted {
  int32_t key = 0;
  Change<std::string> change;
  int64_t timestamp = 0;
  bool operator==(const Emitted&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Emitted& e) {
  return out << e.key << ": new " << text(e.change.new_value) << ", old "
             << text(e.change.old_value) << " @" << e.timestamp;
}

// Records what a table forwards (its changes, old values included).
void capture(StreamsBuilder& builder, const std::string& parent,
             std::shared_ptr<std::vector<Emitted>> sink) {
  builder.topology().add_processor<int32_t, Change<std::string>, int32_t, Change<std::string>>(
      "capture",
      detail::supplier_of<int32_t, Change<std::string>, int32_t, Change<std::string>>(
          [sink](ProcessorContext<int32_t, Change<std::string>>&) {
            return [sink](const Record<int32_t, Change<std::string>>& record) {
              sink->push_back({record.key, record.value, record.timestamp});
            };
          }),
      {parent});
}

template <int Kind>
KTable<int32_t, std::string> join_tables(StreamsBuilder& builder, bool materialized) {
  Consumed<int32_t, std::string> consumed{serdes::integer(), serdes::string()};
  auto left = builder.table("left", consumed);
  auto right = builder.table("right", consumed);
  auto store = Materialized<int32_t, std::string>::as("joined");
  store.value_serde = serdes::string();
  if constexpr (Kind == join_inner) {
    return materialized ? left.join(right, bracket_joiner(), store)
                        : left.join(right, bracket_joiner());
  } else if constexpr (Kind == join_left) {
    return materialized ? left.left_join(right, bracket_joiner(), store)
                        : left.left_join(right, bracket_joiner());
  } else {
    return materialized ? left.outer_join(right, bracket_joiner(), store)
                        : left.outer_join(right, bracket_joiner());
  }
}

// The join of two values as the model sees it (nullopt: no result row).
Result model_join(int kind, const Result& left, const Result& right) {
  if (kind == join_inner && (!left || !right)) return std::nullopt;
  if (kind == join_left && !left) return std::nullopt;
  if (!left && !right) return std::nullopt;
  return "[" + text(left) + ", " + text(right) + "]";
}

struct Harness {
  StreamsBuilder builder;
  std::shared_ptr<std::vector<Emitted>> emitted = std::make_shared<std::vector<Emitted>>();
  std::unique_ptr<TopologyTestDriver> driver;
  std::optional<TestInputTopic<int32_t, std::string>> left, right, lookups;
  std::optional<TestOutputTopic<int32_t, std::string>> found;

  Harness(int kind, bool materialized) {
    KTable<int32_t, std::string> joined =
        kind == join_inner  ? join_tables<join_inner>(builder, materialized)
        : kind == join_left ? join_tables<join_left>(builder, materialized)
                            : join_tables<join_outer>(builder, materialized);
    capture(builder, joined.node_name(), emitted);
    // Lookups read the join through its value getter.
    builder.stream("lookups", Consumed{serdes::integer(), serdes::string()})
        .left_join(joined, [](const std::string&, const Result& row) { return text(row); })
        .to("found", Produced{serdes::integer(), serdes::string()});
    driver = std::make_unique<TopologyTestDriver>(builder.build(), TestDriverSettings{"tables"});
    left.emplace(driver->create_input_topic("left", serdes::integer(), serdes::string()));
    right.emplace(driver->create_input_topic("right", serdes::integer(), serdes::string()));
    lookups.emplace(driver->create_input_topic("lookups", serdes::integer(), serdes::string()));
    found.emplace(driver->create_output_topic("found", serdes::integer(), serdes::string()));
  }
};

TEST(StreamsTableJoin, ChangesEqualTheModelOfTwoTables) {
  size_t changes = 0;
  for (int kind : {join_inner, join_left, join_outer}) {
    for (bool materialized : {false, true}) {
      for (uint32_t seed = 1; seed <= 15; ++seed) {
        std::mt19937 random(seed * 31 + kind * 7 + (materialized ? 1 : 0));
        Harness harness(kind, materialized);
        std::map<int32_t, std::string> tables[2];
        std::vector<Emitted> expected;
        for (int step = 0; step < 300; ++step) {
          int side = std::uniform_int_distribution<int>(0, 1)(random);
          int32_t key = std::uniform_int_distribution<int32_t>(0, 4)(random);
          bool remove = std::uniform_int_distribution<int>(0, 3)(random) == 0;
          int64_t timestamp = step * 10;
          auto& topic = side == 0 ? *harness.left : *harness.right;
          auto& table = tables[side];
          auto lookup = [&](int s) -> Result {
            auto found = tables[s].find(key);
            return found == tables[s].end() ? Result() : Result(found->second);
          };
          Result before = model_join(kind, lookup(0), lookup(1));
          if (remove) {
            topic.pipe_tombstone(key, timestamp);
            if (table.erase(key) == 0) continue;  // deleting nothing changes nothing
          } else {
            // Few distinct values, so an update can repeat the old value.
            std::string value = (side == 0 ? "L" : "R") +
                                std::to_string(std::uniform_int_distribution<int>(0, 2)(random));
            topic.pipe_input(key, value, timestamp);
            table[key] = value;
          }
          Result after = model_join(kind, lookup(0), lookup(1));
          if (before || after)
            expected.push_back({key, Change<std::string>{after, before}, timestamp});
          if (step % 10 == 0) {
            harness.lookups->pipe_input(key, "?", timestamp);
            EXPECT_EQ(harness.found->read_value(), text(after));
          }
        }
        ASSERT_EQ(*harness.emitted, expected) << "kind " << kind << " seed " << seed;
        changes += expected.size();
        if (materialized) {
          std::map<int32_t, std::string> rows;
          for (int32_t key = 0; key <= 4; ++key) {
            auto in = [&](int s) -> Result {
              auto found = tables[s].find(key);
              return found == tables[s].end() ? Result() : Result(found->second);
            };
            if (Result row = model_join(kind, in(0), in(1))) rows[key] = *row;
          }
          auto& store = harness.driver->get_key_value_store<int32_t, std::string>("joined");
          std::map<int32_t, std::string> stored;
          for (auto& [key, value] : store.all()) stored[key] = value;
          EXPECT_EQ(stored, rows);
        }
      }
    }
  }
  EXPECT_GT(changes, 10'000u);
}

// Kafka's docs (Streams DSL, "Semantics of table-table equi-joins"): one
// key, "null" a tombstone in and out.
std::vector<std::string> docs_table_join_rows(int kind) {
  Harness harness(kind, false);
  struct Row {
    int64_t timestamp;
    bool left;
    std::optional<std::string> value;
  };
  std::vector<Row> rows = {{1, true, std::nullopt},
                           {2, false, std::nullopt},
                           {3, true, "A"},
                           {4, false, "a"},
                           {5, true, "B"},
                           {6, false, "b"},
                           {7, true, std::nullopt},
                           {8, false, std::nullopt},
                           {9, true, "C"},
                           {10, false, "c"},
                           {11, false, std::nullopt},
                           {12, true, std::nullopt},
                           {13, false, std::nullopt},
                           {14, false, "d"},
                           {15, true, "D"}};
  std::vector<std::string> lines;
  for (const Row& row : rows) {
    auto& topic = row.left ? *harness.left : *harness.right;
    harness.emitted->clear();
    if (row.value) {
      topic.pipe_input(0, *row.value, row.timestamp);
    } else {
      topic.pipe_tombstone(0, row.timestamp);
    }
    std::string line = std::to_string(row.timestamp) + ":";
    for (const Emitted& e : *harness.emitted) line += " " + text(e.change.new_value);
    lines.push_back(line);
  }
  return lines;
}

TEST(StreamsTableJoin, KafkasDocumentedSemantics) {
  EXPECT_EQ(docs_table_join_rows(join_inner),
            (std::vector<std::string>{"1:", "2:", "3:", "4: [A, a]", "5: [B, a]", "6: [B, b]",
                                      "7: null", "8:", "9:", "10: [C, c]", "11: null",
                                      "12:", "13:", "14:", "15: [D, d]"}));
  EXPECT_EQ(docs_table_join_rows(join_left),
            (std::vector<std::string>{"1:", "2:", "3: [A, null]", "4: [A, a]", "5: [B, a]",
                                      "6: [B, b]", "7: null", "8:", "9: [C, null]", "10: [C, c]",
                                      "11: [C, null]", "12: null", "13:", "14:", "15: [D, d]"}));
  EXPECT_EQ(docs_table_join_rows(join_outer),
            (std::vector<std::string>{"1:", "2:", "3: [A, null]", "4: [A, a]", "5: [B, a]",
                                      "6: [B, b]", "7: [null, b]", "8: null", "9: [C, null]",
                                      "10: [C, c]", "11: [C, null]", "12: null",
                                      "13:", "14: [null, d]", "15: [D, d]"}));
}

// Kafka 3.x's KStreamImplTest.shouldSupportTableTableJoinWithKStreamToKTable,
// with builder.table (same numbering) in place of stream().toTable().
TEST(StreamsTableJoin, DescribesAsKafkas) {
  StreamsBuilder builder;
  Consumed<std::string, std::string> consumed{serdes::string(), serdes::string()};
  auto table1 = builder.table("left", consumed);
  auto table2 = builder.table("right", consumed);
  table1.join(table2, bracket_joiner())
      .to_stream()
      .to("output", Produced{serdes::string(), serdes::string()});
  EXPECT_EQ(builder.build().describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000001 (topics: [left])\n"
            "      --> KTABLE-SOURCE-0000000002\n"
            "    Source: KSTREAM-SOURCE-0000000004 (topics: [right])\n"
            "      --> KTABLE-SOURCE-0000000005\n"
            "    Processor: KTABLE-SOURCE-0000000002 (stores: [left-STATE-STORE-0000000000])\n"
            "      --> KTABLE-JOINTHIS-0000000007\n"
            "      <-- KSTREAM-SOURCE-0000000001\n"
            "    Processor: KTABLE-SOURCE-0000000005 (stores: [right-STATE-STORE-0000000003])\n"
            "      --> KTABLE-JOINOTHER-0000000008\n"
            "      <-- KSTREAM-SOURCE-0000000004\n"
            "    Processor: KTABLE-JOINOTHER-0000000008 (stores: [left-STATE-STORE-0000000000])\n"
            "      --> KTABLE-MERGE-0000000006\n"
            "      <-- KTABLE-SOURCE-0000000005\n"
            "    Processor: KTABLE-JOINTHIS-0000000007 (stores: [right-STATE-STORE-0000000003])\n"
            "      --> KTABLE-MERGE-0000000006\n"
            "      <-- KTABLE-SOURCE-0000000002\n"
            "    Processor: KTABLE-MERGE-0000000006 (stores: [])\n"
            "      --> KTABLE-TOSTREAM-0000000009\n"
            "      <-- KTABLE-JOINTHIS-0000000007, KTABLE-JOINOTHER-0000000008\n"
            "    Processor: KTABLE-TOSTREAM-0000000009 (stores: [])\n"
            "      --> KSTREAM-SINK-0000000010\n"
            "      <-- KTABLE-MERGE-0000000006\n"
            "    Sink: KSTREAM-SINK-0000000010 (topic: output)\n"
            "      <-- KTABLE-TOSTREAM-0000000009\n\n");
  EXPECT_EQ(copartition_topic_groups(builder.build(), "app"),
            (std::vector<std::set<std::string>>{{"left", "right"}}));
}

// A Materialized without a name: Kafka's KTABLE-MERGE-STATE-STORE-<n>,
// generated before the merge node's name, with a changelog.
TEST(StreamsTableJoin, MaterializedResultStoreAsKafkaNamesIt) {
  StreamsBuilder builder;
  Consumed<std::string, std::string> consumed{serdes::string(), serdes::string()};
  auto table1 = builder.table("left", consumed);
  auto table2 = builder.table("right", consumed);
  KTable<std::string, std::string> joined = table1.outer_join(
      table2, bracket_joiner(),
      Materialized<std::string, std::string>::with(serdes::string(), serdes::string()));
  EXPECT_EQ(joined.node_name(), "KTABLE-MERGE-0000000007");
  EXPECT_EQ(joined.queryable_store_name(), "KTABLE-MERGE-STATE-STORE-0000000006");
  TopologyTestDriver driver(builder.build(), TestDriverSettings{"app"});
  auto left = driver.create_input_topic("left", serdes::string(), serdes::string());
  left.pipe_input("k", "A", 1);
  auto& store =
      driver.get_key_value_store<std::string, std::string>("KTABLE-MERGE-STATE-STORE-0000000006");
  EXPECT_EQ(store.get("k"), "[A, null]");
  EXPECT_TRUE(
      driver.produced_topic_names().count("app-KTABLE-MERGE-STATE-STORE-0000000006-changelog"));
}

}  // namespace
}  // namespace sluice::streams::table_join_test
