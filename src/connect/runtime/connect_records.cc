#include "connect/runtime/connect_records.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace sluice::connect {
namespace {

using nlohmann::json;

constexpr std::string_view kConnectorPrefix = "connector-";
constexpr std::string_view kTaskPrefix = "task-";
constexpr std::string_view kCommitPrefix = "commit-";
constexpr std::string_view kTargetPrefix = "target-state-";
constexpr std::string_view kRestartPrefix = "restart-connector-";
constexpr std::string_view kStatusConnectorPrefix = "status-connector-";
constexpr std::string_view kStatusTaskPrefix = "status-task-";

std::optional<json> parse_json(const std::string& text) {
  json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::optional<int> parse_int(std::string_view text) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// "<name>-<n>": the name may itself hold dashes, the task is after the last.
std::optional<std::pair<std::string, int>> split_task(std::string_view rest) {
  const auto dash = rest.rfind('-');
  if (dash == std::string_view::npos || dash == 0) return std::nullopt;
  auto task = parse_int(rest.substr(dash + 1));
  if (!task || *task < 0) return std::nullopt;
  return std::pair(std::string(rest.substr(0, dash)), *task);
}

std::optional<Properties> properties_of(const std::string& value) {
  auto parsed = parse_json(value);
  if (!parsed || !parsed->is_object() || !parsed->contains("properties") ||
      !(*parsed)["properties"].is_object()) {
    return std::nullopt;
  }
  Properties properties;
  for (const auto& [key, item] : (*parsed)["properties"].items()) {
    if (item.is_string()) properties[key] = item.get<std::string>();
  }
  return properties;
}

const char* target_state_text(TargetState state) {
  switch (state) {
    case TargetState::started:
      return "STARTED";
    case TargetState::paused:
      return "PAUSED";
    case TargetState::stopped:
      return "STOPPED";
  }
  return "STARTED";
}

}  // namespace

std::string connector_config_key(const std::string& name) {
  return std::string(kConnectorPrefix) + name;
}
std::string task_config_key(const std::string& name, int task) {
  return std::string(kTaskPrefix) + name + "-" + std::to_string(task);
}
std::string commit_tasks_key(const std::string& name) { return std::string(kCommitPrefix) + name; }
std::string target_state_key(const std::string& name) { return std::string(kTargetPrefix) + name; }

std::string restart_key(const std::string& name) { return std::string(kRestartPrefix) + name; }

std::string restart_value(bool include_tasks, bool only_failed) {
  return json{{"include-tasks", include_tasks}, {"only-failed", only_failed}}.dump();
}

std::string properties_value(const Properties& properties) {
  json object = json::object();
  for (const auto& [key, value] : properties) object[key] = value;
  return json{{"properties", object}}.dump();
}

std::string commit_tasks_value(int tasks) { return json{{"tasks", tasks}}.dump(); }

// Kafka's TARGET_STATE_V1: STOPPED is written as "PAUSED" for workers that
// know only the first field, with "state.v2" the real one.
std::string target_state_value(TargetState state) {
  json value = json::object();
  value["state"] = state == TargetState::stopped ? "PAUSED" : target_state_text(state);
  value["state.v2"] = target_state_text(state);
  return value.dump();
}

const ConnectorSnapshot* ConfigSnapshot::find(const std::string& name) const {
  auto it = connectors_.find(name);
  return it == connectors_.end() ? nullptr : &it->second;
}

Allocation ConfigSnapshot::all_work() const {
  Allocation all;
  for (const auto& [name, connector] : connectors_) {
    all.connectors.insert(name);
    // A stopped connector has no tasks (Kafka writes an empty task set).
    if (connector.target == TargetState::stopped) continue;
    for (size_t i = 0; i < connector.tasks.size(); ++i)
      all.tasks.emplace(name, static_cast<int>(i));
  }
  return all;
}

void ConfigSnapshot::apply(const std::string& key, const std::optional<std::string>& value) {
  std::string_view k = key;
  if (k.starts_with(kConnectorPrefix)) {
    const std::string name(k.substr(kConnectorPrefix.size()));
    if (!value) {
      connectors_.erase(name);
      pending_tasks_.erase(name);
      early_targets_.erase(name);
      return;
    }
    auto properties = properties_of(*value);
    if (!properties) {
      spdlog::warn("connect: config record {} is not a connector configuration; skipped", key);
      return;
    }
    ConnectorSnapshot& connector = connectors_[name];
    connector.config = std::move(*properties);
    if (auto early = early_targets_.find(name); early != early_targets_.end()) {
      connector.target = early->second;
      early_targets_.erase(early);
    }
    return;
  }
  if (k.starts_with(kTaskPrefix)) {
    auto id = split_task(k.substr(kTaskPrefix.size()));
    auto properties = value ? properties_of(*value) : std::nullopt;
    if (!id || !properties) return;
    pending_tasks_[id->first][id->second] = std::move(*properties);
    return;
  }
  if (k.starts_with(kCommitPrefix)) {
    const std::string name(k.substr(kCommitPrefix.size()));
    auto parsed = value ? parse_json(*value) : std::nullopt;
    if (!parsed || !parsed->is_object() || !(*parsed)["tasks"].is_number_integer()) return;
    const int count = (*parsed)["tasks"].get<int>();
    auto& pending = pending_tasks_[name];
    std::vector<Properties> tasks;
    for (int i = 0; i < count; ++i) {
      auto it = pending.find(i);
      if (it == pending.end()) {
        // Kafka marks such a connector inconsistent; we keep its old tasks.
        spdlog::warn("connect: commit of {} tasks for {} misses task {}; ignored", count, name, i);
        return;
      }
      tasks.push_back(it->second);
    }
    pending_tasks_.erase(name);
    if (auto it = connectors_.find(name); it != connectors_.end()) it->second.tasks = tasks;
    return;
  }
  if (k.starts_with(kTargetPrefix)) {
    const std::string name(k.substr(kTargetPrefix.size()));
    TargetState target = TargetState::started;
    if (value) {
      auto parsed = parse_json(*value);
      if (!parsed || !parsed->is_object()) return;
      std::string text = parsed->value("state", "");
      if (parsed->contains("state.v2") && (*parsed)["state.v2"].is_string())
        text = (*parsed)["state.v2"];
      if (text == "PAUSED") {
        target = TargetState::paused;
      } else if (text == "STOPPED") {
        target = TargetState::stopped;
      } else if (text != "STARTED") {
        return;
      }
    }
    if (auto it = connectors_.find(name); it != connectors_.end()) {
      it->second.target = target;
    } else {
      early_targets_[name] = target;
    }
    return;
  }
  if (k.starts_with(kRestartPrefix)) {
    auto parsed = value ? parse_json(*value) : std::nullopt;
    if (!parsed || !parsed->is_object()) return;
    RestartRequest request;
    request.connector = std::string(k.substr(kRestartPrefix.size()));
    if ((*parsed)["include-tasks"].is_boolean()) request.include_tasks = (*parsed)["include-tasks"];
    if ((*parsed)["only-failed"].is_boolean()) request.only_failed = (*parsed)["only-failed"];
    restarts.push_back(std::move(request));
    return;
  }
  // session keys, logger levels...: not used here.
}

std::string status_key(const std::string& connector, std::optional<int> task) {
  if (task) return std::string(kStatusTaskPrefix) + connector + "-" + std::to_string(*task);
  return std::string(kStatusConnectorPrefix) + connector;
}

std::string status_value(const StateInfo& state, int32_t generation) {
  json value = json::object();
  value["state"] = task_state_name(state.state);
  value["trace"] = state.trace.empty() ? json(nullptr) : json(state.trace);
  value["worker_id"] = state.worker_id;
  value["generation"] = generation;
  return value.dump();
}

std::optional<StatusRecord> parse_status_key(const std::string& key) {
  std::string_view k = key;
  if (k.starts_with(kStatusConnectorPrefix)) {
    if (k.size() == kStatusConnectorPrefix.size()) return std::nullopt;
    return StatusRecord{std::string(k.substr(kStatusConnectorPrefix.size())), std::nullopt};
  }
  if (k.starts_with(kStatusTaskPrefix)) {
    auto id = split_task(k.substr(kStatusTaskPrefix.size()));
    if (!id) return std::nullopt;
    return StatusRecord{id->first, id->second};
  }
  return std::nullopt;
}

std::optional<TaskState> task_state_from_name(const std::string& name) {
  for (TaskState state : {TaskState::unassigned, TaskState::running, TaskState::paused,
                          TaskState::stopped, TaskState::failed, TaskState::restarting}) {
    if (name == task_state_name(state)) return state;
  }
  return std::nullopt;
}

std::optional<StateInfo> parse_status_value(const std::string& value) {
  auto parsed = parse_json(value);
  if (!parsed || !parsed->is_object() || !(*parsed)["state"].is_string()) return std::nullopt;
  auto state = task_state_from_name((*parsed)["state"].get<std::string>());
  if (!state) return std::nullopt;
  StateInfo info;
  info.state = *state;
  if ((*parsed)["trace"].is_string()) info.trace = (*parsed)["trace"];
  if ((*parsed)["worker_id"].is_string()) info.worker_id = (*parsed)["worker_id"];
  return info;
}

}  // namespace sluice::connect
