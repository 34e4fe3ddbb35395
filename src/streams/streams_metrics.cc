#include "streams/streams_metrics.h"

#include <algorithm>

#include "base/metrics.h"

namespace sluice::streams {
namespace {

constexpr const char* kThreadGroup = "stream-thread-metrics";
constexpr const char* kTaskGroup = "stream-task-metrics";
constexpr const char* kStateGroup = "stream-state-metrics";

double seconds_since(std::chrono::steady_clock::time_point start) {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::max(seconds, 1e-3);
}

double ns_to_ms(double ns) { return ns / 1e6; }

// Adds `<operation>-rate` and `<operation>-total`.
void add_rate_total(std::vector<Metric>& out, const std::string& group,
                    const std::map<std::string, std::string>& tags, const std::string& operation,
                    const std::string& what, int64_t total, double seconds) {
  out.push_back({operation + "-rate", group, "The average per-second number of " + what, tags,
                 static_cast<double>(total) / seconds, std::nullopt});
  out.push_back({operation + "-total", group, "The total number of " + what, tags,
                 static_cast<double>(total), std::nullopt});
}

// Adds `<operation>-latency-avg` and `-max` (scale: ns to the unit Kafka reports).
void add_latency(std::vector<Metric>& out, const std::string& group,
                 const std::map<std::string, std::string>& tags, const std::string& operation,
                 const std::string& what, const MetricStat& stat, bool in_ms) {
  auto scale = [in_ms](double ns) { return in_ms ? ns_to_ms(ns) : ns; };
  out.push_back({operation + "-latency-avg", group, "The average latency of " + what, tags,
                 scale(stat.average()), std::nullopt});
  out.push_back({operation + "-latency-max", group, "The maximum latency of " + what, tags,
                 scale(stat.max()), std::nullopt});
}

std::string prometheus_name(const std::string& text) {
  std::string out;
  for (char c : text) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    out.push_back(ok ? c : '_');
  }
  return out;
}

}  // namespace

std::shared_ptr<TaskMetrics> ThreadMetrics::task_created(const std::string& task_id) {
  auto metrics = std::make_shared<TaskMetrics>(task_id);
  task_created_count.add();
  std::lock_guard lock(mutex_);
  tasks_[task_id] = metrics;
  return metrics;
}

void ThreadMetrics::task_closed(const std::string& task_id) {
  task_closed_count.add();
  std::lock_guard lock(mutex_);
  auto found = tasks_.find(task_id);
  if (found == tasks_.end()) return;
  found->second->active = false;
  tasks_.erase(found);
  std::erase_if(stores_, [&task_id](const auto& store) { return store->task_id == task_id; });
}

std::shared_ptr<StoreMetrics> ThreadMetrics::store(const std::string& task_id,
                                                   const std::string& store,
                                                   const std::string& scope) {
  auto metrics = std::make_shared<StoreMetrics>(task_id, store, scope);
  std::lock_guard lock(mutex_);
  std::erase_if(stores_, [&](const auto& s) { return s->task_id == task_id && s->store == store; });
  stores_.push_back(metrics);
  return metrics;
}

ThreadMetrics::Snapshot ThreadMetrics::snapshot() const {
  std::lock_guard lock(mutex_);
  Snapshot snapshot;
  for (const auto& [id, task] : tasks_) snapshot.tasks.push_back(task);
  snapshot.stores = stores_;
  return snapshot;
}

void add_task_metrics(const std::string& thread_id, const TaskMetrics& task,
                      std::vector<Metric>& out) {
  std::map<std::string, std::string> tags = {{"thread-id", thread_id}, {"task-id", task.task_id}};
  double seconds = seconds_since(task.created);
  add_rate_total(out, kTaskGroup, tags, "process",
                 "processed records across all source processor nodes of this task",
                 task.process.value(), seconds);
  add_rate_total(out, kTaskGroup, tags, "dropped-records", "records dropped within this task",
                 task.dropped.value(), seconds);
  add_rate_total(out, kTaskGroup, tags, "enforced-processing", "enforced processings",
                 task.enforced_processing.value(), seconds);
  add_rate_total(out, kTaskGroup, tags, "punctuate", "calls to punctuate", task.punctuate.count(),
                 seconds);
  add_latency(out, kTaskGroup, tags, "punctuate", "calls to punctuate (ns)", task.punctuate, false);
  out.push_back({"record-lateness-avg", kTaskGroup,
                 "The observed average lateness of records in milliseconds, measured by "
                 "comparing the record timestamp with the current stream time",
                 tags, task.lateness.average(), std::nullopt});
  out.push_back({"record-lateness-max", kTaskGroup,
                 "The observed maximum lateness of records in milliseconds, measured by "
                 "comparing the record timestamp with the current stream time",
                 tags, task.lateness.max(), std::nullopt});
  out.push_back(
      {"cache-size-bytes-total", kTaskGroup, "The total size in bytes of this task's cache.", tags,
       static_cast<double>(task.cache_bytes.load(std::memory_order_relaxed)), std::nullopt});
}

void add_store_metrics(const std::string& thread_id, const StoreMetrics& store,
                       std::vector<Metric>& out) {
  std::map<std::string, std::string> tags = {
      {"thread-id", thread_id}, {"task-id", store.task_id}, {store.scope + "-id", store.store}};
  double seconds = seconds_since(store.created);
  auto operation = [&](const std::string& name, const MetricStat& stat) {
    out.push_back({name + "-rate", kStateGroup, "The average " + name + " rate for this store",
                   tags, static_cast<double>(stat.count()) / seconds, std::nullopt});
    add_latency(out, kStateGroup, tags, name, name + " calls (ns)", stat, false);
  };
  operation("put", store.put);
  operation("get", store.get);
  operation("delete", store.remove);
  operation("range", store.range);
  operation("flush", store.flush);
  operation("restore", store.restore);
  out.push_back({"restore-total", kStateGroup, "The total number of records restored", tags,
                 static_cast<double>(store.restore.count()), std::nullopt});
}

void add_thread_metrics(const ThreadMetrics& thread, std::vector<Metric>& out) {
  std::map<std::string, std::string> tags = {{"thread-id", thread.thread_id()}};
  double seconds = seconds_since(thread.started);
  add_rate_total(out, kThreadGroup, tags, "process", "processed records", thread.process.value(),
                 seconds);
  add_latency(out, kThreadGroup, tags, "process", "processing (ms)", thread.process_latency, true);
  add_rate_total(out, kThreadGroup, tags, "poll", "calls to poll", thread.poll.count(), seconds);
  add_latency(out, kThreadGroup, tags, "poll", "consumer polling (ms)", thread.poll, true);
  add_rate_total(out, kThreadGroup, tags, "commit", "calls to commit", thread.commit.count(),
                 seconds);
  add_latency(out, kThreadGroup, tags, "commit", "committing (ms)", thread.commit, true);
  add_rate_total(out, kThreadGroup, tags, "punctuate", "calls to punctuate",
                 thread.punctuate.count(), seconds);
  add_latency(out, kThreadGroup, tags, "punctuate", "punctuating (ms)", thread.punctuate, true);
  add_rate_total(out, kThreadGroup, tags, "task-created", "newly created tasks",
                 thread.task_created_count.value(), seconds);
  add_rate_total(out, kThreadGroup, tags, "task-closed", "closed tasks",
                 thread.task_closed_count.value(), seconds);
  out.push_back({"thread-start-time", kThreadGroup, "The time that the thread was started", tags,
                 static_cast<double>(thread.start_time_ms), std::nullopt});
  ThreadMetrics::Snapshot snapshot = thread.snapshot();
  for (const auto& task : snapshot.tasks) add_task_metrics(thread.thread_id(), *task, out);
  for (const auto& store : snapshot.stores) add_store_metrics(thread.thread_id(), *store, out);
}

std::string prometheus_text(const std::vector<Metric>& metrics) {
  metrics::CollectorSink sink;
  for (const Metric& metric : metrics) {
    std::string name =
        "kafka_streams_" + prometheus_name(metric.group) + "_" + prometheus_name(metric.name);
    metrics::Labels labels;
    for (const auto& [tag, value] : metric.tags) labels.emplace_back(prometheus_name(tag), value);
    double value = metric.value;
    if (metric.text) {
      labels.emplace_back(prometheus_name(metric.name), *metric.text);
      value = 1;
    }
    bool counter = metric.name.ends_with("-total") && !metric.text;
    sink.add(name, counter ? metrics::MetricType::counter : metrics::MetricType::gauge,
             metric.description, std::move(labels), value);
  }
  metrics::Registry registry;
  // The registry renders what its collectors report; this one reports `sink`.
  metrics::CollectorHandle handle = registry.add_collector([&sink](metrics::CollectorSink& into) {
    for (const auto& [name, family] : sink.families()) {
      for (const auto& sample : family.samples)
        into.add(name, family.type, family.help, sample.labels, sample.value);
    }
  });
  return registry.render();
}

const Metric* find_metric(const std::vector<Metric>& metrics, const std::string& group,
                          const std::string& name, const std::map<std::string, std::string>& tags) {
  for (const Metric& metric : metrics) {
    if (metric.group != group || metric.name != name) continue;
    bool all = std::all_of(tags.begin(), tags.end(), [&metric](const auto& tag) {
      auto found = metric.tags.find(tag.first);
      return found != metric.tags.end() && found->second == tag.second;
    });
    if (all) return &metric;
  }
  return nullptr;
}

}  // namespace sluice::streams
