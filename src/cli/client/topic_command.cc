// sluice topic list | describe | create | delete | alter | add-partitions

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>

#include "cli/client/admin.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "cli/client/output.h"
#include "cli/number_checks.h"
#include "protocol/messages/list_partition_reassignments_request.h"
#include "protocol/messages/list_partition_reassignments_response.h"

namespace sluice::cli::client {
namespace {

using protocol::MetadataResponse;
using Topic = MetadataResponse::MetadataResponseTopic;

struct TopicOptions {
  ConnectionOptions connection;
  std::string topic;
  int partitions = -1;
  int replication_factor = -1;
  std::vector<std::string> configs;         // k=v
  std::vector<std::string> deleted_configs;  // k
  int added_partitions = 0;
};

int replication_factor(const Topic& topic) {
  return topic.partitions.empty() ? 0 : static_cast<int>(topic.partitions[0].replica_nodes.size());
}

// --- list ---

void list_topics(const TopicOptions& options) {
  MetadataResponse metadata = fetch_metadata(options.connection, std::nullopt);
  std::vector<Topic> topics = metadata.topics;
  std::sort(topics.begin(), topics.end(),
            [](const Topic& a, const Topic& b) { return a.name.value_or("") < b.name.value_or(""); });
  if (options.connection.json) {
    Json list = Json::array();
    for (const Topic& topic : topics) {
      list.push_back({{"name", topic.name.value_or("")},
                      {"topic_id", uuid_to_base64url(topic.topic_id)},
                      {"partitions", topic.partitions.size()},
                      {"replication_factor", replication_factor(topic)},
                      {"internal", topic.is_internal}});
    }
    print_json(list);
    return;
  }
  Table table({"topic", "topic id", "partitions", "replication factor", "internal"});
  for (const Topic& topic : topics) {
    table.add({topic.name.value_or(""), uuid_to_base64url(topic.topic_id),
               std::to_string(topic.partitions.size()), std::to_string(replication_factor(topic)),
               topic.is_internal ? "yes" : "no"});
  }
  table.print();
}

// --- describe ---

Topic fetch_topic(const ConnectionOptions& options, const std::string& name) {
  MetadataResponse metadata = fetch_metadata(options, std::vector<std::string>{name});
  for (const Topic& topic : metadata.topics) {
    if (topic.name != name) continue;
    if (topic.error_code != 0) {
      throw CommandError(describe_topic_error(static_cast<rd_kafka_resp_err_t>(topic.error_code),
                                              nullptr, name));
    }
    return topic;
  }
  throw CommandError("unknown topic '" + name + "'");
}

// The ongoing reassignments of `topic` by partition (adding, removing);
// empty when there are none or the cluster does not answer
// ListPartitionReassignments (a describe still works there).
std::map<int32_t, std::pair<std::vector<int32_t>, std::vector<int32_t>>> topic_reassignments(
    const ConnectionOptions& options, const Topic& topic) {
  std::map<int32_t, std::pair<std::vector<int32_t>, std::vector<int32_t>>> out;
  protocol::ListPartitionReassignmentsRequest request;
  request.timeout_ms = options.timeout_ms();
  auto& asked = request.topics.emplace().emplace_back();
  asked.name = *topic.name;
  for (const auto& partition : topic.partitions)
    asked.partition_indexes.push_back(partition.partition_index);
  try {
    std::unique_ptr<WireConnection> connection = WireConnection::open(options);
    protocol::ListPartitionReassignmentsResponse response = connection->call(request);
    for (const auto& listed : response.topics)
      for (const auto& partition : listed.partitions)
        out[partition.partition_index] = {partition.adding_replicas, partition.removing_replicas};
  } catch (const CommandError&) {
  }
  return out;
}

Json describe_partitions_json(rd_kafka_t* client, const ConnectionOptions& options,
                              const Topic& topic) {
  std::vector<MetadataResponse::MetadataResponsePartition> partitions = topic.partitions;
  std::sort(partitions.begin(), partitions.end(),
            [](const auto& a, const auto& b) { return a.partition_index < b.partition_index; });
  auto moving = topic_reassignments(options, topic);
  Json list = Json::array();
  for (const auto& partition : partitions) {
    Watermarks marks = query_watermarks(client, options, *topic.name, partition.partition_index);
    auto move = moving.find(partition.partition_index);
    const bool reassigning = move != moving.end();
    list.push_back(
        {{"partition", partition.partition_index},
         {"leader", partition.leader_id},
         {"replicas", partition.replica_nodes},
         {"isr", partition.isr_nodes},
         {"offline_replicas", partition.offline_replicas},
         {"adding_replicas", reassigning ? move->second.first : std::vector<int32_t>{}},
         {"removing_replicas", reassigning ? move->second.second : std::vector<int32_t>{}},
         {"log_start_offset", marks.log_start},
         {"log_end_offset", marks.log_end}});
  }
  return list;
}

void print_description_table(const Json& description, const std::vector<ConfigEntry>& configs) {
  std::printf("Topic: %s  TopicId: %s  PartitionCount: %zu  Internal: %s\n\n",
              description["name"].get<std::string>().c_str(),
              description["topic_id"].get<std::string>().c_str(), description["partitions"].size(),
              description["internal"].get<bool>() ? "yes" : "no");
  Table partitions({"partition", "leader", "replicas", "isr", "offline", "adding", "removing",
                    "log start", "log end"});
  for (const Json& p : description["partitions"]) {
    partitions.add({std::to_string(p["partition"].get<int>()),
                    std::to_string(p["leader"].get<int>()),
                    join_ints(p["replicas"].get<std::vector<int32_t>>()),
                    join_ints(p["isr"].get<std::vector<int32_t>>()),
                    join_ints(p["offline_replicas"].get<std::vector<int32_t>>()),
                    join_ints(p["adding_replicas"].get<std::vector<int32_t>>()),
                    join_ints(p["removing_replicas"].get<std::vector<int32_t>>()),
                    std::to_string(p["log_start_offset"].get<int64_t>()),
                    std::to_string(p["log_end_offset"].get<int64_t>())});
  }
  partitions.print();
  std::printf("\n");
  Table table({"config", "value", "source"});
  for (const ConfigEntry& entry : configs) {
    table.add({entry.name, entry.sensitive ? "(sensitive)" : entry.value.value_or("null"), entry.source});
  }
  table.print();
}

void describe_topic(const TopicOptions& options) {
  Topic topic = fetch_topic(options.connection, options.topic);
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  std::vector<ConfigEntry> configs =
      describe_configs(client.get(), options.connection, ConfigResource::kTopic, options.topic);
  Json config_map = Json::object();
  for (const ConfigEntry& entry : configs) {
    config_map[entry.name] = entry.value ? Json(*entry.value) : Json(nullptr);
  }
  Json description = {{"name", options.topic},
                      {"topic_id", uuid_to_base64url(topic.topic_id)},
                      {"internal", topic.is_internal},
                      {"partitions", describe_partitions_json(client.get(), options.connection, topic)},
                      {"configs", config_map}};
  if (options.connection.json) {
    print_json(description);
  } else {
    print_description_table(description, configs);
  }
}

// --- create / delete / add-partitions ---

void check_topic_results(const rd_kafka_topic_result_t** results, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    throw CommandError(describe_topic_error(err, rd_kafka_topic_result_error_string(results[i]),
                                            rd_kafka_topic_result_name(results[i])));
  }
}

void create_topic(const TopicOptions& options) {
  char message[512];
  rd_kafka_NewTopic_t* topic = rd_kafka_NewTopic_new(
      options.topic.c_str(), options.partitions, options.replication_factor, message, sizeof message);
  if (topic == nullptr) throw CommandError(message);
  std::unique_ptr<rd_kafka_NewTopic_t, void (*)(rd_kafka_NewTopic_t*)> owned(topic, rd_kafka_NewTopic_destroy);
  for (const auto& [key, value] : parse_settings(options.configs, "--config")) {
    check(rd_kafka_NewTopic_set_config(topic, key.c_str(), value.c_str()), "config " + key);
  }
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  require_reachable(client.get(), options.connection);
  AdminEvent event = admin_call(client.get(), options.connection, "create topic '" + options.topic + "'",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_CreateTopics(client.get(), &topic, 1, admin_options, queue);
  });
  size_t count = 0;
  auto results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &count);
  check_topic_results(results, count);
  std::printf("Created topic %s.\n", options.topic.c_str());
}

void delete_topic(const TopicOptions& options) {
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  require_reachable(client.get(), options.connection);
  rd_kafka_DeleteTopic_t* topic = rd_kafka_DeleteTopic_new(options.topic.c_str());
  AdminEvent event = admin_call(client.get(), options.connection, "delete topic '" + options.topic + "'",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_DeleteTopics(client.get(), &topic, 1, admin_options, queue);
  });
  rd_kafka_DeleteTopic_destroy(topic);
  size_t count = 0;
  auto results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event.get()), &count);
  check_topic_results(results, count);
  std::printf("Deleted topic %s.\n", options.topic.c_str());
}

void add_partitions(const TopicOptions& options) {
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  int current = topic_partition_count(client.get(), options.connection, options.topic);
  int total = current + options.added_partitions;
  char message[512];
  rd_kafka_NewPartitions_t* partitions =
      rd_kafka_NewPartitions_new(options.topic.c_str(), static_cast<size_t>(total), message, sizeof message);
  if (partitions == nullptr) throw CommandError(message);
  AdminEvent event = admin_call(client.get(), options.connection, "add partitions to '" + options.topic + "'",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_CreatePartitions(client.get(), &partitions, 1, admin_options, queue);
  });
  rd_kafka_NewPartitions_destroy(partitions);
  size_t count = 0;
  auto results = rd_kafka_CreatePartitions_result_topics(
      rd_kafka_event_CreatePartitions_result(event.get()), &count);
  check_topic_results(results, count);
  std::printf("Topic %s: %d -> %d partitions.\n", options.topic.c_str(), current, total);
}

void alter_topic(const TopicOptions& options) {
  if (options.configs.empty() && options.deleted_configs.empty()) {
    throw CommandError("nothing to alter: give --config k=v or --delete-config k");
  }
  std::map<std::string, std::string> sets = parse_settings(options.configs, "--config");
  alter_configs_incrementally(options.connection, ConfigResource::kTopic, options.topic,
                              {sets.begin(), sets.end()}, options.deleted_configs);
  std::printf("Altered configs of topic %s.\n", options.topic.c_str());
}

// --- registration ---

CLI::App* add_leaf(CLI::App* parent, Action& action, std::shared_ptr<TopicOptions> options,
                   const char* name, const char* help, void (*run)(const TopicOptions&),
                   bool with_topic, bool with_json) {
  CLI::App* command = parent->add_subcommand(name, help);
  add_connection_options(command, options->connection, with_json);
  if (with_topic) command->add_option("topic", options->topic, "Topic name")->required();
  command->callback([&action, options, name, run] {
    action = {std::string("topic ") + name, [options, run] { run(*options); }};
  });
  return command;
}

}  // namespace

void add_topic_commands(CLI::App& app, Action& action) {
  CLI::App* topic = app.add_subcommand("topic", "List, describe, create, delete and alter topics");
  topic->require_subcommand(1);
  auto options = std::make_shared<TopicOptions>();
  add_leaf(topic, action, options, "list", "List topics", list_topics, false, true);
  add_leaf(topic, action, options, "describe", "Partitions, offsets and configs of a topic",
           describe_topic, true, true);
  CLI::App* create = add_leaf(topic, action, options, "create", "Create a topic", create_topic, true, false);
  create->add_option("-p,--partitions", options->partitions, "Partitions (default: the broker's num.partitions)");
  create->add_option("-r,--replication-factor", options->replication_factor,
                     "Replicas (default: the broker's default.replication.factor)");
  create->add_option("--config", options->configs, "Topic config key=value (repeatable)");
  add_leaf(topic, action, options, "delete", "Delete a topic", delete_topic, true, false);
  CLI::App* alter = add_leaf(topic, action, options, "alter", "Change topic configs (IncrementalAlterConfigs)",
                             alter_topic, true, false);
  alter->add_option("--config", options->configs, "Set key=value (repeatable)");
  alter->add_option("--delete-config", options->deleted_configs, "Back to the default (repeatable)");
  CLI::App* grow = add_leaf(topic, action, options, "add-partitions", "Add N partitions to a topic",
                            add_partitions, true, false);
  grow->add_option("count", options->added_partitions, "Partitions to add")->required()->check(positive_number());
}

}  // namespace sluice::cli::client
