#include "cli/client/admin.h"

#include "base/error_code.h"
#include "cli/client/kafka_wire.h"

namespace sluice::cli::client {

AdminEvent admin_call(rd_kafka_t* client, const ConnectionOptions& options, const std::string& what,
                      const std::function<void(rd_kafka_AdminOptions_t*, rd_kafka_queue_t*)>& start) {
  KafkaQueue queue(rd_kafka_queue_new(client));
  rd_kafka_AdminOptions_t* admin_options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_ANY);
  char message[512];
  rd_kafka_AdminOptions_set_request_timeout(admin_options, options.timeout_ms(), message,
                                            sizeof message);
  rd_kafka_AdminOptions_set_operation_timeout(admin_options, options.timeout_ms(), message,
                                              sizeof message);
  start(admin_options, queue.get());
  rd_kafka_AdminOptions_destroy(admin_options);
  // librdkafka enforces the request timeout itself; the margin covers its
  // own bookkeeping so its precise error wins over our generic one.
  AdminEvent event(rd_kafka_queue_poll(queue.get(), options.timeout_ms() + 2000));
  if (!event) throw CommandError(what + ": no answer from " + options.bootstrap_servers);
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_resp_err_t err = rd_kafka_event_error(event.get());
    std::string reason = rd_kafka_event_error_string(event.get());
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT) {
      reason = "cannot reach broker " + options.bootstrap_servers + " (" + reason + ")";
    }
    throw CommandError(what + ": " + reason);
  }
  return event;
}

void require_reachable(rd_kafka_t* client, const ConnectionOptions& options) {
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(client, 0, nullptr, &metadata, options.timeout_ms());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw CommandError("cannot reach broker " + options.bootstrap_servers + " within " +
                       seconds_text(options.timeout_ms()) + " (" + rd_kafka_err2str(err) + ")");
  }
  rd_kafka_metadata_destroy(metadata);
}

int topic_partition_count(rd_kafka_t* client, const ConnectionOptions& options,
                          const std::string& topic) {
  require_reachable(client, options);
  const rd_kafka_metadata_t* metadata = nullptr;
  // All topics, not the one: naming a topic would ask the broker to create it.
  check(rd_kafka_metadata(client, 1, nullptr, &metadata, options.timeout_ms()),
        "metadata from " + options.bootstrap_servers);
  int count = -1;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    if (topic == metadata->topics[i].topic && metadata->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      count = metadata->topics[i].partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  if (count < 0) throw CommandError("unknown topic '" + topic + "'");
  return count;
}

Watermarks query_watermarks(rd_kafka_t* client, const ConnectionOptions& options,
                            const std::string& topic, int32_t partition) {
  Watermarks marks;
  check(rd_kafka_query_watermark_offsets(client, topic.c_str(), partition, &marks.log_start,
                                         &marks.log_end, options.timeout_ms()),
        "offsets of " + topic + "-" + std::to_string(partition));
  return marks;
}

std::string describe_topic_error(rd_kafka_resp_err_t err, const char* message,
                                 const std::string& topic) {
  if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return "unknown topic '" + topic + "'";
  std::string reason = message != nullptr && *message != '\0' ? message : rd_kafka_err2str(err);
  return "topic '" + topic + "': " + reason;
}

namespace {

rd_kafka_ResourceType_t librdkafka_type(ConfigResource type) {
  return type == ConfigResource::kTopic ? RD_KAFKA_RESOURCE_TOPIC : RD_KAFKA_RESOURCE_BROKER;
}

std::string resource_label(ConfigResource type, const std::string& name) {
  return type == ConfigResource::kTopic ? "topic '" + name + "'" : "broker " + name;
}

ConfigEntry to_entry(const rd_kafka_ConfigEntry_t* entry) {
  ConfigEntry result;
  result.name = rd_kafka_ConfigEntry_name(entry);
  const char* value = rd_kafka_ConfigEntry_value(entry);
  if (value != nullptr) result.value = value;
  result.source = rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(entry));
  result.read_only = rd_kafka_ConfigEntry_is_read_only(entry) != 0;
  result.sensitive = rd_kafka_ConfigEntry_is_sensitive(entry) != 0;
  return result;
}

}  // namespace

std::vector<ConfigEntry> describe_configs(rd_kafka_t* client, const ConnectionOptions& options,
                                          ConfigResource type, const std::string& name) {
  std::string label = resource_label(type, name);
  AdminEvent event = admin_call(client, options, "describe configs of " + label,
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(librdkafka_type(type), name.c_str());
    rd_kafka_DescribeConfigs(client, &resource, 1, admin_options, queue);
    rd_kafka_ConfigResource_destroy(resource);
  });
  size_t count = 0;
  const rd_kafka_ConfigResource_t** resources = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(event.get()), &count);
  std::vector<ConfigEntry> entries;
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(resources[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (type == ConfigResource::kTopic) {
        throw CommandError(describe_topic_error(err, rd_kafka_ConfigResource_error_string(resources[i]), name));
      }
      throw CommandError(label + ": " + rd_kafka_err2str(err));
    }
    size_t config_count = 0;
    const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(resources[i], &config_count);
    for (size_t c = 0; c < config_count; ++c) entries.push_back(to_entry(configs[c]));
  }
  return entries;
}

namespace {

// The "host:port" of broker `id` from a metadata answer.
std::string broker_address(const ConnectionOptions& options, const std::string& id) {
  protocol::MetadataResponse metadata = fetch_metadata(options, std::vector<std::string>{});
  for (const auto& broker : metadata.brokers) {
    if (std::to_string(broker.node_id) == id) return broker.host + ":" + std::to_string(broker.port);
  }
  throw CommandError("unknown broker " + id + " (not in the cluster's metadata)");
}

constexpr int8_t kOperationSet = 0;
constexpr int8_t kOperationDelete = 1;
constexpr int8_t kResourceTopic = 2;
constexpr int8_t kResourceBroker = 4;

}  // namespace

void alter_configs_incrementally(const ConnectionOptions& options, ConfigResource type,
                                 const std::string& name,
                                 const std::vector<std::pair<std::string, std::string>>& sets,
                                 const std::vector<std::string>& deletes) {
  protocol::IncrementalAlterConfigsRequest request;
  protocol::IncrementalAlterConfigsRequest::AlterConfigsResource resource;
  resource.resource_type = type == ConfigResource::kTopic ? kResourceTopic : kResourceBroker;
  resource.resource_name = name;
  for (const auto& [key, value] : sets) {
    resource.configs.push_back({key, kOperationSet, value, {}});
  }
  for (const std::string& key : deletes) {
    resource.configs.push_back({key, kOperationDelete, std::nullopt, {}});
  }
  request.resources.push_back(resource);
  std::string servers =
      type == ConfigResource::kBroker ? broker_address(options, name) : options.bootstrap_servers;
  protocol::IncrementalAlterConfigsResponse response = WireConnection::open(options, servers)->call(request);
  for (const auto& answer : response.responses) {
    if (answer.error_code == 0) continue;
    if (answer.error_code == to_wire(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)) {
      throw CommandError("unknown topic '" + name + "'");
    }
    std::string message = answer.error_message.value_or("");
    throw CommandError("cannot alter configs of " + resource_label(type, name) + ": " +
                       error_name(static_cast<ErrorCode>(answer.error_code)) +
                       (message.empty() ? "" : ": " + message));
  }
}

}  // namespace sluice::cli::client
