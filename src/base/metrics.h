#pragma once
// Process metrics (Prometheus data model): counters, gauges, histograms with
// fixed buckets, each in a named family with label names; plus collectors
// called at scrape time for values that live elsewhere (log offsets, group
// lag, /proc/self). Rendered in the Prometheus text exposition format 0.0.4.
//
// Hot path: a series (one label set of a family) is created once and its
// reference cached by the caller (per API, per partition, per listener);
// recording on it is one relaxed atomic add, no lock and no lookup. Series
// are never removed, so cached references stay valid for the registry's
// life.
//
// Thread-safety: everything may be called from any thread. Creating families
// and series, adding collectors and render() take the registry's mutex;
// render() calls collectors with it held, so a collector must not touch the
// registry.
//
// Names follow Prometheus' grammar (checked by assertion: a bad name is a
// programmer error); units are last in names (`_seconds`, `_bytes`, `_total`).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace sluice::metrics {

enum class MetricType { counter, gauge, histogram };

// A value that only goes up (requests, bytes).
class Counter {
 public:
  void inc(uint64_t amount = 1) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (open connections).
class Gauge {
 public:
  void set(double value) noexcept { value_.store(value, std::memory_order_relaxed); }
  void add(double amount) noexcept { value_.fetch_add(amount, std::memory_order_relaxed); }
  void sub(double amount) noexcept { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted in fixed buckets: bucket i counts values <= bounds[i]
// (and > bounds[i-1]); the implicit last bucket (+Inf) counts the rest.
// Rendered cumulative, with _sum and _count (= the +Inf bucket).
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value) noexcept;
  void observe(std::chrono::nanoseconds duration) noexcept {
    observe(std::chrono::duration<double>(duration).count());
  }

  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then the +Inf bucket
    double sum = 0;
    uint64_t count() const { return cumulative_counts.empty() ? 0 : cumulative_counts.back(); }
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> upper_bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> bucket_counts_;  // upper_bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

// Bucket bounds in seconds for latencies from 100 µs to 10 s.
std::vector<double> latency_buckets_seconds();

// Label values of one series, in the order of the family's label names.
using LabelValues = std::vector<std::string>;
using Labels = std::vector<std::pair<std::string, std::string>>;

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Appends the samples (no HELP/TYPE lines) of every series.
  virtual void render_samples(std::string& out) const = 0;

 protected:
  mutable std::mutex mutex_;  // guards the series map, not the values

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

template <class Metric>
class Family final : public FamilyBase {
 public:
  using FamilyBase::FamilyBase;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> upper_bounds)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        upper_bounds_(std::move(upper_bounds)) {}

  // The series of `values` (one per label name), created on first use. The
  // reference stays valid for the registry's life: cache it.
  Metric& labels(const LabelValues& values);
  void render_samples(std::string& out) const override;

 private:
  std::vector<double> upper_bounds_;  // histograms only
  std::map<LabelValues, std::unique_ptr<Metric>> series_;
};

// What a collector reports at scrape time.
class CollectorSink {
 public:
  void add(const std::string& name, MetricType type, const std::string& help, Labels labels, double value);

  struct Sample {
    Labels labels;
    double value;
  };
  struct Collected {
    MetricType type;
    std::string help;
    std::vector<Sample> samples;
  };
  const std::map<std::string, Collected>& families() const { return families_; }

 private:
  std::map<std::string, Collected> families_;
};

using Collector = std::function<void(CollectorSink&)>;

class Registry;

// Unregisters its collector when destroyed (or reset). Move-only.
class CollectorHandle {
 public:
  CollectorHandle() = default;
  CollectorHandle(Registry* registry, uint64_t id) : registry_(registry), id_(id) {}
  CollectorHandle(CollectorHandle&& other) noexcept { *this = std::move(other); }
  CollectorHandle& operator=(CollectorHandle&& other) noexcept;
  ~CollectorHandle() { reset(); }
  void reset();

 private:
  Registry* registry_ = nullptr;
  uint64_t id_ = 0;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // A family is created on first use; asking again for the same name
  // returns it (the type, labels and buckets must then be the same).
  Family<Counter>& counter_family(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names);
  Family<Gauge>& gauge_family(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names);
  Family<Histogram>& histogram_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names, std::vector<double> upper_bounds);
  // Families without labels: their single series.
  Counter& counter(const std::string& name, const std::string& help);
  Gauge& gauge(const std::string& name, const std::string& help);
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> upper_bounds);

  // `collect` is called on every render(), on the rendering thread, until
  // the handle is destroyed. It must be quick and must not call the registry.
  [[nodiscard]] CollectorHandle add_collector(Collector collect);
  // A gauge whose value is read by `read` at scrape time.
  [[nodiscard]] CollectorHandle add_callback_gauge(const std::string& name, const std::string& help,
                                                   std::function<double()> read);

  // Every family, sorted by name, in the text exposition format.
  std::string render() const;

 private:
  friend class CollectorHandle;
  template <class Metric, class... Extra>
  Family<Metric>& family(const std::string& name, const std::string& help, MetricType type,
                         std::vector<std::string> label_names, Extra&&... extra);
  void remove_collector(uint64_t id);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
  std::map<uint64_t, Collector> collectors_;
  uint64_t next_collector_id_ = 1;
};

// The process's registry: the one net, storage and the broker record into
// and the admin port renders.
Registry& default_registry();

// Text format helpers (exposed for tests).
bool valid_metric_name(const std::string& name);
bool valid_label_name(const std::string& name);
std::string escape_label_value(const std::string& value);
std::string escape_help(const std::string& help);
std::string format_value(double value);
const char* type_name(MetricType type);

}  // namespace sluice::metrics
