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

int tasks_max(const Properties& config) {
  const int value = std::atoi(value_of(config, "tasks.max").value_or("1").c_str());
  return std::max(value, 1);
}

}  // namespace

StandaloneHerder::StandaloneHerder(WorkerSettings settings, std::unique_ptr<OffsetStore> offsets,
                                   std::string worker_id)
    : settings_(std::move(settings)),
      offsets_(std::move(offsets)),
      worker_id_(std::move(worker_id)) {}

StandaloneHerder::~StandaloneHerder() { stop_all(); }

void StandaloneHerder::stop_all() {
  std::lock_guard lock(mutex_);
  for (auto& [name, entry] : connectors_) shut_down(entry);
}

std::string StandaloneHerder::kafka_cluster_id() const {
  auto settings = client_settings(settings_.properties, {}, ClientKind::admin, {});
  auto conf = make_client_conf(settings);
  if (!conf.is_ok()) return "";
  auto admin = make_client(std::move(*conf), ClientKind::admin);
  if (!admin.is_ok()) return "";
  char* id = rd_kafka_clusterid(admin->get(), 5'000);
  std::string text = id ? id : "";
  if (id) rd_kafka_mem_free(admin->get(), id);
  return text;
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
  return ConnectorInfo{name, entry.config, static_cast<int>(entry.tasks.size()),
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
  entry.connector = entry.plugin->make();
  entry.state = StateInfo{TaskState::running, worker_id_, ""};
  if (Status started = entry.connector->start(entry.config); !started) {
    entry.state = StateInfo{TaskState::failed, worker_id_, started.message()};
    spdlog::error("connect: connector {} failed to start: {}", name, started.message());
    return;
  }
  const std::vector<Properties> configs = entry.connector->task_configs(tasks_max(entry.config));
  entry.tasks.clear();
  entry.tasks.resize(configs.size());
  for (size_t i = 0; i < configs.size(); ++i) {
    entry.tasks[i].config = configs[i];
    start_task(name, entry, static_cast<int>(i));
  }
  if (entry.target == Target::paused) entry.state.state = TaskState::paused;
}

void StandaloneHerder::start_task(const std::string& name, ConnectorEntry& entry, int index) {
  TaskEntry& task = entry.tasks[static_cast<size_t>(index)];
  {
    std::lock_guard state_lock(task.state->mutex);
    task.state->state = StateInfo{TaskState::unassigned, worker_id_, ""};
  }
  RunnerSettings runner;
  runner.task = task_settings(name, index, entry.config, task.config);
  runner.worker = settings_.properties;
  runner.converters = settings_.converters;
  runner.worker_id = worker_id_;
  runner.offset_flush_interval = settings_.offset_flush_interval;
  runner.shutdown_timeout = settings_.shutdown_timeout;
  auto cell = task.state;
  StateListener listener = [cell, worker = worker_id_](TaskState state, const std::string& trace) {
    std::lock_guard state_lock(cell->mutex);
    cell->state = StateInfo{state, worker, trace};
  };
  if (entry.plugin->type == ConnectorType::source) {
    task.runner = make_source_runner(std::move(runner), entry.connector->make_source_task(),
                                     *offsets_, std::move(listener));
  } else {
    task.runner =
        make_sink_runner(std::move(runner), entry.connector->make_sink_task(), std::move(listener));
  }
  task.runner->start(entry.target == Target::paused);
}

void StandaloneHerder::stop_tasks(ConnectorEntry& entry) {
  for (TaskEntry& task : entry.tasks) {
    if (task.runner) task.runner->stop();
    task.runner.reset();
  }
}

void StandaloneHerder::shut_down(ConnectorEntry& entry) {
  stop_tasks(entry);
  entry.tasks.clear();
  if (entry.connector) entry.connector->stop();
  entry.connector.reset();
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
  status.connector = entry.state;
  if (entry.target == Target::stopped)
    status.connector = StateInfo{TaskState::stopped, worker_id_, ""};
  for (size_t i = 0; i < entry.tasks.size(); ++i) {
    std::lock_guard state_lock(entry.tasks[i].state->mutex);
    status.tasks.push_back(TaskStatus{static_cast<int>(i), entry.tasks[i].state->state});
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
  for (size_t i = 0; i < entry->tasks.size(); ++i) {
    tasks.push_back(TaskInfo{static_cast<int>(i), entry->tasks[i].config});
  }
  return tasks;
}

RestStatus StandaloneHerder::pause_connector(const std::string& name) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  if (entry->target == Target::stopped) return std::nullopt;  // Kafka: a stopped one stays stopped
  entry->target = Target::paused;
  if (entry->state.state == TaskState::running) entry->state.state = TaskState::paused;
  for (TaskEntry& task : entry->tasks) {
    if (task.runner) task.runner->pause();
  }
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
  if (entry->state.state == TaskState::paused) entry->state.state = TaskState::running;
  for (TaskEntry& task : entry->tasks) {
    if (task.runner) task.runner->resume();
  }
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
  if (restart_connector) plan.connector = StateInfo{TaskState::restarting, worker_id_, ""};
  for (int id : tasks)
    plan.tasks[static_cast<size_t>(id)].state = StateInfo{TaskState::restarting, worker_id_, ""};

  if (restart_connector && include_tasks && tasks.size() == entry->tasks.size()) {
    shut_down(*entry);  // the task configurations may change with the connector
    start_connector(name, *entry);
    return plan;
  }
  if (restart_connector) restart_connector_object(name, *entry);
  for (int id : tasks) {
    if (entry->tasks[static_cast<size_t>(id)].runner)
      entry->tasks[static_cast<size_t>(id)].runner->stop();
    start_task(name, *entry, id);
  }
  return plan;
}

void StandaloneHerder::restart_connector_object(const std::string& name, ConnectorEntry& entry) {
  if (entry.connector) entry.connector->stop();
  entry.connector = entry.plugin->make();
  entry.state = StateInfo{TaskState::running, worker_id_, ""};
  if (Status started = entry.connector->start(entry.config); !started) {
    entry.state = StateInfo{TaskState::failed, worker_id_, started.message()};
    spdlog::error("connect: connector {} failed to start: {}", name, started.message());
    return;
  }
  if (entry.tasks.empty()) {
    start_connector(name, entry);  // it had failed before making any task
    return;
  }
  if (entry.target == Target::paused) entry.state.state = TaskState::paused;
}

RestStatus StandaloneHerder::restart_task(const std::string& name, int task) {
  std::lock_guard lock(mutex_);
  ConnectorEntry* entry = find(name);
  if (entry == nullptr) return not_found(name);
  if (task < 0 || static_cast<size_t>(task) >= entry->tasks.size()) {
    return RestError{404, "Task " + name + "-" + std::to_string(task) + " not found"};
  }
  if (entry->tasks[static_cast<size_t>(task)].runner) {
    entry->tasks[static_cast<size_t>(task)].runner->stop();
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
