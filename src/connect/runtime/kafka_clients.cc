#include "connect/runtime/kafka_clients.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "connect/errors.h"

namespace sluice::connect {
namespace {

bool is_connection_setting(const std::string& key) {
  return key == "bootstrap.servers" || key == "security.protocol" || key == "client.dns.lookup" ||
         key.starts_with("ssl.") || key.starts_with("sasl.");
}

const char* kind_prefix(ClientKind kind) {
  switch (kind) {
    case ClientKind::producer:
      return "producer.";
    case ClientKind::consumer:
      return "consumer.";
    case ClientKind::admin:
      return "admin.";
  }
  return "";
}

const char* override_prefix(ClientKind kind) {
  switch (kind) {
    case ClientKind::producer:
      return "producer.override.";
    case ClientKind::consumer:
      return "consumer.override.";
    case ClientKind::admin:
      return "admin.override.";
  }
  return "";
}

void copy_prefixed(const Properties& from, const std::string& prefix, Properties& to) {
  for (auto it = from.lower_bound(prefix); it != from.end() && it->first.starts_with(prefix);
       ++it) {
    to[it->first.substr(prefix.size())] = it->second;
  }
}

void warn_unknown_once(const std::string& key) {
  static std::mutex mutex;
  static std::set<std::string> warned;
  std::lock_guard lock(mutex);
  if (warned.insert(key).second) {
    spdlog::warn("connect: client setting {} is not one librdkafka knows; ignored", key);
  }
}

}  // namespace

Properties client_settings(const Properties& worker, const Properties& connector, ClientKind kind,
                           const Properties& base) {
  Properties settings = base;
  for (const auto& [key, value] : worker) {
    if (is_connection_setting(key)) settings[key] = value;
  }
  copy_prefixed(worker, kind_prefix(kind), settings);
  copy_prefixed(connector, override_prefix(kind), settings);
  return settings;
}

Result<RdKafkaConf> make_client_conf(const Properties& settings) {
  RdKafkaConf conf(rd_kafka_conf_new());
  for (const auto& [key, value] : settings) {
    char message[512];
    switch (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), message, sizeof message)) {
      case RD_KAFKA_CONF_OK:
        break;
      case RD_KAFKA_CONF_UNKNOWN:
        warn_unknown_once(key);
        break;
      case RD_KAFKA_CONF_INVALID:
        return config_error(key, value, message);
    }
  }
  // librdkafka's own log lines go through spdlog, under the client's name.
  rd_kafka_conf_set_log_cb(
      conf.get(), [](const rd_kafka_t* client, int level, const char* facility, const char* text) {
        const char* name = client ? rd_kafka_name(client) : "rdkafka";
        if (level <= 3) {
          spdlog::error("connect: {} {}: {}", name, facility, text);
        } else if (level <= 4) {
          spdlog::warn("connect: {} {}: {}", name, facility, text);
        } else {
          spdlog::debug("connect: {} {}: {}", name, facility, text);
        }
      });
  return conf;
}

Result<RdKafka> make_client(RdKafkaConf conf, ClientKind kind) {
  char message[512];
  const rd_kafka_type_t type = kind == ClientKind::consumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER;
  rd_kafka_t* client = rd_kafka_new(type, conf.get(), message, sizeof message);
  if (client == nullptr) return config_error(message);
  (void)conf.release();  // owned by the client now
  return RdKafka(client);
}

std::string rd_error_text(rd_kafka_resp_err_t err) {
  return std::string(rd_kafka_err2name(err)) + ": " + rd_kafka_err2str(err);
}

}  // namespace sluice::connect
