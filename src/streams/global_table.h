#pragma once
// GlobalKTable (Kafka's StreamsBuilder.globalTable) and stream-globaltable
// joins (KStreamGlobalKTableJoin), included by dsl.h.
//
// A global table's store holds every partition of its topic on every
// instance: KafkaStreams keeps it with a global thread (global_thread.h)
// that reads the topic to its end before the stream threads start and
// follows it after; the topic is the store's changelog (no other). Stream
// tasks read the store without co-partitioning: a join looks up the key a
// selector picks from each record. In the test driver the one task holds
// the store and applies the topic's records as they are piped.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "streams/dsl.h"

namespace sluice::streams {

// A bytes store that others read while one thread writes: the global
// thread updates it while stream threads look keys up.
class SynchronizedKeyValueBytesStore final : public KeyValueBytesStore {
 public:
  explicit SynchronizedKeyValueBytesStore(std::unique_ptr<KeyValueBytesStore> inner)
      : KeyValueBytesStore(inner->name()), inner_(std::move(inner)) {}
  bool persistent() const override { return inner_->persistent(); }
  void flush() override;
  void close() override;
  std::optional<std::string> get(const std::string& key) const override;
  void put(const std::string& key, const std::string& value) override;
  void remove(const std::string& key) override;
  std::vector<std::pair<std::string, std::string>> range(
      const std::optional<std::string>& from, const std::optional<std::string>& to) const override;
  size_t approximate_entries() const override;
  KeyValueBytesStore* bytes_store() override { return this; }

 private:
  mutable std::mutex mutex_;
  std::unique_ptr<KeyValueBytesStore> inner_;
};

template <class K, class V>
class GlobalKTable {
 public:
  GlobalKTable(std::string store_name, Serde<K> key_serde, Serde<V> value_serde)
      : store_name_(std::move(store_name)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  const std::string& queryable_store_name() const { return store_name_; }
  const Serde<K>& key_serde() const { return key_serde_; }
  const Serde<V>& value_serde() const { return value_serde_; }
  // Any processor may read a global store: nothing to connect.
  detail::ValueGetterSupplier<K, V> value_getter() const {
    detail::ValueGetterSupplier<K, V> getter = detail::store_getter<K, V>(store_name_);
    getter.stores.clear();
    return getter;
  }

 private:
  std::string store_name_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
};

template <class K, class V>
GlobalKTable<K, V> StreamsBuilder::global_table(const std::string& topic, Consumed<K, V> consumed,
                                                Materialized<K, V> materialized) {
  std::string store =
      materialized.store_name.empty() ? new_store_name(topic + "-") : materialized.store_name;
  std::string source = new_processor_name("KSTREAM-SOURCE-");
  std::string processor = new_processor_name("KTABLE-SOURCE-");
  // Kafka: a global table always uses the serdes it consumes with.
  Serde<K> key_serde = consumed.key_serde;
  Serde<V> value_serde = consumed.value_serde;
  topology_.add_source<K, std::optional<V>>(source, key_serde, serdes::optional(value_serde),
                                            {topic});
  topology_.add_processor<K, std::optional<V>, K, Change<V>>(
      processor,
      detail::supplier_of<K, std::optional<V>, K, Change<V>>(
          [store](ProcessorContext<K, Change<V>>& context) {
            auto* values = &context.template get_state_store<KeyValueStore<K, V>>(store);
            return [values](const Record<K, std::optional<V>>& record) {
              if (is_null_value(record.key)) return;  // Kafka skips null keys
              if (record.value) {
                values->put(record.key, *record.value);
              } else {
                values->remove(record.key);
              }
            };
          }),
      {source});
  StoreBuilder builder;
  builder.name = store;
  builder.logging_enabled = false;  // the topic is the changelog
  builder.build = [store, key_serde, value_serde]() -> std::unique_ptr<StateStore> {
    return std::make_unique<KeyValueStore<K, V>>(
        std::make_unique<SynchronizedKeyValueBytesStore>(
            std::make_unique<InMemoryKeyValueStore>(store)),
        key_serde, value_serde);
  };
  topology_.add_global_state_store(std::move(builder), processor);
  return GlobalKTable<K, V>(store, key_serde, value_serde);
}

namespace detail {

// joiner(value, other) or joiner(key, value, other) (Kafka's ValueJoinerWithKey).
template <class Joiner, class K, class V, class VG>
auto global_join_result(Joiner& joiner, const K& key, const V& value, const VG& other) {
  if constexpr (std::is_invocable_v<Joiner&, const K&, const V&, const VG&>) {
    return joiner(key, value, other);
  } else {
    return joiner(value, other);
  }
}

// Kafka's KStreamGlobalKTableJoin: the table's row for key_selector(key,
// value); records whose value or selected key says null are dropped (a
// left join keeps a record with a null key, Kafka's KIP-962).
template <bool Left, class K, class V, class KG, class VG, class VR, class Selector, class Joiner>
ProcessorSupplier<K, V, K, VR> global_join_supplier(ValueGetterSupplier<KG, VG> getter,
                                                    Selector key_selector, Joiner joiner) {
  return supplier_of<K, V, K, VR>([getter, key_selector, joiner](ProcessorContext<K, VR>& context) {
    ValueGetter<KG, VG> get = getter.make(context);
    return [get, key_selector, joiner, &context](const Record<K, V>& record) {
      KG mapped = key_selector(record.key, record.value);
      bool keep_null_key = Left && is_null_value(record.key) && !is_null_value(record.value);
      if (!keep_null_key && (is_null_value(mapped) || is_null_value(record.value))) {
        spdlog::warn("Skipping record due to null join key or value.");
        return;
      }
      std::optional<VG> other;
      if (!is_null_value(mapped)) other = get(mapped);
      if constexpr (Left) {
        context.forward(
            record.with_value(VR(global_join_result(joiner, record.key, record.value, other))));
      } else if (other) {
        context.forward(
            record.with_value(VR(global_join_result(joiner, record.key, record.value, *other))));
      }
    };
  });
}

}  // namespace detail

template <class K, class V>
template <class KG, class VG, class Selector, class Joiner>
auto KStream<K, V>::join(const GlobalKTable<KG, VG>& table, Selector key_selector,
                         Joiner joiner) const {
  using VR = std::decay_t<decltype(detail::global_join_result(
      joiner, std::declval<K>(), std::declval<V>(), std::declval<VG>()))>;
  // Kafka names both global joins with the left join's prefix.
  std::string name = builder_->new_processor_name("KSTREAM-LEFTJOIN-");
  builder_->topology().add_processor<K, V, K, VR>(
      name,
      detail::global_join_supplier<false, K, V, KG, VG, VR>(
          table.value_getter(), std::move(key_selector), std::move(joiner)),
      {node_});
  return KStream<K, VR>(*builder_, name, key_serde_, std::nullopt, repartition_required_);
}

template <class K, class V>
template <class KG, class VG, class Selector, class Joiner>
auto KStream<K, V>::left_join(const GlobalKTable<KG, VG>& table, Selector key_selector,
                              Joiner joiner) const {
  using VR = std::decay_t<decltype(detail::global_join_result(
      joiner, std::declval<K>(), std::declval<V>(), std::declval<std::optional<VG>>()))>;
  std::string name = builder_->new_processor_name("KSTREAM-LEFTJOIN-");
  builder_->topology().add_processor<K, V, K, VR>(
      name,
      detail::global_join_supplier<true, K, V, KG, VG, VR>(
          table.value_getter(), std::move(key_selector), std::move(joiner)),
      {node_});
  return KStream<K, VR>(*builder_, name, key_serde_, std::nullopt, repartition_required_);
}

}  // namespace sluice::streams
