#include "streams/streams_config.h"

#include <charconv>
#include <stdexcept>

#include "streams/streams_protocol.h"

namespace sluice::streams {
namespace {

std::string invalid(const std::string& name, const std::string& value, const std::string& why) {
  return "Invalid value " + value + " for configuration " + name + ": " + why;
}

long long parse_number(const std::string& name, const std::string& value,
                       const char* type = "INT") {
  long long number = 0;
  auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (error != std::errc() || end != value.data() + value.size()) {
    throw std::invalid_argument(invalid(name, value, std::string("Not a number of type ") + type));
  }
  return number;
}

std::string class_not_found(const std::string& name, const std::string& value) {
  return invalid(name, value, "Class " + value + " could not be found.");
}

// Kafka checks application.server when its assignor is configured, with
// this message (a ConfigException).
std::string checked_application_server(const std::string& value) {
  try {
    host_info_from_endpoint(value);
  } catch (const std::invalid_argument&) {
    throw std::invalid_argument(
        "Config application.server isn't in the correct format. Expected a host:port pair but "
        "received " +
        value);
  }
  return value;
}

bool shared_client_setting(const std::string& name) {
  return name == "security.protocol" || name == "client.id" || name.starts_with("ssl.") ||
         name.starts_with("sasl.");
}

}  // namespace

StreamsConfig StreamsConfig::from_properties(const std::map<std::string, std::string>& properties) {
  StreamsConfig config;
  auto required = [&](const std::string& name) {
    auto found = properties.find(name);
    if (found == properties.end() || found->second.empty()) {
      throw std::invalid_argument("Missing required configuration \"" + name +
                                  "\" which has no default value.");
    }
    return found->second;
  };
  config.application_id = required("application.id");
  config.bootstrap_servers = required("bootstrap.servers");
  bool commit_interval_given = false;
  for (const auto& [name, value] : properties) {
    if (name == "num.stream.threads") {
      long long threads = parse_number(name, value);
      if (threads < 1)
        throw std::invalid_argument(invalid(name, value, "Value must be at least 1"));
      config.num_stream_threads = static_cast<int>(threads);
    } else if (name == "commit.interval.ms") {
      long long interval = parse_number(name, value);
      if (interval < 0)
        throw std::invalid_argument(invalid(name, value, "Value must be at least 0"));
      config.commit_interval = std::chrono::milliseconds(interval);
      commit_interval_given = true;
    } else if (name == "processing.guarantee") {
      if (value == "at_least_once") {
        config.processing_guarantee = ProcessingGuarantee::at_least_once;
      } else if (value == "exactly_once_v2") {
        config.processing_guarantee = ProcessingGuarantee::exactly_once_v2;
      } else {
        throw std::invalid_argument(
            invalid(name, value, "String must be one of: at_least_once, exactly_once_v2"));
      }
    } else if (name == "replication.factor") {
      config.replication_factor = static_cast<int>(parse_number(name, value));
    } else if (name == "num.standby.replicas") {
      config.num_standby_replicas = static_cast<int>(parse_number(name, value));
    } else if (name == "max.warmup.replicas") {
      long long replicas = parse_number(name, value);
      if (replicas < 1)
        throw std::invalid_argument(invalid(name, value, "Value must be at least 1"));
      config.max_warmup_replicas = static_cast<int>(replicas);
    } else if (name == "acceptable.recovery.lag") {
      long long lag = parse_number(name, value, "LONG");
      if (lag < 0) throw std::invalid_argument(invalid(name, value, "Value must be at least 0"));
      config.acceptable_recovery_lag = lag;
    } else if (name == "probing.rebalance.interval.ms") {
      long long interval = parse_number(name, value, "LONG");
      if (interval < 60'000)
        throw std::invalid_argument(invalid(name, value, "Value must be at least 60000"));
      config.probing_rebalance_interval = std::chrono::milliseconds(interval);
    } else if (name == "state.dir") {
      config.state_dir = value;
    } else if (name == "default.deserialization.exception.handler") {
      if (value.ends_with("LogAndContinueExceptionHandler")) {
        config.on_deserialization_error = DeserializationHandling::log_and_continue;
      } else if (value.ends_with("LogAndFailExceptionHandler")) {
        config.on_deserialization_error = DeserializationHandling::log_and_fail;
      } else {
        throw std::invalid_argument(
            invalid(name, value, "Class " + value + " could not be found."));
      }
    } else if (name == "default.timestamp.extractor") {
      std::optional<BuiltInTimestampExtractor> extractor = built_in_timestamp_extractor(value);
      if (!extractor) throw std::invalid_argument(class_not_found(name, value));
      config.timestamp_extractor = *extractor;
    } else if (name == "default.production.exception.handler") {
      config.production_exception_handler = production_exception_handler_named(value);
      if (!config.production_exception_handler)
        throw std::invalid_argument(class_not_found(name, value));
    } else if (name == "processing.exception.handler") {
      config.processing_exception_handler = processing_exception_handler_named(value);
      if (!config.processing_exception_handler)
        throw std::invalid_argument(class_not_found(name, value));
    } else if (name == "cache.max.bytes.buffering" || name == "statestore.cache.max.bytes") {
      long long bytes = parse_number(name, value, "LONG");
      if (bytes < 0) throw std::invalid_argument(invalid(name, value, "Value must be at least 0"));
      config.cache_max_bytes = bytes;
    } else if (name == "metrics.recording.level") {
      if (value == "INFO") {
        config.metrics_recording_level = RecordingLevel::info;
      } else if (value == "DEBUG") {
        config.metrics_recording_level = RecordingLevel::debug;
      } else if (value == "TRACE") {
        config.metrics_recording_level = RecordingLevel::trace;
      } else {
        throw std::invalid_argument(
            invalid(name, value, "String must be one of: INFO, DEBUG, TRACE"));
      }
    } else if (name == "application.server") {
      config.application_server = checked_application_server(value);
    } else if (name == "sluice.metrics.prometheus.listener") {
      config.prometheus_listener = value;
    } else if (name.starts_with("consumer.")) {
      config.consumer[name.substr(9)] = value;
    } else if (name.starts_with("producer.")) {
      config.producer[name.substr(9)] = value;
    } else if (name.starts_with("admin.")) {
      config.admin[name.substr(6)] = value;
    } else if (shared_client_setting(name)) {
      if (name == "client.id") config.client_id = value;
      config.consumer.emplace(name, value);
      config.producer.emplace(name, value);
      config.admin.emplace(name, value);
    }
  }
  if (!commit_interval_given &&
      config.processing_guarantee == ProcessingGuarantee::exactly_once_v2) {
    config.commit_interval = std::chrono::milliseconds(100);  // Kafka's default under EOS
  }
  return config;
}

}  // namespace sluice::streams
