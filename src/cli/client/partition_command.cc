// sluice partition reassign | elect-leaders; sluice cluster partitions.
//
// reassign is Kafka's kafka-reassign-partitions.sh with a plan file as that
// tool takes it ({"version":1,"partitions":[{"topic","partition",
// "replicas"}]}): --execute sends AlterPartitionReassignments, --verify
// shows each partition's progress (ListPartitionReassignments and
// Metadata), --cancel sends the plan's partitions with null replicas.
// cluster partitions lists partitions that are under-replicated (ISR
// smaller than the replicas) or offline (no leader), as kafka-topics.sh
// --describe --under-replicated-partitions / --unavailable-partitions.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "base/error_code.h"
#include "cli/client/admin.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "cli/client/output.h"
#include "protocol/messages/alter_partition_reassignments_request.h"
#include "protocol/messages/alter_partition_reassignments_response.h"
#include "protocol/messages/list_partition_reassignments_request.h"
#include "protocol/messages/list_partition_reassignments_response.h"

namespace sluice::cli::client {
namespace {

using protocol::MetadataResponse;

struct PlannedPartition {
  std::string topic;
  int32_t partition = -1;
  std::vector<int32_t> replicas;
};

struct ReassignOptions {
  ConnectionOptions connection;
  std::string plan_file;
  bool execute = false;
  bool verify = false;
  bool cancel = false;
  bool additional = false;
};

std::string partition_name(const std::string& topic, int32_t partition) {
  return topic + "-" + std::to_string(partition);
}

// The plan file as kafka-reassign-partitions.sh reads it ("log_dirs" is
// accepted and must say "any": replicas are not placed on log dirs here).
std::vector<PlannedPartition> read_plan(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CommandError("cannot read the plan file " + path);
  Json plan;
  try {
    plan = Json::parse(in);
  } catch (const Json::exception& e) {
    throw CommandError("the plan file " + path + " is not JSON: " + e.what());
  }
  if (!plan.is_object() || !plan.contains("partitions") || !plan["partitions"].is_array())
    throw CommandError("the plan file " + path + " has no \"partitions\" list");
  if (plan.contains("version") && plan["version"] != 1)
    throw CommandError("the plan file " + path + " has an unknown version (only 1)");
  std::vector<PlannedPartition> partitions;
  std::set<std::pair<std::string, int32_t>> seen;
  for (const Json& entry : plan["partitions"]) {
    PlannedPartition& planned = partitions.emplace_back();
    try {
      planned.topic = entry.at("topic").get<std::string>();
      planned.partition = entry.at("partition").get<int32_t>();
      planned.replicas = entry.at("replicas").get<std::vector<int32_t>>();
    } catch (const Json::exception&) {
      throw CommandError(
          "every partition of the plan needs \"topic\", \"partition\" and "
          "\"replicas\"");
    }
    if (entry.contains("log_dirs"))
      for (const Json& dir : entry["log_dirs"])
        if (dir != "any") throw CommandError("log_dirs other than \"any\" are not supported");
    if (!seen.emplace(planned.topic, planned.partition).second)
      throw CommandError("the plan names " + partition_name(planned.topic, planned.partition) +
                         " twice");
  }
  if (partitions.empty()) throw CommandError("the plan file " + path + " names no partition");
  return partitions;
}

std::vector<std::string> plan_topics(const std::vector<PlannedPartition>& plan) {
  std::vector<std::string> topics;
  for (const PlannedPartition& planned : plan)
    if (std::find(topics.begin(), topics.end(), planned.topic) == topics.end())
      topics.push_back(planned.topic);
  return topics;
}

using PartitionKey = std::pair<std::string, int32_t>;
using MetadataPartition = MetadataResponse::MetadataResponsePartition;

std::map<PartitionKey, MetadataPartition> partitions_by_key(const MetadataResponse& metadata) {
  std::map<PartitionKey, MetadataPartition> out;
  for (const auto& topic : metadata.topics)
    for (const auto& partition : topic.partitions)
      out[{topic.name.value_or(""), partition.partition_index}] = partition;
  return out;
}

struct Ongoing {
  std::vector<int32_t> replicas;
  std::vector<int32_t> adding;
  std::vector<int32_t> removing;
};

// ListPartitionReassignments of `topics` (nullopt: every topic).
std::map<PartitionKey, Ongoing> list_reassignments(
    WireConnection& connection, const ConnectionOptions& options,
    const std::optional<std::map<std::string, std::vector<int32_t>>>& topics) {
  protocol::ListPartitionReassignmentsRequest request;
  request.timeout_ms = options.timeout_ms();
  if (topics) {
    request.topics.emplace();
    for (const auto& [name, partitions] : *topics) {
      auto& topic = request.topics->emplace_back();
      topic.name = name;
      topic.partition_indexes = partitions;
    }
  } else {
    request.topics.reset();
  }
  protocol::ListPartitionReassignmentsResponse response = connection.call(request);
  if (response.error_code != 0)
    throw CommandError("ListPartitionReassignments: " +
                       std::string(error_name(static_cast<ErrorCode>(response.error_code))) +
                       (response.error_message ? ": " + *response.error_message : ""));
  std::map<PartitionKey, Ongoing> out;
  for (const auto& topic : response.topics)
    for (const auto& partition : topic.partitions)
      out[{topic.name, partition.partition_index}] = {partition.replicas, partition.adding_replicas,
                                                      partition.removing_replicas};
  return out;
}

std::map<std::string, std::vector<int32_t>> plan_partitions(
    const std::vector<PlannedPartition>& plan) {
  std::map<std::string, std::vector<int32_t>> out;
  for (const PlannedPartition& planned : plan) out[planned.topic].push_back(planned.partition);
  return out;
}

// AlterPartitionReassignments of the plan (or null replicas: cancel);
// the partitions that failed, with Kafka's error names and messages.
std::vector<std::string> alter_reassignments(WireConnection& connection,
                                             const ConnectionOptions& options,
                                             const std::vector<PlannedPartition>& plan,
                                             bool cancel) {
  protocol::AlterPartitionReassignmentsRequest request;
  request.timeout_ms = options.timeout_ms();
  for (const PlannedPartition& planned : plan) {
    if (request.topics.empty() || request.topics.back().name != planned.topic)
      request.topics.emplace_back().name = planned.topic;
    auto& partition = request.topics.back().partitions.emplace_back();
    partition.partition_index = planned.partition;
    if (cancel)
      partition.replicas.reset();
    else
      partition.replicas = planned.replicas;
  }
  protocol::AlterPartitionReassignmentsResponse response = connection.call(request);
  if (response.error_code != 0)
    throw CommandError(std::string(error_name(static_cast<ErrorCode>(response.error_code))) +
                       (response.error_message ? ": " + *response.error_message : ""));
  std::vector<std::string> failures;
  for (const auto& topic : response.responses)
    for (const auto& partition : topic.partitions)
      if (partition.error_code != 0)
        failures.push_back(partition_name(topic.name, partition.partition_index) + ": " +
                           std::string(error_name(static_cast<ErrorCode>(partition.error_code))) +
                           (partition.error_message ? ": " + *partition.error_message : ""));
  return failures;
}

Json plan_json(const std::vector<PlannedPartition>& plan) {
  Json partitions = Json::array();
  for (const PlannedPartition& planned : plan)
    partitions.push_back({{"topic", planned.topic},
                          {"partition", planned.partition},
                          {"replicas", planned.replicas},
                          {"log_dirs", std::vector<std::string>(planned.replicas.size(), "any")}});
  return {{"version", 1}, {"partitions", partitions}};
}

std::string names_of(const std::vector<PlannedPartition>& plan) {
  std::string out;
  for (const PlannedPartition& planned : plan)
    out += (out.empty() ? "" : ",") + partition_name(planned.topic, planned.partition);
  return out;
}

// --- execute ---

void execute_plan(const ReassignOptions& options, const std::vector<PlannedPartition>& plan) {
  MetadataResponse metadata = fetch_metadata(options.connection, plan_topics(plan));
  std::map<PartitionKey, MetadataPartition> current = partitions_by_key(metadata);
  std::vector<PlannedPartition> rollback;
  for (const PlannedPartition& planned : plan) {
    auto found = current.find({planned.topic, planned.partition});
    if (found == current.end())
      throw CommandError("unknown partition " + partition_name(planned.topic, planned.partition));
    rollback.push_back({planned.topic, planned.partition, found->second.replica_nodes});
  }
  std::unique_ptr<WireConnection> connection = WireConnection::open(options.connection);
  if (!options.additional &&
      !list_reassignments(*connection, options.connection, std::nullopt).empty())
    throw CommandError(
        "Cannot execute because there is an existing partition assignment. Use --additional to "
        "override this and create a new partition assignment in addition to the existing one.");
  std::vector<std::string> failures =
      alter_reassignments(*connection, options.connection, plan, false);
  if (options.connection.json) {
    print_json({{"current", plan_json(rollback)}, {"errors", failures}});
  } else {
    std::printf(
        "Current partition replica assignment\n\n%s\n\n"
        "Save this to use as the --plan option during rollback\n",
        plan_json(rollback).dump().c_str());
    if (failures.size() < plan.size())
      std::printf("Successfully started partition reassignment(s) for %s\n",
                  names_of(plan).c_str());
  }
  if (!failures.empty()) {
    std::string text = "Error reassigning partition(s):";
    for (const std::string& failure : failures) text += " " + failure + ";";
    text.pop_back();
    throw CommandError(text);
  }
}

// --- verify ---

// One partition's state against the plan: in progress (the ongoing move),
// completed (replicas as planned), or neither (replicas differ, no move).
Json verify_partition(const PlannedPartition& planned, const MetadataPartition* current,
                      const Ongoing* ongoing) {
  Json out = {
      {"topic", planned.topic}, {"partition", planned.partition}, {"target", planned.replicas}};
  if (current == nullptr) {
    out["state"] = "unknown_partition";
    return out;
  }
  out["replicas"] = current->replica_nodes;
  out["isr"] = current->isr_nodes;
  if (ongoing != nullptr) {
    size_t in_sync = 0;
    for (int32_t replica : ongoing->adding)
      if (std::find(current->isr_nodes.begin(), current->isr_nodes.end(), replica) !=
          current->isr_nodes.end())
        ++in_sync;
    out["state"] = "in_progress";
    out["adding"] = ongoing->adding;
    out["removing"] = ongoing->removing;
    out["adding_in_sync"] = in_sync;
    return out;
  }
  out["state"] = current->replica_nodes == planned.replicas ? "completed" : "mismatch";
  return out;
}

std::string verify_line(const Json& state) {
  const std::string name =
      partition_name(state["topic"].get<std::string>(), state["partition"].get<int32_t>());
  const std::string status = state["state"].get<std::string>();
  if (status == "completed") return "Reassignment of partition " + name + " is completed.";
  if (status == "unknown_partition") return "Partition " + name + " does not exist.";
  if (status == "mismatch")
    return "There is no active reassignment of partition " + name + ", but replica set is " +
           join_ints(state["replicas"].get<std::vector<int32_t>>()) + " rather than " +
           join_ints(state["target"].get<std::vector<int32_t>>()) + ".";
  const auto adding = state["adding"].get<std::vector<int32_t>>();
  return "Reassignment of partition " + name +
         " is still in progress: " + std::to_string(state["adding_in_sync"].get<size_t>()) +
         " of " + std::to_string(adding.size()) + " added replica(s) (" + join_ints(adding) +
         ") in sync (isr " + join_ints(state["isr"].get<std::vector<int32_t>>()) + "), removing " +
         join_ints(state["removing"].get<std::vector<int32_t>>()) + ".";
}

void verify_plan(const ReassignOptions& options, const std::vector<PlannedPartition>& plan) {
  std::map<PartitionKey, MetadataPartition> current =
      partitions_by_key(fetch_metadata(options.connection, plan_topics(plan)));
  std::unique_ptr<WireConnection> connection = WireConnection::open(options.connection);
  std::map<PartitionKey, Ongoing> ongoing =
      list_reassignments(*connection, options.connection, plan_partitions(plan));
  Json states = Json::array();
  bool done = true;
  for (const PlannedPartition& planned : plan) {
    auto found = current.find({planned.topic, planned.partition});
    auto moving = ongoing.find({planned.topic, planned.partition});
    Json state = verify_partition(planned, found == current.end() ? nullptr : &found->second,
                                  moving == ongoing.end() ? nullptr : &moving->second);
    done &= state["state"] == "completed";
    states.push_back(std::move(state));
  }
  if (options.connection.json) {
    print_json({{"complete", done}, {"partitions", states}});
    return;
  }
  std::printf("Status of partition reassignment:\n");
  for (const Json& state : states) std::printf("%s\n", verify_line(state).c_str());
}

// --- cancel ---

void cancel_plan(const ReassignOptions& options, const std::vector<PlannedPartition>& plan) {
  std::unique_ptr<WireConnection> connection = WireConnection::open(options.connection);
  std::vector<std::string> failures =
      alter_reassignments(*connection, options.connection, plan, true);
  if (options.connection.json)
    print_json({{"errors", failures}});
  else if (failures.size() < plan.size())
    std::printf("Successfully cancelled partition reassignment(s) for %s\n",
                names_of(plan).c_str());
  if (!failures.empty()) {
    std::string text = "Error cancelling partition reassignment(s):";
    for (const std::string& failure : failures) text += " " + failure + ";";
    text.pop_back();
    throw CommandError(text);
  }
}

void reassign(const ReassignOptions& options) {
  if (options.execute + options.verify + options.cancel != 1)
    throw CommandError("give exactly one of --execute, --verify and --cancel");
  std::vector<PlannedPartition> plan = read_plan(options.plan_file);
  if (options.execute) return execute_plan(options, plan);
  if (options.verify) return verify_plan(options, plan);
  cancel_plan(options, plan);
}

// --- cluster partitions ---

struct PartitionListOptions {
  ConnectionOptions connection;
  bool under_replicated = false;
  bool offline = false;
};

void list_partitions(const PartitionListOptions& options) {
  MetadataResponse metadata = fetch_metadata(options.connection, std::nullopt);
  std::map<PartitionKey, Ongoing> ongoing;
  try {
    std::unique_ptr<WireConnection> connection = WireConnection::open(options.connection);
    ongoing = list_reassignments(*connection, options.connection, std::nullopt);
  } catch (const CommandError&) {
    // A cluster that does not answer ListPartitionReassignments: no moves shown.
  }
  std::map<PartitionKey, const MetadataPartition*> sorted;
  for (const auto& topic : metadata.topics)
    for (const auto& partition : topic.partitions)
      sorted[{topic.name.value_or(""), partition.partition_index}] = &partition;
  const bool every = !options.under_replicated && !options.offline;
  Json list = Json::array();
  Table table({"topic", "partition", "leader", "replicas", "isr", "offline", "state"});
  for (const auto& [key, partition] : sorted) {
    const bool offline = partition->leader_id < 0;
    const bool under = partition->isr_nodes.size() < partition->replica_nodes.size();
    if (!every && !(options.offline && offline) && !(options.under_replicated && under)) continue;
    auto moving = ongoing.find(key);
    const std::string state = offline                   ? "offline"
                              : moving != ongoing.end() ? "reassigning"
                              : under                   ? "under-replicated"
                                                        : "ok";
    const bool reassigning = moving != ongoing.end();
    list.push_back(
        {{"topic", key.first},
         {"partition", key.second},
         {"leader", partition->leader_id},
         {"replicas", partition->replica_nodes},
         {"isr", partition->isr_nodes},
         {"offline_replicas", partition->offline_replicas},
         {"adding_replicas", reassigning ? moving->second.adding : std::vector<int32_t>{}},
         {"removing_replicas", reassigning ? moving->second.removing : std::vector<int32_t>{}},
         {"under_replicated", under},
         {"offline", offline}});
    table.add({key.first, std::to_string(key.second), std::to_string(partition->leader_id),
               join_ints(partition->replica_nodes), join_ints(partition->isr_nodes),
               join_ints(partition->offline_replicas), state});
  }
  if (options.connection.json)
    print_json(list);
  else
    table.print();
}

}  // namespace

void add_partition_commands(CLI::App& app, Action& action) {
  CLI::App* partition =
      app.add_subcommand("partition", "Reassign partitions and elect their leaders");
  partition->require_subcommand(1);
  auto options = std::make_shared<ReassignOptions>();
  CLI::App* reassign_command = partition->add_subcommand(
      "reassign", "Move partitions' replicas as a plan says (AlterPartitionReassignments)");
  add_connection_options(reassign_command, options->connection, true);
  reassign_command
      ->add_option("--plan", options->plan_file,
                   "Plan JSON as kafka-reassign-partitions.sh takes it: "
                   "{\"version\":1,\"partitions\":[{\"topic\",\"partition\",\"replicas\"}]}")
      ->required();
  reassign_command->add_flag("--execute", options->execute, "Start the plan's reassignments");
  reassign_command->add_flag("--verify", options->verify, "Show each partition's progress");
  reassign_command->add_flag("--cancel", options->cancel, "Cancel the plan's reassignments");
  reassign_command->add_flag("--additional", options->additional,
                             "Execute while other reassignments are in progress");
  reassign_command->callback([&action, options] {
    action = {"partition reassign", [options] { reassign(*options); }};
  });
  add_elect_leaders_command(*partition, "elect-leaders", "partition elect-leaders", action);
}

void add_cluster_partitions_command(CLI::App& cluster, Action& action) {
  auto options = std::make_shared<PartitionListOptions>();
  CLI::App* command = cluster.add_subcommand(
      "partitions",
      "Partitions with leader, replicas, ISR, offline replicas (every one, or as filtered)");
  add_connection_options(command, options->connection, true);
  command->add_flag("--under-replicated", options->under_replicated,
                    "Only partitions whose ISR is smaller than their replicas");
  command->add_flag("--offline", options->offline, "Only partitions without a leader");
  command->callback([&action, options] {
    action = {"cluster partitions", [options] { list_partitions(*options); }};
  });
}

}  // namespace sluice::cli::client
