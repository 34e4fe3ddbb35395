#pragma once
// The client subcommands of `sluice` (topic, produce, consume, group, config,
// cluster, records). Each add_* registers its subcommands on `app`; the
// parse callback of the chosen leaf fills `action`, which main() then runs.

#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace sluice::cli::client {

struct Action {
  std::string name;  // "topic describe": prefixes the one-line error
  std::function<void()> run;
  explicit operator bool() const { return static_cast<bool>(run); }
};

void add_topic_commands(CLI::App& app, Action& action);
void add_produce_command(CLI::App& app, Action& action);
void add_consume_command(CLI::App& app, Action& action);
void add_group_commands(CLI::App& app, Action& action);
void add_config_commands(CLI::App& app, Action& action);
void add_cluster_commands(CLI::App& app, Action& action);  // cluster info, records delete
void add_leader_election_command(CLI::App& app, Action& action);
// ElectLeaders as `name` under `parent` (leader_election_command.cc).
void add_elect_leaders_command(CLI::App& parent, const std::string& name,
                               const std::string& action_name, Action& action);
// partition reassign / elect-leaders (partition_command.cc).
void add_partition_commands(CLI::App& app, Action& action);
// txn list / describe (txn_command.cc).
void add_txn_commands(CLI::App& app, Action& action);
// cluster partitions, on the `cluster` command (partition_command.cc).
void add_cluster_partitions_command(CLI::App& cluster, Action& action);
// cluster add-controller / remove-controller, on the `cluster` command (quorum_command.cc).
void add_quorum_commands(CLI::App& cluster, Action& action);
// producer describe (producer_command.cc): DescribeProducers.
void add_producer_commands(CLI::App& app, Action& action);
// user create / delete / list (user_command.cc): SCRAM credentials.
void add_user_commands(CLI::App& app, Action& action);
// acl add / remove / list (acl_command.cc).
void add_acl_commands(CLI::App& app, Action& action);
// quota set / list (quota_command.cc): client quotas.
void add_quota_commands(CLI::App& app, Action& action);
// connector list / create / status / ... (connector_command.cc): Kafka
// Connect's REST API.
void add_connector_commands(CLI::App& app, Action& action);

inline void add_client_commands(CLI::App& app, Action& action) {
  add_topic_commands(app, action);
  add_produce_command(app, action);
  add_consume_command(app, action);
  add_group_commands(app, action);
  add_config_commands(app, action);
  add_cluster_commands(app, action);
  add_leader_election_command(app, action);
  add_partition_commands(app, action);
  add_producer_commands(app, action);
  add_txn_commands(app, action);
  add_user_commands(app, action);
  add_acl_commands(app, action);
  add_quota_commands(app, action);
  add_connector_commands(app, action);
}

// Runs the chosen command: 0 on success; a CommandError is printed as one
// line "sluice <name>: <what failed>" on stderr and gives 1.
int run_action(const Action& action);

}  // namespace sluice::cli::client
