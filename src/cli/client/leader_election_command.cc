// sluice leader-election: Kafka's kafka-leader-election.sh (ElectLeaders):
// move leadership back to preferred replicas, or elect a leader outside the
// ISR for a partition that has none (unclean: records may be lost).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "base/error_code.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "cli/client/output.h"
#include "protocol/messages/elect_leaders_request.h"
#include "protocol/messages/elect_leaders_response.h"

namespace sluice::cli::client {
namespace {

struct ElectionOptions {
  ConnectionOptions connection;
  std::string election_type;
  std::string topic;
  std::optional<int32_t> partition;
  bool all_topic_partitions = false;
};

protocol::ElectLeadersRequest election_request(const ElectionOptions& options) {
  protocol::ElectLeadersRequest request;
  request.election_type = options.election_type == "unclean" ? 1 : 0;
  request.timeout_ms = options.connection.timeout_ms();
  if (options.all_topic_partitions) {
    request.topic_partitions.reset();  // null: every partition
    return request;
  }
  auto& topic = request.topic_partitions->emplace_back();
  topic.topic = options.topic;
  if (options.partition) {
    topic.partitions.push_back(*options.partition);
    return request;
  }
  // Every partition of the topic: its count from Metadata.
  std::unique_ptr<WireConnection> connection = WireConnection::open(options.connection);
  protocol::MetadataRequest metadata;
  metadata.allow_auto_topic_creation = false;
  metadata.topics.emplace().emplace_back().name = options.topic;
  protocol::MetadataResponse answer = connection->call(metadata);
  if (answer.topics.empty() || answer.topics[0].error_code != 0)
    throw CommandError("topic '" + options.topic + "' not found");
  for (const auto& partition : answer.topics[0].partitions)
    topic.partitions.push_back(partition.partition_index);
  return request;
}

void leader_election(const ElectionOptions& options) {
  if (options.all_topic_partitions == !options.topic.empty())
    throw CommandError("give either --topic (and --partition) or --all-topic-partitions");
  protocol::ElectLeadersRequest request = election_request(options);
  std::unique_ptr<WireConnection> connection = WireConnection::open(options.connection);
  protocol::ElectLeadersResponse response = connection->call(request);
  if (response.error_code != 0)
    throw CommandError(error_name(static_cast<ErrorCode>(response.error_code)));
  Json results = Json::array();
  bool failed = false;
  Table table({"topic", "partition", "result"});
  for (const auto& topic : response.replica_election_results)
    for (const auto& partition : topic.partition_result) {
      const auto code = static_cast<ErrorCode>(partition.error_code);
      // ELECTION_NOT_NEEDED: the asked-for leader already leads (Kafka's
      // tool says "Valid replica already elected").
      const std::string result =
          code == ErrorCode::NONE ? "elected"
          : code == ErrorCode::ELECTION_NOT_NEEDED
              ? "already elected"
              : error_name(code) +
                    (partition.error_message ? ": " + *partition.error_message : std::string());
      failed |= code != ErrorCode::NONE && code != ErrorCode::ELECTION_NOT_NEEDED;
      results.push_back(
          {{"topic", topic.topic},
           {"partition", partition.partition_id},
           {"error", code == ErrorCode::NONE ? Json(nullptr) : Json(error_name(code))},
           {"result", result}});
      table.add({topic.topic, std::to_string(partition.partition_id), result});
    }
  if (options.connection.json)
    print_json({{"election_type", options.election_type}, {"partitions", results}});
  else
    table.print();
  if (failed) throw CommandError("the election failed for some partitions");
}

}  // namespace

void add_elect_leaders_command(CLI::App& parent, const std::string& name,
                               const std::string& action_name, Action& action) {
  auto options = std::make_shared<ElectionOptions>();
  CLI::App* command = parent.add_subcommand(
      name, "Elect preferred leaders, or unclean ones for leaderless partitions (ElectLeaders)");
  add_connection_options(command, options->connection, true);
  command->add_option("--election-type", options->election_type, "preferred or unclean")
      ->required()
      ->transform(CLI::IsMember({"preferred", "unclean"}, CLI::ignore_case));
  command->add_option("--topic", options->topic, "The topic (every partition unless --partition)");
  command->add_option("--partition", options->partition, "One partition of --topic")
      ->needs(command->get_option("--topic"));
  command->add_flag("--all-topic-partitions", options->all_topic_partitions,
                    "Every partition of every topic");
  command->callback([&action, options, action_name] {
    action = {action_name, [options] { leader_election(*options); }};
  });
}

// `sluice leader-election`: the name of Kafka's tool, kept beside
// `sluice partition elect-leaders`.
void add_leader_election_command(CLI::App& app, Action& action) {
  add_elect_leaders_command(app, "leader-election", "leader-election", action);
}

}  // namespace sluice::cli::client
