// sluice group list | describe | delete | reset-offsets

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/client/admin.h"
#include "cli/client/commands.h"
#include "cli/client/output.h"

namespace sluice::cli::client {
namespace {

struct GroupOptions {
  ConnectionOptions connection;
  std::string group;
  std::string topic;
  bool to_earliest = false;
  bool to_latest = false;
  std::optional<int64_t> to_offset;
  std::string to_datetime;
  bool execute = false;
};

using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, void (*)(rd_kafka_topic_partition_list_t*)>;

PartitionList new_partition_list(int size) {
  return PartitionList(rd_kafka_topic_partition_list_new(size), rd_kafka_topic_partition_list_destroy);
}

// librdkafka reports a group without members or a protocol type as a
// "simple" group; Kafka's consumer groups carry protocol type "consumer".
std::string protocol_type(bool is_simple) { return is_simple ? "" : "consumer"; }

void check_group_error(const rd_kafka_error_t* error, const std::string& group) {
  if (error == nullptr) return;
  rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  if (code == RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) throw CommandError("unknown group '" + group + "'");
  if (code == RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP) {
    throw CommandError("group '" + group + "' has active members (NON_EMPTY_GROUP)");
  }
  throw CommandError("group '" + group + "': " + rd_kafka_error_string(error));
}

// --- list ---

void list_groups(const GroupOptions& options) {
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  require_reachable(client.get(), options.connection);
  AdminEvent event = admin_call(client.get(), options.connection, "list groups",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_ListConsumerGroups(client.get(), admin_options, queue);
  });
  const rd_kafka_ListConsumerGroups_result_t* result = rd_kafka_event_ListConsumerGroups_result(event.get());
  size_t error_count = 0;
  const rd_kafka_error_t** errors = rd_kafka_ListConsumerGroups_result_errors(result, &error_count);
  if (error_count > 0) throw CommandError(std::string("list groups: ") + rd_kafka_error_string(errors[0]));
  size_t count = 0;
  const rd_kafka_ConsumerGroupListing_t** groups = rd_kafka_ListConsumerGroups_result_valid(result, &count);
  std::vector<Json> rows;
  for (size_t i = 0; i < count; ++i) {
    rows.push_back({{"group_id", rd_kafka_ConsumerGroupListing_group_id(groups[i])},
                    {"state", rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(groups[i]))},
                    {"protocol_type", protocol_type(rd_kafka_ConsumerGroupListing_is_simple_consumer_group(groups[i]))}});
  }
  std::sort(rows.begin(), rows.end(), [](const Json& a, const Json& b) { return a["group_id"] < b["group_id"]; });
  if (options.connection.json) return print_json(Json(rows));
  Table table({"group", "state", "protocol type"});
  for (const Json& row : rows) table.add({row["group_id"], row["state"], row["protocol_type"]});
  table.print();
}

// --- describe ---

Json member_json(const rd_kafka_MemberDescription_t* member) {
  Json assignments = Json::array();
  const rd_kafka_topic_partition_list_t* partitions =
      rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(member));
  for (int i = 0; partitions != nullptr && i < partitions->cnt; ++i) {
    assignments.push_back({{"topic", partitions->elems[i].topic}, {"partition", partitions->elems[i].partition}});
  }
  std::sort(assignments.begin(), assignments.end(), [](const Json& a, const Json& b) {
    return std::tie(a["topic"], a["partition"]) < std::tie(b["topic"], b["partition"]);
  });
  const char* instance = rd_kafka_MemberDescription_group_instance_id(member);
  return {{"member_id", rd_kafka_MemberDescription_consumer_id(member)},
          {"group_instance_id", instance != nullptr ? Json(instance) : Json(nullptr)},
          {"client_id", rd_kafka_MemberDescription_client_id(member)},
          {"host", rd_kafka_MemberDescription_host(member)},
          {"assignments", assignments}};
}

// group_id, state, protocol_type, protocol, coordinator and members.
Json describe_group_json(rd_kafka_t* client, const ConnectionOptions& options, const std::string& group) {
  AdminEvent event = admin_call(client, options, "describe group '" + group + "'",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    const char* names[] = {group.c_str()};
    rd_kafka_DescribeConsumerGroups(client, names, 1, admin_options, queue);
  });
  size_t count = 0;
  const rd_kafka_ConsumerGroupDescription_t** groups = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(event.get()), &count);
  if (count != 1) throw CommandError("describe group '" + group + "': no description returned");
  const rd_kafka_ConsumerGroupDescription_t* description = groups[0];
  check_group_error(rd_kafka_ConsumerGroupDescription_error(description), group);
  Json members = Json::array();
  for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(description); ++i) {
    members.push_back(member_json(rd_kafka_ConsumerGroupDescription_member(description, i)));
  }
  std::sort(members.begin(), members.end(),
            [](const Json& a, const Json& b) { return a["member_id"] < b["member_id"]; });
  const rd_kafka_Node_t* coordinator = rd_kafka_ConsumerGroupDescription_coordinator(description);
  const char* assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(description);
  return {{"group_id", group},
          {"state", rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(description))},
          {"protocol_type", protocol_type(rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(description))},
          {"protocol", assignor != nullptr ? assignor : ""},
          {"coordinator", coordinator != nullptr ? rd_kafka_Node_id(coordinator) : -1},
          {"members", members}};
}

// The group's committed offsets (all partitions; nullptr `only` = every
// partition it has an offset for).
PartitionList committed_offsets(rd_kafka_t* client, const ConnectionOptions& options,
                                const std::string& group, const rd_kafka_topic_partition_list_t* only) {
  AdminEvent event = admin_call(client, options, "offsets of group '" + group + "'",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_ListConsumerGroupOffsets_t* request = rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), only);
    rd_kafka_ListConsumerGroupOffsets(client, &request, 1, admin_options, queue);
    rd_kafka_ListConsumerGroupOffsets_destroy(request);
  });
  size_t count = 0;
  const rd_kafka_group_result_t** results = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(event.get()), &count);
  if (count != 1) throw CommandError("offsets of group '" + group + "': no answer");
  check_group_error(rd_kafka_group_result_error(results[0]), group);
  const rd_kafka_topic_partition_list_t* partitions = rd_kafka_group_result_partitions(results[0]);
  PartitionList copy(partitions != nullptr ? rd_kafka_topic_partition_list_copy(partitions)
                                           : rd_kafka_topic_partition_list_new(0),
                     rd_kafka_topic_partition_list_destroy);
  return copy;
}

Json offsets_json(rd_kafka_t* client, const ConnectionOptions& options, const std::string& group, int64_t* total_lag) {
  PartitionList committed = committed_offsets(client, options, group, nullptr);
  rd_kafka_topic_partition_list_sort(committed.get(), nullptr, nullptr);
  Json rows = Json::array();
  *total_lag = 0;
  for (int i = 0; i < committed->cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = committed->elems[i];
    if (entry.offset < 0) continue;  // listed but never committed
    Watermarks marks = query_watermarks(client, options, entry.topic, entry.partition);
    int64_t lag = std::max<int64_t>(0, marks.log_end - entry.offset);
    *total_lag += lag;
    std::string metadata = entry.metadata != nullptr
                               ? std::string(static_cast<const char*>(entry.metadata), entry.metadata_size)
                               : "";
    rows.push_back({{"topic", entry.topic}, {"partition", entry.partition}, {"committed_offset", entry.offset},
                    {"log_end_offset", marks.log_end}, {"lag", lag}, {"metadata", metadata}});
  }
  return rows;
}

void print_group_table(const Json& description) {
  std::printf("Group: %s  State: %s  Protocol: %s  Coordinator: %d\n\n",
              description["group_id"].get<std::string>().c_str(),
              description["state"].get<std::string>().c_str(),
              description["protocol"].get<std::string>().c_str(), description["coordinator"].get<int>());
  Table members({"member id", "instance id", "client id", "host", "assignments"});
  for (const Json& member : description["members"]) {
    std::string assigned;
    for (const Json& a : member["assignments"]) {
      assigned += (assigned.empty() ? "" : ",") + a["topic"].get<std::string>() + "-" +
                  std::to_string(a["partition"].get<int>());
    }
    members.add({member["member_id"], member["group_instance_id"].is_null() ? "-" : member["group_instance_id"].get<std::string>(),
                 member["client_id"], member["host"], assigned});
  }
  if (members.size() > 0) {
    members.print();
    std::printf("\n");
  }
  Table offsets({"topic", "partition", "committed offset", "log end offset", "lag"});
  for (const Json& row : description["offsets"]) {
    offsets.add({row["topic"], std::to_string(row["partition"].get<int>()),
                 std::to_string(row["committed_offset"].get<int64_t>()),
                 std::to_string(row["log_end_offset"].get<int64_t>()), std::to_string(row["lag"].get<int64_t>())});
  }
  offsets.print();
  std::printf("\nTotal lag: %lld\n", static_cast<long long>(description["total_lag"].get<int64_t>()));
}

void describe_group(const GroupOptions& options) {
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  require_reachable(client.get(), options.connection);
  Json description = describe_group_json(client.get(), options.connection, options.group);
  int64_t total_lag = 0;
  description["offsets"] = offsets_json(client.get(), options.connection, options.group, &total_lag);
  description["total_lag"] = total_lag;
  if (description["state"] == "Dead" && description["offsets"].empty()) {
    throw CommandError("unknown group '" + options.group + "'");
  }
  if (options.connection.json) return print_json(description);
  print_group_table(description);
}

// --- delete ---

void delete_group(const GroupOptions& options) {
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  require_reachable(client.get(), options.connection);
  AdminEvent event = admin_call(client.get(), options.connection, "delete group '" + options.group + "'",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_DeleteGroup_t* group = rd_kafka_DeleteGroup_new(options.group.c_str());
    rd_kafka_DeleteGroups(client.get(), &group, 1, admin_options, queue);
    rd_kafka_DeleteGroup_destroy(group);
  });
  size_t count = 0;
  const rd_kafka_group_result_t** results =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) check_group_error(rd_kafka_group_result_error(results[i]), options.group);
  std::printf("Deleted group %s.\n", options.group.c_str());
}

// --- reset-offsets ---

int64_t target_offset(const GroupOptions& options, const Watermarks& marks, int64_t by_time) {
  if (options.to_earliest) return marks.log_start;
  if (options.to_latest) return marks.log_end;
  if (options.to_offset) return std::clamp(*options.to_offset, marks.log_start, marks.log_end);  // as Kafka's tool
  return by_time >= 0 ? by_time : marks.log_end;
}

// Every partition of the topic with its new offset (in `offset`).
PartitionList reset_plan(rd_kafka_t* client, const GroupOptions& options) {
  int partitions = topic_partition_count(client, options.connection, options.topic);
  PartitionList plan = new_partition_list(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(plan.get(), options.topic.c_str(), p);
  PartitionList by_time = new_partition_list(0);
  if (!options.to_datetime.empty()) {
    by_time.reset(rd_kafka_topic_partition_list_copy(plan.get()));
    int64_t ms = parse_iso8601_ms(options.to_datetime);
    for (int i = 0; i < by_time->cnt; ++i) by_time->elems[i].offset = ms;
    check(rd_kafka_offsets_for_times(client, by_time.get(), options.connection.timeout_ms()),
          "offsets for " + options.to_datetime);
  }
  bool progress = stderr_is_terminal() && partitions > 1;
  for (int p = 0; p < partitions; ++p) {
    Watermarks marks = query_watermarks(client, options.connection, options.topic, p);
    plan->elems[p].offset = target_offset(options, marks, by_time->cnt > p ? by_time->elems[p].offset : -1);
    if (progress) std::fprintf(stderr, "\rplanning %d/%d partitions", p + 1, partitions);
  }
  if (progress) std::fprintf(stderr, "\n");
  return plan;
}

void print_plan(const GroupOptions& options, const rd_kafka_topic_partition_list_t* plan,
                const rd_kafka_topic_partition_list_t* current) {
  Json rows = Json::array();
  for (int i = 0; i < plan->cnt; ++i) {
    const rd_kafka_topic_partition_t* before =
        rd_kafka_topic_partition_list_find(current, plan->elems[i].topic, plan->elems[i].partition);
    int64_t current_offset = before != nullptr ? before->offset : -1;
    rows.push_back({{"topic", plan->elems[i].topic}, {"partition", plan->elems[i].partition},
                    {"current_offset", current_offset}, {"new_offset", plan->elems[i].offset}});
  }
  if (options.connection.json) return print_json(rows);
  Table table({"topic", "partition", "current offset", "new offset"});
  for (const Json& row : rows) {
    int64_t current_offset = row["current_offset"];
    table.add({row["topic"], std::to_string(row["partition"].get<int>()),
               current_offset < 0 ? "-" : std::to_string(current_offset),
               std::to_string(row["new_offset"].get<int64_t>())});
  }
  table.print();
}

void require_inactive(rd_kafka_t* client, const GroupOptions& options) {
  Json description = describe_group_json(client, options.connection, options.group);
  size_t members = description["members"].size();
  if (members > 0) {
    throw CommandError("group '" + options.group + "' has " + std::to_string(members) + " active member(s) (state " +
                       description["state"].get<std::string>() +
                       "): offsets can only be reset while the group is empty, as in Kafka");
  }
}

void commit_plan(rd_kafka_t* client, const GroupOptions& options, const rd_kafka_topic_partition_list_t* plan) {
  if (stderr_is_terminal()) std::fprintf(stderr, "committing %d offsets...\n", plan->cnt);
  AdminEvent event = admin_call(client, options.connection, "reset offsets of group '" + options.group + "'",
                                [&](rd_kafka_AdminOptions_t* admin_options, rd_kafka_queue_t* queue) {
    rd_kafka_AlterConsumerGroupOffsets_t* request = rd_kafka_AlterConsumerGroupOffsets_new(options.group.c_str(), plan);
    rd_kafka_AlterConsumerGroupOffsets(client, &request, 1, admin_options, queue);
    rd_kafka_AlterConsumerGroupOffsets_destroy(request);
  });
  size_t count = 0;
  const rd_kafka_group_result_t** results = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(event.get()), &count);
  for (size_t i = 0; i < count; ++i) {
    check_group_error(rd_kafka_group_result_error(results[i]), options.group);
    const rd_kafka_topic_partition_list_t* partitions = rd_kafka_group_result_partitions(results[i]);
    for (int p = 0; partitions != nullptr && p < partitions->cnt; ++p) {
      if (partitions->elems[p].err == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
      throw CommandError("reset " + std::string(partitions->elems[p].topic) + "-" +
                         std::to_string(partitions->elems[p].partition) + ": " + rd_kafka_err2str(partitions->elems[p].err));
    }
  }
}

void reset_offsets(const GroupOptions& options) {
  int targets = (options.to_earliest ? 1 : 0) + (options.to_latest ? 1 : 0) + (options.to_offset ? 1 : 0) +
                (options.to_datetime.empty() ? 0 : 1);
  if (targets != 1) throw CommandError("give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime");
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  PartitionList plan = reset_plan(client.get(), options);
  PartitionList current = committed_offsets(client.get(), options.connection, options.group, plan.get());
  if (options.execute) {
    require_inactive(client.get(), options);
    commit_plan(client.get(), options, plan.get());
  }
  print_plan(options, plan.get(), current.get());
  if (!options.execute && !options.connection.json) {
    std::printf("\nDry run: nothing committed (add --execute to reset).\n");
  }
}

// --- registration ---

CLI::App* add_leaf(CLI::App* parent, Action& action, std::shared_ptr<GroupOptions> options, const char* name,
                   const char* help, void (*run)(const GroupOptions&), bool with_group, bool with_json) {
  CLI::App* command = parent->add_subcommand(name, help);
  add_connection_options(command, options->connection, with_json);
  if (with_group) command->add_option("group", options->group, "Group id")->required();
  command->callback([&action, options, name, run] {
    action = {std::string("group ") + name, [options, run] { run(*options); }};
  });
  return command;
}

}  // namespace

void add_group_commands(CLI::App& app, Action& action) {
  CLI::App* group = app.add_subcommand("group", "List, describe, delete consumer groups and reset their offsets");
  group->require_subcommand(1);
  auto options = std::make_shared<GroupOptions>();
  add_leaf(group, action, options, "list", "List consumer groups", list_groups, false, true);
  add_leaf(group, action, options, "describe", "Members, assignments, committed offsets and lag",
           describe_group, true, true);
  add_leaf(group, action, options, "delete", "Delete an empty group", delete_group, true, false);
  CLI::App* reset = add_leaf(group, action, options, "reset-offsets",
                             "Plan (or with --execute commit) new committed offsets", reset_offsets, true, true);
  reset->add_option("--topic", options->topic, "Topic whose partitions are reset")->required();
  reset->add_flag("--to-earliest", options->to_earliest, "The log start offset");
  reset->add_flag("--to-latest", options->to_latest, "The log end offset");
  reset->add_option("--to-offset", options->to_offset, "This offset (clamped to the log's range)");
  reset->add_option("--to-datetime", options->to_datetime, "The first offset at or after this ISO 8601 time");
  reset->add_flag("--execute", options->execute, "Commit the plan (default: print it only)");
}

}  // namespace sluice::cli::client
