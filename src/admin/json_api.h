#pragma once
// The JSON admin API, from the broker's own state. The shapes are shared with
// the CLI's `--json` output (`sluice cluster info|topic list|topic describe|
// group list|group describe`), so a script reads either the same way:
//
//   /v1/cluster      {"cluster_id", "controller_id", "brokers": [{"id", "host", "port", "rack"}]}
//   /v1/topics       [{"name", "topic_id", "partitions", "replication_factor", "internal"}] by name
//   /v1/topics/{t}   {"name", "topic_id", "internal", "partitions": [{"partition", "leader",
//                     "replicas", "isr", "log_start_offset", "log_end_offset"}], "configs": {}}
//   /v1/groups       [{"group_id", "state", "protocol_type"}] by group id
//   /v1/groups/{g}   {"group_id", "state", "protocol_type", "protocol", "coordinator",
//                     "members": [{"member_id", "group_instance_id", "client_id", "host",
//                                  "assignments": [{"topic", "partition"}]}],
//                     "offsets": [{"topic", "partition", "committed_offset", "log_end_offset",
//                                  "lag", "metadata"}], "total_lag"}
//
// topic_id is Kafka's base64url form (as kafka-topics.sh prints it);
// log_end_offset is the high watermark (what a client's ListOffsets sees);
// lag = max(0, log_end_offset - committed_offset). Unknown topic or group:
// 404 with {"error": Kafka's error name, "message"}.
//
// Threads: any; each call reads one metadata image snapshot and takes the
// partition and coordinator locks briefly.

#include <nlohmann/json.hpp>
#include <string>

namespace sluice::broker {
class Broker;
}

namespace sluice::admin {

struct JsonAnswer {
  int http_status = 200;
  nlohmann::ordered_json body;
};

JsonAnswer cluster_json(broker::Broker& broker);
JsonAnswer topics_json(broker::Broker& broker);
JsonAnswer topic_json(broker::Broker& broker, const std::string& topic);
JsonAnswer groups_json(broker::Broker& broker);
JsonAnswer group_json(broker::Broker& broker, const std::string& group_id);

// /v1/health once the broker serves: 200 {"status": "ready", "node_id",
// "cluster_id", "log_dirs": [{"path", "state": "online"|"full"|"offline",
// "error"?}]}; "degraded" with a "reason" while a log dir is full (reads go
// on, appends are refused); 503 "log_dir_offline" with the "reason" while a
// log dir is lost (its partitions answer KAFKA_STORAGE_ERROR).
JsonAnswer health_json(broker::Broker& broker);

JsonAnswer error_json(int http_status, const std::string& error, const std::string& message);

}  // namespace sluice::admin
