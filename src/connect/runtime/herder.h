#pragma once
// What the REST API asks of a worker (Kafka's Herder): the connectors it
// knows, their configurations, states, tasks and offsets, and the commands
// that change them. The standalone worker implements it; the REST server
// only translates HTTP to these calls, so it is tested against a fake.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"
#include "connect/config.h"
#include "connect/connector.h"
#include "connect/data.h"

namespace sluice::connect {

// A failed call as the REST API answers it: Kafka Connect's status code and
// message ({"error_code": 404, "message": "Connector x not found"}).
struct RestError {
  int status = 500;
  std::string message;
};

template <class T>
using RestResult = std::variant<T, RestError>;
using RestStatus = std::optional<RestError>;  // nullopt: success

enum class TaskState { unassigned, running, paused, stopped, failed, restarting };
const char* task_state_name(TaskState state);  // "RUNNING", ...

struct StateInfo {
  TaskState state = TaskState::unassigned;
  std::string worker_id;
  std::string trace;  // why it failed (FAILED only)
};

struct TaskStatus {
  int id = 0;
  StateInfo state;
};

struct ConnectorStatus {
  std::string name;
  StateInfo connector;
  std::vector<TaskStatus> tasks;
  ConnectorType type = ConnectorType::source;
};

struct ConnectorInfo {
  std::string name;
  Properties config;
  int task_count = 0;
  ConnectorType type = ConnectorType::source;
};

struct TaskInfo {
  int id = 0;
  Properties config;
};

struct PutResult {
  bool created = false;  // 201 rather than 200
  ConnectorInfo info;
};

// One entry of GET /connectors/{name}/offsets: a source partition and offset
// (schemaless maps), or for a sink {"kafka_topic", "kafka_partition"} and
// {"kafka_offset"}. A null offset in an alteration removes the entry.
struct ConnectorOffset {
  Map partition;
  std::optional<Map> offset;
};

// Kafka's ConfigInfos: the answer of config validation.
struct ConfigValueInfo {
  std::string name;
  std::string type;  // STRING, BOOLEAN, INT, LIST, ... as Kafka names ConfigDef types
  bool required = false;
  std::optional<std::string> default_value;
  std::string documentation;
  std::string group;
  std::optional<std::string> value;
  std::vector<std::string> errors;
};
struct ConfigInfos {
  std::string name;  // the connector class
  int error_count = 0;
  std::vector<std::string> groups;
  std::vector<ConfigValueInfo> configs;
};

class Herder {
 public:
  virtual ~Herder() = default;

  virtual std::string worker_id() const = 0;  // "host:port" of the REST listener
  virtual std::string kafka_cluster_id() const = 0;

  virtual std::vector<std::string> connectors() = 0;
  virtual RestResult<ConnectorInfo> connector_info(const std::string& name) = 0;
  // Creates or (with allow_replace) replaces; 409 when it exists and may not
  // be replaced, 400 with the validation's messages when the config is invalid.
  virtual RestResult<PutResult> put_connector_config(const std::string& name,
                                                     const Properties& config,
                                                     bool allow_replace) = 0;
  virtual RestStatus delete_connector(const std::string& name) = 0;
  virtual RestResult<ConnectorStatus> connector_status(const std::string& name) = 0;
  virtual RestResult<std::vector<TaskInfo>> task_configs(const std::string& name) = 0;

  virtual RestStatus pause_connector(const std::string& name) = 0;
  virtual RestStatus resume_connector(const std::string& name) = 0;
  virtual RestStatus stop_connector(const std::string& name) = 0;
  // Kafka's restart?includeTasks=&onlyFailed=: the status after the restart
  // was requested (what is restarted shows RESTARTING).
  virtual RestResult<ConnectorStatus> restart_connector(const std::string& name, bool include_tasks,
                                                        bool only_failed) = 0;
  virtual RestStatus restart_task(const std::string& name, int task) = 0;

  virtual RestResult<std::vector<ConnectorOffset>> connector_offsets(const std::string& name) = 0;
  // KIP-875: only for a STOPPED connector (400 otherwise).
  virtual RestStatus alter_connector_offsets(const std::string& name,
                                             const std::vector<ConnectorOffset>& offsets) = 0;
  virtual RestStatus reset_connector_offsets(const std::string& name) = 0;

  // Validation of a configuration for `plugin_class` (PUT
  // /connector-plugins/{plugin}/config/validate); 400 for an unknown plugin.
  virtual RestResult<ConfigInfos> validate(const std::string& plugin_class,
                                           const Properties& config) = 0;
};

}  // namespace sluice::connect
