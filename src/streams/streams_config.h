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
// (600000, at least 60000); `default.timestamp.extractor`
// (timestamp_extractor.h), `default.production.exception.handler` and
// `processing.exception.handler` (exception_handlers.h),
// `cache.max.bytes.buffering` or its Kafka 3.4+ name
// `statestore.cache.max.bytes` (record_cache.h), `metrics.recording.level`
// (streams_metrics.h); `application.server` (host:port of this instance's
// own query endpoint, sent to the group so every instance can tell where a
// key's store lives: streams_metadata.h). Sluice's own: `sluice.metrics.prometheus.listener`
// (HOST:PORT; empty, the default: off) serves the application's metrics in
// Prometheus' format at http://HOST:PORT/metrics. Client settings pass through
// to librdkafka: `consumer.*`, `producer.*`, `admin.*`, and the connection
// settings every client shares (`security.protocol`, `ssl.*`, `sasl.*`,
// `client.id`).

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "streams/exception_handlers.h"
#include "streams/record_cache.h"
#include "streams/streams_metrics.h"
#include "streams/task.h"
#include "streams/timestamp_extractor.h"

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
  BuiltInTimestampExtractor timestamp_extractor = BuiltInTimestampExtractor::fail_on_invalid;
  // Handlers by class name, or set in code (a user's own).
  std::shared_ptr<ProductionExceptionHandler> production_exception_handler =
      std::make_shared<DefaultProductionExceptionHandler>();
  std::shared_ptr<ProcessingExceptionHandler> processing_exception_handler =
      std::make_shared<LogAndFailProcessingExceptionHandler>();
  int64_t cache_max_bytes = kDefaultCacheMaxBytes;  // for all threads together
  RecordingLevel metrics_recording_level = RecordingLevel::info;
  std::string client_id;                        // empty: application.id
  std::string application_server;               // "host:port"; empty: none
  std::string prometheus_listener;              // sluice.metrics.prometheus.listener
  std::map<std::string, std::string> consumer;  // librdkafka settings, by client
  std::map<std::string, std::string> producer;
  std::map<std::string, std::string> admin;

  // Reads Kafka Streams' settings; throws std::invalid_argument with Kafka's
  // message for a missing or invalid one ("Missing required configuration
  // \"application.id\" which has no default value.").
  static StreamsConfig from_properties(const std::map<std::string, std::string>& properties);
};

}  // namespace sluice::streams
