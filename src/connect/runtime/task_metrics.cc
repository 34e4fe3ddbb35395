#include "connect/runtime/task_metrics.h"

#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

namespace sluice::connect {
namespace {

constexpr double kNoObservation = std::numeric_limits<double>::quiet_NaN();

// Kafka's group and metric names made one Prometheus name:
// kafka_connect_<group>_<metric>, dashes as underscores.
std::string task_metric_name(const char* group, const char* metric) {
  std::string name = std::string("kafka_connect_") + group + "_" + metric;
  for (char& c : name) {
    if (c == '-') c = '_';
  }
  return name;
}

class TaskSeriesEmitter {
 public:
  TaskSeriesEmitter(metrics::CollectorSink& sink, const TaskMetrics& task) : sink_(sink) {
    labels_ = {{"connector", task.connector}, {"task", std::to_string(task.task)}};
  }
  void counter(const char* group, const char* metric, const char* help, int64_t value) {
    sink_.add(task_metric_name(group, metric), metrics::MetricType::counter, help, labels_,
              static_cast<double>(value));
  }
  void gauge(const char* group, const char* metric, const char* help, double value) {
    sink_.add(task_metric_name(group, metric), metrics::MetricType::gauge, help, labels_, value);
  }
  // Kafka's -avg and -max pair.
  void stat(const char* group, const char* metric, const char* what, const TaskStat& stat) {
    const std::string base(metric);
    sink_.add(task_metric_name(group, (base + "-avg").c_str()), metrics::MetricType::gauge,
              std::string("The average ") + what, labels_, stat.average());
    sink_.add(task_metric_name(group, (base + "-max").c_str()), metrics::MetricType::gauge,
              std::string("The maximum ") + what, labels_, stat.max_or_nan());
  }
  // Kafka's status: one series per state, 1 for the current one.
  void status(TaskState current) {
    for (TaskState state : {TaskState::unassigned, TaskState::running, TaskState::paused,
                            TaskState::failed, TaskState::restarting}) {
      std::string name = task_state_name(state);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      metrics::Labels labels = labels_;
      labels.emplace_back("status", name);
      sink_.add(task_metric_name("connector-task-metrics", "status"), metrics::MetricType::gauge,
                "The status of the connector task: 1 for the current state", std::move(labels),
                state == current ? 1 : 0);
    }
  }

 private:
  metrics::CollectorSink& sink_;
  metrics::Labels labels_;
};

double task_rate_since(const TaskMetrics& task, int64_t total) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - task.started).count();
  return seconds > 0 ? static_cast<double>(total) / seconds : 0.0;
}

}  // namespace

double TaskStat::average() const noexcept {
  const int64_t n = count();
  return n == 0
             ? kNoObservation
             : static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(n);
}

double TaskStat::max_or_nan() const noexcept {
  return count() == 0 ? kNoObservation : static_cast<double>(max());
}

TaskMetrics::TaskMetrics(std::string connector_name, int task_id, ConnectorType task_type)
    : connector(std::move(connector_name)), task(task_id), type(task_type) {}

void TaskMetrics::collect(metrics::CollectorSink& sink) const {
  TaskSeriesEmitter out(sink, *this);
  const char* task_group = "connector-task-metrics";
  out.status(static_cast<TaskState>(status.load(std::memory_order_relaxed)));
  out.stat(task_group, "batch-size", "size of the batches processed by the connector", batch_size);
  out.gauge(task_group, "offset-commit-avg-time-ms",
            "The average time in milliseconds taken by this task to commit offsets",
            offset_commit_time_ms.average());
  out.gauge(task_group, "offset-commit-max-time-ms",
            "The maximum time in milliseconds taken by this task to commit offsets",
            offset_commit_time_ms.max_or_nan());
  out.counter(task_group, "offset-commit-success-total",
              "The number of successful offset commit attempts", offset_commit_success.value());
  out.counter(task_group, "offset-commit-failure-total",
              "The number of failed offset commit attempts", offset_commit_failure.value());
  if (type == ConnectorType::source) {
    const char* group = "source-task-metrics";
    out.counter(group, "source-record-poll-total",
                "The number of records produced/polled (before transformation) by this task",
                source_record_poll.value());
    out.gauge(group, "source-record-poll-rate",
              "The average per-second number of records produced/polled by this task",
              task_rate_since(*this, source_record_poll.value()));
    out.counter(group, "source-record-write-total",
                "The number of records output from the transformations and written to Kafka",
                source_record_write.value());
    out.gauge(group, "source-record-write-rate",
              "The average per-second number of records written to Kafka by this task",
              task_rate_since(*this, source_record_write.value()));
    out.gauge(group, "poll-batch-avg-time-ms",
              "The average time in milliseconds taken by this task to poll for a batch",
              poll_batch_time_ms.average());
    out.gauge(group, "poll-batch-max-time-ms",
              "The maximum time in milliseconds taken by this task to poll for a batch",
              poll_batch_time_ms.max_or_nan());
  } else {
    const char* group = "sink-task-metrics";
    out.counter(group, "sink-record-read-total",
                "The number of records read from Kafka by this task (before transformation)",
                sink_record_read.value());
    out.gauge(group, "sink-record-read-rate",
              "The average per-second number of records read from Kafka by this task",
              task_rate_since(*this, sink_record_read.value()));
    out.counter(group, "sink-record-send-total",
                "The number of records output from the transformations and sent to the task",
                sink_record_send.value());
    out.gauge(group, "sink-record-send-rate",
              "The average per-second number of records sent to the task",
              task_rate_since(*this, sink_record_send.value()));
    out.gauge(group, "put-batch-avg-time-ms",
              "The average time taken by this task to put a batch of sink records",
              put_batch_time_ms.average());
    out.gauge(group, "put-batch-max-time-ms",
              "The maximum time taken by this task to put a batch of sink records",
              put_batch_time_ms.max_or_nan());
    out.counter(group, "offset-commit-completion-total",
                "The number of offset commit completions that were completed successfully",
                offset_commit_completion.value());
    out.counter(group, "offset-commit-skip-total",
                "The number of offset commit completions that were received too late and skipped",
                offset_commit_skip.value());
  }
  const char* errors = "task-error-metrics";
  out.counter(errors, "total-record-errors", "The number of record processing errors in this task",
              total_record_errors.value());
  out.counter(errors, "total-record-failures",
              "The number of record processing failures in this task",
              total_record_failures.value());
  out.counter(errors, "total-records-skipped", "The number of records skipped due to errors",
              total_records_skipped.value());
  out.counter(errors, "total-retries", "The number of operations retried", total_retries.value());
  out.counter(errors, "total-errors-logged", "The number of errors that were logged",
              total_errors_logged.value());
  out.counter(errors, "deadletterqueue-produce-requests",
              "The number of attempted writes to the dead letter queue",
              deadletterqueue_produce_requests.value());
  out.counter(errors, "deadletterqueue-produce-failures",
              "The number of failed writes to the dead letter queue",
              deadletterqueue_produce_failures.value());
}

metrics::Registry& connect_metrics_registry() {
  static metrics::Registry registry;
  return registry;
}

TaskMetricsBoard::TaskMetricsBoard(metrics::Registry& registry)
    : handle_(registry.add_collector([this](metrics::CollectorSink& sink) {
        std::lock_guard lock(mutex_);
        for (const auto& [task, metrics] : tasks_) metrics->collect(sink);
      })) {}

void TaskMetricsBoard::enter(const TaskMetrics* metrics) {
  std::lock_guard lock(mutex_);
  tasks_[{metrics->connector, metrics->task}] = metrics;
}

void TaskMetricsBoard::leave(const TaskMetrics* metrics) {
  std::lock_guard lock(mutex_);
  auto it = tasks_.find({metrics->connector, metrics->task});
  if (it != tasks_.end() && it->second == metrics) tasks_.erase(it);
}

TaskMetricsBoard& connect_task_metrics_board() {
  static TaskMetricsBoard board(connect_metrics_registry());
  return board;
}

RegisteredTaskMetrics::RegisteredTaskMetrics(const std::string& connector, int task,
                                             ConnectorType type, TaskMetricsBoard& board)
    : metrics_(connector, task, type), board_(board) {
  board_.enter(&metrics_);
}

}  // namespace sluice::connect
