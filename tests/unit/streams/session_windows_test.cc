// Session windows through the test driver: Kafka's documented example,
// random out-of-order input against a model of sessions as sets of records
// (with the grace period and the store's retention), the session store's
// bytes (Kafka's SessionKeySchema) and changelog, suppression, and the
// topology Kafka describes for a session count.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "streams/dsl.h"
#include "streams/test_driver.h"

namespace sluice::streams {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
constexpr int64_t kGapMinute = 60'000;
using Session = Windowed<std::string>;
using Counts = std::map<Session, int64_t>;

Session session(const std::string& key, int64_t start, int64_t end) {
  return Session{key, Window{start, end}};
}

}  // namespace
// Readable failures (found by argument-dependent lookup).
void PrintTo(const Windowed<std::string>& key, std::ostream* os) {
  *os << key.key << "@[" << key.window.start << "," << key.window.end << "]";
}
namespace {

// Session counts with their deletions (a session merged into another) as
// null values on "out".
Topology session_counts(SessionWindows windows, const std::string& store = "") {
  StreamsBuilder builder;
  auto grouped = builder.stream("in", Consumed{serdes::string(), serdes::string()}).group_by_key();
  auto counts =
      store.empty()
          ? grouped.windowed_by(windows).count()
          : grouped.windowed_by(windows).count(Materialized<std::string, int64_t>::as(store));
  counts.map_values([](int64_t count) { return std::optional<int64_t>(count); })
      .to_stream()
      .to("out",
          Produced{serdes::session_windowed(serdes::string()), serdes::optional(serdes::long_())});
  return builder.build();
}

// The table a stream of session results and deletions leaves.
Counts table_of(TestOutputTopic<Session, std::optional<int64_t>>& out) {
  Counts table;
  for (auto& [key, value] : out.read_key_values_to_list()) {
    if (value) {
      table[key] = *value;
    } else {
      table.erase(key);
    }
  }
  return table;
}

TEST(StreamsSessionWindows, Validation) {
  EXPECT_THROW(SessionWindows::of_inactivity_gap_with_no_grace(milliseconds(0)),
               std::invalid_argument);
  EXPECT_THROW(SessionWindows::of_inactivity_gap_and_grace(milliseconds(5), milliseconds(-1)),
               std::invalid_argument);
  SessionWindows windows = SessionWindows::of_inactivity_gap_and_grace(minutes(5), minutes(1));
  EXPECT_EQ(windows.inactivity_gap_ms(), 5 * kGapMinute);
  EXPECT_EQ(windows.grace_ms(), kGapMinute);
}

TEST(StreamsSessionWindows, SessionWindowedSerdeIsKafkas) {
  Serde<Session> serde = serdes::session_windowed(serdes::string());
  std::optional<std::string> bytes = serde.serialize("t", session("ab", 1, 0x0102));
  // The key, then the end and the start (8 bytes each, big-endian).
  EXPECT_EQ(*bytes, std::string("ab") + std::string("\0\0\0\0\0\0\x01\x02", 8) +
                        std::string("\0\0\0\0\0\0\0\x01", 8));
  EXPECT_EQ(serde.deserialize("t", std::string_view(*bytes)), session("ab", 1, 0x0102));
  EXPECT_THROW(serde.deserialize("t", std::string_view("short")), SerializationError);
  EXPECT_EQ(session_store_key("ab", 1, 0x0102), *bytes);
}

// Kafka's documentation (Session Windows, 5-minute gap): green at 0 and 6
// and blue at 2 make three sessions; then green at 4 merges green's two,
// blue at 5 extends blue's, and blue at 11 starts a new one. (The diagram
// predates grace periods: it needs one, else green's session at 0 has
// closed when green's record at 4 comes; see the next test.)
TEST(StreamsSessionWindows, KafkasDocumentedExample) {
  TopologyTestDriver driver(
      session_counts(SessionWindows::of_inactivity_gap_and_grace(minutes(5), minutes(2)),
                     "sessions"),
      TestDriverSettings{"docs"});
  auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("out", serdes::session_windowed(serdes::string()),
                                        serdes::optional(serdes::long_()));
  in.pipe_input("green", "x", 0);
  in.pipe_input("green", "x", 6 * kGapMinute);
  in.pipe_input("blue", "x", 2 * kGapMinute);
  EXPECT_EQ(table_of(out), (Counts{{session("green", 0, 0), 1},
                                   {session("green", 6 * kGapMinute, 6 * kGapMinute), 1},
                                   {session("blue", 2 * kGapMinute, 2 * kGapMinute), 1}}));
  in.pipe_input("green", "x", 4 * kGapMinute);
  in.pipe_input("blue", "x", 5 * kGapMinute);
  in.pipe_input("blue", "x", 11 * kGapMinute);
  using Records = std::vector<std::pair<Session, std::optional<int64_t>>>;
  // The merged sessions are deleted, then the merged one written; its
  // records carry the session's end as timestamp.
  std::vector<TestRecord<Session, std::optional<int64_t>>> records;
  while (!out.is_empty()) records.push_back(out.read_record());
  Records got;
  for (const auto& record : records) got.emplace_back(record.key, record.value);
  EXPECT_EQ(got, (Records{{session("green", 0, 0), std::nullopt},
                          {session("green", 6 * kGapMinute, 6 * kGapMinute), std::nullopt},
                          {session("green", 0, 6 * kGapMinute), 3},
                          {session("blue", 2 * kGapMinute, 2 * kGapMinute), std::nullopt},
                          {session("blue", 2 * kGapMinute, 5 * kGapMinute), 2},
                          {session("blue", 11 * kGapMinute, 11 * kGapMinute), 1}}));
  EXPECT_EQ(records[2].timestamp, 6 * kGapMinute);
  auto& store = driver.get_state_store_for_test<SessionStore<std::string, int64_t>>("sessions");
  using Found = std::vector<std::pair<Session, int64_t>>;
  EXPECT_EQ(store.fetch("green"), (Found{{session("green", 0, 6 * kGapMinute), 3}}));
  EXPECT_EQ(store.fetch("blue"), (Found{{session("blue", 2 * kGapMinute, 5 * kGapMinute), 2},
                                        {session("blue", 11 * kGapMinute, 11 * kGapMinute), 1}}));
  // The changelog has Kafka's session keys, and tombstones for the merged.
  std::deque<SerializedRecord>& changelog = driver.output("docs-sessions-changelog");
  ASSERT_EQ(changelog.size(), 9u);
  EXPECT_EQ(changelog[3].key, session_store_key("green", 0, 0));
  EXPECT_FALSE(changelog[3].value.has_value());
  EXPECT_EQ(changelog[5].key, session_store_key("green", 0, 6 * kGapMinute));
  EXPECT_EQ(changelog[5].value, *serdes::long_().serialize("", 3));
}

// Without a grace period, a session closes once stream time passes its end
// plus the gap: green's session at 0 cannot take green's record at 4 after
// green's at 6, which extends the session at 6 instead.
TEST(StreamsSessionWindows, ClosedSessionsTakeNoMoreRecords) {
  TopologyTestDriver driver(
      session_counts(SessionWindows::of_inactivity_gap_with_no_grace(minutes(5)), "sessions"));
  auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("out", serdes::session_windowed(serdes::string()),
                                        serdes::optional(serdes::long_()));
  in.pipe_input("green", "x", 0);
  in.pipe_input("green", "x", 6 * kGapMinute);
  in.pipe_input("green", "x", 4 * kGapMinute);
  in.pipe_input("blue", "x", 0);  // its session [0, 0] ends before 6 - 5: dropped
  EXPECT_EQ(table_of(out), (Counts{{session("green", 0, 0), 1},
                                   {session("green", 4 * kGapMinute, 6 * kGapMinute), 2}}));
}

// Sessions as sets of records: a record joins the live sessions of its key
// within the gap; it is dropped when the merged session ended before
// stream time - grace - gap. Sessions stop being seen (and merged) once
// they ended more than gap + grace before the latest session end stored.
struct SessionModel {
  int64_t gap;
  int64_t grace;
  struct Held {
    std::string key;
    int64_t start;
    int64_t end;
    std::vector<std::string> values;
  };
  std::vector<Held> sessions;
  int64_t observed = -1;
  int64_t max_end = std::numeric_limits<int64_t>::min();
  int dropped = 0;  // what the input exercised
  int merges = 0;

  bool live(const Held& held) const { return held.end > max_end - (gap + grace); }

  void add(const std::string& key, const std::string& value, int64_t t) {
    observed = std::max(observed, t);
    Held merged{key, t, t, {}};
    std::vector<size_t> joined;
    for (size_t i = 0; i < sessions.size(); ++i) {
      const Held& held = sessions[i];
      if (held.key == key && live(held) && held.end >= t - gap && held.start <= t + gap) {
        joined.push_back(i);
        merged.start = std::min(merged.start, held.start);
        merged.end = std::max(merged.end, held.end);
        merged.values.insert(merged.values.end(), held.values.begin(), held.values.end());
      }
    }
    if (merged.end < observed - grace - gap) {  // too late
      ++dropped;
      return;
    }
    if (joined.size() > 1) ++merges;
    for (auto it = joined.rbegin(); it != joined.rend(); ++it)
      sessions.erase(sessions.begin() + *it);
    merged.values.push_back(value);
    max_end = std::max(max_end, merged.end);
    sessions.push_back(merged);
  }
};

TEST(StreamsSessionWindows, RandomOutOfOrderInputEqualsTheModel) {
  int dropped = 0;
  int merges = 0;
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    std::mt19937 random(seed);
    int64_t gap = 1 + random() % 8;
    int64_t grace = random() % 12;
    SessionWindows windows =
        SessionWindows::of_inactivity_gap_and_grace(milliseconds(gap), milliseconds(grace));
    // Counts, and the values themselves (sorted, so merges in any order agree).
    StreamsBuilder builder;
    auto grouped =
        builder.stream("in", Consumed{serdes::string(), serdes::string()}).group_by_key();
    grouped.windowed_by(windows).count(Materialized<std::string, int64_t>::as("counts"));
    grouped.windowed_by(windows)
        .aggregate<std::string>(
            [] { return std::string(); },
            [](const std::string&, const std::string& value, std::string aggregate) {
              aggregate += value;
              std::sort(aggregate.begin(), aggregate.end());
              return aggregate;
            },
            [](const std::string&, const std::string& one, const std::string& two) {
              std::string merged = one + two;
              std::sort(merged.begin(), merged.end());
              return merged;
            },
            Materialized<std::string, std::string>::as("letters"))
        .map_values([](const std::string& letters) { return std::optional<std::string>(letters); })
        .to_stream()
        .to("out", Produced{serdes::session_windowed(serdes::string()),
                            serdes::optional(serdes::string())});
    TopologyTestDriver driver(builder.build());
    auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
    auto out = driver.create_output_topic("out", serdes::session_windowed(serdes::string()),
                                          serdes::optional(serdes::string()));
    SessionModel model{gap, grace, {}};
    int64_t time = 0;
    for (int i = 0; i < 60; ++i) {
      std::string key = random() % 2 == 0 ? "a" : "b";
      std::string value(1, static_cast<char>('a' + random() % 26));
      time += random() % 5;
      int64_t late = random() % 4 == 0 ? static_cast<int64_t>(random() % 20) : 0;
      int64_t t = std::max<int64_t>(0, time - late);
      in.pipe_input(key, value, t);
      model.add(key, value, t);
    }
    // Every session ever written and not merged away, by what reached "out".
    std::map<Session, std::string> table;
    for (auto& [key, value] : out.read_key_values_to_list()) {
      if (value) {
        table[key] = *value;
      } else {
        table.erase(key);
      }
    }
    std::map<Session, std::string> expected_letters;
    Counts expected_live_counts;
    for (const SessionModel::Held& held : model.sessions) {
      std::string letters;
      for (const std::string& value : held.values) letters += value;
      std::sort(letters.begin(), letters.end());
      Session key = session(held.key, held.start, held.end);
      expected_letters[key] = letters;
      if (model.live(held)) expected_live_counts[key] = static_cast<int64_t>(held.values.size());
    }
    EXPECT_EQ(table, expected_letters) << "seed " << seed;
    // The store holds the live sessions only.
    auto& counts = driver.get_state_store_for_test<SessionStore<std::string, int64_t>>("counts");
    Counts stored;
    for (auto& [key, count] : counts.all()) stored[key] = count;
    EXPECT_EQ(stored, expected_live_counts) << "seed " << seed;
    dropped += model.dropped;
    merges += model.merges;
  }
  // The input had late records dropped and records joining two sessions.
  EXPECT_GT(dropped, 20);
  EXPECT_GT(merges, 5);
}

TEST(StreamsSessionWindows, ReduceMergesWithTheReducer) {
  StreamsBuilder builder;
  builder.stream("in", Consumed{serdes::string(), serdes::long_()})
      .group_by_key()
      .windowed_by(SessionWindows::of_inactivity_gap_and_grace(milliseconds(15), milliseconds(20)))
      .reduce([](int64_t sum, int64_t value) { return sum + value; })
      .to_stream()
      .to("out", Produced{serdes::session_windowed(serdes::string()), serdes::long_()});
  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("in", serdes::string(), serdes::long_());
  auto out = driver.create_output_topic("out", serdes::session_windowed(serdes::string()),
                                        serdes::long_());
  in.pipe_input("k", 1, 0);
  in.pipe_input("k", 2, 30);
  in.pipe_input("k", 4, 15);  // joins both: 1 + 2 + 4
  using Pairs = std::vector<std::pair<Session, int64_t>>;
  // Deletions do not reach a stream of plain values (README: null).
  EXPECT_EQ(out.read_key_values_to_list(),
            (Pairs{{session("k", 0, 0), 1}, {session("k", 30, 30), 2}, {session("k", 0, 30), 7}}));
}

TEST(StreamsSessionWindows, SuppressionEmitsEachSessionOnceItCloses) {
  StreamsBuilder builder;
  builder.stream("in", Consumed{serdes::string(), serdes::string()})
      .group_by_key()
      .windowed_by(SessionWindows::of_inactivity_gap_and_grace(milliseconds(10), milliseconds(5)))
      .count()
      .suppress_until_window_closes()
      .to_stream()
      .to("out", Produced{serdes::session_windowed(serdes::string()), serdes::long_()});
  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("out", serdes::session_windowed(serdes::string()),
                                        serdes::long_());
  in.pipe_input("a", "x", 0);
  in.pipe_input("a", "x", 8);   // session [0, 8]
  in.pipe_input("b", "x", 20);  // [0, 8] closes at 8 + 10 + 5 = 23
  in.pipe_input("a", "x", 22);  // stream time 22: nothing final yet
  EXPECT_TRUE(out.is_empty());
  in.pipe_input("b", "x", 23);
  using Pairs = std::vector<std::pair<Session, int64_t>>;
  EXPECT_EQ(out.read_key_values_to_list(), (Pairs{{session("a", 0, 8), 2}}));
  in.pipe_input("b", "x", 100);
  EXPECT_EQ(out.read_key_values_to_list(),
            (Pairs{{session("a", 22, 22), 1}, {session("b", 20, 23), 2}}));
}

// Kafka 3.x's TopologyTest (sessionWindow*CountShouldPreserveTopologyStructure).
TEST(StreamsSessionWindows, CountDescribesAsKafkasDoes) {
  SessionWindows windows = SessionWindows::of_inactivity_gap_with_no_grace(milliseconds(1));
  auto describe = [&](auto count) {
    StreamsBuilder builder;
    count(builder.stream("input-topic", Consumed{serdes::string(), serdes::string()})
              .group_by_key()
              .windowed_by(windows));
    return builder.build().describe();
  };
  auto expected = [](const std::string& processor, const std::string& store) {
    return "Topologies:\n"
           "   Sub-topology: 0\n"
           "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n"
           "      --> " +
           processor + "\n    Processor: " + processor + " (stores: [" + store +
           "])\n"
           "      --> none\n"
           "      <-- KSTREAM-SOURCE-0000000000\n\n";
  };
  EXPECT_EQ(describe([](auto stream) { stream.count(); }),
            expected("KSTREAM-AGGREGATE-0000000002", "KSTREAM-AGGREGATE-STATE-STORE-0000000001"));
  EXPECT_EQ(describe([](auto stream) {
              stream.count(Materialized<std::string, int64_t>::as("count-store"));
            }),
            expected("KSTREAM-AGGREGATE-0000000001", "count-store"));
  // An unnamed Materialized burns a name, as Kafka's does.
  EXPECT_EQ(
      describe([](auto stream) {
        stream.count(Materialized<std::string, int64_t>::with(serdes::string(), serdes::long_()));
      }),
      expected("KSTREAM-AGGREGATE-0000000003", "KSTREAM-AGGREGATE-STATE-STORE-0000000002"));
}

}  // namespace
}  // namespace sluice::streams
