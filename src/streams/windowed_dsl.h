#pragma once
// Windowed aggregations and suppression (Kafka's TimeWindowedKStream,
// KStreamWindowAggregate, KTableSuppressProcessor), included by dsl.h.
//
// A record counts in every window that holds its timestamp unless the
// window has closed: its end plus the grace period is at or before the
// stream time the aggregation has seen (the record is then dropped, as
// Kafka drops it). Windows are kept for size + grace of stream time.
// Sliding and session windows: sliding_windows.h, session_windows.h.

#include "streams/dsl.h"

namespace sluice::streams {

template <class K, class V>
class TimeWindowedKStream {
 public:
  TimeWindowedKStream(KGroupedStream<K, V> grouped, TimeWindows windows)
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
    std::string name = plan.name;
    Serde<K> key_serde = plan.key_serde;
    Serde<VA> value_serde = plan.value_serde;
    std::string parent = plan.parent;
    TimeWindows windows = windows_;
    Topology& topology = builder.topology();
    topology.add_processor<K, V, Windowed<K>, Change<VA>>(
        name,
        detail::supplier_of<K, V, Windowed<K>, Change<VA>>(
            [store, update, windows](ProcessorContext<Windowed<K>, Change<VA>>& context) {
              auto* values = &context.template get_state_store<WindowStore<K, VA>>(store);
              auto observed = std::make_shared<int64_t>(-1);  // Kafka's observedStreamTime
              return [values, update, windows, observed, &context](const Record<K, V>& record) {
                if (is_null_value(record.key) || is_null_value(record.value)) return;
                *observed = std::max(*observed, record.timestamp);
                int64_t close_time = *observed - windows.grace_ms();
                for (const Window& window : windows.windows_for(record.timestamp)) {
                  if (window.end <= close_time) {
                    spdlog::debug("Skipping record for expired window. store=[{}] window=[{},{})",
                                  values->name(), window.start, window.end);
                    continue;
                  }
                  std::optional<VA> old = values->fetch(record.key, window.start);
                  VA next = update(record.key, record.value, old);
                  values->put(record.key, next, window.start);
                  context.forward(Record<Windowed<K>, Change<VA>>{
                      Windowed<K>{record.key, window}, Change<VA>{next, old}, record.timestamp,
                      record.headers});
                }
              };
            }),
        {parent});
    StoreBuilder store_builder = stores::window_store_builder<K, VA>(
        WindowBytesStoreSupplier{materialized.bytes_supplier(store),
                                 windows.size_ms() + windows.grace_ms(), windows.size_ms()},
        key_serde, value_serde);
    store_builder.logging_enabled = materialized.logging_enabled;
    topology.add_state_store(std::move(store_builder), {name});
    detail::ValueGetterSupplier<Windowed<K>, VA> getter{
        [store](ProcessingContext& context) -> detail::ValueGetter<Windowed<K>, VA> {
          auto* values = &context.get_state_store<WindowStore<K, VA>>(store);
          return
              [values](const Windowed<K>& key) { return values->fetch(key.key, key.window.start); };
        },
        {store}};
    KTable<Windowed<K>, VA> table(builder, name,
                                  serdes::time_windowed(key_serde, windows.size_ms()), value_serde,
                                  getter, store);
    return table.with_window_grace(windows.grace_ms());
  }

  KGroupedStream<K, V> grouped_;
  TimeWindows windows_;
};

template <class K, class V>
TimeWindowedKStream<K, V> KGroupedStream<K, V>::windowed_by(const TimeWindows& windows) const {
  return TimeWindowedKStream<K, V>(*this, windows);
}

namespace detail {
template <class T>
struct is_windowed : std::false_type {};
template <class K>
struct is_windowed<Windowed<K>> : std::true_type {};
}  // namespace detail

template <class K, class V>
KTable<K, V> KTable<K, V>::suppress_until_window_closes() const {
  if constexpr (!detail::is_windowed<K>::value) {
    throw TopologyError("suppress until the window closes needs a windowed table (windowed_by)");
  } else {
    if (!window_grace_ms_) {
      throw TopologyError(
          "suppress until the window closes needs the table of a windowed aggregation");
    }
    std::string name = builder_->new_processor_name("KTABLE-SUPPRESS-");
    int64_t grace = *window_grace_ms_;
    builder_->topology().add_processor<K, Change<V>, K, Change<V>>(
        name,
        detail::supplier_of<K, Change<V>, K, Change<V>>(
            [grace](ProcessorContext<K, Change<V>>& context) {
              struct Buffer {
                int64_t observed = -1;
                std::map<K, Record<K, Change<V>>> latest;
                std::multimap<int64_t, K> by_end;
              };
              auto buffer = std::make_shared<Buffer>();
              return [buffer, grace, &context](const Record<K, Change<V>>& record) {
                buffer->observed = std::max(buffer->observed, record.timestamp);
                auto [it, inserted] = buffer->latest.insert_or_assign(record.key, record);
                if (inserted) buffer->by_end.emplace(record.key.window.end, record.key);
                int64_t close_time = buffer->observed - grace;
                while (!buffer->by_end.empty() && buffer->by_end.begin()->first <= close_time) {
                  auto entry = buffer->latest.find(buffer->by_end.begin()->second);
                  Record<K, Change<V>> final_result = std::move(entry->second);
                  buffer->latest.erase(entry);
                  buffer->by_end.erase(buffer->by_end.begin());
                  final_result.value.old_value.reset();
                  // A window's deletion (a session merged into another) is
                  // no final result: Kafka drops it too.
                  if (final_result.value.new_value) context.forward(final_result);
                }
              };
            }),
        {node_});
    KTable suppressed(*builder_, name, key_serde_, value_serde_, getter_, "");
    suppressed.window_grace_ms_ = window_grace_ms_;
    return suppressed;
  }
}

}  // namespace sluice::streams

#include "streams/session_windows.h"  // IWYU pragma: export
#include "streams/sliding_windows.h"  // IWYU pragma: export
