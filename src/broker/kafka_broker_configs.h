#pragma once
// The broker settings Kafka knows, so that a Kafka user's server.properties
// and AlterConfigs calls are accepted (and described) even where Sluice does
// not act on a setting (broker_config.cc marks those `inert`).

#include <span>
#include <string_view>

#include "base/config_def.h"

namespace sluice::broker {

// How Kafka lets a setting change at run time (its docs' "Update Mode").
enum class KafkaUpdateMode { read_only, per_broker, cluster_wide };

struct KafkaBrokerConfig {
  std::string_view name;
  ConfigType type;
  const char* default_value;  // nullptr: Kafka's default is null
  KafkaUpdateMode mode;
};

// Sorted by name.
std::span<const KafkaBrokerConfig> kafka_broker_configs();
const KafkaBrokerConfig* find_kafka_broker_config(std::string_view name);

}  // namespace sluice::broker
