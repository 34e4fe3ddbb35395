#pragma once
// Kafka Connect's per-task metrics (its connector-task-metrics,
// source-task-metrics, sink-task-metrics and task-error-metrics groups),
// exported in Prometheus' text format on the worker's REST port
// (`GET /metrics`) as `kafka_connect_<group>_<metric>` with the labels
// `connector` and `task`, e.g.
// `kafka_connect_source_task_metrics_source_record_poll_total{connector="x",task="0"}`.
//
// A task's thread records into its TaskMetrics with relaxed atomic adds (no
// lock, no lookup); a scrape reads them through a collector registered for
// the task's life in the worker's registry (base/metrics.h), so a deleted
// task's series go away with it. One task (connector, id) has one set of
// series: a restarted task's new runner replaces the old one's at once,
// even while the old one is still being torn down.
//
// Differences from Kafka's: averages and rates are over the task's life
// (Kafka's over a sliding window of about a minute), and `status` is one
// series per state with the value 1 for the current one (Prometheus has no
// string values).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "base/metrics.h"
#include "connect/connector.h"
#include "connect/runtime/herder.h"

namespace sluice::connect {

// A count only the task's thread adds to.
class TaskCounter {
 public:
  void add(int64_t amount = 1) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Observations of one quantity (a batch's size, a put's time): count, sum
// and maximum, for Kafka's -avg and -max.
class TaskStat {
 public:
  void record(int64_t value) noexcept {
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
    // One writer (the task's thread): a plain compare is enough.
    if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
  }
  int64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  int64_t max() const noexcept { return max_.load(std::memory_order_relaxed); }
  // NaN before the first observation, as Kafka's Avg and Max answer.
  double average() const noexcept;
  double max_or_nan() const noexcept;

 private:
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_{0};
  std::atomic<int64_t> max_{0};
};

// Milliseconds since `start`, for the -time-ms metrics.
inline int64_t elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

struct TaskMetrics {
  TaskMetrics(std::string connector_name, int task_id, ConnectorType task_type);
  TaskMetrics(const TaskMetrics&) = delete;
  TaskMetrics& operator=(const TaskMetrics&) = delete;

  const std::string connector;
  const int task;
  const ConnectorType type;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // connector-task-metrics
  std::atomic<int> status{static_cast<int>(TaskState::unassigned)};
  TaskStat batch_size;
  TaskStat offset_commit_time_ms;
  TaskCounter offset_commit_success;
  TaskCounter offset_commit_failure;
  // source-task-metrics
  TaskCounter source_record_poll;
  TaskCounter source_record_write;
  TaskStat poll_batch_time_ms;
  // sink-task-metrics
  TaskCounter sink_record_read;
  TaskCounter sink_record_send;
  TaskStat put_batch_time_ms;
  TaskCounter offset_commit_completion;
  TaskCounter offset_commit_skip;
  // task-error-metrics
  TaskCounter total_record_errors;    // records that failed (after retries)
  TaskCounter total_record_failures;  // failed attempts, retried ones included
  TaskCounter total_records_skipped;  // records dropped by errors.tolerance=all
  TaskCounter total_retries;
  TaskCounter total_errors_logged;
  TaskCounter deadletterqueue_produce_requests;
  TaskCounter deadletterqueue_produce_failures;

  void set_status(TaskState state) noexcept {
    status.store(static_cast<int>(state), std::memory_order_relaxed);
  }
  // Every series of this task, as `sink` takes them.
  void collect(metrics::CollectorSink& sink) const;
};

// The worker's registry, rendered by `GET /metrics`.
metrics::Registry& connect_metrics_registry();

// The tasks whose series a registry renders: the newest TaskMetrics of each
// (connector, task). One collector in the registry reads them all.
class TaskMetricsBoard {
 public:
  explicit TaskMetricsBoard(metrics::Registry& registry);
  // `metrics` is rendered for its task from now on, replacing any other.
  void enter(const TaskMetrics* metrics);
  // Removes `metrics`, unless a newer one of its task replaced it.
  void leave(const TaskMetrics* metrics);

 private:
  std::mutex mutex_;
  std::map<std::pair<std::string, int>, const TaskMetrics*> tasks_;
  metrics::CollectorHandle handle_;  // last: unregistered before tasks_ goes
};

// The board of the worker's registry.
TaskMetricsBoard& connect_task_metrics_board();

// A task's metrics on `board` while this lives.
class RegisteredTaskMetrics {
 public:
  RegisteredTaskMetrics(const std::string& connector, int task, ConnectorType type,
                        TaskMetricsBoard& board = connect_task_metrics_board());
  ~RegisteredTaskMetrics() { board_.leave(&metrics_); }
  RegisteredTaskMetrics(const RegisteredTaskMetrics&) = delete;
  RegisteredTaskMetrics& operator=(const RegisteredTaskMetrics&) = delete;
  TaskMetrics& get() { return metrics_; }

 private:
  TaskMetrics metrics_;
  TaskMetricsBoard& board_;
};

}  // namespace sluice::connect
