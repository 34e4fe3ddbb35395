#pragma once
// What the source and sink runners share: the thread with its pause, resume
// and stop, the state reports, the task's metrics (task_metrics.h), and
// Kafka's RetryWithToleranceOperator for records that fail a stage:
// retriable failures tried again within errors.retry.timeout
// (retry_operator.h), then errors.tolerance.

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/result.h"
#include "connect/runtime/kafka_clients.h"
#include "connect/runtime/retry_operator.h"
#include "connect/runtime/task_metrics.h"
#include "connect/runtime/task_runner.h"

namespace sluice::connect {

// Kafka's Stage names, as error logs and DLQ context headers print them.
enum class Stage {
  task_poll,
  task_put,
  transformation,
  key_converter,
  value_converter,
  header_converter,
  kafka_produce,
  kafka_consume
};
const char* stage_name(Stage stage);

class TaskThread : public TaskRunner {
 public:
  TaskThread(RunnerSettings settings, StateListener listener, ConnectorType type)
      : settings_(std::move(settings)),
        metrics_(settings_.task.connector, settings_.task.task, type),
        retry_({settings_.task.retry_timeout_ms, settings_.task.retry_max_delay_ms}, metrics_.get(),
               [this](std::chrono::milliseconds limit) { return wait_unless_stopping(limit); }),
        listener_(std::move(listener)) {}
  ~TaskThread() override { join(); }

  void start(bool paused) override {
    paused_ = paused;
    thread_ = std::thread([this] { run(); });
  }
  void pause() override {
    std::lock_guard lock(mutex_);
    paused_ = true;
    wake_.notify_all();
  }
  void resume() override {
    std::lock_guard lock(mutex_);
    paused_ = false;
    wake_.notify_all();
  }
  void stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      wake_.notify_all();
    }
    join();
  }

 protected:
  virtual void run() = 0;

  // The loop's controls, read once per round: whether to stop, and whether
  // paused. Each change of `paused` is reported (PAUSED, RUNNING again).
  struct Controls {
    bool stop = false;
    bool paused = false;
  };
  Controls controls() {
    std::unique_lock lock(mutex_);
    const bool changed = paused_ != reported_paused_;
    reported_paused_ = paused_;
    const Controls now{stopping_, paused_};
    lock.unlock();
    if (changed && !now.stop) report(now.paused ? TaskState::paused : TaskState::running);
    return now;
  }
  bool stopping() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }
  // Waits up to `limit`, or until told to stop, pause or resume.
  void idle(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, limit, [&] { return stopping_ || paused_ != reported_paused_; });
  }
  // Waits up to `limit` unless told to stop; false when stopping.
  bool wait_unless_stopping(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, limit, [&] { return stopping_; });
    return !stopping_;
  }
  // The state to report first: PAUSED for a task started paused.
  TaskState initial_state() {
    std::lock_guard lock(mutex_);
    reported_paused_ = paused_;
    return paused_ ? TaskState::paused : TaskState::running;
  }

  void report(TaskState state, const std::string& trace = "") {
    metrics_.get().set_status(state);
    listener_(state, trace);
  }
  void fail(const std::string& trace) {
    spdlog::error("connect: task {}-{} failed: {}", settings_.task.connector, settings_.task.task,
                  trace);
    report(TaskState::failed, trace);
  }

  // A record failed `stage` (after its retries): with errors.tolerance=all
  // it is skipped (and logged with errors.log.enable); otherwise the task
  // fails with Kafka's message. Returns whether the task goes on. Counted in
  // the task-error-metrics.
  // `fail_task` false: the caller fails the task itself (later).
  bool tolerate(Stage stage, const Status& error, const std::string& record_text,
                bool fail_task = true) {
    TaskMetrics& counts = metrics_.get();
    // A retriable failure's attempts were counted as they failed.
    if (!is_retriable(error)) counts.total_record_failures.add();
    counts.total_record_errors.add();
    if (settings_.task.log_errors) counts.total_errors_logged.add();
    if (settings_.task.log_errors || !settings_.task.tolerate_all_errors) {
      spdlog::error(
          "connect: error encountered in task {}-{}. Executing stage '{}': {}{}",
          settings_.task.connector, settings_.task.task, stage_name(stage), error.message(),
          settings_.task.log_error_messages ? ", where the record is " + record_text : "");
    }
    if (settings_.task.tolerate_all_errors) {
      counts.total_records_skipped.add();
      return true;
    }
    if (fail_task) {
      fail("Tolerance exceeded in error handler: " + std::string(stage_name(stage)) + ": " +
           error.message());
    }
    return false;
  }

  // The connector's transformation chain and converters; false (the task
  // FAILED, saying why) when either is invalid.
  bool set_up_records(TransformationChain& chain, TaskConverters& converters);
  // A client of `kind` with the worker's and the connector's settings over
  // `base`, this runner as its opaque, and what `customize` adds
  // (callbacks); null (the task FAILED) when it cannot be made.
  RdKafka make_task_client(ClientKind kind, const Properties& base,
                           const std::function<void(rd_kafka_conf_t*)>& customize = {});

  RunnerSettings settings_;
  RegisteredTaskMetrics metrics_;
  RetryOperator retry_;  // the stages' retries (errors.retry.*)

 private:
  void join() {
    if (thread_.joinable()) thread_.join();
  }

  StateListener listener_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool paused_ = false;
  bool stopping_ = false;
  bool reported_paused_ = false;
  std::thread thread_;
};

}  // namespace sluice::connect
