#include "base/rate_limited_log.h"

#include <fmt/format.h>

#include <atomic>

namespace sluice {
namespace {

std::atomic<int64_t> process_interval_ns{
    std::chrono::nanoseconds(std::chrono::seconds(10)).count()};

}  // namespace

RateLimitedLog::RateLimitedLog(std::optional<std::chrono::nanoseconds> interval, const Clock& clock,
                               size_t keys_max)
    : interval_(interval), clock_(clock), keys_max_(keys_max) {}

void RateLimitedLog::set_process_interval(std::chrono::nanoseconds interval) {
  process_interval_ns.store(interval.count(), std::memory_order_relaxed);
}

std::chrono::nanoseconds RateLimitedLog::process_interval() {
  return std::chrono::nanoseconds(process_interval_ns.load(std::memory_order_relaxed));
}

RateLimitedLog::Admission RateLimitedLog::admit(std::string_view key) {
  std::chrono::nanoseconds now = clock_.monotonic();
  std::chrono::nanoseconds interval = this->interval();
  std::lock_guard lock(mutex_);
  auto found = entries_.find(std::string(key));
  if (found == entries_.end()) {
    if (entries_.size() >= keys_max_) prune_locked(now, interval);
    // Still full: the key shares the overflow entry (bounded memory).
    std::string stored = entries_.size() < keys_max_ ? std::string(key) : std::string();
    auto [inserted_at, inserted] = entries_.try_emplace(std::move(stored));
    if (inserted) {
      inserted_at->second.last_written = now;
      return {true, 0, {}};
    }
    found = inserted_at;
  }
  Entry& entry = found->second;
  if (now - entry.last_written < interval) {
    ++entry.suppressed;
    return {};
  }
  Admission admission{true, entry.suppressed, now - entry.last_written};
  entry.suppressed = 0;
  entry.last_written = now;
  return admission;
}

// Forgets keys whose interval is over and that have nothing to report: their
// next occurrence would be written anyway.
void RateLimitedLog::prune_locked(std::chrono::nanoseconds now, std::chrono::nanoseconds interval) {
  std::erase_if(entries_, [&](const auto& item) {
    return item.second.suppressed == 0 && now - item.second.last_written >= interval;
  });
}

std::string RateLimitedLog::suppressed_note(const Admission& admission) {
  if (admission.suppressed == 0) return {};
  double seconds = std::chrono::duration<double>(admission.since_last).count();
  return fmt::format(" ({} similar suppressed in the last {:.0f} s)", admission.suppressed,
                     seconds);
}

}  // namespace sluice
