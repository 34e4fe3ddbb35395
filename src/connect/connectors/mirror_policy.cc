// mirror.h: replication policies, the topic filter, the task division and
// the settings of MirrorSourceConnector (Kafka's MirrorSourceConfig,
// DefaultReplicationPolicy, IdentityReplicationPolicy, DefaultTopicFilter).

#include <string_view>

#include "connect/connectors/mirror.h"

namespace sluice::connect {
namespace {

// Kafka's defaults (MirrorSourceConfig, DefaultTopicFilter).
constexpr const char* kTopicsExcludeDefault = ".*[\\-\\.]internal, .*\\.replica, __.*";
constexpr const char* kConfigPropertiesExclude =
    "follower\\.replication\\.throttled\\.replicas|leader\\.replication\\.throttled\\.replicas|"
    "message\\.timestamp\\.difference\\.max\\.ms|message\\.timestamp\\.type|"
    "unclean\\.leader\\.election\\.enable|min\\.insync\\.replicas";

bool mirror_only_separators(std::string_view rest, std::string_view separator) {
  while (rest.starts_with(separator)) rest.remove_prefix(separator.size());
  return rest.empty();
}

// MirrorUtils.compilePatternList: the regexes as one alternation; none: null.
std::optional<std::regex> mirror_pattern_list(const std::vector<std::string>& patterns) {
  if (patterns.empty()) return std::nullopt;
  std::string joined;
  for (const std::string& pattern : patterns) {
    if (!joined.empty()) joined += '|';
    joined += "(?:" + pattern + ")";
  }
  return std::regex(joined, std::regex::ECMAScript);
}

// Each entry of a LIST setting must compile (Kafka finds out at start).
ConfigValidator mirror_regex_list() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* list = std::get_if<std::vector<std::string>>(&value);
    if (list == nullptr) return std::nullopt;
    for (const std::string& pattern : *list) {
      try {
        std::regex compiled(pattern, std::regex::ECMAScript);
      } catch (const std::regex_error& error) {
        return ConfigProblem{"Invalid regex " + pattern + ": " + error.what()};
      }
    }
    return std::nullopt;
  };
}

// A CLASS setting naming a class this binary does not have: Kafka's
// ConfigDef message for Class.forName's failure.
ConfigValidator replication_policy_class() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    if (text == nullptr || *text == kDefaultReplicationPolicyClass ||
        *text == kIdentityReplicationPolicyClass) {
      return std::nullopt;
    }
    return ConfigProblem{"Class " + *text + " could not be found."};
  };
}

Properties mirror_prefixed_settings(const Properties& config, const std::string& cluster_prefix,
                                    const std::string& client_prefix) {
  Properties settings;
  for (const std::string& prefix : {cluster_prefix, client_prefix}) {
    for (const auto& [key, value] : config) {
      if (key.size() > prefix.size() && key.starts_with(prefix)) {
        settings[key.substr(prefix.size())] = value;
      }
    }
  }
  return settings;
}

}  // namespace

std::string ReplicationPolicy::format_remote_topic(const std::string& source,
                                                   const std::string& topic) const {
  return identity ? topic : source + separator + topic;
}

std::optional<std::string> ReplicationPolicy::topic_source(const std::string& topic) const {
  if (identity) {
    if (source_alias.empty()) return std::nullopt;
    return source_alias;
  }
  const size_t at = topic.find(separator);
  if (at == std::string::npos) return std::nullopt;
  if (mirror_only_separators(std::string_view(topic).substr(at + separator.size()), separator)) {
    return std::nullopt;
  }
  return topic.substr(0, at);
}

std::optional<std::string> ReplicationPolicy::upstream_topic(const std::string& topic) const {
  if (identity) return topic;
  std::optional<std::string> source = topic_source(topic);
  if (!source) return std::nullopt;
  return topic.substr(source->size() + separator.size());
}

std::string ReplicationPolicy::offset_syncs_topic(const std::string& cluster) const {
  return "mm2-offset-syncs" + separator + cluster + separator + "internal";
}

bool ReplicationPolicy::is_internal_topic(const std::string& topic) const {
  return topic.starts_with("__") || topic.starts_with(".") || topic.ends_with(".internal") ||
         topic.ends_with("-internal") || topic.ends_with(separator + "internal");
}

bool is_cycle(const ReplicationPolicy& policy, const std::string& target_alias,
              const std::string& topic) {
  std::string current = topic;
  // Each step removes a prefix, so the walk ends; Identity's upstream topic
  // is the topic itself, which ends it at once.
  while (true) {
    std::optional<std::string> source = policy.topic_source(current);
    if (!source) return false;
    if (*source == target_alias) return true;
    std::optional<std::string> upstream = policy.upstream_topic(current);
    if (!upstream || *upstream == current) return false;
    current = std::move(*upstream);
  }
}

std::optional<TopicFilter> TopicFilter::make(const std::vector<std::string>& include,
                                             const std::vector<std::string>& exclude) {
  TopicFilter filter;
  try {
    filter.include_ = mirror_pattern_list(include);
    filter.exclude_ = mirror_pattern_list(exclude);
  } catch (const std::regex_error&) {
    return std::nullopt;
  }
  return filter;
}

bool TopicFilter::matches(const std::string& topic) const {
  const bool included = include_ && std::regex_match(topic, *include_);
  const bool excluded = exclude_ && std::regex_match(topic, *exclude_);
  return included && !excluded;
}

bool should_mirror_topic(const TopicFilter& filter, const ReplicationPolicy& policy,
                         const std::string& target_alias, const std::string& topic) {
  return filter.matches(topic) && !policy.is_internal_topic(topic) &&
         !is_cycle(policy, target_alias, topic);
}

int mirror_task_for(const std::string& topic, int32_t partition, int task_count) {
  if (task_count <= 1) return 0;
  uint32_t hash = 2166136261U;
  for (const char c : topic) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 16777619U;
  }
  const uint64_t start = hash % static_cast<uint32_t>(task_count);
  return static_cast<int>((start + static_cast<uint64_t>(partition)) %
                          static_cast<uint64_t>(task_count));
}

namespace {

void append_big_endian(std::string& out, uint64_t value, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((value >> shift) & 0xFF));
  }
}

}  // namespace

std::string offset_sync_key(const std::string& topic, int32_t partition) {
  std::string key;
  append_big_endian(key, topic.size(), 2);  // topic names are at most 249 bytes
  key += topic;
  append_big_endian(key, static_cast<uint32_t>(partition), 4);
  return key;
}

std::string offset_sync_value(int64_t upstream_offset, int64_t downstream_offset) {
  std::string value;
  append_big_endian(value, static_cast<uint64_t>(upstream_offset), 8);
  append_big_endian(value, static_cast<uint64_t>(downstream_offset), 8);
  return value;
}

bool OffsetSyncState::update(int64_t upstream_offset, int64_t downstream_offset) {
  const bool first = last_sync_downstream_ == -1;
  // Translation answers one past the last sync: hence the + 1.
  const bool too_stale = downstream_offset - (last_sync_downstream_ + 1) >= max_offset_lag_;
  const bool skipped_upstream = upstream_offset - previous_upstream_ != 1;
  const bool truncated_downstream = downstream_offset < previous_downstream_;
  const bool sync = first || too_stale || skipped_upstream || truncated_downstream;
  if (sync) last_sync_downstream_ = downstream_offset;
  previous_upstream_ = upstream_offset;
  previous_downstream_ = downstream_offset;
  return sync;
}

std::vector<ConfigKey> mirror_source_config_keys() {
  return {
      {"source.cluster.alias", ConfigType::string, false, "source", non_empty_string()},
      {"target.cluster.alias", ConfigType::string, false, "target", non_empty_string()},
      {"source.cluster.bootstrap.servers", ConfigType::string, true, std::nullopt,
       non_empty_string()},
      {"target.cluster.bootstrap.servers", ConfigType::string, true, std::nullopt,
       non_empty_string()},
      {"topics", ConfigType::list, false, ".*", mirror_regex_list()},
      {"topics.exclude", ConfigType::list, false, kTopicsExcludeDefault, mirror_regex_list()},
      {"replication.policy.class", ConfigType::string, false, kDefaultReplicationPolicyClass,
       replication_policy_class()},
      {"replication.policy.separator", ConfigType::string, false, ".", non_empty_string()},
      {"refresh.topics.enabled", ConfigType::boolean, false, "true", nullptr},
      {"refresh.topics.interval.seconds", ConfigType::integer, false, "600", nullptr},
      {"sync.topic.configs.enabled", ConfigType::boolean, false, "true", nullptr},
      {"replication.factor", ConfigType::integer, false, "2", nullptr},
      {"emit.offset-syncs.enabled", ConfigType::boolean, false, "true", nullptr},
      {"offset-syncs.topic.location", ConfigType::string, false, "source",
       one_of({"source", "target"})},
      {"offset-syncs.topic.replication.factor", ConfigType::integer, false, "3", nullptr},
      {"offset.lag.max", ConfigType::integer, false, "100", nullptr},
  };
}

bool is_excluded_topic_config(const std::string& name) {
  static const std::regex excluded(kConfigPropertiesExclude, std::regex::ECMAScript);
  return std::regex_match(name, excluded);
}

Properties mirror_consumer_settings(const Properties& config) {
  Properties settings = mirror_prefixed_settings(config, "source.cluster.", "source.consumer.");
  settings.erase("alias");
  return settings;
}

Properties mirror_target_admin_settings(const Properties& config) {
  Properties settings = mirror_prefixed_settings(config, "target.cluster.", "target.admin.");
  settings.erase("alias");
  return settings;
}

Properties mirror_offset_syncs_producer_settings(const Properties& config,
                                                 const std::string& location) {
  Properties settings =
      mirror_prefixed_settings(config, location + ".cluster.", location + ".producer.");
  settings.erase("alias");
  return settings;
}

}  // namespace sluice::connect
