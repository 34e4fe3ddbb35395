#include "connect/runtime/loggers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>

namespace sluice::connect {
namespace {

constexpr const char* root_logger_name = "root";

int64_t system_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// The registry's loggers by the names Kafka uses: the default logger is
// "root" (spdlog registers it under "", or not at all when it was replaced).
std::map<std::string, std::shared_ptr<spdlog::logger>> current_loggers() {
  std::map<std::string, std::shared_ptr<spdlog::logger>> loggers;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
    if (!logger->name().empty()) loggers[logger->name()] = logger;
  });
  if (auto root = spdlog::default_logger()) loggers[root_logger_name] = root;
  return loggers;
}

}  // namespace

LoggerLevels::LoggerLevels(std::function<int64_t()> now_ms)
    : now_ms_(now_ms ? std::move(now_ms) : system_now_ms) {}

std::optional<spdlog::level::level_enum> LoggerLevels::parse_level(const std::string& text) {
  std::string upper = text;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  using spdlog::level::level_enum;
  static const std::map<std::string, level_enum> levels = {
      {"ALL", level_enum::trace},      {"TRACE", level_enum::trace}, {"DEBUG", level_enum::debug},
      {"INFO", level_enum::info},      {"WARN", level_enum::warn},   {"ERROR", level_enum::err},
      {"FATAL", level_enum::critical}, {"OFF", level_enum::off}};
  const auto found = levels.find(upper);
  if (found == levels.end()) return std::nullopt;
  return found->second;
}

std::string LoggerLevels::level_name(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "TRACE";
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return "INFO";
    case spdlog::level::warn:
      return "WARN";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return "FATAL";
    default:
      return "OFF";
  }
}

std::map<std::string, LoggerLevel> LoggerLevels::all() const {
  std::lock_guard lock(mutex_);
  std::map<std::string, LoggerLevel> out;
  for (const auto& [name, logger] : current_loggers()) {
    const auto modified = last_modified_ms_.find(name);
    out[name] = {level_name(logger->level()), modified == last_modified_ms_.end()
                                                  ? std::nullopt
                                                  : std::optional(modified->second)};
  }
  return out;
}

std::optional<LoggerLevel> LoggerLevels::level(const std::string& name) const {
  // Kafka matches "root" in any case, other names exactly.
  std::string key = name;
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  auto levels = all();
  const auto found = levels.find(key == root_logger_name ? key : name);
  if (found == levels.end()) return std::nullopt;
  return found->second;
}

std::vector<std::string> LoggerLevels::set(const std::string& name_space,
                                           spdlog::level::level_enum level) {
  std::lock_guard lock(mutex_);
  auto loggers = current_loggers();
  std::string lower = name_space;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  const bool everything = lower == root_logger_name;
  if (!everything && !loggers.contains(name_space)) {
    // log4j creates the logger a name asks for; code that later calls
    // spdlog::get(name) finds it at this level.
    auto created = spdlog::default_logger()->clone(name_space);
    spdlog::register_logger(created);
    loggers[name_space] = created;
  }
  std::vector<std::string> changed;
  const int64_t now = now_ms_();
  for (const auto& [name, logger] : loggers) {
    if (!everything && name.compare(0, name_space.size(), name_space) != 0) continue;
    if (logger->level() != level) {
      logger->set_level(level);
      last_modified_ms_[name] = now;
    }
    changed.push_back(name);
  }
  return changed;  // sorted: the map's order
}

}  // namespace sluice::connect
