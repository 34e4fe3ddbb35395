#pragma once
// Kafka Streams' metrics (its stream-metrics, stream-thread-metrics,
// stream-task-metrics and stream-state-metrics groups, with Kafka's names,
// descriptions and tags: client-id, thread-id, task-id,
// `<store scope>-state-id`), as KafkaStreams::metrics() and the test
// driver return them, and in Prometheus' text format for the endpoint
// (metrics_http.h): `kafka_streams_<group>_<name>` with `-` as `_`,
// e.g. `kafka_streams_stream_thread_metrics_process_total{thread_id="..."}`.
//
// Recording costs a relaxed load and store per count (one thread writes
// each object: no lock, no read-modify-write); a scrape reads them from any
// thread. Store metrics time every operation, so they are recorded only at
// `metrics.recording.level=DEBUG`, as Kafka records them.
//
// Differences from Kafka's: rates are averages over the object's life
// (Kafka's over a ~1 minute window); latencies are averages and maxima over
// the life too.

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sluice::streams {

// `metrics.recording.level`.
enum class RecordingLevel { info, debug, trace };

// A total only one thread adds to.
class MetricCount {
 public:
  void add(int64_t amount = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
  }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Observations of one quantity (a latency in ns, a lateness in ms) by one
// thread: count, sum and maximum, for Kafka's -total, -avg and -max.
class MetricStat {
 public:
  void record(int64_t value) noexcept {
    count_.add();
    sum_.add(value);
    if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
  }
  int64_t count() const noexcept { return count_.value(); }
  // NaN before the first observation, as Kafka's Avg and Max answer.
  double average() const noexcept {
    int64_t n = count();
    return n == 0 ? std::numeric_limits<double>::quiet_NaN()
                  : static_cast<double>(sum_.value()) / static_cast<double>(n);
  }
  double max() const noexcept {
    return count() == 0 ? std::numeric_limits<double>::quiet_NaN()
                        : static_cast<double>(max_.load(std::memory_order_relaxed));
  }

 private:
  MetricCount count_;
  MetricCount sum_;
  std::atomic<int64_t> max_{0};
};

// stream-state-metrics of one store of one task.
struct StoreMetrics {
  StoreMetrics(std::string task_id, std::string store, std::string scope)
      : task_id(std::move(task_id)), store(std::move(store)), scope(std::move(scope)) {}
  const std::string task_id;
  const std::string store;
  const std::string scope;  // in-memory-state, rocksdb-state, ...
  const std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  MetricStat put;  // latencies in ns
  MetricStat get;
  MetricStat remove;
  MetricStat range;
  MetricStat flush;
  MetricStat restore;
};

// stream-task-metrics of one task.
struct TaskMetrics {
  explicit TaskMetrics(std::string task_id) : task_id(std::move(task_id)) {}
  const std::string task_id;
  std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  MetricCount process;  // records its source nodes processed
  MetricCount dropped;  // records dropped (handlers, invalid timestamps)
  MetricCount enforced_processing;
  MetricStat punctuate;  // latencies in ns
  MetricStat lateness;   // stream time - record timestamp, ms
  std::atomic<bool> active{true};
  std::atomic<int64_t> cache_bytes{0};
};

// stream-thread-metrics of one stream thread, with its tasks and stores.
class ThreadMetrics {
 public:
  explicit ThreadMetrics(std::string thread_id) : thread_id_(std::move(thread_id)) {}
  const std::string& thread_id() const { return thread_id_; }

  // The task's metrics: made on first use; a task made again after a
  // rebalance gets new ones (Kafka's are removed with the task).
  std::shared_ptr<TaskMetrics> task_created(const std::string& task_id);
  void task_closed(const std::string& task_id);
  std::shared_ptr<StoreMetrics> store(const std::string& task_id, const std::string& store,
                                      const std::string& scope);

  MetricCount process;         // records processed
  MetricStat process_latency;  // ns per record
  MetricStat poll;             // ns per consumer poll
  MetricStat commit;           // ns per commit
  MetricStat punctuate;        // ns per punctuation (its tasks record it)
  MetricCount task_created_count;
  MetricCount task_closed_count;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  const int64_t start_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();

  struct Snapshot {
    std::vector<std::shared_ptr<TaskMetrics>> tasks;
    std::vector<std::shared_ptr<StoreMetrics>> stores;
  };
  Snapshot snapshot() const;

 private:
  const std::string thread_id_;
  mutable std::mutex mutex_;  // the lists only: taken when a task comes or goes, and by a scrape
  std::map<std::string, std::shared_ptr<TaskMetrics>> tasks_;
  std::vector<std::shared_ptr<StoreMetrics>> stores_;
};

// One metric as Kafka's MetricName and value: a number, or a text (state,
// version, application-id).
struct Metric {
  std::string name;
  std::string group;
  std::string description;
  std::map<std::string, std::string> tags;
  double value = 0;
  std::optional<std::string> text;
};

// Kafka's metrics of a thread (its tasks' and stores' included).
void add_thread_metrics(const ThreadMetrics& thread, std::vector<Metric>& out);
// The task-level and store-level metrics only (the test driver's).
void add_task_metrics(const std::string& thread_id, const TaskMetrics& task,
                      std::vector<Metric>& out);
void add_store_metrics(const std::string& thread_id, const StoreMetrics& store,
                       std::vector<Metric>& out);

// The metrics in Prometheus' text exposition format 0.0.4. A text metric
// is a series of value 1 with the text as a label named like the metric
// (`kafka_streams_stream_metrics_state{client_id="x",state="RUNNING"} 1`).
std::string prometheus_text(const std::vector<Metric>& metrics);

// The metric named `name` in `group` whose tags include `tags`; nullptr
// when none (tests, tools).
const Metric* find_metric(const std::vector<Metric>& metrics, const std::string& group,
                          const std::string& name,
                          const std::map<std::string, std::string>& tags = {});

}  // namespace sluice::streams
