// sluice cluster info; sluice records delete T:P:OFFSET...

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "cli/client/admin.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "cli/client/output.h"

namespace sluice::cli::client {
namespace {

struct ClusterOptions {
  ConnectionOptions connection;
  std::vector<std::string> positions;  // T:P:OFFSET
};

void cluster_info(const ClusterOptions& options) {
  protocol::MetadataResponse metadata = fetch_metadata(options.connection, std::vector<std::string>{});
  auto brokers = metadata.brokers;
  std::sort(brokers.begin(), brokers.end(), [](const auto& a, const auto& b) { return a.node_id < b.node_id; });
  Json list = Json::array();
  for (const auto& broker : brokers) {
    list.push_back({{"id", broker.node_id}, {"host", broker.host}, {"port", broker.port},
                    {"rack", broker.rack ? Json(*broker.rack) : Json(nullptr)}});
  }
  Json info = {{"cluster_id", metadata.cluster_id.value_or("")},
               {"controller_id", metadata.controller_id},
               {"brokers", list}};
  if (options.connection.json) return print_json(info);
  std::printf("Cluster id: %s\nController: %d\n\n", metadata.cluster_id.value_or("").c_str(),
              metadata.controller_id);
  Table table({"id", "host", "port", "rack"});
  for (const auto& broker : brokers) {
    table.add({std::to_string(broker.node_id), broker.host, std::to_string(broker.port),
               broker.rack.value_or("-")});
  }
  table.print();
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
  CLI::App* cluster = app.add_subcommand("cluster", "The cluster's id, controller and brokers");
  cluster->require_subcommand(1);
  CLI::App* info = cluster->add_subcommand("info", "Cluster id, controller and brokers");
  add_connection_options(info, options->connection, true);
  info->callback([&action, options] { action = {"cluster info", [options] { cluster_info(*options); }}; });

  CLI::App* records = app.add_subcommand("records", "Delete records before an offset");
  records->require_subcommand(1);
  CLI::App* remove = records->add_subcommand("delete", "Move log start offsets forward (DeleteRecords)");
  add_connection_options(remove, options->connection, false);
  remove->add_option("positions", options->positions, "TOPIC:PARTITION:OFFSET (-1: the log end), repeatable")
      ->required();
  remove->callback([&action, options] { action = {"records delete", [options] { delete_records(*options); }}; });
}

}  // namespace sluice::cli::client
