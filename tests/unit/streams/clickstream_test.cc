// The clickstream topology through the test driver (no broker): each output
// topic's records, in order, for a small input worked out by hand, the
// late record dropped from its closed minute but counted in the 5-minute
// windows still open; and what the live view keeps of it.

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "clickstream_topology.h"
#include "live_view.h"
#include "streams/test_driver.h"

namespace clickstream {
namespace {

using Json = nlohmann::json;
using sluice::streams::StreamsBuilder;
using sluice::streams::TopologyTestDriver;
using sluice::streams::Window;
using sluice::streams::Windowed;
namespace serdes = sluice::streams::serdes;

Json click(int user, const std::string& page) {
  return {{"userid", user}, {"request", "GET " + page + " HTTP/1.1"}, {"status", "200"}};
}

using WindowedCounts = std::vector<std::pair<std::pair<std::string, int64_t>, int64_t>>;

WindowedCounts read_windowed(TopologyTestDriver& driver, const std::string& topic,
                             int64_t window_ms) {
  auto output = driver.create_output_topic(
      topic, serdes::time_windowed(serdes::string(), window_ms), serdes::long_());
  WindowedCounts counts;
  for (auto& [key, value] : output.read_key_values_to_list()) {
    EXPECT_EQ(key.window.end, key.window.start + window_ms);
    counts.push_back({{key.key, key.window.start}, value});
  }
  return counts;
}

TEST(Clickstream, PageAndUserOfAClick) {
  EXPECT_EQ(page_of(click(1, "/index.html")), "/index.html");
  EXPECT_EQ(page_of(Json{{"page", "/p"}, {"request", "GET /q HTTP/1.1"}}), "/p");
  EXPECT_EQ(page_of(Json{{"request", "GET /no-version"}}), "/no-version");
  EXPECT_EQ(page_of(Json{{"request", "garbage"}}), std::nullopt);
  EXPECT_EQ(page_of(Json{{"request", 7}}), std::nullopt);
  EXPECT_EQ(page_of(Json::array()), std::nullopt);
  EXPECT_EQ(user_of(Json{{"userid", 12}}), "12");
  EXPECT_EQ(user_of(Json{{"userid", "User_3"}}), "User_3");
  EXPECT_EQ(user_of(Json{{"userid", 1.5}}), std::nullopt);
  EXPECT_EQ(user_of(Json::object()), std::nullopt);
  Json enriched = enrich(click(1, "/a"), Json{{"username", "ada"}});
  EXPECT_EQ(enriched["page"], "/a");
  EXPECT_EQ(enriched["user"]["username"], "ada");
  EXPECT_EQ(enriched["userid"], 1);
}

TEST(Clickstream, ResultsThroughTheTestDriver) {
  LiveView view(10, 3);
  Observers observers{
      [&view] { view.on_click(); },
      [&view](const std::string& id, const Json&) { view.on_user(id); },
      [&view](const Windowed<std::string>& page, int64_t views) { view.on_pageviews(page, views); },
      [&view](const Windowed<std::string>& page, int64_t users) {
        view.on_unique_users(page, users);
      },
      [&view](const std::string&, const Json& enriched) { view.on_enriched(enriched); }};
  StreamsBuilder builder;
  Topics topics;
  build_topology(builder, topics, Parts{}, observers);
  sluice::streams::TestDriverSettings settings;
  settings.application_id = "clickstream";
  TopologyTestDriver driver(builder.build(), settings);
  auto users = driver.create_input_topic("users", serdes::string(), serdes::json());
  auto clicks = driver.create_input_topic("clicks", serdes::string(), serdes::json());
  users.pipe_input("1", Json{{"username", "ada"}}, 0);
  users.pipe_input("2", Json{{"username", "ben"}}, 0);

  const std::vector<std::tuple<int, std::string, int64_t>> input = {
      {1, "/a", 61'000},  {2, "/a", 62'000}, {1, "/a", 63'000},
      {3, "/b", 64'000},   // a user the table does not have: counted, not enriched
      {2, "/b", 125'000},  // the next minute; the first is still open (grace)
      {1, "/a", 131'000},  // stream time 131 s: the minute [60 s, 120 s) closes
      {2, "/a", 119'000},  // late for its minute, on time for the 5-minute windows
  };
  for (const auto& [user, page, timestamp] : input) {
    clicks.pipe_input(std::to_string(user), click(user, page), timestamp);
  }
  clicks.pipe_input("1", Json{{"userid", 1}, {"request", "garbage"}}, 132'000);  // no page

  const WindowedCounts pageviews = {
      {{"/a", 60'000}, 1}, {{"/a", 60'000}, 2},  {{"/a", 60'000}, 3},
      {{"/b", 60'000}, 1}, {{"/b", 120'000}, 1}, {{"/a", 120'000}, 1},
  };
  EXPECT_EQ(read_windowed(driver, "pageviews-per-minute", kPageViewWindowMs), pageviews);

  // Windows of 5 minutes every minute: a click at 61 s is in [0, 300 s)
  // and [60 s, 360 s); at 125 s and 131 s also in [120 s, 420 s).
  const WindowedCounts unique = {
      {{"/a", 0}, 1},      {{"/a", 60'000}, 1},  {{"/a", 0}, 2},       {{"/a", 60'000}, 2},
      {{"/a", 0}, 2},      {{"/a", 60'000}, 2},  {{"/b", 0}, 1},       {{"/b", 60'000}, 1},
      {{"/b", 0}, 2},      {{"/b", 60'000}, 2},  {{"/b", 120'000}, 1}, {{"/a", 0}, 2},
      {{"/a", 60'000}, 2}, {{"/a", 120'000}, 1}, {{"/a", 0}, 2},       {{"/a", 60'000}, 2},
  };
  EXPECT_EQ(read_windowed(driver, "unique-users-5m", kUniqueUsersWindowMs), unique);

  auto enriched = driver.create_output_topic("clicks-enriched", serdes::string(), serdes::json());
  std::vector<std::pair<std::string, std::string>> joined;
  for (auto& [key, value] : enriched.read_key_values_to_list()) {
    joined.push_back({key, value["page"].get<std::string>() + " " +
                               value["user"]["username"].get<std::string>()});
  }
  const std::vector<std::pair<std::string, std::string>> expected_joined = {
      {"1", "/a ada"}, {"2", "/a ben"}, {"1", "/a ada"}, {"2", "/b ben"},
      {"1", "/a ada"}, {"2", "/a ben"}, {"1", " ada"}};
  EXPECT_EQ(joined, expected_joined);

  // Kafka Streams' internal topic names.
  std::set<std::string> produced = driver.produced_topic_names();
  for (const char* topic : {"clickstream-clicks-by-page-repartition",
                            "clickstream-pageviews-per-minute-store-changelog",
                            "clickstream-unique-users-5m-store-changelog"}) {
    EXPECT_EQ(produced.count(topic), 1u) << topic;
  }

  Json snapshot = view.snapshot();
  EXPECT_EQ(snapshot["clicks"], 8);
  EXPECT_EQ(snapshot["users"], 2);
  EXPECT_EQ(snapshot["enriched"], 7);
  Json minutes = snapshot["pageviews_per_minute"]["windows"];
  ASSERT_EQ(minutes.size(), 2u);
  EXPECT_EQ(minutes[0]["start"], 120'000);  // newest first
  EXPECT_EQ(minutes[0]["counts"], (Json{{"/a", 1}, {"/b", 1}}));
  EXPECT_EQ(minutes[1]["counts"], (Json{{"/a", 3}, {"/b", 1}}));
  ASSERT_EQ(snapshot["recent_clicks"].size(), 3u);  // the newest 3 of 7
  EXPECT_EQ(snapshot["recent_clicks"][0]["page"], "");
  EXPECT_EQ(snapshot["recent_clicks"][1]["username"], "ben");
  EXPECT_EQ(snapshot["recent_clicks"][1]["user_id"], "2");
}

}  // namespace
}  // namespace clickstream
