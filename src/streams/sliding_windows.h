#pragma once
// Sliding windowed aggregations (Kafka's SlidingWindowedKStream,
// KStreamSlidingWindowAggregate), included by windowed_dsl.h.
//
// The windows are the records' own: for a record at t, its left window
// [t - difference, t] and, when a later record falls within the difference,
// its right window [t + 1, t + 1 + difference]. A record updates every
// window of its key that holds it; the windows it creates start from the
// aggregate of a neighbouring window that holds the same records (so each
// window's aggregate is that of the records in it, whatever their order).
// Records before `difference` share the window [0, difference]. A window
// closes once stream time passes its end plus the grace period: updates to
// it are then dropped, and a record none of whose windows is open is
// dropped. Each window keeps the highest timestamp of its records (the
// result's timestamp) in a timestamped window store kept for
// 2 * difference + grace, as Kafka's.

#include <set>

#include "streams/dsl.h"

namespace sluice::streams {

namespace detail {

template <class K, class V, class VA>
class SlidingWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VA>> {
 public:
  using Update = std::function<VA(const K&, const V&, const std::optional<VA>&)>;
  using Store = WindowStore<K, TimestampedValue<VA>>;

  SlidingWindowAggregateProcessor(std::string store, SlidingWindows windows, Update update)
      : store_name_(std::move(store)), windows_(windows), update_(std::move(update)) {}

  void init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    context_ = &context;
    store_ = &context.template get_state_store<Store>(store_name_);
  }

  void process(const Record<K, V>& record) override {
    if (is_null_value(record.key) || is_null_value(record.value)) {
      spdlog::debug("Skipping record due to null key or value.");
      return;
    }
    if (record.timestamp < 0) {
      spdlog::warn("Skipping record with a negative timestamp: sliding windows start at 0");
      return;
    }
    observed_ = std::max(observed_, record.timestamp);
    int64_t close_time = observed_ - windows_.grace_ms();
    if (record.timestamp + difference() < close_time) {
      log_expired(record.timestamp, record.timestamp + difference(), close_time);
      return;
    }
    if (record.timestamp < difference()) {
      process_early(record, close_time);
    } else {
      process_in_place(record, close_time);
    }
  }

 private:
  using Found = std::vector<std::pair<int64_t, TimestampedValue<VA>>>;  // start, value

  // What the windows found near a record say (Kafka's local state of
  // processReverse / processEarly).
  struct Neighbours {
    std::set<int64_t> starts;                   // every window start seen
    std::optional<TimestampedValue<VA>> left;   // holds the records of t's left window
    std::optional<TimestampedValue<VA>> right;  // holds the records of t's right window
    bool left_exists = false;                   // [t - difference, t] is stored
    bool right_exists = false;                  // [t + 1, t + 1 + difference] is stored
    std::optional<int64_t> previous;            // the latest record before t, if near
  };

  int64_t difference() const { return windows_.time_difference_ms(); }

  // Windows from the latest start back (Kafka's backward fetch): those
  // holding t are updated; the first one ending before t holds the records
  // of t's left window.
  void process_in_place(const Record<K, V>& record, int64_t close_time) {
    int64_t t = record.timestamp;
    Found found = store_->fetch(record.key, std::max<int64_t>(0, t - 2 * difference()), t + 1);
    Neighbours near;
    for (auto it = found.rbegin(); it != found.rend(); ++it) {
      const auto& [start, value] = *it;
      near.starts.insert(start);
      int64_t end = start + difference();
      if (start == t + 1) {
        near.right_exists = true;
      } else if (end > t) {
        if (!near.right) near.right = value;
        update_window(start, value, record, close_time);
      } else if (end == t) {
        near.left_exists = true;
        update_window(start, value, record, close_time);
        // A record at t was seen before: its windows exist already.
        if (value.timestamp >= t) return;
        near.previous = value.timestamp;
      } else {
        near.left = value;
        near.previous = value.timestamp;
        break;
      }
    }
    create_windows(record, close_time, near);
  }

  // A record before `difference` counts in [0, difference] (no window
  // starts before 0) and in the right windows holding it.
  void process_early(const Record<K, V>& record, int64_t close_time) {
    int64_t t = record.timestamp;
    Neighbours near;
    std::optional<TimestampedValue<VA>> combined;
    for (const auto& [start, value] : store_->fetch(record.key, 0, t + 1)) {
      near.starts.insert(start);
      if (start == 0) {
        combined = value;
        if (value.timestamp < t) near.previous = value.timestamp;
      } else if (start <= t) {
        near.right = value;
        update_window(start, value, record, close_time);
      } else if (start == t + 1) {
        near.right_exists = true;
      }
    }
    // Without a right window found, [0, difference] holds only records
    // after t when its latest record is after t.
    if (!near.right && combined && combined->timestamp > t) near.right = combined;
    create_right_window_if_needed(record, near);
    if (near.previous && near.starts.count(*near.previous + 1) == 0) {
      update_window(*near.previous + 1, std::nullopt, record, close_time);
    }
    update_window(0, combined, record, close_time);
  }

  void create_windows(const Record<K, V>& record, int64_t close_time, const Neighbours& near) {
    int64_t t = record.timestamp;
    // The previous record's right window, when it holds t.
    if (near.previous) {
      int64_t start = *near.previous + 1;
      if (near.starts.count(start) == 0 && start + difference() >= t) {
        update_window(start, std::nullopt, record, close_time);
      }
    }
    if (!near.left_exists) {
      std::optional<TimestampedValue<VA>> base;
      if (near.previous && t - difference() <= *near.previous && near.left) {
        base = TimestampedValue<VA>{near.left->value, t};
      }
      update_window(t - difference(), base, record, close_time);
    }
    create_right_window_if_needed(record, near);
  }

  // t's right window, when records after t fall within the difference: it
  // holds what `near.right` holds, without t.
  void create_right_window_if_needed(const Record<K, V>& record, const Neighbours& near) {
    int64_t t = record.timestamp;
    if (near.right_exists || !near.right || near.right->timestamp <= t) return;
    store_->put(record.key, *near.right, t + 1);
    forward(record, t + 1, Change<VA>{near.right->value, std::nullopt}, near.right->timestamp);
  }

  // Adds the record to the window starting at `start` (`current`: its
  // aggregate, nullopt for a new window) unless the window has closed.
  void update_window(int64_t start, const std::optional<TimestampedValue<VA>>& current,
                     const Record<K, V>& record, int64_t close_time) {
    int64_t end = start + difference();
    if (end < close_time) {
      log_expired(record.timestamp, end, close_time, start);
      return;
    }
    std::optional<VA> old;
    if (current) old = current->value;
    VA next = update_(record.key, record.value, old);
    int64_t timestamp = current ? std::max(record.timestamp, current->timestamp) : record.timestamp;
    store_->put(record.key, TimestampedValue<VA>{next, timestamp}, start);
    forward(record, start, Change<VA>{next, old}, timestamp);
  }

  void forward(const Record<K, V>& record, int64_t start, Change<VA> change, int64_t timestamp) {
    context_->forward(Record<Windowed<K>, Change<VA>>{
        Windowed<K>{record.key, Window{start, start + difference()}}, std::move(change), timestamp,
        record.headers});
  }

  void log_expired(int64_t timestamp, int64_t end, int64_t close_time,
                   std::optional<int64_t> start = std::nullopt) const {
    spdlog::debug(
        "Skipping record for expired window. store=[{}] timestamp=[{}] window=[{},{}] "
        "expiration=[{}] streamTime=[{}]",
        store_name_, timestamp, start.value_or(timestamp), end, close_time, observed_);
  }

  std::string store_name_;
  SlidingWindows windows_;
  Update update_;
  ProcessorContext<Windowed<K>, Change<VA>>* context_ = nullptr;
  Store* store_ = nullptr;
  int64_t observed_ = -1;  // Kafka's observedStreamTime
};

}  // namespace detail

template <class K, class V>
class SlidingWindowedKStream {
 public:
  SlidingWindowedKStream(KGroupedStream<K, V> grouped, SlidingWindows windows)
      : grouped_(std::move(grouped)), windows_(windows) {}

  KTable<Windowed<K>, int64_t> count(Materialized<K, int64_t> materialized = {}) const {
    if (!materialized.value_serde) materialized.value_serde = serdes::long_();
    return aggregate_impl<int64_t>("KSTREAM-AGGREGATE-", detail::counting_update<K, V>(),
                                   std::move(materialized));
  }

  template <class Reducer>
  KTable<Windowed<K>, V> reduce(Reducer reducer, Materialized<K, V> materialized = {}) const {
    if (!materialized.value_serde) materialized.value_serde = grouped_.value_serde_;
    return aggregate_impl<V>("KSTREAM-REDUCE-", detail::reducing_update<K, V>(reducer),
                             std::move(materialized));
  }

  template <class VA, class Initializer, class Aggregator>
  KTable<Windowed<K>, VA> aggregate(Initializer initializer, Aggregator aggregator,
                                    Materialized<K, VA> materialized = {}) const {
    return aggregate_impl<VA>("KSTREAM-AGGREGATE-",
                              detail::aggregating_update<K, V, VA>(initializer, aggregator),
                              std::move(materialized));
  }

 private:
  template <class VA>
  KTable<Windowed<K>, VA> aggregate_impl(
      const std::string& prefix,
      std::function<VA(const K&, const V&, const std::optional<VA>&)> update,
      Materialized<K, VA> materialized) const {
    StreamsBuilder& builder = *grouped_.builder_;
    auto plan = grouped_.template plan_aggregation<VA>(prefix, materialized);
    std::string store = plan.store;
    SlidingWindows windows = windows_;
    builder.topology().add_processor<K, V, Windowed<K>, Change<VA>>(
        plan.name,
        [store, windows, update] {
          return std::make_unique<detail::SlidingWindowAggregateProcessor<K, V, VA>>(store, windows,
                                                                                     update);
        },
        {plan.parent});
    // Kafka's SlidingWindowStoreMaterializer: windows of size `difference`,
    // kept for 2 * difference + grace (the oldest a new window copies from).
    // Persistent (RocksDB) unless the Materialized names another supplier.
    StoreBuilder store_builder = stores::window_store_builder<K, TimestampedValue<VA>>(
        WindowBytesStoreSupplier{materialized.bytes_supplier(store),
                                 2 * windows.time_difference_ms() + windows.grace_ms(),
                                 windows.time_difference_ms()},
        plan.key_serde, serdes::timestamped(plan.value_serde));
    store_builder.logging_enabled = materialized.logging_enabled;
    builder.topology().add_state_store(std::move(store_builder), {plan.name});
    detail::ValueGetterSupplier<Windowed<K>, VA> getter{
        [store](ProcessingContext& context) -> detail::ValueGetter<Windowed<K>, VA> {
          auto* values = &context.get_state_store<WindowStore<K, TimestampedValue<VA>>>(store);
          return [values](const Windowed<K>& key) -> std::optional<VA> {
            std::optional<TimestampedValue<VA>> found = values->fetch(key.key, key.window.start);
            if (!found) return std::nullopt;
            return found->value;
          };
        },
        {store}};
    KTable<Windowed<K>, VA> table(
        builder, plan.name, serdes::time_windowed(plan.key_serde, windows.time_difference_ms()),
        plan.value_serde, getter, store);
    return table.with_window_grace(windows.grace_ms());
  }

  KGroupedStream<K, V> grouped_;
  SlidingWindows windows_;
};

template <class K, class V>
SlidingWindowedKStream<K, V> KGroupedStream<K, V>::windowed_by(
    const SlidingWindows& windows) const {
  return SlidingWindowedKStream<K, V>(*this, windows);
}

}  // namespace sluice::streams
