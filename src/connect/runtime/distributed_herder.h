#pragma once
// The distributed worker's Herder (Kafka's DistributedHerder): workers with
// the same group.id share connectors through the broker. Configurations
// live in config.storage.topic (every worker reads it; only the group's
// leader writes it, other workers forward the REST calls that change it to
// the leader's URL), source offsets in offset.storage.topic
// (KafkaOffsetStore), states in status.storage.topic (every worker writes
// what it runs; GET status on any worker reads the topic). The group's
// leader spreads connectors and tasks over the members (assignor.h); a
// member stops what it is told to give up, starts what it is given, and
// keeps the rest running (KIP-415).
//
// Threads: the herder's own thread takes part in the group (join, sync,
// heartbeats), follows the config topic and starts and stops this worker's
// connectors and tasks; REST calls read the state the config topic built
// (under `mutex_`) and, on the leader, write records and wait until they
// are read back, so nothing is shown before it is in the topic.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "connect/runtime/assignor.h"
#include "connect/runtime/connect_records.h"
#include "connect/runtime/herder.h"
#include "connect/runtime/internal_topics.h"
#include "connect/runtime/worker.h"
#include "connect/runtime/worker_settings.h"
#include "net/group_member.h"

namespace sluice::connect {

struct DistributedStores {
  std::unique_ptr<TopicReader> config;
  std::unique_ptr<TopicReader> status;
  std::unique_ptr<TopicWriter> writer;  // config and status records
  std::unique_ptr<KafkaOffsetStore> offsets;
};

class DistributedHerder final : public Herder {
 public:
  // `worker_id`: host:port (statuses), `url`: http://host:port/ (forwarding).
  DistributedHerder(DistributedSettings settings, DistributedStores stores, std::string worker_id,
                    std::string url);
  ~DistributedHerder() override;

  // Reads the config topic and starts the herder's thread (joins the group).
  Status start();
  // Stops this worker's tasks (they commit) and connectors, then leaves the
  // group so the others take its work at once.
  void stop();

  std::string worker_id() const override { return worker_id_; }
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
  struct Leader {
    bool known = false;
    bool me = false;
    std::string url;
  };

  // The herder's thread.
  void run();
  void rebalance();
  std::map<std::string, std::vector<uint8_t>> assign_group(
      const std::string& protocol, const std::vector<net::GroupMember::JoinedMember>& members);
  void apply_assignment(const ConnectAssignment& assignment);
  void reconcile();
  void start_connector_here(const std::string& name);
  void start_task_here(const TaskId& id);
  void handle_restarts(const std::vector<RestartRequest>& restarts);
  void write_status(const std::string& connector, std::optional<int> task, const StateInfo& state);

  // Config topic reading (any thread; one reader at a time).
  Status read_config_to_end();
  void poll_config(std::chrono::milliseconds max_wait);
  void apply_config_record(int64_t offset, const std::string& key,
                           const std::optional<std::string>& value);
  // Status topic into statuses_.
  void read_statuses();

  // REST helpers.
  Leader leader() const;
  // Writes config records as the leader and waits until they are read
  // back; 500 when the write failed.
  RestStatus write_config(
      const std::vector<std::pair<std::string, std::optional<std::string>>>& records);
  // The REST call sent to `base_url` (the leader's or a worker's); its
  // answer's status, or the error it answered.
  RestResult<int> forward(const std::string& base_url, const std::string& method,
                          const std::string& path, const std::string& body);
  RestResult<int> forward_to_leader(const std::string& method, const std::string& path,
                                    const std::string& body);
  std::vector<Properties> generate_task_configs(const Properties& config);
  std::optional<ConnectorSnapshot> snapshot_of(const std::string& name);
  ConnectorStatus status_of(const std::string& name, const ConnectorSnapshot& connector);
  RestStatus change_target(const std::string& name, TargetState target, const char* verb);

  DistributedSettings settings_;
  DistributedStores stores_;
  std::string worker_id_;
  std::string url_;
  Worker worker_;
  net::GroupMember member_;

  mutable std::mutex mutex_;  // snapshot_, config_version_, leader_, generation_
  ConfigSnapshot snapshot_;
  uint64_t config_version_ = 0;       // counts applied records
  int64_t work_changed_offset_ = -1;  // the last record that added or removed work
  Leader leader_;
  int32_t generation_ = -1;
  bool initial_read_done_ = false;  // restart records before it are history

  std::mutex config_read_mutex_;  // the config reader
  std::mutex write_mutex_;        // the leader's writes, one at a time
  std::mutex status_mutex_;       // the status reader and statuses_
  std::map<std::string, StateInfo> statuses_;

  // The herder thread's own state.
  Allocation held_;
  AssignorMemory memory_;
  int64_t assigned_config_offset_ = -1;  // the leader's config offset of the last assignment
  std::map<std::string, Properties> started_connectors_;
  std::map<TaskId, std::pair<Properties, Properties>> started_tasks_;
  std::map<std::string, TargetState> applied_targets_;
  uint64_t reconciled_version_ = 0;
  bool need_rejoin_ = true;
  std::optional<std::chrono::steady_clock::time_point> rejoin_at_;
  std::chrono::steady_clock::time_point last_heartbeat_{};

  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace sluice::connect
