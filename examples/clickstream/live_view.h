#pragma once
// What the live page shows, kept in memory from the result streams (the
// topology's observers call these on the stream threads; the HTTP server
// reads snapshots): the latest windows of page views per minute and of
// unique users per 5-minute window, the latest enriched clicks, and
// counters.

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "streams/windows.h"

namespace clickstream {

class LiveView {
 public:
  // `windows`: how many of the latest windows of each kind are kept;
  // `recent`: how many enriched clicks.
  LiveView(size_t windows, size_t recent) : windows_(windows), recent_(recent) {}

  void on_click();
  void on_user(const std::string& user_id);
  void on_pageviews(const sluice::streams::Windowed<std::string>& page, int64_t views);
  void on_unique_users(const sluice::streams::Windowed<std::string>& page, int64_t users);
  void on_enriched(const nlohmann::json& enriched);

  // {"clicks", "users", "enriched", "pageviews_per_minute": {"window_ms",
  //  "windows": [{"start", "end", "counts": {page: n}}, latest first]},
  //  "unique_users_5m": (the same shape), "recent_clicks": [newest first]}
  nlohmann::json snapshot() const;

 private:
  // Window start -> page -> the latest count.
  using Windows = std::map<int64_t, std::map<std::string, int64_t>>;
  void record(Windows& windows, const sluice::streams::Windowed<std::string>& page, int64_t value);
  nlohmann::json windows_json(const Windows& windows, int64_t size_ms) const;

  const size_t windows_;
  const size_t recent_;
  mutable std::mutex mutex_;
  int64_t clicks_ = 0;
  int64_t enriched_ = 0;
  std::set<std::string> users_;
  Windows pageviews_;
  Windows unique_users_;
  std::deque<nlohmann::json> recent_clicks_;
};

}  // namespace clickstream
