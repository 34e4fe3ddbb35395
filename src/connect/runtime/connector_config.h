#pragma once
// Kafka's ConnectorConfig (and its sink/source extensions): the settings
// every connector configuration has beside the connector's own, their
// validation with Kafka's messages (the REST validate answer, and the 400 a
// create or update with an invalid configuration gets), and what a task
// needs from them (converters, the transformation chain, error handling).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connect/config.h"
#include "connect/connector.h"
#include "connect/converter.h"
#include "connect/runtime/herder.h"
#include "connect/transform_chain.h"

namespace sluice::connect {

// The worker-wide defaults a connector configuration falls back to.
struct ConverterDefaults {
  std::string key_converter = "org.apache.kafka.connect.json.JsonConverter";
  std::string value_converter = "org.apache.kafka.connect.json.JsonConverter";
  std::string header_converter = "org.apache.kafka.connect.storage.SimpleHeaderConverter";
  Properties worker;  // the worker's settings: `key.converter.*` etc. come from here
};

// Validation of a whole connector configuration for `plugin`: the common
// keys (Common, Transforms, Predicates, Error Handling groups), the sink's
// topics / topics.regex rules, each transform's and predicate's settings,
// and the connector's own keys. error_count 0: valid.
ConfigInfos validate_connector_config(const ConnectorPlugin& plugin, const Properties& config);

// Kafka's message for a configuration that failed validation: "Connector
// configuration is invalid and contains the following N error(s):\n..."
std::string invalid_config_message(const ConfigInfos& infos);

// What a running task takes from its connector's configuration.
struct TaskSettings {
  std::string connector;
  int task = 0;
  Properties connector_config;               // the whole connector configuration
  Properties task_config;                    // what the connector gave this task
  bool tolerate_all_errors = false;          // errors.tolerance=all
  int64_t retry_timeout_ms = 0;              // errors.retry.timeout (-1: forever)
  int64_t retry_max_delay_ms = 60'000;       // errors.retry.delay.max.ms
  bool log_errors = false;                   // errors.log.enable
  bool log_error_messages = false;           // errors.log.include.messages
  std::string dead_letter_topic;             // sinks: errors.deadletterqueue.topic.name
  bool dead_letter_context_headers = false;  // errors.deadletterqueue.context.headers.enable
  int dead_letter_replication_factor = 3;
  std::vector<std::string> topics;  // sinks
  std::string topics_regex;         // sinks
};
TaskSettings task_settings(const std::string& connector, int task,
                           const Properties& connector_config, const Properties& task_config);

// The converters a connector's tasks use: the connector's `key.converter`
// (and its `key.converter.*` settings) or the worker's.
struct TaskConverters {
  std::unique_ptr<Converter> key;
  std::unique_ptr<Converter> value;
  std::unique_ptr<HeaderConverter> header;
  // Their classes, as errors and the dead-letter context headers name them.
  std::string key_class;
  std::string value_class;
  std::string header_class;
};
Result<TaskConverters> make_task_converters(const Properties& connector_config,
                                            const ConverterDefaults& defaults);

}  // namespace sluice::connect
