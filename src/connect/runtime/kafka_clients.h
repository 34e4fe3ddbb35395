#pragma once
// The worker's librdkafka clients: RAII handles and their configuration from
// a worker's settings. Kafka Connect passes Java client settings through
// (`producer.*`, `consumer.*`, the top-level security settings); librdkafka
// knows most of them by the same names, and the few it does not (Java-only
// settings such as `max.block.ms`) are skipped with one warning each rather
// than failing a configuration written for Kafka Connect.

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>

#include "base/result.h"
#include "connect/config.h"

namespace sluice::connect {

struct RdKafkaDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
  void operator()(rd_kafka_headers_t* headers) const { rd_kafka_headers_destroy(headers); }
};
using RdKafka = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;
using RdKafkaConf = std::unique_ptr<rd_kafka_conf_t, RdKafkaDeleter>;
using RdPartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, RdKafkaDeleter>;

enum class ClientKind { producer, consumer, admin };

// Settings for one client, in the order they apply (later wins): `base`
// (the worker's defaults for this kind of client), the worker's top-level
// connection settings (bootstrap.servers, security.protocol, ssl.*, sasl.*),
// the worker's `producer.` / `consumer.` / `admin.` settings, and a
// connector's `producer.override.` / `consumer.override.` ones.
Properties client_settings(const Properties& worker, const Properties& connector, ClientKind kind,
                           const Properties& base);

// A configuration with `settings` applied; an invalid value is an error
// naming the setting, an unknown name a warning (once per name).
Result<RdKafkaConf> make_client_conf(const Properties& settings);

// The client itself; `conf` is consumed either way.
Result<RdKafka> make_client(RdKafkaConf conf, ClientKind kind);

std::string rd_error_text(rd_kafka_resp_err_t err);

}  // namespace sluice::connect
