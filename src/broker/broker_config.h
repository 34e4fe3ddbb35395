#pragma once
// The broker's configuration: Kafka's server.properties keys with Kafka's
// defaults (Sluice's own: log.dirs=./data, listeners on 127.0.0.1:9092,
// admin.listener), read from a properties file plus `--set key=value`
// overrides. An unknown key or an invalid value is an error naming it; every
// key Kafka 3.9 knows is accepted (kafka_broker_configs.h), even where Sluice
// does not act on it.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/config_def.h"
#include "base/result.h"
#include "net/server.h"

namespace sluice::broker {

// Every broker key Sluice knows, with type, default and validation.
const ConfigDefs& broker_config_defs();

struct ListenerAddress {
  std::string name;  // PLAINTEXT, ...
  std::string host;
  uint16_t port = 0;
};

// "NAME://host:port,..." as in `listeners` and `advertised.listeners`.
Result<std::vector<ListenerAddress>> parse_listeners(const std::string& text);

struct BrokerConfig {
  Config values;  // every key, typed; the fields below are derived from it

  int32_t node_id = 1;
  std::vector<ListenerAddress> listeners;
  std::vector<ListenerAddress> advertised_listeners;
  std::vector<std::string> log_dirs;
  std::string metadata_log_dir;  // metadata.log.dir, or the first log dir
  std::vector<std::string> controller_listener_names;  // controller.listener.names
  // Keys read on every request, resolved once at load (the static config
  // never changes while the broker runs) so a handler reads a field instead
  // of looking a name up in a map per request or per partition.
  bool produce_fsync = true;        // sluice.produce.fsync
  int64_t fetch_max_bytes = 0;      // fetch.max.bytes
  bool auto_create_topics = false;  // auto.create.topics.enable

  // Reads `properties_text` (may be empty) then applies `overrides`.
  static Result<BrokerConfig> load(const std::string& properties_text,
                                   const std::map<std::string, std::string>& overrides);

  net::ServerConfig server_config() const;
  // Keys set explicitly that Sluice accepts for Kafka's sake but ignores.
  std::vector<std::string> inert_settings() const;
  // A listener named in controller.listener.names serves the controller's
  // APIs only (handlers.h, ListenerRole).
  bool is_controller_listener(const std::string& listener_name) const {
    for (const std::string& name : controller_listener_names)
      if (name == listener_name) return true;
    return false;
  }
  int64_t get_int(const std::string& name) const { return values.get_int(name); }
  bool get_bool(const std::string& name) const { return values.get_bool(name); }
  std::string get_string(const std::string& name) const { return values.get_string(name); }
};

}  // namespace sluice::broker
