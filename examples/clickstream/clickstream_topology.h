#pragma once
// The clickstream application's topology (examples/clickstream/README.md):
// page views from the `clicks` topic and the `users` table give
//   (a) page views per page per minute (tumbling windows, 10 s grace),
//   (b) unique users per page per 5-minute window advancing by a minute,
//   (c) every click enriched with its user (a stream-table join).
// The clicks are datagen's clickstream records as JSON (JsonConverter with
// schemas.enable=false): `userid` and `request` ("GET /page HTTP/1.1") are
// what this reads (a `page` field, when present, names the page instead);
// the key is the user id's text, as is the users table's key. The event
// time is the record's timestamp (datagen stamps it with `_time`).

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "streams/dsl.h"

namespace clickstream {

constexpr int64_t kMinuteMs = 60'000;
constexpr int64_t kPageViewWindowMs = kMinuteMs;
constexpr int64_t kUniqueUsersWindowMs = 5 * kMinuteMs;
constexpr int64_t kUniqueUsersAdvanceMs = kMinuteMs;
constexpr int64_t kGraceMs = 10'000;

struct Topics {
  std::string clicks = "clicks";
  std::string users = "users";
  std::string pageviews_per_minute = "pageviews-per-minute";
  std::string unique_users = "unique-users-5m";
  std::string enriched = "clicks-enriched";
};

// Which results to compute (the benchmark runs the page views alone).
struct Parts {
  bool pageviews = true;
  bool unique_users = true;
  bool enriched = true;
};

// What the live page is told, called on the stream threads.
struct Observers {
  std::function<void()> click;
  std::function<void(const std::string& user_id, const nlohmann::json& user)> user;
  std::function<void(const sluice::streams::Windowed<std::string>& page, int64_t views)> pageviews;
  std::function<void(const sluice::streams::Windowed<std::string>& page, int64_t users)>
      unique_users;
  std::function<void(const std::string& user_id, const nlohmann::json& enriched)> enriched;
};

// The page a click viewed: its `page` field, else the path of its
// `request` ("GET /index.html HTTP/1.1" -> "/index.html"); nullopt when it
// has neither (such clicks are left out of the per-page results).
std::optional<std::string> page_of(const nlohmann::json& click);

// The user id a click names (`userid`, a number or text), as text.
std::optional<std::string> user_of(const nlohmann::json& click);

// The click with its page and its user (the join's result):
// {...the click's fields, "page": ..., "user": {...the user's fields}}.
nlohmann::json enrich(const nlohmann::json& click, const nlohmann::json& user);

// Adds the topology to `builder`. Observers left empty are not called.
void build_topology(sluice::streams::StreamsBuilder& builder, const Topics& topics,
                    const Parts& parts, const Observers& observers);

}  // namespace clickstream
