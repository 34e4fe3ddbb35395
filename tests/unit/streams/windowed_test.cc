// Windowed aggregations through the test driver: tumbling and hopping
// windows, the grace period, suppression of intermediate results, and the
// window store's changelog keys (Kafka's WindowKeySchema).

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "streams/dsl.h"
#include "streams/test_driver.h"

namespace sluice::streams {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
constexpr int64_t kMinute = 60'000;

TEST(StreamsWindows, WindowsForATimestamp) {
  TimeWindows tumbling = TimeWindows::of_size_with_no_grace(minutes(1));
  EXPECT_EQ(tumbling.windows_for(61'000), (std::vector<Window>{{60'000, 120'000}}));
  TimeWindows hopping = TimeWindows::of_size_with_no_grace(minutes(5)).advance_by(minutes(1));
  std::vector<Window> windows = hopping.windows_for(7 * kMinute + 5);
  ASSERT_EQ(windows.size(), 5u);
  EXPECT_EQ(windows.front(), (Window{3 * kMinute, 8 * kMinute}));
  EXPECT_EQ(windows.back(), (Window{7 * kMinute, 12 * kMinute}));
  EXPECT_EQ(hopping.windows_for(10).size(), 1u);  // no window starts before 0
  EXPECT_THROW(tumbling.advance_by(minutes(2)), std::invalid_argument);
  EXPECT_THROW(TimeWindows::of_size_with_no_grace(milliseconds(0)), std::invalid_argument);
}

TEST(StreamsWindows, TimeWindowedSerdeIsKafkas) {
  Serde<Windowed<std::string>> serde = serdes::time_windowed(serdes::string(), kMinute);
  std::optional<std::string> bytes =
      serde.serialize("t", Windowed<std::string>{"page", {kMinute, 2 * kMinute}});
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, std::string("page") + std::string("\0\0\0\0\0\0\xea\x60", 8));
  Windowed<std::string> back = serde.deserialize("t", std::string_view(*bytes));
  EXPECT_EQ(back.key, "page");
  EXPECT_EQ(back.window, (Window{kMinute, 2 * kMinute}));
}

// Page views per page per minute (the seed's clickstream).
TEST(StreamsWindows, TumblingCountsEqualTheModel) {
  StreamsBuilder builder;
  builder.stream("clicks", Consumed{serdes::string(), serdes::string()})
      .group_by([](const std::string&, const std::string& page) { return page; })
      .windowed_by(TimeWindows::of_size_with_no_grace(minutes(1)))
      .count(Materialized<std::string, int64_t>::as("views-per-minute"))
      .to_stream()
      .map([](const Windowed<std::string>& key, int64_t count) {
        return std::make_pair(key.key + "@" + std::to_string(key.window.start), count);
      })
      .to("views", Produced{serdes::string(), serdes::long_()});
  TopologyTestDriver driver(builder.build(), TestDriverSettings{"clicks-app"});
  auto clicks = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  std::map<std::string, int64_t> model;
  std::vector<std::pair<std::string, int64_t>> events = {
      {"/home", 1'000}, {"/cart", 2'000}, {"/home", 59'999}, {"/home", 60'000}, {"/cart", 125'000}};
  for (const auto& [page, time] : events) {
    clicks.pipe_input("user", page, time);
    ++model[page + "@" + std::to_string(time - time % kMinute)];
  }
  auto views = driver.create_output_topic("views", serdes::string(), serdes::long_());
  EXPECT_EQ(views.read_key_values_to_map(), model);
  auto& store =
      driver.get_state_store_for_test<WindowStore<std::string, int64_t>>("views-per-minute");
  EXPECT_EQ(store.fetch("/cart", 2 * kMinute), 1);
  // Retention is size + grace of stream time (125 s): the first minutes are gone.
  EXPECT_EQ(store.fetch("/home", 0), std::nullopt);
  EXPECT_EQ(store.fetch("/home", kMinute), std::nullopt);
  // The changelog's keys are Kafka's window store keys: key, start, sequence number.
  std::deque<SerializedRecord>& changelog = driver.output("clicks-app-views-per-minute-changelog");
  ASSERT_FALSE(changelog.empty());
  EXPECT_EQ(changelog.front().key, window_store_key("/home", 0));
  EXPECT_EQ(changelog.front().key->size(), 5u + 8 + 4);
}

// Unique users per 5-minute window advancing by 1 minute.
TEST(StreamsWindows, HoppingUniqueUsers) {
  StreamsBuilder builder;
  builder.stream("clicks", Consumed{serdes::string(), serdes::string()})
      .group_by([](const std::string&, const std::string&) { return std::string("all"); })
      .windowed_by(TimeWindows::of_size_with_no_grace(minutes(5)).advance_by(minutes(1)))
      .aggregate<std::set<std::string>>(
          [] { return std::set<std::string>(); },
          [](const std::string&, const std::string& user, std::set<std::string> users) {
            users.insert(user);
            return users;
          },
          Materialized<std::string, std::set<std::string>>::with(
              serdes::string(), serdes::json_of<std::set<std::string>>()))
      .map_values(
          [](const std::set<std::string>& users) { return static_cast<int64_t>(users.size()); })
      .to_stream()
      .map([](const Windowed<std::string>& key, int64_t users) {
        return std::make_pair(std::to_string(key.window.start / kMinute), users);
      })
      .to("unique-users", Produced{serdes::string(), serdes::long_()});
  TopologyTestDriver driver(builder.build());
  auto clicks = driver.create_input_topic("clicks", serdes::string(), serdes::string());
  // The key is the user here: the value names the page.
  struct Click {
    std::string user;
    int64_t time;
  };
  std::vector<Click> input = {
      {"ada", 0}, {"bob", kMinute}, {"ada", 2 * kMinute}, {"cy", 6 * kMinute}};
  StreamsBuilder unused;
  std::map<std::string, std::set<std::string>> model;
  TimeWindows windows = TimeWindows::of_size_with_no_grace(minutes(5)).advance_by(minutes(1));
  for (const Click& click : input) {
    clicks.pipe_input("k", click.user, click.time);
    for (const Window& window : windows.windows_for(click.time)) {
      model[std::to_string(window.start / kMinute)].insert(click.user);
    }
  }
  std::map<std::string, int64_t> expected;
  for (const auto& [start, users] : model) expected[start] = static_cast<int64_t>(users.size());
  auto out = driver.create_output_topic("unique-users", serdes::string(), serdes::long_());
  std::map<std::string, int64_t> got = out.read_key_values_to_map();
  // Windows [0,5) .. [2,7) lost nothing; [0,5)'s users are ada and bob.
  EXPECT_EQ(got.at("0"), 2);
  for (const auto& [start, count] : got) EXPECT_EQ(count, expected.at(start)) << start;
  EXPECT_EQ(got.size(), expected.size());
}

Topology counts_with_grace(milliseconds grace, bool suppress) {
  StreamsBuilder builder;
  auto counts = builder.stream("in", Consumed{serdes::string(), serdes::string()})
                    .group_by_key()
                    .windowed_by(TimeWindows::of_size_and_grace(milliseconds(10), grace))
                    .count();
  (suppress ? counts.suppress_until_window_closes() : counts)
      .to_stream()
      .map([](const Windowed<std::string>& key, int64_t count) {
        return std::make_pair(key.key + "@" + std::to_string(key.window.start), count);
      })
      .to("out", Produced{serdes::string(), serdes::long_()});
  return builder.build();
}

TEST(StreamsWindows, LateRecordsCountOnlyWithinTheGracePeriod) {
  TopologyTestDriver driver(counts_with_grace(milliseconds(5), false));
  auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  in.pipe_input("a", "x", 3);
  in.pipe_input("a", "x", 14);  // stream time 14: [0,10) closes at 15
  in.pipe_input("a", "x", 4);   // late but within grace: counts
  in.pipe_input("a", "x", 15);  // stream time 15: [0,10) closed
  in.pipe_input("a", "x", 5);   // too late: dropped
  using Pairs = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(out.read_key_values_to_list(),
            (Pairs{{"a@0", 1}, {"a@10", 1}, {"a@0", 2}, {"a@10", 2}}));
}

TEST(StreamsWindows, SuppressionEmitsOneFinalResultPerWindow) {
  TopologyTestDriver driver(counts_with_grace(milliseconds(2), true));
  auto in = driver.create_input_topic("in", serdes::string(), serdes::string());
  auto out = driver.create_output_topic("out", serdes::string(), serdes::long_());
  in.pipe_input("a", "x", 1);
  in.pipe_input("b", "x", 2);
  in.pipe_input("a", "x", 9);
  in.pipe_input("a", "x", 11);  // stream time 11 < 10 + 2: nothing final yet
  EXPECT_TRUE(out.is_empty());
  in.pipe_input("a", "x", 12);  // [0,10) closes
  using Pairs = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(out.read_key_values_to_list(), (Pairs{{"a@0", 2}, {"b@0", 1}}));
  in.pipe_input("b", "x", 30);
  EXPECT_EQ(out.read_key_values_to_list(), (Pairs{{"a@10", 2}}));
}

TEST(StreamsWindows, SuppressionNeedsAWindowedTable) {
  StreamsBuilder builder;
  auto counts =
      builder.stream("in", Consumed{serdes::string(), serdes::string()}).group_by_key().count();
  EXPECT_THROW(counts.suppress_until_window_closes(), TopologyError);
}

}  // namespace
}  // namespace sluice::streams
