// sluice cluster info; sluice records delete T:P:OFFSET...

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "base/error_code.h"
#include "cli/client/admin.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "cli/client/output.h"
#include "protocol/messages/describe_quorum_request.h"
#include "protocol/messages/describe_quorum_response.h"

namespace sluice::cli::client {
namespace {

struct ClusterOptions {
  ConnectionOptions connection;
  std::vector<std::string> positions;  // T:P:OFFSET
};

// DescribeQuorum of __cluster_metadata-0 from the node `connection` talks
// to (a broker listener forwards it to the quorum's leader). nullopt with
// `why` set when the node does not serve it or answers an error.
std::optional<protocol::DescribeQuorumResponse::PartitionData> describe_quorum(
    WireConnection& connection, std::string& why,
    std::vector<protocol::DescribeQuorumResponse::Node>& nodes) {
  protocol::DescribeQuorumRequest request;
  auto& topic = request.topics.emplace_back();
  topic.topic_name = "__cluster_metadata";
  topic.partitions.emplace_back().partition_index = 0;
  protocol::DescribeQuorumResponse response;
  try {
    response = connection.call(request);
  } catch (const CommandError& e) {
    why = e.what();
    return std::nullopt;
  }
  int16_t error = response.error_code;
  if (error == 0 && (response.topics.empty() || response.topics[0].partitions.empty())) {
    why = "empty DescribeQuorum answer";
    return std::nullopt;
  }
  if (error == 0) error = response.topics[0].partitions[0].error_code;
  if (error != 0) {
    why = error_name(static_cast<ErrorCode>(error));
    return std::nullopt;
  }
  nodes = response.nodes;
  return response.topics[0].partitions[0];
}

// Kafka's kafka-metadata-quorum.sh shows lag as the high watermark minus
// the replica's log end offset; -1 (unknown) stays unknown. KIP-853: a
// voter's directory id and endpoints (DescribeQuorum v2).
Json replica_json(const protocol::DescribeQuorumResponse::ReplicaState& replica,
                  int64_t high_watermark, const char* status,
                  const std::vector<protocol::DescribeQuorumResponse::Node>& nodes) {
  auto known = [](int64_t value) { return value < 0 ? Json(nullptr) : Json(value); };
  Json endpoints = Json::array();
  for (const auto& node : nodes)
    if (node.node_id == replica.replica_id)
      for (const auto& listener : node.listeners)
        endpoints.push_back(listener.name + "://" + listener.host + ":" +
                            std::to_string(listener.port));
  return {{"id", replica.replica_id},
          {"directory_id", replica.replica_directory_id.is_zero()
                               ? Json(nullptr)
                               : Json(uuid_to_base64url(replica.replica_directory_id))},
          {"endpoints", endpoints},
          {"status", status},
          {"log_end_offset", known(replica.log_end_offset)},
          {"lag", replica.log_end_offset < 0 || high_watermark < 0
                      ? Json(nullptr)
                      : Json(std::max<int64_t>(0, high_watermark - replica.log_end_offset))},
          {"last_fetch_timestamp", known(replica.last_fetch_timestamp)},
          {"last_caught_up_timestamp", known(replica.last_caught_up_timestamp)}};
}

Json quorum_json(const protocol::DescribeQuorumResponse::PartitionData& quorum,
                 const std::vector<protocol::DescribeQuorumResponse::Node>& nodes) {
  Json replicas = Json::array();
  for (const auto& voter : quorum.current_voters)
    replicas.push_back(replica_json(voter, quorum.high_watermark,
                                    voter.replica_id == quorum.leader_id ? "leader" : "follower",
                                    nodes));
  for (const auto& observer : quorum.observers)
    replicas.push_back(replica_json(observer, quorum.high_watermark, "observer", nodes));
  return {{"leader_id", quorum.leader_id},
          {"leader_epoch", quorum.leader_epoch},
          {"high_watermark", quorum.high_watermark},
          {"replicas", replicas}};
}

std::string cell(const Json& value) { return value.is_null() ? "-" : value.dump(); }

void print_quorum(const Json& quorum) {
  std::printf("\nQuorum (__cluster_metadata-0): leader %d, epoch %d, high watermark %lld\n\n",
              quorum["leader_id"].get<int>(), quorum["leader_epoch"].get<int>(),
              static_cast<long long>(quorum["high_watermark"].get<int64_t>()));
  Table table({"id", "status", "broker", "log end offset", "lag", "last fetch (ms)",
               "last caught up (ms)", "directory id", "endpoints"});
  for (const auto& replica : quorum["replicas"]) {
    std::string endpoints;
    for (const auto& endpoint : replica["endpoints"])
      endpoints += (endpoints.empty() ? "" : ",") + endpoint.get<std::string>();
    table.add({cell(replica["id"]), replica["status"].get<std::string>(),
               replica["serving"].get<bool>() ? "serving" : "not serving",
               cell(replica["log_end_offset"]), cell(replica["lag"]),
               cell(replica["last_fetch_timestamp"]), cell(replica["last_caught_up_timestamp"]),
               replica["directory_id"].is_null() ? "-" : replica["directory_id"].get<std::string>(),
               endpoints.empty() ? "-" : endpoints});
  }
  table.print();
}

// Metadata and DescribeCluster list only the brokers that serve (unfenced);
// each replica of the quorum says whether it is one of them ("serving":
// false is a fenced or shutting-down broker, or a controller-only node).
// "brokers" keeps the shape of the admin API's /v1/cluster.
void cluster_info(const ClusterOptions& options) {
  std::unique_ptr<WireConnection> connection = WireConnection::open(options.connection);
  protocol::MetadataRequest metadata_request;
  metadata_request.allow_auto_topic_creation = false;
  metadata_request.topics.emplace();
  protocol::MetadataResponse metadata = connection->call(metadata_request);
  std::string quorum_error;
  std::vector<protocol::DescribeQuorumResponse::Node> nodes;
  auto quorum = describe_quorum(*connection, quorum_error, nodes);
  auto brokers = metadata.brokers;
  std::sort(brokers.begin(), brokers.end(),
            [](const auto& a, const auto& b) { return a.node_id < b.node_id; });
  Json list = Json::array();
  for (const auto& broker : brokers) {
    list.push_back({{"id", broker.node_id},
                    {"host", broker.host},
                    {"port", broker.port},
                    {"rack", broker.rack ? Json(*broker.rack) : Json(nullptr)}});
  }
  Json info = {{"cluster_id", metadata.cluster_id.value_or("")},
               {"controller_id", metadata.controller_id},
               {"brokers", list},
               {"quorum", quorum ? quorum_json(*quorum, nodes) : Json(nullptr)}};
  if (quorum) {
    for (auto& replica : info["quorum"]["replicas"]) {
      const int32_t id = replica["id"].get<int32_t>();
      replica["serving"] = std::any_of(brokers.begin(), brokers.end(),
                                       [&](const auto& b) { return b.node_id == id; });
    }
  } else {
    info["quorum_error"] = quorum_error;
  }
  if (options.connection.json) return print_json(info);
  std::printf("Cluster id: %s\nController: %d\n\n", metadata.cluster_id.value_or("").c_str(),
              metadata.controller_id);
  Table table({"id", "host", "port", "rack"});
  for (const auto& broker : brokers) {
    table.add({std::to_string(broker.node_id), broker.host, std::to_string(broker.port),
               broker.rack.value_or("-")});
  }
  table.print();
  if (quorum) return print_quorum(info["quorum"]);
  std::printf("\nQuorum: not available (%s)\n", quorum_error.c_str());
}

using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;

// "T:P:OFFSET" (OFFSET -1: the high watermark, as kafka-delete-records.sh).
void add_position(rd_kafka_topic_partition_list_t* list, const std::string& text) {
  size_t last = text.rfind(':');
  size_t middle = last == std::string::npos || last == 0 ? std::string::npos : text.rfind(':', last - 1);
  try {
    if (middle == std::string::npos || middle == 0) throw std::invalid_argument(text);
    size_t used_partition = 0, used_offset = 0;
    int partition = std::stoi(text.substr(middle + 1, last - middle - 1), &used_partition);
    int64_t offset = std::stoll(text.substr(last + 1), &used_offset);
    if (used_partition != last - middle - 1 || used_offset != text.size() - last - 1 || partition < 0 ||
        offset < -1) {
      throw std::invalid_argument(text);
    }
    rd_kafka_topic_partition_list_add(list, text.substr(0, middle).c_str(), partition)->offset =
        offset == -1 ? RD_KAFKA_OFFSET_END : offset;
  } catch (const std::logic_error&) {
    throw CommandError("expected TOPIC:PARTITION:OFFSET, got '" + text + "'");
  }
}

void delete_records(const ClusterOptions& options) {
  PartitionList positions(rd_kafka_topic_partition_list_new(static_cast<int>(options.positions.size())),
                          rd_kafka_topic_partition_list_destroy);
  for (const std::string& text : options.positions) add_position(positions.get(), text);
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  for (int i = 0; i < positions->cnt; ++i) {
    int partitions = topic_partition_count(client.get(), options.connection, positions->elems[i].topic);
    if (positions->elems[i].partition >= partitions) {
      throw CommandError("topic '" + std::string(positions->elems[i].topic) + "' has no partition " +
                         std::to_string(positions->elems[i].partition));
    }
  }
  AdminEvent event = admin_call(client.get(), options.connection, "delete records",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_DeleteRecords_t* request = rd_kafka_DeleteRecords_new(positions.get());
    rd_kafka_DeleteRecords(client.get(), &request, 1, admin_options, queue);
    rd_kafka_DeleteRecords_destroy(request);
  });
  const rd_kafka_topic_partition_list_t* results =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(event.get()));
  Table table({"topic", "partition", "low watermark"});
  for (int i = 0; results != nullptr && i < results->cnt; ++i) {
    const rd_kafka_topic_partition_t& result = results->elems[i];
    std::string where = std::string(result.topic) + "-" + std::to_string(result.partition);
    if (result.err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
      throw CommandError("delete records of " + where + ": offset beyond the log end (OFFSET_OUT_OF_RANGE)");
    }
    check(result.err, "delete records of " + where);
    table.add({result.topic, std::to_string(result.partition), std::to_string(result.offset)});
  }
  table.print();
}

}  // namespace

void add_cluster_commands(CLI::App& app, Action& action) {
  auto options = std::make_shared<ClusterOptions>();
  CLI::App* cluster =
      app.add_subcommand("cluster", "The cluster's id, controller, brokers and quorum");
  cluster->require_subcommand(1);
  CLI::App* info = cluster->add_subcommand(
      "info", "Cluster id, controller, brokers and the metadata quorum (DescribeQuorum)");
  add_connection_options(info, options->connection, true);
  info->callback([&action, options] { action = {"cluster info", [options] { cluster_info(*options); }}; });
  add_quorum_commands(*cluster, action);
  add_cluster_partitions_command(*cluster, action);

  CLI::App* records = app.add_subcommand("records", "Delete records before an offset");
  records->require_subcommand(1);
  CLI::App* remove = records->add_subcommand("delete", "Move log start offsets forward (DeleteRecords)");
  add_connection_options(remove, options->connection, false);
  remove->add_option("positions", options->positions, "TOPIC:PARTITION:OFFSET (-1: the log end), repeatable")
      ->required();
  remove->callback([&action, options] { action = {"records delete", [options] { delete_records(*options); }}; });
}

}  // namespace sluice::cli::client
