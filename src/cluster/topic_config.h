#pragma once
// Topic-level configs: Kafka's names, types and validation, with defaults
// taken from the broker's `log.*`-style synonyms (retention.ms defaults to
// log.retention.ms, else log.retention.minutes, else log.retention.hours),
// and the resolution DescribeConfigs reports: topic override > dynamic
// per-broker config > dynamic cluster default > static server.properties >
// Kafka's default. Also the same resolution for broker configs, and the
// typed storage::LogConfig of a topic.
//
// Everything here is a pure function of (image, broker config): callers on
// any thread pass the image they took for their request.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/config_def.h"
#include "cluster/metadata_image.h"
#include "storage/cleaner.h"
#include "storage/log_config.h"

namespace sluice::cluster {

// Kafka's DescribeConfigs ConfigSource values.
enum class ConfigSource : int8_t {
  unknown = 0,
  dynamic_topic = 1,
  dynamic_broker = 2,
  dynamic_default_broker = 3,
  static_broker = 4,
  default_config = 5,
};

// Kafka's DescribeConfigs ConfigType values (v3+).
int8_t describe_config_type(ConfigType type);

// The topic config definitions. Their default_value is Kafka's default when
// no broker synonym applies; use resolve_topic_config for the real default.
const ConfigDefs& topic_config_defs();

struct ConfigSynonym {
  std::string name;
  std::optional<std::string> value;
  ConfigSource source = ConfigSource::unknown;
};

struct ResolvedConfig {
  std::string name;
  std::optional<std::string> value;
  ConfigSource source = ConfigSource::default_config;
  const ConfigDef* def = nullptr;
  bool sensitive = false;
  // Where the value could come from, highest precedence first, only the
  // levels that have a value (DescribeConfigs include_synonyms).
  std::vector<ConfigSynonym> synonyms;
};

// Resolves one topic config for `topic` (nullptr: a topic not created yet,
// so no overrides; `overrides` then stands for the requested configs).
// nullopt if `name` is not a topic config.
std::optional<ResolvedConfig> resolve_topic_config(
    const std::string& name, const std::map<std::string, std::string>& overrides,
    const MetadataImage& image, const Config& broker, int32_t node_id);

// Every topic config of a topic with `overrides`, in name order.
std::vector<ResolvedConfig> resolve_topic_configs(
    const std::map<std::string, std::string>& overrides, const MetadataImage& image,
    const Config& broker, int32_t node_id);

// Every broker config of `node_id`: dynamic per-broker > dynamic default >
// static > default. Passwords are reported as sensitive with a null value.
std::vector<ResolvedConfig> resolve_broker_configs(const MetadataImage& image,
                                                   const Config& broker, int32_t node_id);

// message.timestamp.before.max.ms or .after.max.ms (`successor`) of a
// topic: its own value where set at any level, else the deprecated
// message.timestamp.difference.max.ms where that is set, else its default
// (Kafka 3.x's LogConfig during KIP-937's transition).
int64_t timestamp_bound(const std::string& successor,
                        const std::map<std::string, std::string>& overrides,
                        const MetadataImage& image, const Config& broker, int32_t node_id);

// A log line for each deprecated topic config among `overrides` (accepted,
// as Kafka 3.x accepts them).
std::vector<std::string> deprecated_topic_config_warnings(
    const std::map<std::string, std::string>& overrides);

// Checks topic config overrides (unknown names, invalid values). The
// message names the offending key, for INVALID_CONFIG answers.
Status validate_topic_configs(const std::map<std::string, std::string>& overrides);
// Checks the dynamic broker configs of one resource as Kafka's
// DynamicBrokerConfig.validateConfigs does: not read-only, per-broker
// settings only for a broker id (`for_one_broker`), known ones of their type.
// Names Kafka does not know pass, as in Kafka (stored, never described).
// Kafka answers every failure here with INVALID_REQUEST (KAFKA-13609).
Status validate_broker_configs(const std::map<std::string, std::string>& values,
                               const ConfigDefs& broker_defs, bool for_one_broker);

// The log settings of `topic` (its overrides over the broker's defaults).
// Invalid stored values (they are validated before they are written) fall
// back to the defaults.
storage::LogConfig topic_log_config(const TopicImage* topic, const MetadataImage& image,
                                    const Config& broker, int32_t node_id);

// The broker's log.cleaner.* settings (enable, threads, backoff.ms,
// dedupe.buffer.size, io.buffer.size, io.buffer.load.factor) for the
// LogManager's cleaner, from the static broker config: the cleaner is set up
// once at start (Kafka can resize its threads dynamically; Sluice cannot yet).
storage::CleanerConfig log_cleaner_config(const Config& broker);

}  // namespace sluice::cluster
