#include "base/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "base/assert.h"

namespace sluice::metrics {
namespace {

bool name_char(char c, bool first, bool allow_colon) {
  bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  bool digit = c >= '0' && c <= '9';
  return letter || (allow_colon && c == ':') || (!first && digit);
}

bool valid_name(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, allow_colon)) return false;
  return true;
}

// `{a="x",b="y"}` (empty when there are no labels); `extra` is appended
// last (a histogram bucket's `le`).
void append_labels(std::string& out, const std::vector<std::string>& names, const LabelValues& values,
                   const std::pair<std::string, std::string>* extra = nullptr) {
  if (names.empty() && extra == nullptr) return;
  out += '{';
  bool first = true;
  auto one = [&](const std::string& name, const std::string& value) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    out += escape_label_value(value);
    out += '"';
  };
  for (size_t i = 0; i < names.size(); ++i) one(names[i], values[i]);
  if (extra != nullptr) one(extra->first, extra->second);
  out += '}';
}

void append_sample(std::string& out, const std::string& name, const std::vector<std::string>& label_names,
                   const LabelValues& values, const std::string& value,
                   const std::pair<std::string, std::string>* extra = nullptr) {
  out += name;
  append_labels(out, label_names, values, extra);
  out += ' ';
  out += value;
  out += '\n';
}

void append_header(std::string& out, const std::string& name, const std::string& help, MetricType type) {
  out += "# HELP " + name + ' ' + escape_help(help) + '\n';
  out += "# TYPE " + name + ' ' + type_name(type) + '\n';
}

void check_labels(const std::vector<std::string>& label_names) {
  for (const std::string& label : label_names) {
    SLUICE_ASSERT(valid_label_name(label), "a label name outside [a-zA-Z_][a-zA-Z0-9_]*");
    SLUICE_ASSERT(label.rfind("__", 0) != 0, "label names starting with __ are reserved");
    SLUICE_ASSERT(label != "le" && label != "quantile", "le and quantile are reserved label names");
  }
}

}  // namespace

bool valid_metric_name(const std::string& name) { return valid_name(name, /*allow_colon=*/true); }
bool valid_label_name(const std::string& name) { return valid_name(name, /*allow_colon=*/false); }

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Integral values exactly as integers (offsets, bytes), the rest in the
  // shortest form that reads back as the same double.
  if (std::abs(value) < 9007199254740992.0 && value == std::trunc(value))
    return std::to_string(static_cast<int64_t>(value));
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  SLUICE_ASSERT(error == std::errc(), "a double that does not fit 32 characters");
  return std::string(buffer, end);
}

const char* type_name(MetricType type) {
  switch (type) {
    case MetricType::counter: return "counter";
    case MetricType::gauge: return "gauge";
    case MetricType::histogram: return "histogram";
  }
  return "untyped";
}

// --- Histogram ---

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)),
      bucket_counts_(std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1)) {
  SLUICE_ASSERT(std::is_sorted(upper_bounds_.begin(), upper_bounds_.end()) &&
                    std::adjacent_find(upper_bounds_.begin(), upper_bounds_.end()) == upper_bounds_.end(),
                "histogram bounds must increase strictly");
  SLUICE_ASSERT(upper_bounds_.empty() || std::isfinite(upper_bounds_.back()),
                "the +Inf bucket is implicit");
}

void Histogram::observe(double value) noexcept {
  // First bound >= value: Prometheus buckets are `le` (less or equal).
  size_t bucket = static_cast<size_t>(std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) -
                                      upper_bounds_.begin());
  bucket_counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.upper_bounds = upper_bounds_;
  snapshot.cumulative_counts.resize(upper_bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) {
    running += bucket_counts_[i].load(std::memory_order_relaxed);
    snapshot.cumulative_counts[i] = running;
  }
  snapshot.sum = sum_.load(std::memory_order_relaxed);
  return snapshot;
}

std::vector<double> latency_buckets_seconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// --- Families ---

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {
  SLUICE_ASSERT(valid_metric_name(name_), "a metric name outside [a-zA-Z_:][a-zA-Z0-9_:]*");
  check_labels(label_names_);
}

template <class Metric>
Metric& Family<Metric>::labels(const LabelValues& values) {
  SLUICE_ASSERT(values.size() == label_names().size(), "one value per label name");
  std::lock_guard lock(mutex_);
  auto found = series_.find(values);
  if (found != series_.end()) return *found->second;
  std::unique_ptr<Metric> metric;
  if constexpr (std::is_same_v<Metric, Histogram>) metric = std::make_unique<Histogram>(upper_bounds_);
  else metric = std::make_unique<Metric>();
  Metric& created = *metric;
  series_.emplace(values, std::move(metric));
  return created;
}

template <>
void Family<Counter>::render_samples(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, counter] : series_)
    append_sample(out, name(), label_names(), values, std::to_string(counter->value()));
}

template <>
void Family<Gauge>::render_samples(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, gauge] : series_)
    append_sample(out, name(), label_names(), values, format_value(gauge->value()));
}

template <>
void Family<Histogram>::render_samples(std::string& out) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, histogram] : series_) {
    Histogram::Snapshot snapshot = histogram->snapshot();
    for (size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
      std::pair<std::string, std::string> le{
          "le", i < snapshot.upper_bounds.size() ? format_value(snapshot.upper_bounds[i]) : "+Inf"};
      append_sample(out, name() + "_bucket", label_names(), values, std::to_string(snapshot.cumulative_counts[i]),
                    &le);
    }
    append_sample(out, name() + "_sum", label_names(), values, format_value(snapshot.sum));
    append_sample(out, name() + "_count", label_names(), values, std::to_string(snapshot.count()));
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- Collectors ---

void CollectorSink::add(const std::string& name, MetricType type, const std::string& help, Labels labels,
                        double value) {
  SLUICE_ASSERT(valid_metric_name(name), "a metric name outside [a-zA-Z_:][a-zA-Z0-9_:]*");
  SLUICE_ASSERT(type != MetricType::histogram, "collectors report counters and gauges");
  auto [entry, created] = families_.try_emplace(name, Collected{type, help, {}});
  SLUICE_ASSERT(entry->second.type == type, "one metric name reported with two types");
  if (created) {
    std::vector<std::string> names;
    for (const auto& label : labels) names.push_back(label.first);
    check_labels(names);
  }
  entry->second.samples.push_back({std::move(labels), value});
}

CollectorHandle& CollectorHandle::operator=(CollectorHandle&& other) noexcept {
  if (this != &other) {
    reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void CollectorHandle::reset() {
  if (registry_ != nullptr) registry_->remove_collector(id_);
  registry_ = nullptr;
}

// --- Registry ---

template <class Metric, class... Extra>
Family<Metric>& Registry::family(const std::string& name, const std::string& help, MetricType type,
                                 std::vector<std::string> label_names, Extra&&... extra) {
  std::lock_guard lock(mutex_);
  auto found = families_.find(name);
  if (found != families_.end()) {
    auto* existing = dynamic_cast<Family<Metric>*>(found->second.get());
    SLUICE_ASSERT(existing != nullptr && existing->label_names() == label_names,
                  "a metric family registered twice with different types or labels");
    return *existing;
  }
  auto created = std::make_unique<Family<Metric>>(name, help, type, std::move(label_names),
                                                  std::forward<Extra>(extra)...);
  Family<Metric>& result = *created;
  families_.emplace(name, std::move(created));
  return result;
}

Family<Counter>& Registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  return family<Counter>(name, help, MetricType::counter, std::move(label_names));
}

Family<Gauge>& Registry::gauge_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return family<Gauge>(name, help, MetricType::gauge, std::move(label_names));
}

Family<Histogram>& Registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds) {
  return family<Histogram>(name, help, MetricType::histogram, std::move(label_names), std::move(upper_bounds));
}

Counter& Registry::counter(const std::string& name, const std::string& help) {
  return counter_family(name, help, {}).labels({});
}

Gauge& Registry::gauge(const std::string& name, const std::string& help) {
  return gauge_family(name, help, {}).labels({});
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> upper_bounds) {
  return histogram_family(name, help, {}, std::move(upper_bounds)).labels({});
}

CollectorHandle Registry::add_collector(Collector collect) {
  std::lock_guard lock(mutex_);
  uint64_t id = next_collector_id_++;
  collectors_.emplace(id, std::move(collect));
  return CollectorHandle(this, id);
}

CollectorHandle Registry::add_callback_gauge(const std::string& name, const std::string& help,
                                             std::function<double()> read) {
  SLUICE_ASSERT(valid_metric_name(name), "a metric name outside [a-zA-Z_:][a-zA-Z0-9_:]*");
  return add_collector([name, help, read = std::move(read)](CollectorSink& sink) {
    sink.add(name, MetricType::gauge, help, {}, read());
  });
}

void Registry::remove_collector(uint64_t id) {
  std::lock_guard lock(mutex_);
  collectors_.erase(id);
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  CollectorSink sink;
  for (const auto& [id, collect] : collectors_) collect(sink);
  // Registered and collected families merged in name order; a collected
  // name that is also registered is left out (it would repeat HELP/TYPE).
  std::string out;
  auto collected = sink.families().begin();
  auto render_collected = [&](const std::string& name, const CollectorSink::Collected& family) {
    append_header(out, name, family.help, family.type);
    for (const CollectorSink::Sample& sample : family.samples) {
      std::vector<std::string> names;
      LabelValues values;
      for (const auto& [label, value] : sample.labels) {
        names.push_back(label);
        values.push_back(value);
      }
      append_sample(out, name, names, values, format_value(sample.value));
    }
  };
  for (const auto& [name, family] : families_) {
    for (; collected != sink.families().end() && collected->first < name; ++collected)
      render_collected(collected->first, collected->second);
    if (collected != sink.families().end() && collected->first == name) ++collected;
    append_header(out, name, family->help(), family->type());
    family->render_samples(out);
  }
  for (; collected != sink.families().end(); ++collected) render_collected(collected->first, collected->second);
  return out;
}

Registry& default_registry() {
  static Registry registry;
  return registry;
}

}  // namespace sluice::metrics
