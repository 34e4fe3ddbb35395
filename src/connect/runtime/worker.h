#pragma once
// What runs in this process (Kafka's Worker): Connector objects and task
// runners, started and stopped on a herder's word, and their states. Both
// herders use it: the standalone one for every connector it knows, the
// distributed one for what the group assigned to this worker. The worker
// decides nothing about configurations or placement.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "connect/connector.h"
#include "connect/runtime/herder.h"
#include "connect/runtime/offset_store.h"
#include "connect/runtime/task_runner.h"
#include "connect/runtime/worker_settings.h"

namespace sluice::connect {

// A connector's task: connector name and index (Kafka's ConnectorTaskId).
using TaskId = std::pair<std::string, int>;

class Worker {
 public:
  // Told every state change of a connector (task nullopt) or a task, from
  // whichever thread made it (a task's own thread for its states).
  using StatusListener = std::function<void(const std::string& connector, std::optional<int> task,
                                            const StateInfo& state)>;

  Worker(WorkerSettings settings, OffsetStore& offsets, std::string worker_id);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  const WorkerSettings& settings() const { return settings_; }
  std::string worker_id() const;
  void set_worker_id(std::string worker_id);
  void set_status_listener(StatusListener listener);

  // Starts the Connector object (stopping one of that name first). False
  // when it failed to start (its state says why).
  bool start_connector(const std::string& name, const Properties& config, bool paused);
  // The running connector's task configurations (at most tasks.max); empty
  // when it is not running.
  std::vector<Properties> task_configs(const std::string& name);
  void stop_connector(const std::string& name);
  bool has_connector(const std::string& name);

  // Starts a task's runner (stopping one of that id first).
  void start_task(const TaskId& id, const Properties& connector_config,
                  const Properties& task_config, bool paused);
  void stop_task(const TaskId& id);
  bool has_task(const TaskId& id);
  // Every task of `name` this worker runs.
  void stop_tasks_of(const std::string& name);

  // Pauses or resumes the connector and its tasks here.
  void set_paused(const std::string& name, bool paused);

  std::optional<StateInfo> connector_state(const std::string& name);
  std::optional<StateInfo> task_state(const TaskId& id);
  std::vector<std::string> connectors();
  std::vector<TaskId> tasks();

  void stop_all();

 private:
  struct StateCell {
    std::mutex mutex;
    StateInfo state;
  };
  struct ConnectorRun {
    const ConnectorPlugin* plugin = nullptr;
    Properties config;
    std::unique_ptr<Connector> connector;
    StateInfo state;
  };
  struct TaskRun {
    std::shared_ptr<StateCell> state = std::make_shared<StateCell>();
    std::unique_ptr<TaskRunner> runner;
  };

  void set_connector_state(const std::string& name, ConnectorRun& run, StateInfo state);
  void notify(const std::string& connector, std::optional<int> task, const StateInfo& state);

  WorkerSettings settings_;
  OffsetStore& offsets_;
  // Held while connectors and tasks are started or stopped; runners report
  // through their StateCell and the listener only, never under this lock.
  mutable std::mutex mutex_;
  std::string worker_id_;
  StatusListener listener_;
  std::map<std::string, ConnectorRun> connectors_;
  std::map<TaskId, TaskRun> tasks_;
};

int tasks_max_of(const Properties& config);

}  // namespace sluice::connect
