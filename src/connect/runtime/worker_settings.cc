#include "connect/runtime/worker_settings.h"

#include <charconv>

#include "connect/errors.h"

namespace sluice::connect {
namespace {

std::string value_or(const Properties& properties, const std::string& key,
                     const std::string& fallback) {
  auto it = properties.find(key);
  return it == properties.end() ? fallback : it->second;
}

Result<std::chrono::milliseconds> parse_millis(const Properties& properties, const std::string& key,
                                               int64_t fallback) {
  auto it = properties.find(key);
  if (it == properties.end()) return std::chrono::milliseconds(fallback);
  int64_t value = 0;
  const std::string& text = it->second;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return config_error(key, text, "Not a number of type LONG");
  }
  if (value < 0) return config_error(key, text, "Value must be at least 0");
  return std::chrono::milliseconds(value);
}

}  // namespace

Status parse_listener(const std::string& listeners, std::string& host, int& port) {
  std::string first = listeners.substr(0, listeners.find(','));
  while (!first.empty() && first.front() == ' ') first.erase(first.begin());
  while (!first.empty() && first.back() == ' ') first.pop_back();
  const std::string scheme = "http://";
  if (first.starts_with("https://")) {
    return config_error("listeners", listeners, "https listeners are not supported yet");
  }
  if (!first.starts_with(scheme)) {
    return config_error("listeners", listeners, "expected http://host:port");
  }
  const std::string address = first.substr(scheme.size());
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return config_error("listeners", listeners, "expected http://host:port");
  }
  host = address.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = address.substr(colon + 1);
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port < 0 || port > 65535) {
    return config_error("listeners", listeners, "the port is not a number from 0 to 65535");
  }
  return Status::ok();
}

Result<WorkerSettings> parse_standalone_settings(const Properties& properties) {
  WorkerSettings settings;
  settings.properties = properties;
  settings.bootstrap_servers = value_or(properties, "bootstrap.servers", "localhost:9092");
  settings.properties["bootstrap.servers"] = settings.bootstrap_servers;
  auto offsets = properties.find("offset.storage.file.filename");
  if (offsets == properties.end() || offsets->second.empty()) {
    return config_error(
        "Missing required configuration \"offset.storage.file.filename\" which has no default "
        "value.");
  }
  settings.offsets_file = offsets->second;
  if (Status listener = parse_listener(value_or(properties, "listeners", "http://127.0.0.1:8083"),
                                       settings.rest_host, settings.rest_port);
      !listener) {
    return listener;
  }
  auto flush = parse_millis(properties, "offset.flush.interval.ms", 60'000);
  if (!flush.is_ok()) return flush.status();
  settings.offset_flush_interval = *flush;
  auto shutdown = parse_millis(properties, "task.shutdown.graceful.timeout.ms", 5'000);
  if (!shutdown.is_ok()) return shutdown.status();
  settings.shutdown_timeout = *shutdown;
  settings.converters.worker = properties;
  for (const char* name : {"key.converter", "value.converter"}) {
    if (auto it = properties.find(name); it != properties.end()) {
      auto made = make_converter(it->second, {}, std::string(name) == "key.converter", name);
      if (!made.is_ok()) return made.status();
    }
  }
  return settings;
}

}  // namespace sluice::connect
