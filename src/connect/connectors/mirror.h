#pragma once
// The plain logic of MirrorSourceConnector (Kafka's MirrorMaker 2 on
// Connect; mirror_source.cc), apart from its clients so tests reach it:
// replication policies (how a mirrored topic is named, and where a topic
// came from), the topic filter with cycle avoidance, and how source
// partitions are divided over the tasks.

#include <cstdint>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "connect/config.h"

namespace sluice::connect {

inline constexpr const char* kDefaultReplicationPolicyClass =
    "org.apache.kafka.connect.mirror.DefaultReplicationPolicy";
inline constexpr const char* kIdentityReplicationPolicyClass =
    "org.apache.kafka.connect.mirror.IdentityReplicationPolicy";

// Kafka's DefaultReplicationPolicy (`<source alias><separator><topic>`) or,
// with `identity`, its IdentityReplicationPolicy (names kept; a topic's
// source is taken to be `source_alias`). Heartbeat topics, which Identity
// still prefixes, are not mirrored here, so that case is left out.
struct ReplicationPolicy {
  bool identity = false;
  std::string separator = ".";
  std::string source_alias;  // Identity's topicSource

  std::string format_remote_topic(const std::string& source, const std::string& topic) const;
  // The cluster a topic was mirrored from, nullopt for a topic that is not a
  // mirror. Default: the text before the first separator, when something
  // other than separators follows it (Java's String.split drops trailing
  // empty parts, so `us.` and `us..` are not remote topics).
  std::optional<std::string> topic_source(const std::string& topic) const;
  // The topic's name on the cluster it came from (nullopt: not a mirror).
  std::optional<std::string> upstream_topic(const std::string& topic) const;
  // DefaultReplicationPolicy.offsetSyncsTopic:
  // `mm2-offset-syncs<separator><cluster><separator>internal`.
  std::string offset_syncs_topic(const std::string& cluster) const;
  // ReplicationPolicy.isInternalTopic: `__*`, `.*`, `*.internal`,
  // `*-internal` (Kafka's, Connect's and MirrorMaker's own topics).
  bool is_internal_topic(const std::string& topic) const;
};

// MirrorSourceConnector.isCycle: whether a topic, followed upstream through
// its sources, came from `target_alias` (mirroring it back would loop).
bool is_cycle(const ReplicationPolicy& policy, const std::string& target_alias,
              const std::string& topic);

// Kafka's DefaultTopicFilter: a topic is mirrored when it matches one of
// `topics` and none of `topics.exclude`, whole-name matches (Java's
// Pattern.matches) of the regexes joined with `|`.
class TopicFilter {
 public:
  // Fails with the regex's error (the config check has validated each).
  static std::optional<TopicFilter> make(const std::vector<std::string>& include,
                                         const std::vector<std::string>& exclude);
  bool matches(const std::string& topic) const;

 private:
  std::optional<std::regex> include_;
  std::optional<std::regex> exclude_;
};

// Whether the connector mirrors `topic` at all: the filter, not internal,
// not a cycle (MirrorSourceConnector.shouldReplicateTopic without
// heartbeats).
bool should_mirror_topic(const TopicFilter& filter, const ReplicationPolicy& policy,
                         const std::string& target_alias, const std::string& topic);

// The task (0..task_count-1) that mirrors one source partition. Tasks find
// topics on their own (the plugin API has no way for a connector to ask for
// new task configurations), so the division must not depend on which topics
// exist: a topic's partitions go round-robin over the tasks, starting at a
// task picked by a hash of its name (FNV-1a), so topics with fewer
// partitions than tasks spread too.
int mirror_task_for(const std::string& topic, int32_t partition, int task_count);

// Kafka's OffsetSync record: key topic (INT16 length, UTF-8) and partition
// (INT32), value upstream and downstream offsets (INT64 each), big-endian as
// Kafka's protocol Schema writes them, so Kafka's MirrorCheckpointConnector
// can read what this connector writes.
std::string offset_sync_key(const std::string& topic, int32_t partition);
std::string offset_sync_value(int64_t upstream_offset, int64_t downstream_offset);

// OffsetSyncWriter.PartitionState: whether a mirrored record's offsets must
// be published now (the first of the task's life, a skipped upstream
// offset, a downstream truncation, or translation grown offset.lag.max
// stale); otherwise the sync waits for the next offset commit.
class OffsetSyncState {
 public:
  explicit OffsetSyncState(int64_t max_offset_lag) : max_offset_lag_(max_offset_lag) {}
  bool update(int64_t upstream_offset, int64_t downstream_offset);

 private:
  int64_t max_offset_lag_;
  int64_t previous_upstream_ = -1;
  int64_t previous_downstream_ = -1;
  int64_t last_sync_downstream_ = -1;
};

// The connector's settings (Kafka's names and defaults).
std::vector<ConfigKey> mirror_source_config_keys();

// Java's default topic config properties not copied to a mirrored topic
// (DefaultConfigPropertyFilter's config.properties.exclude).
bool is_excluded_topic_config(const std::string& name);

// The settings of the source cluster's consumer: `source.cluster.*` then
// `source.consumer.*` (which wins), prefixes removed; the connector's own
// `source.cluster.alias` is not one.
Properties mirror_consumer_settings(const Properties& config);
// The target cluster's admin settings: `target.cluster.*` then
// `target.admin.*`.
Properties mirror_target_admin_settings(const Properties& config);
// The offset-syncs producer's settings: the cluster that
// `offset-syncs.topic.location` names (`source` or `target`), its
// `<location>.cluster.*` then `<location>.producer.*`.
Properties mirror_offset_syncs_producer_settings(const Properties& config,
                                                 const std::string& location);

}  // namespace sluice::connect
