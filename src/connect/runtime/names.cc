// The names Kafka Connect prints for its enums (REST, logs, DLQ headers).

#include "connect/connector.h"
#include "connect/runtime/herder.h"
#include "connect/runtime/task_thread.h"

namespace sluice::connect {

const char* connector_type_name(ConnectorType type) {
  return type == ConnectorType::source ? "source" : "sink";
}

const char* task_state_name(TaskState state) {
  switch (state) {
    case TaskState::unassigned:
      return "UNASSIGNED";
    case TaskState::running:
      return "RUNNING";
    case TaskState::paused:
      return "PAUSED";
    case TaskState::stopped:
      return "STOPPED";
    case TaskState::failed:
      return "FAILED";
    case TaskState::restarting:
      return "RESTARTING";
  }
  return "UNASSIGNED";
}

const char* stage_name(Stage stage) {
  switch (stage) {
    case Stage::task_poll:
      return "TASK_POLL";
    case Stage::task_put:
      return "TASK_PUT";
    case Stage::transformation:
      return "TRANSFORMATION";
    case Stage::key_converter:
      return "KEY_CONVERTER";
    case Stage::value_converter:
      return "VALUE_CONVERTER";
    case Stage::header_converter:
      return "HEADER_CONVERTER";
    case Stage::kafka_produce:
      return "KAFKA_PRODUCE";
    case Stage::kafka_consume:
      return "KAFKA_CONSUME";
  }
  return "TASK_POLL";
}

}  // namespace sluice::connect
