// Sliding windows through the test driver: Kafka's examples (its
// KStreamSlidingWindowAggregateTest's inputs and results), random
// out-of-order input against a brute-force model of the windows, and the
// topology Kafka describes for a sliding count.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "streams/dsl.h"
#include "streams/test_driver.h"

namespace sluice::streams {
namespace {

using std::chrono::milliseconds;
using Key = Windowed<std::string>;

std::string sorted(std::string letters) {
  std::sort(letters.begin(), letters.end());
  return letters;
}

// Sorted letters per sliding window on "out" (key@start), so the final value
// of a window does not depend on the order its records came in.
Topology sliding_letters(SlidingWindows windows) {
  StreamsBuilder builder;
  builder.stream("in", Consumed{serdes::string(), serdes::string()})
      .group_by_key()
      .windowed_by(windows)
      .aggregate<std::string>(
          [] { return std::string(); },
          [](const std::string&, const std::string& value, const std::string& aggregate) {
            return sorted(aggregate + value);
          },
          Materialized<std::string, std::string>::as("letters"))
      .to_stream()
      .map([](const Key& key, const std::string& letters) {
        return std::make_pair(key.key + "@" + std::to_string(key.window.start), letters);
      })
      .to("out", Produced{serdes::string(), serdes::string()});
  return builder.build();
}

TEST(StreamsSlidingWindows, Validation) {
  EXPECT_THROW(SlidingWindows::of_time_difference_with_no_grace(milliseconds(-1)),
               std::invalid_argument);
  EXPECT_THROW(SlidingWindows::of_time_difference_and_grace(milliseconds(1), milliseconds(-1)),
               std::invalid_argument);
  SlidingWindows windows =
      SlidingWindows::of_time_difference_and_grace(milliseconds(10), milliseconds(3));
  EXPECT_EQ(windows.time_difference_ms(), 10);
  EXPECT_EQ(windows.grace_ms(), 3);
}

// Kafka's testAggregateRandomInput: the same records in any order (all
// within the grace period) end in the same windows, with the highest
// timestamp of their records.
TEST(StreamsSlidingWindows, KafkasRandomInputExample) {
  std::vector<std::pair<std::string, int64_t>> input = {
      {"A", 10}, {"B", 15}, {"C", 16}, {"D", 18}, {"E", 30}, {"F", 40}, {"G", 55},
      {"H", 56}, {"I", 58}, {"J", 58}, {"K", 62}, {"L", 63}, {"M", 63}, {"N", 63},
      {"O", 76}, {"P", 77}, {"Q", 80}, {"R", 2},  {"S", 3},  {"T", 5},  {"U", 8}};
  std::map<int64_t, TimestampedValue<std::string>> expected = {
      {0, {"ARSTU", 10}},  {3, {"ASTU", 10}},      {4, {"ATU", 10}},      {5, {"ABTU", 15}},
      {6, {"ABCU", 16}},   {8, {"ABCDU", 18}},     {9, {"ABCD", 18}},     {11, {"BCD", 18}},
      {16, {"CD", 18}},    {17, {"D", 18}},        {20, {"E", 30}},       {30, {"EF", 40}},
      {31, {"F", 40}},     {45, {"G", 55}},        {46, {"GH", 56}},      {48, {"GHIJ", 58}},
      {52, {"GHIJK", 62}}, {53, {"GHIJKLMN", 63}}, {56, {"HIJKLMN", 63}}, {57, {"IJKLMN", 63}},
      {59, {"KLMN", 63}},  {63, {"LMN", 63}},      {66, {"O", 76}},       {67, {"OP", 77}},
      {70, {"OPQ", 80}},   {77, {"PQ", 80}},       {78, {"Q", 80}},       {171, {"V", 181}}};
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    std::mt19937 random(seed);
    std::shuffle(input.begin(), input.end(), random);
    TopologyTestDriver driver(sliding_letters(
        SlidingWindows::of_time_difference_and_grace(milliseconds(10), milliseconds(100))));
    auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
    for (const auto& [letter, time] : input) in.pipe_input("A", letter, time);
    in.pipe_input("A", "V", 181);
    auto out = driver.create_output_topic("out", serdes::string(), serdes::string());
    std::map<int64_t, TimestampedValue<std::string>> got;
    while (!out.is_empty()) {
      TestRecord<std::string, std::string> record = out.read_record();
      got[std::stoll(record.key.substr(2))] = {record.value, record.timestamp};
    }
    EXPECT_EQ(got, expected) << "seed " << seed;
  }
}

// Kafka's testNoGracePeriodSmallInput: every update (value and timestamp)
// per window start, with records late for some of their windows.
TEST(StreamsSlidingWindows, KafkasNoGraceExample) {
  StreamsBuilder builder;
  builder.stream("in", Consumed{serdes::string(), serdes::string()})
      .group_by_key()
      .windowed_by(SlidingWindows::of_time_difference_with_no_grace(milliseconds(50)))
      .aggregate<std::string>([] { return std::string("0"); },
                              [](const std::string&, const std::string& value,
                                 const std::string& aggregate) { return aggregate + "+" + value; })
      .to_stream()
      .map([](const Key& key, const std::string& value) {
        return std::make_pair(std::to_string(key.window.start), value);
      })
      .to("out", Produced{serdes::string(), serdes::string()});
  TopologyTestDriver driver(builder.build());
  auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
  std::vector<std::pair<std::string, int64_t>> input = {{"1", 100}, {"2", 105}, {"3", 106},
                                                        {"4", 103}, {"5", 113}, {"6", 110}};
  for (const auto& [value, time] : input) in.pipe_input("A", value, time);
  auto out = driver.create_output_topic("out", serdes::string(), serdes::string());
  using Updates = std::map<int64_t, std::set<std::pair<std::string, int64_t>>>;
  Updates got;
  while (!out.is_empty()) {
    TestRecord<std::string, std::string> record = out.read_record();
    got[std::stoll(record.key)].emplace(record.value, record.timestamp);
  }
  EXPECT_EQ(got, (Updates{{50, {{"0+1", 100}}},
                          {55, {{"0+1+2", 105}}},
                          {56, {{"0+1+2+3", 106}, {"0+1+2+3+4", 106}}},
                          {63, {{"0+1+2+3+4+5", 113}, {"0+1+2+3+4+5+6", 113}}},
                          {101,
                           {{"0+2", 105},
                            {"0+2+3", 106},
                            {"0+2+3+4", 106},
                            {"0+2+3+4+5", 113},
                            {"0+2+3+4+5+6", 113}}},
                          {104, {{"0+2+3", 106}, {"0+2+3+5", 113}, {"0+2+3+5+6", 113}}},
                          {106, {{"0+3", 106}, {"0+3+5", 113}, {"0+3+5+6", 113}}},
                          {107, {{"0+5", 113}, {"0+5+6", 113}}},
                          {111, {{"0+5", 113}}}}));
}

// The windows sliding windows make, by brute force: for each record at t
// its left window [t - d, t] ([0, d] before d), and its right window
// [t + 1, t + 1 + d] when another record falls in (t, t + d]; each holds
// the records in it, and carries the highest timestamp among them.
std::map<std::string, TimestampedValue<std::string>> brute_force(
    const std::map<std::string, std::vector<std::pair<int64_t, char>>>& records, int64_t d) {
  std::map<std::string, TimestampedValue<std::string>> windows;
  for (const auto& [key, held] : records) {
    std::set<int64_t> starts;
    for (const auto& [t, letter] : held) {
      starts.insert(std::max<int64_t>(0, t - d));
      for (const auto& [u, other] : held) {
        if (u > t && u <= t + d) starts.insert(t + 1);
      }
    }
    for (int64_t start : starts) {
      TimestampedValue<std::string> window{"", -1};
      for (const auto& [t, letter] : held) {
        if (t < start || t > start + d) continue;
        window.value += letter;
        window.timestamp = std::max(window.timestamp, t);
      }
      window.value = sorted(window.value);
      windows[key + "@" + std::to_string(start)] = window;
    }
  }
  return windows;
}

TEST(StreamsSlidingWindows, RandomOutOfOrderInputEqualsBruteForce) {
  for (uint32_t seed = 1; seed <= 60; ++seed) {
    std::mt19937 random(seed);
    int64_t d = random() % 12;
    TopologyTestDriver driver(sliding_letters(
        SlidingWindows::of_time_difference_and_grace(milliseconds(d), milliseconds(1000))));
    auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
    std::map<std::string, std::vector<std::pair<int64_t, char>>> records;
    for (int i = 0; i < 50; ++i) {
      std::string key = random() % 2 == 0 ? "a" : "b";
      char letter = static_cast<char>('a' + random() % 26);
      int64_t t = random() % 80;  // any order, all within the grace period
      in.pipe_input(key, std::string(1, letter), t);
      records[key].emplace_back(t, letter);
    }
    auto out = driver.create_output_topic("out", serdes::string(), serdes::string());
    std::map<std::string, TimestampedValue<std::string>> got;
    while (!out.is_empty()) {
      TestRecord<std::string, std::string> record = out.read_record();
      got[record.key] = {record.value, record.timestamp};
    }
    EXPECT_EQ(got, brute_force(records, d)) << "seed " << seed << " difference " << d;
    // The store holds the same windows with their timestamps.
    auto& store =
        driver.get_state_store_for_test<WindowStore<std::string, TimestampedValue<std::string>>>(
            "letters");
    std::map<std::string, TimestampedValue<std::string>> stored;
    for (auto& [key, value] : store.all()) {
      stored[key.key + "@" + std::to_string(key.window.start)] = value;
      EXPECT_EQ(key.window.end, key.window.start + d);
    }
    EXPECT_EQ(stored, got) << "seed " << seed;
  }
}

// With a small grace period a record counts only in the windows still
// open: a window closes once stream time passes its end plus the grace.
TEST(StreamsSlidingWindows, LateRecordsCountOnlyInOpenWindows) {
  StreamsBuilder builder;
  builder.stream("in", Consumed{serdes::string(), serdes::string()})
      .group_by_key()
      .windowed_by(SlidingWindows::of_time_difference_and_grace(milliseconds(10), milliseconds(5)))
      .count(Materialized<std::string, int64_t>::as("counts"))
      .to_stream()
      .map([](const Key& key, int64_t count) {
        return std::make_pair(std::to_string(key.window.start), count);
      })
      .to("out", Produced{serdes::string(), serdes::long_()});
  TopologyTestDriver driver(builder.build(), TestDriverSettings{"late"});
  auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  in.pipe_input("k", "x", 20);  // [10, 20]
  in.pipe_input("k", "x", 40);  // [30, 40]; stream time 40: windows ending before 35 closed
  using Pairs = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(out.read_key_values_to_list(), (Pairs{{"10", 1}, {"30", 1}}));
  in.pipe_input("k", "x", 33);  // counts in [30, 40]; its left window [23, 33] has closed
  // Its right window [34, 44] starts with what [30, 40] held after 33: 40.
  EXPECT_EQ(out.read_key_values_to_list(), (Pairs{{"30", 2}, {"34", 1}}));
  in.pipe_input("k", "x", 24);  // every window of it ends before 35: dropped
  EXPECT_TRUE(out.is_empty());
  // The changelog holds Kafka's timestamped values: the timestamp, then the count.
  std::deque<SerializedRecord>& changelog = driver.output("late-counts-changelog");
  ASSERT_FALSE(changelog.empty());
  EXPECT_EQ(changelog.front().key, window_store_key("k", 10));
  EXPECT_EQ(changelog.front().value,
            *serdes::long_().serialize("", 20) + *serdes::long_().serialize("", 1));
}

// Kafka 3.x's TopologyTest (slidingWindowZeroArgCountShouldPreserveTopologyStructure).
TEST(StreamsSlidingWindows, CountDescribesAsKafkasDoes) {
  StreamsBuilder builder;
  builder.stream("input-topic", Consumed{serdes::string(), serdes::string()})
      .group_by_key()
      .windowed_by(SlidingWindows::of_time_difference_with_no_grace(milliseconds(1)))
      .count();
  EXPECT_EQ(builder.build().describe(),
            "Topologies:\n"
            "   Sub-topology: 0\n"
            "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n"
            "      --> KSTREAM-AGGREGATE-0000000002\n"
            "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: "
            "[KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n"
            "      --> none\n"
            "      <-- KSTREAM-SOURCE-0000000000\n\n");
}

}  // namespace
}  // namespace sluice::streams
