#include "cluster/topic_config.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string_view>

namespace sluice::cluster {
namespace {

using T = ConfigType;

constexpr char long_max[] = "9223372036854775807";

// A broker config a topic config defaults to; values are multiplied by
// `factor_ms` (log.retention.hours -> retention.ms).
struct BrokerSynonym {
  const char* name;
  int64_t factor = 1;
};

struct TopicConfigSpec {
  ConfigDef def;
  std::vector<BrokerSynonym> synonyms;
};

ConfigDef def(std::string name, ConfigType type, std::optional<std::string> default_value,
              std::string doc,
              std::function<std::optional<std::string>(const ConfigValue&)> validator = {}) {
  return ConfigDef{std::move(name),      type, std::move(default_value), std::move(doc),
                   std::move(validator), false};
}

std::function<std::optional<std::string>(const ConfigValue&)> ratio() {
  return [](const ConfigValue& value) -> std::optional<std::string> {
    double number = std::get<double>(value);
    if (number < 0 || number > 1) return "must be in [0, 1]";
    return std::nullopt;
  };
}

// Kafka's MetadataVersion strings up to 3.x: "0.10.2", "2.8-IV1", "3.0".
bool is_kafka_version(std::string_view text) {
  auto digits = [&](size_t& at) {
    size_t start = at;
    while (at < text.size() && std::isdigit(static_cast<unsigned char>(text[at]))) ++at;
    return at > start;
  };
  size_t at = 0;
  if (text.empty() || text[0] < '0' || text[0] > '3' || !digits(at)) return false;
  for (int part = 0; part < 2 && at < text.size() && text[at] == '.'; ++part)
    if (!digits(++at)) return false;
  if (text.substr(at).starts_with("-IV")) {
    at += 3;
    if (!digits(at)) return false;
  }
  return at == text.size() && text.find('.') != std::string_view::npos;
}

std::function<std::optional<std::string>(const ConfigValue&)> kafka_version() {
  return [](const ConfigValue& value) -> std::optional<std::string> {
    if (is_kafka_version(std::get<std::string>(value))) return std::nullopt;
    return "is not a valid version";
  };
}

const std::vector<TopicConfigSpec>& specs() {
  static const std::vector<TopicConfigSpec> table = {
      {def("cleanup.policy", T::list, "delete", "delete and/or compact old segments.",
           each_one_of({"delete", "compact"})),
       {{"log.cleanup.policy"}}},
      {def("compression.type", T::string, "producer", "Codec of stored batches.",
           one_of({"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"})),
       {{"compression.type"}}},
      {def("compression.gzip.level", T::int32, "-1", "gzip level when recompressing.",
           in_range(-1, 9)),
       {}},
      {def("compression.lz4.level", T::int32, "9", "lz4 level when recompressing.",
           in_range(1, 17)),
       {}},
      {def("compression.zstd.level", T::int32, "3", "zstd level when recompressing.",
           in_range(-131072, 22)),
       {}},
      {def("delete.retention.ms", T::int64, "86400000", "How long tombstones are kept.",
           at_least(0)),
       {{"log.cleaner.delete.retention.ms"}}},
      {def("file.delete.delay.ms", T::int64, "60000", "Delay before deleting a segment file.",
           at_least(0)),
       {{"log.segment.delete.delay.ms"}}},
      {def("flush.messages", T::int64, long_max, "Messages between forced fsyncs.", at_least(1)),
       {{"log.flush.interval.messages"}}},
      {def("flush.ms", T::int64, long_max, "Time between forced fsyncs.", at_least(0)),
       {{"log.flush.interval.ms"}}},
      {def("follower.replication.throttled.replicas", T::list, "",
           "Replicas throttled on the follower side."),
       {}},
      {def("index.interval.bytes", T::int32, "4096", "Bytes between offset index entries.",
           at_least(0)),
       {{"log.index.interval.bytes"}}},
      {def("leader.replication.throttled.replicas", T::list, "",
           "Replicas throttled on the leader side."),
       {}},
      {def("max.compaction.lag.ms", T::int64, long_max, "Longest time a record stays uncompacted.",
           at_least(1)),
       {{"log.cleaner.max.compaction.lag.ms"}}},
      {def("max.message.bytes", T::int32, "1048588", "Largest record batch accepted.", at_least(0)),
       {{"message.max.bytes"}}},
      {def("message.downconversion.enable", T::boolean, "true",
           "Whether Fetch v0-3 clients get this topic's batches converted to their message "
           "format."),
       {{"log.message.downconversion.enable"}}},
      {def("message.timestamp.after.max.ms", T::int64, "3600000",
           "How far a CreateTime timestamp may be ahead of the broker's clock.", at_least(0)),
       {{"log.message.timestamp.after.max.ms"}}},
      {def("message.timestamp.before.max.ms", T::int64, long_max,
           "How far a CreateTime timestamp may be behind the broker's clock.", at_least(0)),
       {{"log.message.timestamp.before.max.ms"}}},
      // Deprecated in Kafka 3.6 (KIP-937) but accepted through 3.9: bounds
      // both directions where the successors are set nowhere
      // (timestamp_bound()).
      {def("message.timestamp.difference.max.ms", T::int64, long_max,
           "Deprecated: message.timestamp.before.max.ms and .after.max.ms where those are "
           "not set.",
           at_least(0)),
       {{"log.message.timestamp.difference.max.ms"}}},
      // Deprecated in Kafka 3.0, where it stopped having an effect; accepted
      // (a valid version) and ignored, as Kafka 3.x does.
      {def("message.format.version", T::string, "3.0-IV1",
           "Deprecated and ignored (Kafka 3.0+ writes record batch v2).", kafka_version()),
       {{"log.message.format.version"}}},
      {def("message.timestamp.type", T::string, "CreateTime", "CreateTime or LogAppendTime.",
           one_of({"CreateTime", "LogAppendTime"})),
       {{"log.message.timestamp.type"}}},
      {def("min.cleanable.dirty.ratio", T::float64, "0.5",
           "Dirty share of the log that triggers compaction.", ratio()),
       {{"log.cleaner.min.cleanable.ratio"}}},
      {def("min.compaction.lag.ms", T::int64, "0", "Shortest time a record stays uncompacted.",
           at_least(0)),
       {{"log.cleaner.min.compaction.lag.ms"}}},
      {def("min.insync.replicas", T::int32, "1",
           "In-sync replicas needed to accept acks=all writes.", at_least(1)),
       {{"min.insync.replicas"}}},
      {def("preallocate", T::boolean, "false", "Preallocate segment files."),
       {{"log.preallocate"}}},
      {def("retention.bytes", T::int64, "-1", "Size kept per partition; -1: unlimited."),
       {{"log.retention.bytes"}}},
      {def("retention.ms", T::int64, "604800000", "Time kept; -1: unlimited.", at_least(-1)),
       {{"log.retention.ms"},
        {"log.retention.minutes", 60'000},
        {"log.retention.hours", 3'600'000}}},
      {def("segment.bytes", T::int32, "1073741824", "Segment size before rolling.", at_least(14)),
       {{"log.segment.bytes"}}},
      {def("segment.index.bytes", T::int32, "10485760", "Size of each segment's offset index.",
           at_least(4)),
       {{"log.index.size.max.bytes"}}},
      {def("segment.jitter.ms", T::int64, "0", "Random reduction of segment.ms.", at_least(0)),
       {{"log.roll.jitter.ms"}, {"log.roll.jitter.hours", 3'600'000}}},
      {def("segment.ms", T::int64, "604800000", "Segment age before rolling.", at_least(1)),
       {{"log.roll.ms"}, {"log.roll.hours", 3'600'000}}},
      {def("unclean.leader.election.enable", T::boolean, "false",
           "Elect an out-of-sync replica when no in-sync one is left."),
       {{"unclean.leader.election.enable"}}},
  };
  return table;
}

const TopicConfigSpec* find_spec(const std::string& name) {
  for (const TopicConfigSpec& spec : specs())
    if (spec.def.name == name) return &spec;
  return nullptr;
}

// `text` scaled by `factor` (for hour/minute synonyms); unchanged if 1 or
// not an integer.
std::string scaled(const std::string& text, int64_t factor) {
  if (factor == 1) return text;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') return text;
  if (value < 0) return std::to_string(value);  // -1 (unlimited) stays -1
  if (value > std::numeric_limits<int64_t>::max() / factor) return long_max;
  return std::to_string(value * factor);
}

// A broker-level value of `name` at one level (nullopt if unset there).
std::optional<std::string> broker_level_value(const std::string& name, ConfigSource level,
                                              const MetadataImage& image, const Config& broker,
                                              int32_t node_id) {
  auto from = [&](const std::string& resource) -> std::optional<std::string> {
    auto configs = image.broker_configs.find(resource);
    if (configs == image.broker_configs.end()) return std::nullopt;
    auto value = configs->second.find(name);
    if (value == configs->second.end()) return std::nullopt;
    return value->second;
  };
  switch (level) {
    case ConfigSource::dynamic_broker:
      return from(std::to_string(node_id));
    case ConfigSource::dynamic_default_broker:
      return from("");
    case ConfigSource::static_broker:
      if (broker.defs().find(name) == nullptr || !broker.is_set(name)) return std::nullopt;
      return broker.text(name);
    case ConfigSource::default_config: {
      const ConfigDef* def = broker.defs().find(name);
      return def == nullptr ? std::nullopt : def->default_value;
    }
    default:
      return std::nullopt;
  }
}

constexpr ConfigSource all_broker_levels[] = {
    ConfigSource::dynamic_broker, ConfigSource::dynamic_default_broker, ConfigSource::static_broker,
    ConfigSource::default_config};

ResolvedConfig resolve_spec(const TopicConfigSpec& spec,
                            const std::map<std::string, std::string>& overrides,
                            const MetadataImage& image, const Config& broker, int32_t node_id) {
  ResolvedConfig out;
  out.name = spec.def.name;
  out.def = &spec.def;
  out.sensitive = spec.def.type == T::password;
  auto choose = [&](std::optional<std::string> value, ConfigSource source, int64_t factor) {
    if (!out.value) {
      out.value = value ? std::optional<std::string>(scaled(*value, factor)) : std::nullopt;
      out.source = source;
    }
  };
  if (auto found = overrides.find(spec.def.name); found != overrides.end()) {
    out.synonyms.push_back({spec.def.name, found->second, ConfigSource::dynamic_topic});
    choose(found->second, ConfigSource::dynamic_topic, 1);
  }
  // Kafka's ConfigHelper.configSynonyms: the broker synonyms set at each
  // level, then their defaults, listed from the first entry that names the
  // topic config's own broker setting; so retention.ms lists no default
  // log.retention.hours while log.retention.ms is set nowhere. The value
  // still comes from the first of them all.
  std::vector<ConfigSynonym> broker_synonyms;
  for (ConfigSource level : all_broker_levels) {
    for (const BrokerSynonym& synonym : spec.synonyms) {
      auto value = broker_level_value(synonym.name, level, image, broker, node_id);
      if (!value) continue;
      broker_synonyms.push_back({synonym.name, value, level});
      choose(value, level, synonym.factor);
    }
  }
  auto listed = std::find_if(
      broker_synonyms.begin(), broker_synonyms.end(),
      [&](const ConfigSynonym& synonym) { return synonym.name == spec.synonyms.front().name; });
  out.synonyms.insert(out.synonyms.end(), listed, broker_synonyms.end());
  if (!out.value) {
    out.value = spec.def.default_value;
    out.source = ConfigSource::default_config;
  }
  return out;
}

int64_t int_or(const std::map<std::string, ResolvedConfig>& values, const char* name,
               int64_t fallback) {
  auto found = values.find(name);
  if (found == values.end() || !found->second.value) return fallback;
  auto parsed = parse_config_value(*found->second.def, *found->second.value);
  if (!parsed) return fallback;
  return std::get<int64_t>(*parsed);
}

bool bool_or(const std::map<std::string, ResolvedConfig>& values, const char* name, bool fallback) {
  auto found = values.find(name);
  if (found == values.end() || !found->second.value) return fallback;
  auto parsed = parse_config_value(*found->second.def, *found->second.value);
  if (!parsed) return fallback;
  return std::get<bool>(*parsed);
}

}  // namespace

int8_t describe_config_type(ConfigType type) {
  switch (type) {
    case ConfigType::boolean:
      return 1;
    case ConfigType::string:
      return 2;
    case ConfigType::int32:
      return 3;
    case ConfigType::int64:
      return 5;
    case ConfigType::float64:
      return 6;
    case ConfigType::list:
      return 7;
    case ConfigType::password:
      return 9;
  }
  return 0;
}

const ConfigDefs& topic_config_defs() {
  static const ConfigDefs defs = [] {
    std::vector<ConfigDef> all;
    for (const TopicConfigSpec& spec : specs()) all.push_back(spec.def);
    return ConfigDefs(std::move(all));
  }();
  return defs;
}

std::optional<ResolvedConfig> resolve_topic_config(
    const std::string& name, const std::map<std::string, std::string>& overrides,
    const MetadataImage& image, const Config& broker, int32_t node_id) {
  const TopicConfigSpec* spec = find_spec(name);
  if (spec == nullptr) return std::nullopt;
  return resolve_spec(*spec, overrides, image, broker, node_id);
}

std::vector<ResolvedConfig> resolve_topic_configs(
    const std::map<std::string, std::string>& overrides, const MetadataImage& image,
    const Config& broker, int32_t node_id) {
  std::vector<ResolvedConfig> out;
  for (const TopicConfigSpec& spec : specs())
    out.push_back(resolve_spec(spec, overrides, image, broker, node_id));
  return out;
}

std::vector<ResolvedConfig> resolve_broker_configs(const MetadataImage& image, const Config& broker,
                                                   int32_t node_id) {
  std::vector<ResolvedConfig> out;
  for (const ConfigDef& def : broker.defs().all()) {
    ResolvedConfig config;
    config.name = def.name;
    config.def = &def;
    config.sensitive = def.type == T::password;
    constexpr ConfigSource levels[] = {ConfigSource::dynamic_broker,
                                       ConfigSource::dynamic_default_broker,
                                       ConfigSource::static_broker, ConfigSource::default_config};
    bool chosen = false;
    for (ConfigSource level : levels) {
      auto value = broker_level_value(def.name, level, image, broker, node_id);
      if (!value) continue;
      config.synonyms.push_back({def.name, value, level});
      if (!chosen) {
        config.value = value;
        config.source = level;
        chosen = true;
      }
    }
    if (!chosen) config.source = ConfigSource::default_config;
    if (config.sensitive) {
      config.value = std::nullopt;
      for (ConfigSynonym& synonym : config.synonyms) synonym.value = std::nullopt;
    }
    out.push_back(std::move(config));
  }
  return out;
}

int64_t timestamp_bound(const std::string& successor,
                        const std::map<std::string, std::string>& overrides,
                        const MetadataImage& image, const Config& broker, int32_t node_id) {
  auto as_int = [](const std::optional<ResolvedConfig>& config, int64_t fallback) {
    if (!config || !config->value) return fallback;
    auto parsed = parse_config_value(*config->def, *config->value);
    return parsed ? std::get<int64_t>(*parsed) : fallback;
  };
  auto own = resolve_topic_config(successor, overrides, image, broker, node_id);
  if (own && own->source != ConfigSource::default_config) return as_int(own, INT64_MAX);
  auto deprecated = resolve_topic_config("message.timestamp.difference.max.ms", overrides, image,
                                         broker, node_id);
  if (deprecated && deprecated->source != ConfigSource::default_config)
    return as_int(deprecated, INT64_MAX);
  return as_int(own, INT64_MAX);
}

std::vector<std::string> deprecated_topic_config_warnings(
    const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  if (overrides.count("message.timestamp.difference.max.ms"))
    out.push_back(
        "topic config message.timestamp.difference.max.ms is deprecated (Kafka 3.6, KIP-937): "
        "it bounds timestamps where message.timestamp.before.max.ms / after.max.ms are not set");
  if (overrides.count("message.format.version"))
    out.push_back(
        "topic config message.format.version is deprecated and ignored: batches are stored as "
        "record batch v2, as in Kafka 3.0 and later");
  return out;
}

Status validate_topic_configs(const std::map<std::string, std::string>& overrides) {
  for (const auto& [name, value] : overrides) {
    const ConfigDef* def = topic_config_defs().find(name);
    if (def == nullptr) return Status(Errc::invalid_value, "Unknown topic config name: " + name);
    auto parsed = parse_config_value(*def, value);
    if (!parsed) return parsed.status();
  }
  return Status::ok();
}

Status validate_broker_configs(const std::map<std::string, std::string>& values,
                               const ConfigDefs& broker_defs, bool for_one_broker) {
  for (const auto& [name, value] : values) {
    const ConfigDef* def = broker_defs.find(name);
    if (def == nullptr) continue;
    if (def->read_only)
      return Status(Errc::invalid_value,
                    "Cannot update these configs dynamically: Set(" + name + ")");
    if (def->per_broker_only && !for_one_broker)
      return Status(Errc::invalid_value,
                    "Cannot update these configs at default cluster level, broker id must be "
                    "specified: Set(" +
                        name + ")");
    auto parsed = parse_config_value(*def, value);
    if (!parsed) return parsed.status();
  }
  return Status::ok();
}

storage::CleanerConfig log_cleaner_config(const Config& broker) {
  storage::CleanerConfig out;
  out.enable = broker.get_bool("log.cleaner.enable");
  out.threads = static_cast<int>(broker.get_int("log.cleaner.threads"));
  out.backoff_ms = broker.get_int("log.cleaner.backoff.ms");
  out.dedupe_buffer_bytes = static_cast<uint64_t>(broker.get_int("log.cleaner.dedupe.buffer.size"));
  out.io_buffer_bytes = static_cast<uint64_t>(broker.get_int("log.cleaner.io.buffer.size"));
  out.io_buffer_load_factor = broker.get_double("log.cleaner.io.buffer.load.factor");
  return out;
}

storage::LogConfig topic_log_config(const TopicImage* topic, const MetadataImage& image,
                                    const Config& broker, int32_t node_id) {
  static const std::map<std::string, std::string> no_overrides;
  std::map<std::string, ResolvedConfig> values;
  for (ResolvedConfig& config :
       resolve_topic_configs(topic ? topic->configs : no_overrides, image, broker, node_id))
    values.emplace(config.name, std::move(config));
  storage::LogConfig out;
  out.segment_bytes = static_cast<uint64_t>(int_or(values, "segment.bytes", 1 << 30));
  out.segment_ms = int_or(values, "segment.ms", out.segment_ms);
  out.segment_index_bytes = static_cast<uint64_t>(
      int_or(values, "segment.index.bytes", static_cast<int64_t>(out.segment_index_bytes)));
  out.index_interval_bytes =
      static_cast<uint32_t>(int_or(values, "index.interval.bytes", out.index_interval_bytes));
  out.max_message_bytes =
      static_cast<uint32_t>(int_or(values, "max.message.bytes", out.max_message_bytes));
  out.retention_ms = int_or(values, "retention.ms", out.retention_ms);
  out.retention_bytes = int_or(values, "retention.bytes", out.retention_bytes);
  out.file_delete_delay_ms = int_or(values, "file.delete.delay.ms", out.file_delete_delay_ms);
  out.flush_messages = int_or(values, "flush.messages", out.flush_messages);
  out.flush_ms = int_or(values, "flush.ms", out.flush_ms);
  out.preallocate = bool_or(values, "preallocate", out.preallocate);
  out.delete_retention_ms = int_or(values, "delete.retention.ms", out.delete_retention_ms);
  out.min_compaction_lag_ms = int_or(values, "min.compaction.lag.ms", out.min_compaction_lag_ms);
  out.max_compaction_lag_ms = int_or(values, "max.compaction.lag.ms", out.max_compaction_lag_ms);
  if (const auto& policy = values["cleanup.policy"].value) {
    std::vector<std::string> items = split_list(*policy);
    out.cleanup_policy_delete = false;
    out.cleanup_policy_compact = false;
    for (const std::string& item : items) {
      if (item == "delete") out.cleanup_policy_delete = true;
      if (item == "compact") out.cleanup_policy_compact = true;
    }
  }
  if (const auto& ratio = values["min.cleanable.dirty.ratio"].value) {
    char* end = nullptr;
    double value = std::strtod(ratio->c_str(), &end);
    if (!ratio->empty() && *end == '\0') out.min_cleanable_dirty_ratio = value;
  }
  return out;
}

}  // namespace sluice::cluster
