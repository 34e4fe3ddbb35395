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

namespace {

Status missing(const std::string& key) {
  return config_error("Missing required configuration \"" + key + "\" which has no default value.");
}

Result<int> parse_int_setting(const Properties& properties, const std::string& key, int fallback,
                              int at_least) {
  auto it = properties.find(key);
  if (it == properties.end()) return fallback;
  int value = 0;
  const std::string& text = it->second;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return config_error(key, text, "Not a number of type INT");
  }
  if (value < at_least) {
    return config_error(key, text, "Value must be at least " + std::to_string(at_least));
  }
  return value;
}

// The settings both kinds of workers read.
Status parse_common(const Properties& properties, WorkerSettings& settings) {
  settings.properties = properties;
  settings.bootstrap_servers = value_or(properties, "bootstrap.servers", "localhost:9092");
  settings.properties["bootstrap.servers"] = settings.bootstrap_servers;
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
  return Status::ok();
}

}  // namespace

Result<DistributedSettings> parse_distributed_settings(const Properties& properties) {
  DistributedSettings settings;
  if (Status common = parse_common(properties, settings.worker); !common) return common;
  struct Required {
    const char* key;
    std::string* into;
  };
  for (auto [key, into] : {Required{"group.id", &settings.group_id},
                           Required{"config.storage.topic", &settings.config_topic},
                           Required{"offset.storage.topic", &settings.offset_topic},
                           Required{"status.storage.topic", &settings.status_topic}}) {
    auto it = properties.find(key);
    if (it == properties.end()) return missing(key);
    if (it->second.empty()) return config_error(key, "", "String must be non-empty");
    *into = it->second;
  }
  struct Number {
    const char* key;
    int* into;
    int at_least;
  };
  for (auto [key, into, at_least] :
       {Number{"config.storage.replication.factor", &settings.config_replication_factor, -1},
        Number{"offset.storage.replication.factor", &settings.offset_replication_factor, -1},
        Number{"status.storage.replication.factor", &settings.status_replication_factor, -1},
        Number{"offset.storage.partitions", &settings.offset_partitions, -1},
        Number{"status.storage.partitions", &settings.status_partitions, -1}}) {
    auto value = parse_int_setting(properties, key, *into, at_least);
    if (!value.is_ok()) return value.status();
    // Kafka: a positive number, or -1 for the broker's default.
    if (*value == 0) return config_error(key, "0", "Value must be -1 or at least 1");
    *into = *value;
  }
  struct Millis {
    const char* key;
    std::chrono::milliseconds* into;
  };
  for (auto [key, into] :
       {Millis{"heartbeat.interval.ms", &settings.heartbeat_interval},
        Millis{"session.timeout.ms", &settings.session_timeout},
        Millis{"rebalance.timeout.ms", &settings.rebalance_timeout},
        Millis{"scheduled.rebalance.max.delay.ms", &settings.max_rebalance_delay}}) {
    auto value = parse_millis(properties, key, into->count());
    if (!value.is_ok()) return value.status();
    *into = *value;
  }
  settings.advertised_host = value_or(properties, "rest.advertised.host.name", "");
  if (settings.advertised_host.empty()) {
    settings.advertised_host =
        settings.worker.rest_host == "0.0.0.0" ? "127.0.0.1" : settings.worker.rest_host;
  }
  auto port = parse_int_setting(properties, "rest.advertised.port", -1, -1);
  if (!port.is_ok()) return port.status();
  settings.advertised_port = *port;
  const std::string eos = value_or(properties, "exactly.once.source.support", "disabled");
  if (eos != "enabled" && eos != "preparing" && eos != "disabled") {
    return config_error("exactly.once.source.support", eos,
                        "String must be one of (case insensitive): DISABLED, ENABLED, PREPARING");
  }
  settings.exactly_once_source_support = eos;
  settings.worker.exactly_once_source = eos == "enabled";
  settings.worker.group_id = settings.group_id;
  settings.worker.offsets_topic = settings.offset_topic;
  return settings;
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
