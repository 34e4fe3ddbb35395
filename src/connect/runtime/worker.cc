#include "connect/runtime/worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>

namespace sluice::connect {

int tasks_max_of(const Properties& config) {
  auto it = config.find("tasks.max");
  const int value = it == config.end() ? 1 : std::atoi(it->second.c_str());
  return std::max(value, 1);
}

Worker::Worker(WorkerSettings settings, OffsetStore& offsets, std::string worker_id)
    : settings_(std::move(settings)), offsets_(offsets), worker_id_(std::move(worker_id)) {}

Worker::~Worker() { stop_all(); }

std::string Worker::worker_id() const {
  std::lock_guard lock(mutex_);
  return worker_id_;
}

void Worker::set_worker_id(std::string worker_id) {
  std::lock_guard lock(mutex_);
  worker_id_ = std::move(worker_id);
}

void Worker::set_status_listener(StatusListener listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void Worker::notify(const std::string& connector, std::optional<int> task, const StateInfo& state) {
  if (listener_) listener_(connector, task, state);
}

void Worker::set_connector_state(const std::string& name, ConnectorRun& run, StateInfo state) {
  run.state = std::move(state);
  notify(name, std::nullopt, run.state);
}

bool Worker::start_connector(const std::string& name, const Properties& config, bool paused) {
  std::lock_guard lock(mutex_);
  if (auto it = connectors_.find(name); it != connectors_.end()) {
    if (it->second.connector) it->second.connector->stop();
    connectors_.erase(it);
  }
  auto class_name = config.find("connector.class");
  const ConnectorPlugin* plugin =
      class_name == config.end() ? nullptr : find_connector_plugin(class_name->second);
  ConnectorRun& run = connectors_[name];
  run.plugin = plugin;
  run.config = config;
  if (plugin == nullptr) {
    set_connector_state(name, run,
                        StateInfo{TaskState::failed, worker_id_, "unknown connector class"});
    return false;
  }
  run.connector = plugin->make();
  if (Status started = run.connector->start(config); !started) {
    spdlog::error("connect: connector {} failed to start: {}", name, started.message());
    run.connector.reset();
    set_connector_state(name, run, StateInfo{TaskState::failed, worker_id_, started.message()});
    return false;
  }
  set_connector_state(name, run,
                      StateInfo{paused ? TaskState::paused : TaskState::running, worker_id_, ""});
  return true;
}

std::vector<Properties> Worker::task_configs(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = connectors_.find(name);
  if (it == connectors_.end() || !it->second.connector) return {};
  return it->second.connector->task_configs(tasks_max_of(it->second.config));
}

void Worker::stop_connector(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = connectors_.find(name);
  if (it == connectors_.end()) return;
  if (it->second.connector) it->second.connector->stop();
  connectors_.erase(it);
}

bool Worker::has_connector(const std::string& name) {
  std::lock_guard lock(mutex_);
  return connectors_.contains(name);
}

void Worker::start_task(const TaskId& id, const Properties& connector_config,
                        const Properties& task_config, bool paused) {
  std::lock_guard lock(mutex_);
  if (auto it = tasks_.find(id); it != tasks_.end()) {
    if (it->second.runner) it->second.runner->stop();
    tasks_.erase(it);
  }
  TaskRun& task = tasks_[id];
  auto class_name = connector_config.find("connector.class");
  const ConnectorPlugin* plugin =
      class_name == connector_config.end() ? nullptr : find_connector_plugin(class_name->second);
  if (plugin == nullptr) {
    task.state->state = StateInfo{TaskState::failed, worker_id_, "unknown connector class"};
    notify(id.first, id.second, task.state->state);
    return;
  }
  task.state->state = StateInfo{TaskState::unassigned, worker_id_, ""};
  RunnerSettings runner;
  runner.task = task_settings(id.first, id.second, connector_config, task_config);
  runner.worker = settings_.properties;
  runner.converters = settings_.converters;
  runner.worker_id = worker_id_;
  runner.offset_flush_interval = settings_.offset_flush_interval;
  runner.shutdown_timeout = settings_.shutdown_timeout;
  if (settings_.exactly_once_source && plugin->type == ConnectorType::source) {
    // Kafka's transactional id for a source task: a restarted or moved task
    // fences its previous instance with it.
    runner.transactional_id = settings_.group_id + "-" + id.first + "-" + std::to_string(id.second);
    runner.offsets_topic = settings_.offsets_topic;
  }
  StateListener listener = [cell = task.state, worker = worker_id_, notify_to = listener_, id](
                               TaskState state, const std::string& trace) {
    StateInfo info{state, worker, trace};
    {
      std::lock_guard state_lock(cell->mutex);
      cell->state = info;
    }
    if (notify_to) notify_to(id.first, id.second, info);
  };
  // A task needs no running Connector object (it may run on another
  // worker than its connector): a fresh instance makes it.
  std::unique_ptr<Connector> factory = plugin->make();
  if (plugin->type == ConnectorType::source) {
    task.runner = make_source_runner(std::move(runner), factory->make_source_task(), offsets_,
                                     std::move(listener));
  } else {
    task.runner =
        make_sink_runner(std::move(runner), factory->make_sink_task(), std::move(listener));
  }
  task.runner->start(paused);
}

void Worker::stop_task(const TaskId& id) {
  std::unique_ptr<TaskRunner> runner;
  {
    std::lock_guard lock(mutex_);
    auto it = tasks_.find(id);
    if (it == tasks_.end()) return;
    runner = std::move(it->second.runner);
    tasks_.erase(it);
  }
  if (runner) runner->stop();
}

bool Worker::has_task(const TaskId& id) {
  std::lock_guard lock(mutex_);
  return tasks_.contains(id);
}

void Worker::stop_tasks_of(const std::string& name) {
  std::vector<std::unique_ptr<TaskRunner>> runners;
  {
    std::lock_guard lock(mutex_);
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (it->first.first == name) {
        runners.push_back(std::move(it->second.runner));
        it = tasks_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& runner : runners) {
    if (runner) runner->stop();
  }
}

void Worker::set_paused(const std::string& name, bool paused) {
  std::lock_guard lock(mutex_);
  if (auto it = connectors_.find(name); it != connectors_.end() && it->second.connector) {
    const TaskState now = it->second.state.state;
    if (paused && now == TaskState::running) {
      set_connector_state(name, it->second, StateInfo{TaskState::paused, worker_id_, ""});
    } else if (!paused && now == TaskState::paused) {
      set_connector_state(name, it->second, StateInfo{TaskState::running, worker_id_, ""});
    }
  }
  for (auto& [id, task] : tasks_) {
    if (id.first != name || !task.runner) continue;
    if (paused) {
      task.runner->pause();
    } else {
      task.runner->resume();
    }
  }
}

std::optional<StateInfo> Worker::connector_state(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = connectors_.find(name);
  if (it == connectors_.end()) return std::nullopt;
  return it->second.state;
}

std::optional<StateInfo> Worker::task_state(const TaskId& id) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find(id);
  if (it == tasks_.end()) return std::nullopt;
  std::lock_guard state_lock(it->second.state->mutex);
  return it->second.state->state;
}

std::vector<std::string> Worker::connectors() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> names;
  for (const auto& [name, run] : connectors_) names.push_back(name);
  return names;
}

std::vector<TaskId> Worker::tasks() {
  std::lock_guard lock(mutex_);
  std::vector<TaskId> ids;
  for (const auto& [id, run] : tasks_) ids.push_back(id);
  return ids;
}

void Worker::stop_all() {
  std::vector<std::unique_ptr<TaskRunner>> runners;
  std::map<std::string, ConnectorRun> connectors;
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, task] : tasks_) runners.push_back(std::move(task.runner));
    tasks_.clear();
    connectors.swap(connectors_);
  }
  for (auto& runner : runners) {
    if (runner) runner->stop();
  }
  for (auto& [name, run] : connectors) {
    if (run.connector) run.connector->stop();
  }
}

}  // namespace sluice::connect
