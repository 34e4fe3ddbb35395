#include "connect/runtime/standalone_herder.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "connect/runtime/kafka_admin.h"
#include "connect/runtime/kafka_clients.h"

namespace sluice::connect {
namespace {

RestError not_found(const std::string& name) { return {404, "Connector " + name + " not found"}; }

std::optional<std::string> value_of(const Properties& config, const std::string& key) {
  auto it = config.find(key);
  if (it == config.end()) return std::nullopt;
  return it->second;
}

}  // namespace

StandaloneHerder::StandaloneHerder(WorkerSettings settings, std::unique_ptr<OffsetStore> offsets,
                                   std::string worker_id)
    : settings_(std::move(settings)),
      offsets_(std::move(offsets)),
      worker_(settings_, *offsets_, std::move(worker_id)) {}

StandaloneHerder::~StandaloneHerder() { stop_all(); }

void StandaloneHerder::stop_all() {
  std::lock_guard lock(mutex_);
  for (auto& [name, entry] : connectors_) shut_down(entry);
}

std::string StandaloneHerder::kafka_cluster_id() const {
  return cluster_id(client_settings(settings_.properties, {}, ClientKind::admin, {}));
}

StandaloneHerder::ConnectorEntry* StandaloneHerder::find(const std::string& name) {
  auto it = connectors_.find(name);
  return it == connectors_.end() ? nullptr : &it->second;
}

std::vector<std::string> StandaloneHerder::connectors() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, entry] : connectors_) names.push_back(name);
  return names;
}

ConnectorInfo StandaloneHerder::info_of(const std::string& name,
                                        const ConnectorEntry& entry) const {
  return ConnectorInfo{name, entry.config, static_cast<int>(entry.task_configs.size()),
                       entry.plugin->type};
}

RestResult<ConnectorInfo> StandaloneHerder::connector_info(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  return info_of(name, *entry);
}

RestResult<PutResult> StandaloneHerder::put_connector_config(const std::string& name,
                                                             const Properties& given,
                                                             bool allow_replace) {
  Properties config = given;
  config["name"] = name;
  const std::string class_name = value_of(config, "connector.class").value_or("");
  const ConnectorPlugin* plugin = find_connector_plugin(class_name);
  if (plugin == nullptr) {
    if (class_name.empty()) {
      return RestError{400, "Connector config " + name + " contains no connector type"};
    }
    return RestError{400,
                     "Failed to find any class that implements Connector and which name "
                     "matches " +
                         class_name};
  }
  ConfigInfos infos = validate_connector_config(*plugin, config);
  if (infos.error_count > 0) return RestError{400, invalid_config_message(infos)};

  std::lock_guard lock(mutex_);
  ConnectorEntry* existing = find(name);
  if (existing != nullptr && !allow_replace) {
    return RestError{409, "Connector " + name + " already exists"};
  }
  Target target = Target::started;
  if (existing != nullptr) {
    target = existing->target;
    shut_down(*existing);
    connectors_.erase(name);
  }
  ConnectorEntry& entry = connectors_[name];
  entry.config = config;
  entry.plugin = plugin;
  entry.target = target;
  if (target != Target::stopped) start_connector(name, entry);
  spdlog::info("connect: connector {} {}", name, existing ? "reconfigured" : "created");
  return PutResult{existing == nullptr, info_of(name, entry)};
}

void StandaloneHerder::start_connector(const std::string& name, ConnectorEntry& entry) {
  entry.task_configs.clear();
  if (!worker_.start_connector(name, entry.config, entry.target == Target::paused)) return;
  entry.task_configs = worker_.task_configs(name);
  for (size_t i = 0; i < entry.task_configs.size(); ++i) {
    start_task(name, entry, static_cast<int>(i));
  }
}

void StandaloneHerder::start_task(const std::string& name, ConnectorEntry& entry, int index) {
  worker_.start_task({name, index}, entry.config, entry.task_configs[static_cast<size_t>(index)],
                     entry.target == Target::paused);
}

void StandaloneHerder::shut_down(ConnectorEntry& entry) {
  const std::string name = entry.config.at("name");
  worker_.stop_tasks_of(name);
  entry.task_configs.clear();
  worker_.stop_connector(name);
}

RestStatus StandaloneHerder::delete_connector(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  shut_down(*entry);
  connectors_.erase(name);
  spdlog::info("connect: connector {} deleted", name);
  return std::nullopt;
}

ConnectorStatus StandaloneHerder::status_of(const std::string& name, const ConnectorEntry& entry) {
  ConnectorStatus status;
  status.name = name;
  status.type = entry.plugin->type;
  status.connector = worker_.connector_state(name).value_or(StateInfo{});
  if (entry.target == Target::stopped)
    status.connector = StateInfo{TaskState::stopped, worker_.worker_id(), ""};
  for (size_t i = 0; i < entry.task_configs.size(); ++i) {
    const int id = static_cast<int>(i);
    status.tasks.push_back(TaskStatus{id, worker_.task_state({name, id}).value_or(StateInfo{})});
  }
  return status;
}

RestResult<ConnectorStatus> StandaloneHerder::connector_status(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  return status_of(name, *entry);
}

RestResult<std::vector<TaskInfo>> StandaloneHerder::task_configs(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  std::vector<TaskInfo> tasks;
  for (size_t i = 0; i < entry->task_configs.size(); ++i) {
    tasks.push_back(TaskInfo{static_cast<int>(i), entry->task_configs[i]});
  }
  return tasks;
}

RestStatus StandaloneHerder::pause_connector(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  if (entry->target == Target::stopped) return std::nullopt;  // Kafka: a stopped one stays stopped
  entry->target = Target::paused;
  worker_.set_paused(name, true);
  return std::nullopt;
}

RestStatus StandaloneHerder::resume_connector(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  const Target before = entry->target;
  entry->target = Target::started;
  if (before == Target::stopped) {
    start_connector(name, *entry);
    return std::nullopt;
  }
  worker_.set_paused(name, false);
  return std::nullopt;
}

RestStatus StandaloneHerder::stop_connector(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  shut_down(*entry);
  entry->target = Target::stopped;
  return std::nullopt;
}

RestResult<ConnectorStatus> StandaloneHerder::restart_connector(const std::string& name,
                                                                bool include_tasks,
                                                                bool only_failed) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  ConnectorStatus plan = status_of(name, *entry);
  if (entry->target == Target::stopped) return plan;
  // Kafka's RestartPlan: what restarts shows RESTARTING in the answer.
  const bool restart_connector = !only_failed || plan.connector.state == TaskState::failed;
  std::vector<int> tasks;
  for (const TaskStatus& task : plan.tasks) {
    if (include_tasks && (!only_failed || task.state.state == TaskState::failed)) {
      tasks.push_back(task.id);
    }
  }
  const std::string worker_id = worker_.worker_id();
  if (restart_connector) plan.connector = StateInfo{TaskState::restarting, worker_id, ""};
  for (int id : tasks)
    plan.tasks[static_cast<size_t>(id)].state = StateInfo{TaskState::restarting, worker_id, ""};

  if (restart_connector && include_tasks && tasks.size() == entry->task_configs.size()) {
    shut_down(*entry);  // the task configurations may change with the connector
    start_connector(name, *entry);
    return plan;
  }
  if (restart_connector) restart_connector_object(name, *entry);
  for (int id : tasks) start_task(name, *entry, id);
  return plan;
}

void StandaloneHerder::restart_connector_object(const std::string& name, ConnectorEntry& entry) {
  if (!worker_.start_connector(name, entry.config, entry.target == Target::paused)) return;
  if (entry.task_configs.empty()) {
    start_connector(name, entry);  // it had failed before making any task
  }
}

RestStatus StandaloneHerder::restart_task(const std::string& name, int task) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  if (task < 0 || static_cast<size_t>(task) >= entry->task_configs.size()) {
    return RestError{404, "Task " + name + "-" + std::to_string(task) + " not found"};
  }
  start_task(name, *entry, task);
  return std::nullopt;
}

RestResult<std::vector<ConnectorOffset>> StandaloneHerder::connector_offsets(
    const std::string& name) {
  ConnectorType type;
  {
    std::lock_guard lock(mutex_);
    ConnectorEntry* entry = find(name);
    if (entry == nullptr) return not_found(name);
    type = entry->plugin->type;
  }
  if (type == ConnectorType::sink) return sink_offsets(name);
  std::vector<ConnectorOffset> offsets;
  for (const auto& [key, value] : offsets_->entries_of(name)) {
    auto parsed_key = parse_offset_key(key);
    auto parsed_value = parse_offset_value(value);
    if (!parsed_key || !parsed_value) continue;
    offsets.push_back(ConnectorOffset{parsed_key->source_partition, *parsed_value});
  }
  return offsets;
}

RestResult<std::vector<ConnectorOffset>> StandaloneHerder::sink_offsets(const std::string& name) {
  auto offsets = list_group_offsets(
      client_settings(settings_.properties, {}, ClientKind::admin, {}), sink_group_id(name));
  if (!offsets.is_ok()) return RestError{500, offsets.status().message()};
  return std::move(*offsets);
}

// KIP-875: offsets change only while the connector is STOPPED.
RestResult<ConnectorType> StandaloneHerder::stopped_connector_type(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  if (entry->target != Target::stopped) {
    return RestError{400,
                     "Connectors must be in the STOPPED state before their offsets can be "
                     "modified. This can be done for the specified connector by issuing a "
                     "'PUT' request to the '/connectors/" +
                         name + "/stop' endpoint"};
  }
  return entry->plugin->type;
}

RestStatus StandaloneHerder::alter_connector_offsets(const std::string& name,
                                                     const std::vector<ConnectorOffset>& offsets) {
  auto stopped = stopped_connector_type(name);
  if (const auto* error = std::get_if<RestError>(&stopped)) return *error;
  const ConnectorType type = std::get<ConnectorType>(stopped);
  if (type == ConnectorType::sink) return alter_sink_offsets(name, offsets, false);
  std::vector<std::pair<std::string, std::optional<std::string>>> batch;
  for (const ConnectorOffset& offset : offsets) {
    batch.emplace_back(offset_key(name, offset.partition),
                       offset.offset ? std::optional(offset_value(*offset.offset)) : std::nullopt);
  }
  if (Status stored = offsets_->put(batch); !stored) return RestError{500, stored.message()};
  return std::nullopt;
}

RestStatus StandaloneHerder::alter_sink_offsets(const std::string& name,
                                                const std::vector<ConnectorOffset>& offsets,
                                                bool reset) {
  const Properties admin = client_settings(settings_.properties, {}, ClientKind::admin, {});
  Status done = reset ? reset_group_offsets(admin, sink_group_id(name))
                      : alter_group_offsets(admin, sink_group_id(name), offsets);
  if (!done) {
    return RestError{done.code() == Errc::invalid_value ? 400 : 500, done.message()};
  }
  return std::nullopt;
}

RestStatus StandaloneHerder::reset_connector_offsets(const std::string& name) {
  auto stopped = stopped_connector_type(name);
  if (const auto* error = std::get_if<RestError>(&stopped)) return *error;
  const ConnectorType type = std::get<ConnectorType>(stopped);
  if (type == ConnectorType::sink) return alter_sink_offsets(name, {}, true);
  std::vector<std::pair<std::string, std::optional<std::string>>> batch;
  for (const auto& [key, value] : offsets_->entries_of(name)) batch.emplace_back(key, std::nullopt);
  if (Status stored = offsets_->put(batch); !stored) return RestError{500, stored.message()};
  return std::nullopt;
}

RestResult<ConfigInfos> StandaloneHerder::validate(const std::string& plugin_class,
                                                   const Properties& config) {
  const ConnectorPlugin* plugin = find_connector_plugin(plugin_class);
  if (plugin == nullptr) {
    return RestError{400,
                     "Failed to find any class that implements Connector and which name "
                     "matches " +
                         plugin_class};
  }
  return validate_connector_config(*plugin, config);
}

}  // namespace sluice::connect
