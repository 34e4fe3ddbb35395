#pragma once
// A worker's own settings (Kafka's WorkerConfig and StandaloneConfig): where
// the REST API listens, where offsets go, how often they are committed, and
// the converters connectors fall back to. Everything else in the worker's
// properties is passed on to its clients (kafka_clients.h).

#include <chrono>
#include <string>

#include "base/result.h"
#include "connect/config.h"
#include "connect/runtime/connector_config.h"

namespace sluice::connect {

struct WorkerSettings {
  Properties properties;                // the whole file, for the clients
  std::string bootstrap_servers;        // bootstrap.servers (localhost:9092)
  std::string offsets_file;             // offset.storage.file.filename (standalone)
  std::string rest_host = "127.0.0.1";  // listeners (http://127.0.0.1:8083)
  int rest_port = 8083;
  std::chrono::milliseconds offset_flush_interval{60'000};  // offset.flush.interval.ms
  std::chrono::milliseconds shutdown_timeout{5'000};        // task.shutdown.graceful.timeout.ms
  ConverterDefaults converters;
  // Distributed workers with exactly.once.source.support=enabled (KIP-618):
  // each source task writes its records and offsets in one transaction per
  // poll, as `<group.id>-<connector>-<task>`, into offsets_topic.
  bool exactly_once_source = false;
  std::string group_id;
  std::string offsets_topic;
};

// Kafka's DistributedConfig: the group, its three topics, the group's
// timeouts and the URL other workers forward requests to.
struct DistributedSettings {
  WorkerSettings worker;
  std::string group_id;                                    // group.id (required)
  std::string config_topic;                                // config.storage.topic (required)
  std::string offset_topic;                                // offset.storage.topic (required)
  std::string status_topic;                                // status.storage.topic (required)
  int config_replication_factor = 3;                       // config.storage.replication.factor
  int offset_replication_factor = 3;                       // offset.storage.replication.factor
  int status_replication_factor = 3;                       // status.storage.replication.factor
  int offset_partitions = 25;                              // offset.storage.partitions
  int status_partitions = 5;                               // status.storage.partitions
  std::chrono::milliseconds heartbeat_interval{3'000};     // heartbeat.interval.ms
  std::chrono::milliseconds session_timeout{10'000};       // session.timeout.ms
  std::chrono::milliseconds rebalance_timeout{60'000};     // rebalance.timeout.ms
  std::chrono::milliseconds max_rebalance_delay{300'000};  // scheduled.rebalance.max.delay.ms
  std::string advertised_host;  // rest.advertised.host.name (default: the listener's host)
  int advertised_port = -1;     // rest.advertised.port (default: the listener's port)
  std::string exactly_once_source_support = "disabled";  // exactly.once.source.support
};

// Kafka's messages for a missing or invalid setting ("Missing required
// configuration \"offset.storage.file.filename\" which has no default value.").
Result<WorkerSettings> parse_standalone_settings(const Properties& properties);
Result<DistributedSettings> parse_distributed_settings(const Properties& properties);

// `listeners`' first entry: "http://host:port" (an empty host is every
// interface, as Kafka reads it); https is refused (not built yet).
Status parse_listener(const std::string& listeners, std::string& host, int& port);

}  // namespace sluice::connect
