#pragma once
// The records of a distributed worker group's internal topics, with Kafka's
// keys and JSON values (JsonConverter without schemas), so the topics read
// the same as Kafka Connect's:
//   config.storage.topic  connector-<name>    {"properties":{...}}
//                         task-<name>-<n>     {"properties":{...}}
//                         commit-<name>       {"tasks":N}  (the task configs before it apply)
//                         target-state-<name> {"state":"STARTED"|"PAUSED","state.v2":...}
//                         restart-connector-<name> {"include-tasks","only-failed"}
//                         a null value deletes (connector-, target-state-)
//   status.storage.topic  status-connector-<name>, status-task-<name>-<n>
//                         {"state","trace","worker_id","generation"}
// ConfigSnapshot is the state the config records build, as every worker
// reads them in order (Kafka's ClusterConfigState).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connect/config.h"
#include "connect/runtime/connect_protocol.h"
#include "connect/runtime/herder.h"

namespace sluice::connect {

enum class TargetState { started, paused, stopped };

std::string connector_config_key(const std::string& name);
std::string task_config_key(const std::string& name, int task);
std::string commit_tasks_key(const std::string& name);
std::string target_state_key(const std::string& name);
std::string properties_value(const Properties& properties);
std::string commit_tasks_value(int tasks);
std::string target_state_value(TargetState state);
// restart-connector-<name> {"include-tasks":b,"only-failed":b}: every worker
// restarts what of it runs (Kafka's RestartRequest).
std::string restart_key(const std::string& name);
std::string restart_value(bool include_tasks, bool only_failed);
struct RestartRequest {
  std::string connector;
  bool include_tasks = false;
  bool only_failed = false;
};

struct ConnectorSnapshot {
  Properties config;
  TargetState target = TargetState::started;
  std::vector<Properties> tasks;  // the committed task configurations
};

class ConfigSnapshot {
 public:
  // One record in topic order; records that do not parse are skipped
  // (logged), as Kafka does.
  void apply(const std::string& key, const std::optional<std::string>& value);
  const std::map<std::string, ConnectorSnapshot>& connectors() const { return connectors_; }
  const ConnectorSnapshot* find(const std::string& name) const;
  // Every connector and task that exists (for the assignor).
  Allocation all_work() const;
  int64_t offset = -1;  // of the last record applied
  // Restart requests read, for the herder to take (and act on).
  std::vector<RestartRequest> restarts;

 private:
  std::map<std::string, ConnectorSnapshot> connectors_;
  // Task configs read but not yet committed, and target states of
  // connectors whose config comes later.
  std::map<std::string, std::map<int, Properties>> pending_tasks_;
  std::map<std::string, TargetState> early_targets_;
};

std::string status_key(const std::string& connector, std::optional<int> task);
std::string status_value(const StateInfo& state, int32_t generation);
struct StatusRecord {
  std::string connector;
  std::optional<int> task;
};
std::optional<StatusRecord> parse_status_key(const std::string& key);
std::optional<StateInfo> parse_status_value(const std::string& value);
std::optional<TaskState> task_state_from_name(const std::string& name);

}  // namespace sluice::connect
