#pragma once
// One running task: a thread that moves records between a connector's task
// and Kafka (Kafka's WorkerSourceTask / WorkerSinkTask). A source runner
// polls the task, transforms and converts each record and produces it; the
// offsets of records Kafka acknowledged are committed to the offset store
// every `offset.flush.interval.ms` and when the task stops. A sink runner
// consumes as the group `connect-<connector>`, converts and transforms, puts
// the records into the task, and commits the consumed offsets after the
// task's flush. Records that fail conversion or a transform fail the task
// unless errors.tolerance=all (then they are skipped, logged, and for sinks
// sent to the dead-letter topic).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "connect/connector.h"
#include "connect/runtime/connector_config.h"
#include "connect/runtime/herder.h"
#include "connect/runtime/offset_store.h"

namespace sluice::connect {

struct RunnerSettings {
  TaskSettings task;
  Properties worker;  // the worker's settings (client settings, converters)
  ConverterDefaults converters;
  std::string worker_id;
  std::chrono::milliseconds offset_flush_interval{60'000};
  std::chrono::milliseconds shutdown_timeout{5'000};  // task.shutdown.graceful.timeout.ms
  // Exactly-once sources (KIP-618): the producer's transactional.id, and
  // the offsets topic its offsets go to in the same transaction.
  std::optional<std::string> transactional_id;
  std::string offsets_topic;
};

// Reports a task's state changes to whoever shows them (the herder's status).
using StateListener = std::function<void(TaskState state, const std::string& trace)>;

class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  // Starts the thread; the first state reported is RUNNING (or PAUSED).
  virtual void start(bool paused) = 0;
  virtual void pause() = 0;
  virtual void resume() = 0;
  // Asks the thread to stop, commits what was delivered, and joins it.
  virtual void stop() = 0;
};

std::unique_ptr<TaskRunner> make_source_runner(RunnerSettings settings,
                                               std::unique_ptr<SourceTask> task,
                                               OffsetStore& offsets, StateListener listener);
std::unique_ptr<TaskRunner> make_sink_runner(RunnerSettings settings,
                                             std::unique_ptr<SinkTask> task,
                                             StateListener listener);

}  // namespace sluice::connect
