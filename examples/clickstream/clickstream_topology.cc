#include "clickstream_topology.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace clickstream {

using sluice::streams::Consumed;
using sluice::streams::Grouped;
using sluice::streams::KStream;
using sluice::streams::Materialized;
using sluice::streams::Produced;
using sluice::streams::StreamsBuilder;
using sluice::streams::TimeWindows;
using sluice::streams::Windowed;
namespace serdes = sluice::streams::serdes;
using Json = nlohmann::json;

std::optional<std::string> page_of(const Json& click) {
  if (!click.is_object()) return std::nullopt;
  auto page = click.find("page");
  if (page != click.end() && page->is_string() && !page->get<std::string>().empty()) {
    return page->get<std::string>();
  }
  auto request = click.find("request");
  if (request == click.end() || !request->is_string()) return std::nullopt;
  const std::string& line = request->get_ref<const std::string&>();
  size_t start = line.find(' ');
  if (start == std::string::npos) return std::nullopt;
  size_t end = line.find(' ', start + 1);
  std::string path = line.substr(start + 1, end == std::string::npos ? end : end - start - 1);
  if (path.empty()) return std::nullopt;
  return path;
}

std::optional<std::string> user_of(const Json& click) {
  if (!click.is_object()) return std::nullopt;
  auto user = click.find("userid");
  if (user == click.end()) return std::nullopt;
  if (user->is_number_integer()) return std::to_string(user->get<int64_t>());
  if (user->is_string()) return user->get<std::string>();
  return std::nullopt;
}

Json enrich(const Json& click, const Json& user) {
  Json enriched = click.is_object() ? click : Json::object();
  enriched["page"] = page_of(click).value_or("");
  enriched["user"] = user;
  return enriched;
}

namespace {

// The set of users a window saw, kept as a sorted JSON array of user ids
// (the aggregate's value in its store and changelog).
Json with_user(Json users, const std::string& user) {
  if (!users.is_array()) users = Json::array();
  auto at = std::lower_bound(users.begin(), users.end(), Json(user));
  if (at == users.end() || *at != Json(user)) users.insert(at, Json(user));
  return users;
}

void add_pageviews(const KStream<std::string, Json>& by_page, const Topics& topics,
                   const Observers& observers) {
  auto windows = TimeWindows::of_size_and_grace(std::chrono::milliseconds(kPageViewWindowMs),
                                                std::chrono::milliseconds(kGraceMs));
  auto counts =
      by_page.group_by_key(Grouped<std::string, Json>::with(serdes::string(), serdes::json()))
          .windowed_by(windows)
          .count(Materialized<std::string, int64_t>::as("pageviews-per-minute-store"))
          .to_stream();
  if (observers.pageviews) {
    counts = counts.peek([observe = observers.pageviews](const Windowed<std::string>& page,
                                                         int64_t views) { observe(page, views); });
  }
  counts.to(topics.pageviews_per_minute,
            Produced{serdes::time_windowed(serdes::string(), kPageViewWindowMs), serdes::long_()});
}

void add_unique_users(const KStream<std::string, Json>& by_page, const Topics& topics,
                      const Observers& observers) {
  auto windows = TimeWindows::of_size_and_grace(std::chrono::milliseconds(kUniqueUsersWindowMs),
                                                std::chrono::milliseconds(kGraceMs))
                     .advance_by(std::chrono::milliseconds(kUniqueUsersAdvanceMs));
  auto counts =
      by_page
          .filter([](const std::string&, const Json& click) { return user_of(click).has_value(); })
          .group_by_key(Grouped<std::string, Json>::with(serdes::string(), serdes::json()))
          .windowed_by(windows)
          .aggregate([] { return Json::array(); },
                     [](const std::string&, const Json& click, Json users) {
                       return with_user(std::move(users), *user_of(click));
                     },
                     Materialized<std::string, Json>::as("unique-users-5m-store")
                         .with_value_serde(serdes::json()))
          .map_values([](const Json& users) { return static_cast<int64_t>(users.size()); })
          .to_stream();
  if (observers.unique_users) {
    counts =
        counts.peek([observe = observers.unique_users](const Windowed<std::string>& page,
                                                       int64_t users) { observe(page, users); });
  }
  counts.to(
      topics.unique_users,
      Produced{serdes::time_windowed(serdes::string(), kUniqueUsersWindowMs), serdes::long_()});
}

}  // namespace

void build_topology(StreamsBuilder& builder, const Topics& topics, const Parts& parts,
                    const Observers& observers) {
  KStream<std::string, Json> clicks =
      builder.stream(topics.clicks, Consumed{serdes::string(), serdes::json()});
  if (observers.click) {
    clicks =
        clicks.peek([observe = observers.click](const std::string&, const Json&) { observe(); });
  }

  if (parts.enriched) {
    auto users = builder.table(topics.users, Consumed{serdes::string(), serdes::json()});
    if (observers.user) {
      users.to_stream().foreach (
          [observe = observers.user](const std::string& id, const Json& user) {
            observe(id, user);
          });
    }
    auto enriched = clicks.join(users, enrich);
    if (observers.enriched) {
      enriched =
          enriched.peek([observe = observers.enriched](const std::string& id, const Json& click) {
            observe(id, click);
          });
    }
    enriched.to(topics.enriched, Produced{serdes::string(), serdes::json()});
  }

  if (!parts.pageviews && !parts.unique_users) return;
  // One repartition topic (<application.id>-clicks-by-page-repartition) keys
  // the clicks by page for both windowed aggregations.
  KStream<std::string, Json> by_page =
      clicks
          .filter([](const std::string&, const Json& click) { return page_of(click).has_value(); })
          .select_key([](const std::string&, const Json& click) { return *page_of(click); })
          .repartition("clicks-by-page", Produced{serdes::string(), serdes::json()});
  if (parts.pageviews) add_pageviews(by_page, topics, observers);
  if (parts.unique_users) add_unique_users(by_page, topics, observers);
}

}  // namespace clickstream
