#pragma once
// Session windowed aggregations (Kafka's SessionWindowedKStream,
// KStreamSessionWindowAggregate), included by windowed_dsl.h.
//
// A record at t joins every session of its key that ends at or after
// t - gap and starts at or before t + gap: their aggregates are merged (the
// session merger), the record is added, and the result is stored under the
// session spanning them all. The sessions it replaced are removed, and
// their deletion is forwarded (a Change without a new value), so the
// table's old rows are deleted downstream. A record whose merged session
// ended before stream time - grace - gap is dropped. Sessions are kept for
// gap + grace after their end; results carry the session's end as their
// timestamp, as Kafka's do.

#include "streams/dsl.h"
#include "streams/session_store.h"

namespace sluice::streams {

namespace detail {

// merge(key, aggregate so far (nullopt: the initializer's), a session's
// aggregate) -> the merged aggregate (Kafka's Merger).
template <class K, class VA>
using SessionMerge = std::function<VA(const K&, const std::optional<VA>&, const VA&)>;

template <class K, class V, class VA>
class SessionWindowAggregateProcessor final : public Processor<K, V, Windowed<K>, Change<VA>> {
 public:
  using Update = std::function<VA(const K&, const V&, const std::optional<VA>&)>;
  SessionWindowAggregateProcessor(std::string store, SessionWindows windows, Update update,
                                  SessionMerge<K, VA> merge)
      : store_name_(std::move(store)),
        windows_(windows),
        update_(std::move(update)),
        merge_(std::move(merge)) {}

  void init(ProcessorContext<Windowed<K>, Change<VA>>& context) override {
    context_ = &context;
    store_ = &context.template get_state_store<SessionStore<K, VA>>(store_name_);
  }

  void process(const Record<K, V>& record) override {
    if (is_null_value(record.key)) {
      spdlog::debug("Skipping record due to null key.");
      return;
    }
    int64_t timestamp = record.timestamp;
    observed_ = std::max(observed_, timestamp);
    int64_t close_time = observed_ - windows_.grace_ms() - windows_.inactivity_gap_ms();
    int64_t gap = windows_.inactivity_gap_ms();
    std::vector<std::pair<Windowed<K>, VA>> merged =
        store_->find_sessions(record.key, timestamp - gap, timestamp + gap);
    Window session{timestamp, timestamp};
    std::optional<VA> aggregate;
    for (const auto& [existing, value] : merged) {
      aggregate = merge_(record.key, aggregate, value);
      session = {std::min(session.start, existing.window.start),
                 std::max(session.end, existing.window.end)};
    }
    if (session.end < close_time) {
      spdlog::debug(
          "Skipping record for expired window. timestamp=[{}] window=[{},{}] expiration=[{}] "
          "streamTime=[{}]",
          timestamp, session.start, session.end, close_time, observed_);
      return;
    }
    if (session != Window{timestamp, timestamp}) {
      for (const auto& [existing, value] : merged) {
        store_->remove(existing);
        forward(existing, Change<VA>{std::nullopt, value}, record.headers);
      }
    }
    VA next = update_(record.key, record.value, aggregate);
    Windowed<K> key{record.key, session};
    store_->put(key, next);
    forward(key, Change<VA>{next, std::nullopt}, record.headers);
  }

 private:
  // A session's result carries its end as the timestamp.
  void forward(const Windowed<K>& key, Change<VA> change, const Headers& headers) {
    context_->forward(
        Record<Windowed<K>, Change<VA>>{key, std::move(change), key.window.end, headers});
  }

  std::string store_name_;
  SessionWindows windows_;
  Update update_;
  SessionMerge<K, VA> merge_;
  ProcessorContext<Windowed<K>, Change<VA>>* context_ = nullptr;
  SessionStore<K, VA>* store_ = nullptr;
  int64_t observed_ = -1;  // Kafka's observedStreamTime
};

}  // namespace detail

template <class K, class V>
class SessionWindowedKStream {
 public:
  SessionWindowedKStream(KGroupedStream<K, V> grouped, SessionWindows windows)
      : grouped_(std::move(grouped)), windows_(windows) {}

  // Records per session.
  KTable<Windowed<K>, int64_t> count() const { return count_impl({}); }
  KTable<Windowed<K>, int64_t> count(Materialized<K, int64_t> materialized) const {
    // Kafka burns a store name here when none is given (its topologies
    // keep the numbering of older versions).
    if (materialized.store_name.empty()) grouped_.builder_->new_store_name("KSTREAM-AGGREGATE-");
    return count_impl(std::move(materialized));
  }

  // reducer(aggregate, value); merging sessions reduces their aggregates.
  template <class Reducer>
  KTable<Windowed<K>, V> reduce(Reducer reducer, Materialized<K, V> materialized = {}) const {
    if (!materialized.value_serde) materialized.value_serde = grouped_.value_serde_;
    auto update = detail::reducing_update<K, V>(reducer);
    // Kafka's mergerForAggregator: the second session's aggregate is reduced
    // into the first.
    detail::SessionMerge<K, V> merge = [update](const K& key, const std::optional<V>& aggregate,
                                                const V& session) {
      return update(key, session, aggregate);
    };
    return aggregate_impl<V>("KSTREAM-REDUCE-", update, merge, std::move(materialized));
  }

  // aggregator(key, value, aggregate) from initializer(); merger(key,
  // aggregate, other aggregate) when a record joins sessions.
  template <class VA, class Initializer, class Aggregator, class Merger>
  KTable<Windowed<K>, VA> aggregate(Initializer initializer, Aggregator aggregator, Merger merger,
                                    Materialized<K, VA> materialized = {}) const {
    detail::SessionMerge<K, VA> merge =
        [initializer, merger](const K& key, const std::optional<VA>& aggregate, const VA& session) {
          return VA(merger(key, aggregate ? *aggregate : VA(initializer()), session));
        };
    return aggregate_impl<VA>("KSTREAM-AGGREGATE-",
                              detail::aggregating_update<K, V, VA>(initializer, aggregator), merge,
                              std::move(materialized));
  }

 private:
  KTable<Windowed<K>, int64_t> count_impl(Materialized<K, int64_t> materialized) const {
    if (!materialized.value_serde) materialized.value_serde = serdes::long_();
    detail::SessionMerge<K, int64_t> merge = [](const K&, const std::optional<int64_t>& aggregate,
                                                const int64_t& session) {
      return aggregate.value_or(0) + session;
    };
    return aggregate_impl<int64_t>("KSTREAM-AGGREGATE-", detail::counting_update<K, V>(), merge,
                                   std::move(materialized));
  }

  template <class VA>
  KTable<Windowed<K>, VA> aggregate_impl(
      const std::string& prefix,
      std::function<VA(const K&, const V&, const std::optional<VA>&)> update,
      detail::SessionMerge<K, VA> merge, Materialized<K, VA> materialized) const {
    StreamsBuilder& builder = *grouped_.builder_;
    auto plan = grouped_.template plan_aggregation<VA>(prefix, materialized);
    std::string store = plan.store;
    SessionWindows windows = windows_;
    builder.topology().add_processor<K, V, Windowed<K>, Change<VA>>(
        plan.name,
        [store, windows, update, merge] {
          return std::make_unique<detail::SessionWindowAggregateProcessor<K, V, VA>>(store, windows,
                                                                                     update, merge);
        },
        {plan.parent});
    // Kafka's SessionStoreMaterializer: retention gap + grace.
    // Persistent (RocksDB) unless the Materialized names another supplier.
    StoreBuilder store_builder = stores::session_store_builder<K, VA>(
        materialized.bytes_supplier(store), windows.inactivity_gap_ms() + windows.grace_ms(),
        plan.key_serde, plan.value_serde);
    store_builder.logging_enabled = materialized.logging_enabled;
    builder.topology().add_state_store(std::move(store_builder), {plan.name});
    detail::ValueGetterSupplier<Windowed<K>, VA> getter{
        [store](ProcessingContext& context) -> detail::ValueGetter<Windowed<K>, VA> {
          auto* sessions = &context.get_state_store<SessionStore<K, VA>>(store);
          return [sessions](const Windowed<K>& key) {
            return sessions->fetch_session(key.key, key.window.start, key.window.end);
          };
        },
        {store}};
    KTable<Windowed<K>, VA> table(builder, plan.name, serdes::session_windowed(plan.key_serde),
                                  plan.value_serde, getter, store);
    // What suppression waits for after a session's end (Kafka's
    // GraphGraceSearchUtil: grace + gap).
    return table.with_window_grace(windows.grace_ms() + windows.inactivity_gap_ms());
  }

  KGroupedStream<K, V> grouped_;
  SessionWindows windows_;
};

template <class K, class V>
SessionWindowedKStream<K, V> KGroupedStream<K, V>::windowed_by(
    const SessionWindows& windows) const {
  return SessionWindowedKStream<K, V>(*this, windows);
}

}  // namespace sluice::streams
