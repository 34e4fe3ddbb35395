#pragma once
// A Streams application's settings, by Kafka Streams' names (StreamsConfig):
// `application.id` (also the consumer group and the internal topics'
// prefix), `bootstrap.servers`, `num.stream.threads`, `commit.interval.ms`
// (30000, or 100 under exactly-once), `processing.guarantee`
// (`at_least_once`, `exactly_once_v2`), `replication.factor` (of internal
// topics; -1: the broker's default), `state.dir`,
// `default.deserialization.exception.handler`; task assignment:
// `num.standby.replicas` (0), `max.warmup.replicas` (2, at least 1),
// `acceptable.recovery.lag` (10000), `probing.rebalance.interval.ms`
// (600000, at least 60000). Client settings pass through
// to librdkafka: `consumer.*`, `producer.*`, `admin.*`, and the connection
// settings every client shares (`security.protocol`, `ssl.*`, `sasl.*`,
// `client.id`).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "streams/task.h"

namespace sluice::streams {

enum class ProcessingGuarantee { at_least_once, exactly_once_v2 };

struct StreamsConfig {
  std::string application_id;
  std::string bootstrap_servers;
  int num_stream_threads = 1;
  std::chrono::milliseconds commit_interval{30'000};
  ProcessingGuarantee processing_guarantee = ProcessingGuarantee::at_least_once;
  int replication_factor = -1;
  std::string state_dir = "/tmp/kafka-streams";
  DeserializationHandling on_deserialization_error = DeserializationHandling::log_and_fail;
  int num_standby_replicas = 0;
  int max_warmup_replicas = 2;
  int64_t acceptable_recovery_lag = 10'000;
  std::chrono::milliseconds probing_rebalance_interval{600'000};
  std::map<std::string, std::string> consumer;  // librdkafka settings, by client
  std::map<std::string, std::string> producer;
  std::map<std::string, std::string> admin;

  // Reads Kafka Streams' settings; throws std::invalid_argument with Kafka's
  // message for a missing or invalid one ("Missing required configuration
  // \"application.id\" which has no default value.").
  static StreamsConfig from_properties(const std::map<std::string, std::string>& properties);
};

}  // namespace sluice::streams
