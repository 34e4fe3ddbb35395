#pragma once
// The standalone worker's Herder: connectors run in this process only (on a
// Worker), their
// configurations live in memory (given again at each start, on the command
// line or through the REST API), source offsets in the offsets file. Sink
// offsets are the group `connect-<connector>`'s committed offsets.

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connect/runtime/herder.h"
#include "connect/runtime/offset_store.h"
#include "connect/runtime/worker.h"
#include "connect/runtime/worker_settings.h"

namespace sluice::connect {

class StandaloneHerder final : public Herder {
 public:
  StandaloneHerder(WorkerSettings settings, std::unique_ptr<OffsetStore> offsets,
                   std::string worker_id);
  ~StandaloneHerder() override;

  // Stops every connector (tasks commit what was delivered); for shutdown.
  void stop_all();

  std::string worker_id() const override { return worker_.worker_id(); }
  // The REST listener's address once it is bound (port 0 picks one); before
  // any connector starts.
  void set_worker_id(std::string worker_id) { worker_.set_worker_id(std::move(worker_id)); }
  std::string kafka_cluster_id() const override;

  std::vector<std::string> connectors() override;
  RestResult<ConnectorInfo> connector_info(const std::string& name) override;
  RestResult<PutResult> put_connector_config(const std::string& name, const Properties& config,
                                             bool allow_replace) override;
  RestStatus delete_connector(const std::string& name) override;
  RestResult<ConnectorStatus> connector_status(const std::string& name) override;
  RestResult<std::vector<TaskInfo>> task_configs(const std::string& name) override;
  RestStatus pause_connector(const std::string& name) override;
  RestStatus resume_connector(const std::string& name) override;
  RestStatus stop_connector(const std::string& name) override;
  RestResult<ConnectorStatus> restart_connector(const std::string& name, bool include_tasks,
                                                bool only_failed) override;
  RestStatus restart_task(const std::string& name, int task) override;
  RestResult<std::vector<ConnectorOffset>> connector_offsets(const std::string& name) override;
  RestStatus alter_connector_offsets(const std::string& name,
                                     const std::vector<ConnectorOffset>& offsets) override;
  RestStatus reset_connector_offsets(const std::string& name) override;
  RestResult<ConfigInfos> validate(const std::string& plugin_class,
                                   const Properties& config) override;

 private:
  enum class Target { started, paused, stopped };  // what the user asked for

  struct ConnectorEntry {
    Properties config;
    const ConnectorPlugin* plugin = nullptr;
    Target target = Target::started;
    std::vector<Properties> task_configs;  // empty while stopped or failed
  };

  ConnectorEntry* find(const std::string& name);
  void start_connector(const std::string& name, ConnectorEntry& entry);
  void start_task(const std::string& name, ConnectorEntry& entry, int index);
  // The Connector object alone (Kafka's plain restart): its tasks keep running.
  void restart_connector_object(const std::string& name, ConnectorEntry& entry);
  void shut_down(ConnectorEntry& entry);
  ConnectorStatus status_of(const std::string& name, const ConnectorEntry& entry);
  ConnectorInfo info_of(const std::string& name, const ConnectorEntry& entry) const;
  RestResult<std::vector<ConnectorOffset>> sink_offsets(const std::string& name);
  RestResult<ConnectorType> stopped_connector_type(const std::string& name);
  RestStatus alter_sink_offsets(const std::string& name,
                                const std::vector<ConnectorOffset>& offsets, bool reset);

  WorkerSettings settings_;
  std::unique_ptr<OffsetStore> offsets_;
  Worker worker_;  // after offsets_, which it uses
  // One REST call at a time changes connectors; runners' threads report
  // to the worker only, so stopping a runner under this lock cannot wait
  // on it.
  std::mutex mutex_;
  std::map<std::string, ConnectorEntry> connectors_;
};

}  // namespace sluice::connect
