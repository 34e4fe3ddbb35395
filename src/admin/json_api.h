#pragma once
// The JSON admin API, from the broker's own state. The shapes are shared with
// the CLI's `--json` output (`sluice cluster info|topic list|topic describe|
// group list|group describe`), so a script reads either the same way:
//
//   /v1/cluster      {"cluster_id", "controller_id", "brokers": [{"id", "host", "port", "rack"}]}
//                    (`sluice cluster info --json` adds "quorum", DescribeQuorum's view)
//   /v1/topics       [{"name", "topic_id", "partitions", "replication_factor", "internal"}] by name
//   /v1/topics/{t}   {"name", "topic_id", "internal", "partitions": [{"partition", "leader",
//                     "replicas", "isr", "offline_replicas", "adding_replicas",
//                     "removing_replicas", "log_start_offset", "log_end_offset"}], "configs": {}}
//   /v1/partitions[?filter=under-replicated,offline]
//                    [{"topic", "partition", "leader", "replicas", "isr", "offline_replicas",
//                      "adding_replicas", "removing_replicas", "under_replicated", "offline"}]
//                    every partition by topic and id, or those matching either filter
//                    (`sluice cluster partitions [--under-replicated] [--offline] --json`)
//   /v1/groups       [{"group_id", "state", "protocol_type"}] by group id
//   /v1/groups/{g}   {"group_id", "state", "protocol_type", "protocol", "coordinator",
//                     "members": [{"member_id", "group_instance_id", "client_id", "host",
//                                  "assignments": [{"topic", "partition"}]}],
//                     "offsets": [{"topic", "partition", "committed_offset", "log_end_offset",
//                                  "lag", "metadata"}], "total_lag"}
//
// topic_id is Kafka's base64url form (as kafka-topics.sh prints it);
// log_end_offset is the high watermark (what a client's ListOffsets sees);
// offline_replicas are on brokers not registered or fenced (as Metadata
// says); adding/removing_replicas are a reassignment's (empty otherwise);
// lag = max(0, log_end_offset - committed_offset). Unknown topic or group:
// 404 with {"error": Kafka's error name, "message"}.
//
// Authorization (admin_access.h), as Kafka's Metadata, ListGroups,
// DescribeGroups, OffsetFetch and DescribeConfigs answer the same caller:
// /v1/cluster and /v1/partitions need DESCRIBE on the cluster (else 403
// CLUSTER_AUTHORIZATION_FAILED); /v1/topics lists the topics the caller may
// DESCRIBE, and /v1/topics/{t} answers a topic it may not DESCRIBE as
// unknown (404), as Metadata hides it; its "configs" are null without
// DESCRIBE_CONFIGS on it. /v1/groups lists every group with DESCRIBE on the
// cluster, else those the caller may DESCRIBE; /v1/groups/{g} needs DESCRIBE
// on the group (else 403 GROUP_AUTHORIZATION_FAILED) and shows the offsets
// of the topics the caller may DESCRIBE.
//
// Threads: any; each call reads one metadata image snapshot and takes the
// partition and coordinator locks briefly.

#include <atomic>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace sluice::broker {
class Broker;
}

namespace sluice::admin {

class AdminAccess;

struct JsonAnswer {
  int http_status = 200;
  nlohmann::ordered_json body;
};

JsonAnswer cluster_json(broker::Broker& broker, const AdminAccess& caller);
JsonAnswer topics_json(broker::Broker& broker, const AdminAccess& caller);
JsonAnswer topic_json(broker::Broker& broker, const AdminAccess& caller, const std::string& topic);
// `filter`: "" (every partition), or "under-replicated" and/or "offline";
// anything else is 400 INVALID_REQUEST.
JsonAnswer partitions_json(broker::Broker& broker, const AdminAccess& caller,
                           const std::string& filter);
JsonAnswer groups_json(broker::Broker& broker, const AdminAccess& caller);
JsonAnswer group_json(broker::Broker& broker, const AdminAccess& caller,
                      const std::string& group_id);

// The high watermark a node of a quorum must apply before it is ready: the
// first one its quorum reports after the broker is attached (Kafka's broker
// waits for its metadata to catch up with the log before it unfences).
// Once reached, the node stays caught up (later lag is normal replication).
// Thread-safe; one per attached broker.
class MetadataCatchUp {
 public:
  // True once `applied_offset` reached the target, fixed by the first
  // `high_watermark` >= 0 seen.
  bool caught_up(int64_t high_watermark, int64_t applied_offset);
  int64_t target() const { return target_.load(); }

 private:
  std::atomic<int64_t> target_{-1};
  std::atomic<bool> caught_up_{false};
};

// /v1/health once the broker serves: 200 {"status": "ready", "node_id",
// "cluster_id", "log_dirs": [{"path", "state": "online"|"full"|"offline",
// "error"?}], "metadata": {"role", "leader_id", "epoch", "high_watermark",
// "applied_offset", "catch_up_target"}}; "degraded" with a "reason" while a
// log dir is full (reads go on, appends are refused); 503 "log_dir_offline"
// with the "reason" while a log dir is lost (its partitions answer
// KAFKA_STORAGE_ERROR). A node of a quorum (process.roles set) answers 503
// "no_quorum_leader" while its quorum knows no leader, "catching_up" until
// it applied the metadata log up to `catch_up`'s target, and, with the
// broker role, "not_registered" until the image lists it unfenced. The lone
// default node is its own quorum and loaded its log before serving: ready
// at once.
JsonAnswer health_json(broker::Broker& broker, MetadataCatchUp& catch_up);

JsonAnswer error_json(int http_status, const std::string& error, const std::string& message);

}  // namespace sluice::admin
