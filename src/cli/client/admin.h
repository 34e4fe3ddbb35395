#pragma once
// librdkafka Admin API calls, blocking, with one shape of error handling:
// the call's own error, a timeout, or each per-resource error becomes a
// CommandError naming what failed. Also the config calls shared by `topic`
// and `config` (DescribeConfigs via librdkafka, IncrementalAlterConfigs via
// WireConnection, see kafka_wire.h).

#include <librdkafka/rdkafka.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/client/common.h"

namespace sluice::cli::client {

struct EventDeleter {
  void operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
};
using AdminEvent = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

// Issues one Admin API request through `start` (given the admin options with
// --timeout applied and the queue to answer on) and waits for its result.
// Throws CommandError "<what>: <reason>" on timeout or a request-level error.
AdminEvent admin_call(rd_kafka_t* client, const ConnectionOptions& options, const std::string& what,
                      const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start);

// Throws "cannot reach broker ..." unless the cluster answers a metadata
// request within --timeout: a clear first failure for every command.
void require_reachable(rd_kafka_t* client, const ConnectionOptions& options);

// The topic's partition count from librdkafka metadata; CommandError
// "unknown topic 'T'" when the cluster does not have it.
int topic_partition_count(rd_kafka_t* client, const ConnectionOptions& options,
                          const std::string& topic);

// A partition's log start offset and high watermark.
struct Watermarks {
  int64_t log_start = -1;
  int64_t log_end = -1;
};
Watermarks query_watermarks(rd_kafka_t* client, const ConnectionOptions& options,
                            const std::string& topic, int32_t partition);

// Kafka's error for a topic name in a per-topic result: "unknown topic" in
// the words kafka-topics.sh uses.
std::string describe_topic_error(rd_kafka_resp_err_t err, const char* message,
                                 const std::string& topic);

struct ConfigEntry {
  std::string name;
  std::optional<std::string> value;
  std::string source;  // librdkafka's name: DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG, ...
  bool read_only = false;
  bool sensitive = false;
};

enum class ConfigResource { kTopic, kBroker };

// DescribeConfigs of one topic or broker, every entry the broker returns.
std::vector<ConfigEntry> describe_configs(rd_kafka_t* client, const ConnectionOptions& options,
                                          ConfigResource type, const std::string& name);

// IncrementalAlterConfigs: SET each of `sets`, DELETE (back to the default)
// each of `deletes`. A broker resource is sent to that broker, as Kafka
// requires. CommandError with the broker's message on refusal.
void alter_configs_incrementally(const ConnectionOptions& options, ConfigResource type,
                                 const std::string& name,
                                 const std::vector<std::pair<std::string, std::string>>& sets,
                                 const std::vector<std::string>& deletes);

}  // namespace sluice::cli::client
