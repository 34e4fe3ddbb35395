#include "live_view.h"

#include "clickstream_topology.h"

namespace clickstream {

using Json = nlohmann::json;

void LiveView::on_click() {
  std::lock_guard lock(mutex_);
  ++clicks_;
}

void LiveView::on_user(const std::string& user_id) {
  std::lock_guard lock(mutex_);
  users_.insert(user_id);
}

void LiveView::record(Windows& windows, const sluice::streams::Windowed<std::string>& page,
                      int64_t value) {
  // A late update of a window already dropped would come back as the
  // oldest and leave again at once.
  windows[page.window.start][page.key] = value;
  while (windows.size() > windows_) windows.erase(windows.begin());
}

void LiveView::on_pageviews(const sluice::streams::Windowed<std::string>& page, int64_t views) {
  std::lock_guard lock(mutex_);
  record(pageviews_, page, views);
}

void LiveView::on_unique_users(const sluice::streams::Windowed<std::string>& page, int64_t users) {
  std::lock_guard lock(mutex_);
  record(unique_users_, page, users);
}

void LiveView::on_enriched(const Json& enriched) {
  // Only what the page shows, so a snapshot stays small.
  Json click = {{"page", enriched.value("page", "")},
                {"time", enriched.value("_time", int64_t{0})}};
  if (auto user = user_of(enriched)) click["user_id"] = *user;
  if (auto user = enriched.find("user"); user != enriched.end() && user->is_object()) {
    for (const char* field : {"username", "city", "level"}) {
      if (auto value = user->find(field); value != user->end()) click[field] = *value;
    }
  }
  std::lock_guard lock(mutex_);
  ++enriched_;
  recent_clicks_.push_front(std::move(click));
  while (recent_clicks_.size() > recent_) recent_clicks_.pop_back();
}

Json LiveView::windows_json(const Windows& windows, int64_t size_ms) const {
  Json list = Json::array();
  for (auto window = windows.rbegin(); window != windows.rend(); ++window) {
    list.push_back(
        {{"start", window->first}, {"end", window->first + size_ms}, {"counts", window->second}});
  }
  return {{"window_ms", size_ms}, {"windows", std::move(list)}};
}

Json LiveView::snapshot() const {
  std::lock_guard lock(mutex_);
  Json recent = Json::array();
  for (const Json& click : recent_clicks_) recent.push_back(click);
  return {{"clicks", clicks_},
          {"users", users_.size()},
          {"enriched", enriched_},
          {"pageviews_per_minute", windows_json(pageviews_, kPageViewWindowMs)},
          {"unique_users_5m", windows_json(unique_users_, kUniqueUsersWindowMs)},
          {"recent_clicks", std::move(recent)}};
}

}  // namespace clickstream
