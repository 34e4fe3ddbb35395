// sluice producer describe --topic T --partition P [--broker-id N]: the
// active producers of a partition (DescribeProducers), printed as Kafka's
// `kafka-transactions.sh describe-producers` prints them (its columns, each
// padded to its widest value and followed by a tab).
//
// The request goes to the partition's leader, found with Metadata, or to
// the broker given with --broker-id (a follower answers from its replica).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "protocol/messages/describe_producers_request.h"
#include "protocol/messages/describe_producers_response.h"

namespace sluice::cli::client {
namespace {

struct DescribeProducersOptions {
  ConnectionOptions connection;
  std::string topic;
  int32_t partition = -1;
  int32_t broker_id = -1;
};

// The address of --broker-id, else of the partition's leader.
std::string target_broker(const DescribeProducersOptions& options) {
  protocol::MetadataResponse metadata =
      fetch_metadata(options.connection, std::vector<std::string>{options.topic});
  int32_t node = options.broker_id;
  if (node < 0) {
    for (const auto& topic : metadata.topics)
      for (const auto& partition : topic.partitions)
        if (topic.name == options.topic && partition.partition_index == options.partition)
          node = partition.leader_id;
  }
  for (const auto& broker : metadata.brokers)
    if (broker.node_id == node) return broker.host + ":" + std::to_string(broker.port);
  throw CommandError("Failed to describe producers for partition " + options.topic + "-" +
                     std::to_string(options.partition) + " on " +
                     (options.broker_id >= 0 ? "broker " + std::to_string(options.broker_id)
                                             : std::string("leader")) +
                     ": no such broker or no leader");
}

// Kafka's ToolsUtils.prettyPrintTable.
void print_table(const std::vector<std::string>& headers,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& header : headers) widths.push_back(header.size());
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i)
      line += row[i] + std::string(widths[i] - row[i].size(), ' ') + '\t';
    std::printf("%s\n", line.c_str());
  };
  print_row(headers);
  for (const auto& row : rows) print_row(row);
}

void describe_producers(const DescribeProducersOptions& options) {
  WireConnection connection(target_broker(options), options.connection.timeout_ms());
  protocol::DescribeProducersRequest request;
  auto& topic = request.topics.emplace_back();
  topic.name = options.topic;
  topic.partition_indexes.push_back(options.partition);
  protocol::DescribeProducersResponse response = connection.call(request);
  if (response.topics.empty() || response.topics[0].partitions.empty())
    throw CommandError("empty DescribeProducers answer from " + connection.address());
  const auto& partition = response.topics[0].partitions[0];
  if (partition.error_code != 0)
    throw CommandError("Failed to describe producers for partition " + options.topic + "-" +
                       std::to_string(options.partition) + ": " +
                       error_name(static_cast<ErrorCode>(partition.error_code)));
  std::vector<std::vector<std::string>> rows;
  for (const auto& state : partition.active_producers)
    rows.push_back({std::to_string(state.producer_id), std::to_string(state.producer_epoch),
                    std::to_string(state.coordinator_epoch < 0 ? -1 : state.coordinator_epoch),
                    std::to_string(state.last_sequence), std::to_string(state.last_timestamp),
                    state.current_txn_start_offset < 0
                        ? std::string("None")
                        : std::to_string(state.current_txn_start_offset)});
  print_table({"ProducerId", "ProducerEpoch", "LatestCoordinatorEpoch", "LastSequence",
               "LastTimestamp", "CurrentTransactionStartOffset"},
              rows);
}

}  // namespace

void add_producer_commands(CLI::App& app, Action& action) {
  CLI::App* producer = app.add_subcommand("producer", "Idempotent and transactional producers");
  producer->require_subcommand(1);
  auto options = std::make_shared<DescribeProducersOptions>();
  CLI::App* describe = producer->add_subcommand(
      "describe",
      "The active producers of a partition, as kafka-transactions.sh describe-producers");
  add_connection_options(describe, options->connection, /*with_json=*/false);
  describe->add_option("--topic", options->topic, "Topic name")->required();
  describe->add_option("--partition", options->partition, "Partition number")->required();
  describe->add_option("--broker-id", options->broker_id, "Ask this replica instead of the leader");
  describe->callback([&action, options] {
    action = {"producer describe", [options] { describe_producers(*options); }};
  });
}

}  // namespace sluice::cli::client
