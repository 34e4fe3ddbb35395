#pragma once
// Warnings a peer or the system can repeat at will (a bad frame, an
// unsupported version in a client's reconnect loop, accept failing with
// EMFILE) are written at most once per key and interval, with the count of
// those suppressed, so a flood cannot fill the disk or bury other lines
// (kafka-go's reconnect loop wrote 2,574 lines in 90 s; an EMFILE accept loop
// 1.77 GB in 20 s).
//
// The first occurrence of a key is written at once; later ones within
// `interval` of the last written line are counted, and the next line written
// for that key says how many were suppressed. A flood that stops leaves its
// last count unreported: the line before it already said the problem repeats.
//
// Keys name the kind of problem ("Metadata v99 unsupported"), not the peer,
// so that a reconnecting client (new port each time) counts as one. At most
// `keys_max` keys are tracked; beyond that, new keys share one overflow key,
// so memory stays bounded whatever the peers send.
//
// Thread-safety: every method may be called from any thread (one mutex,
// taken only on warning paths, never per healthy request).

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "base/clock.h"

namespace sluice {

class RateLimitedLog {
 public:
  static constexpr size_t default_keys_max = 256;

  // Without an interval, the process-wide one is used (set_process_interval).
  explicit RateLimitedLog(std::optional<std::chrono::nanoseconds> interval = std::nullopt,
                          const Clock& clock = system_clock(), size_t keys_max = default_keys_max);

  // The interval of instances built without their own: 10 s until the broker
  // sets sluice.log.repeated.warning.interval.ms at start.
  static void set_process_interval(std::chrono::nanoseconds interval);
  static std::chrono::nanoseconds process_interval();

  // The decision for one occurrence of `key`.
  struct Admission {
    bool write = false;
    uint64_t suppressed = 0;                 // occurrences not written since the last line
    std::chrono::nanoseconds since_last{0};  // time since that line (when suppressed > 0)
  };
  Admission admit(std::string_view key);

  // Writes the formatted warning if `key` is admitted, followed by the count
  // of suppressed ones when there were any.
  template <class... Args>
  void warn(std::string_view key, fmt::format_string<Args...> format, Args&&... args) {
    Admission admission = admit(key);
    if (!admission.write) return;
    std::string line = fmt::format(format, std::forward<Args>(args)...);
    spdlog::warn("{}{}", line, suppressed_note(admission));
  }

  // " (N similar suppressed in the last S s)", or "" when none were.
  static std::string suppressed_note(const Admission& admission);

 private:
  struct Entry {
    std::chrono::nanoseconds last_written{0};
    uint64_t suppressed = 0;
  };
  void prune_locked(std::chrono::nanoseconds now, std::chrono::nanoseconds interval);
  std::chrono::nanoseconds interval() const { return interval_ ? *interval_ : process_interval(); }

  const std::optional<std::chrono::nanoseconds> interval_;
  const Clock& clock_;
  const size_t keys_max_;
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace sluice
