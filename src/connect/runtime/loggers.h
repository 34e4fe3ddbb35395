#pragma once
// The log levels GET/PUT /admin/loggers read and change (KIP-495), on
// spdlog's registry: Kafka's "root" logger is spdlog's default logger, other
// names are spdlog's named loggers. Levels are spelled as log4j's (TRACE,
// DEBUG, INFO, WARN, ERROR, FATAL, OFF). Thread-safe: REST handlers call it
// from several threads.

#include <spdlog/common.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sluice::connect {

struct LoggerLevel {
  std::string level;                        // "INFO"
  std::optional<int64_t> last_modified_ms;  // null until set through the API
};

class LoggerLevels {
 public:
  // `now_ms` stamps last_modified (tests pass a fixed clock).
  explicit LoggerLevels(std::function<int64_t()> now_ms = {});

  // log4j's Level.toLevel: upper-case names, ALL meaning TRACE; nullopt for
  // a name log4j does not know.
  static std::optional<spdlog::level::level_enum> parse_level(const std::string& text);
  static std::string level_name(spdlog::level::level_enum level);

  // Every logger by name, "root" included, sorted (Kafka's TreeMap).
  std::map<std::string, LoggerLevel> all() const;
  // One logger's level; nullopt when no logger has that name.
  std::optional<LoggerLevel> level(const std::string& name) const;
  // Sets `level` on the logger named `name_space` and every logger whose name
  // starts with it ("root": every logger). As log4j, a name no logger has yet
  // gets one (sharing the default logger's sinks). Returns the names set,
  // sorted; last_modified changes only where the level did.
  std::vector<std::string> set(const std::string& name_space, spdlog::level::level_enum level);

 private:
  std::function<int64_t()> now_ms_;
  mutable std::mutex mutex_;
  std::map<std::string, int64_t> last_modified_ms_;
};

}  // namespace sluice::connect
