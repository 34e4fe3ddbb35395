#pragma once
// The DSL (Kafka's StreamsBuilder, KStream, KGroupedStream, KTable): each
// operation adds nodes to the builder's Topology with Kafka Streams' node,
// store and internal topic names (`KSTREAM-FILTER-0000000001`,
// `KSTREAM-AGGREGATE-STATE-STORE-0000000003`, `<store>-repartition`), so a
// topology described here reads like Kafka's and its internal topics are
// the ones Kafka Streams would create for the same program.
//
// Types: a KStream<K, V> forwards Record<K, V>; a KTable<K, V> forwards
// Record<K, Change<V>> (new and old value), so a deletion travels as a
// Change without a new value. Serdes travel with streams and tables where
// they are known (from the source, or given to an operation) and are
// needed only where bytes are: sinks, repartition topics and stores.
// Records whose key (or value) says null (serde.h) are dropped by
// aggregations and joins, as Kafka drops null keys.

#include <spdlog/spdlog.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "streams/copartition.h"
#include "streams/join_windows.h"
#include "streams/processor.h"
#include "streams/record.h"
#include "streams/serde.h"
#include "streams/store.h"
#include "streams/stream_partitioner.h"
#include "streams/topology.h"
#include "streams/window_store.h"
#include "streams/windows.h"

namespace sluice::streams {

template <class K, class V>
struct Consumed {
  Serde<K> key_serde;
  Serde<V> value_serde;
  // The source's own (timestamp_extractor.h); nullptr: default.timestamp.extractor.
  std::shared_ptr<TimestampExtractor<K, V>> timestamp_extractor = nullptr;

  Consumed with_timestamp_extractor(std::shared_ptr<TimestampExtractor<K, V>> extractor) && {
    timestamp_extractor = std::move(extractor);
    return std::move(*this);
  }
};

// Serdes of a sink, and its partitioner (Kafka's Produced; nullptr: the
// producer's default partitioner, murmur2 of the key's bytes).
template <class K, class V>
struct Produced {
  Serde<K> key_serde;
  Serde<V> value_serde;
  StreamPartitioner<K, V> partitioner = nullptr;

  Produced with_stream_partitioner(StreamPartitioner<K, V> stream_partitioner) && {
    partitioner = std::move(stream_partitioner);
    return std::move(*this);
  }
};

// `Consumed{serdes::string(), serdes::long_()}` (compilers without C++20's
// aggregate deduction need these).
template <class K, class V>
Consumed(Serde<K>, Serde<V>) -> Consumed<K, V>;
template <class K, class V>
Produced(Serde<K>, Serde<V>) -> Produced<K, V>;

// Serdes for a repartition (group_by's new key), and the repartition
// topic's name (empty: derived from the store's).
template <class K, class V>
struct Grouped {
  std::optional<Serde<K>> key_serde;
  std::optional<Serde<V>> value_serde;
  std::string name;

  static Grouped with(Serde<K> key, Serde<V> value) {
    return {std::move(key), std::move(value), ""};
  }
  static Grouped as(std::string name) { return {std::nullopt, std::nullopt, std::move(name)}; }
};

// A store for an aggregation or a table: its name (empty: generated, as
// Kafka does), serdes, whether it has a changelog, and the bytes store
// (Kafka's default when none is named: persistent, RocksDB;
// `Materialized::as(stores::in_memory_key_value_store("name"))` keeps it in
// memory).
template <class K, class V>
struct Materialized {
  std::string store_name;
  std::optional<Serde<K>> key_serde;
  std::optional<Serde<V>> value_serde;
  bool logging_enabled = true;
  bool caching_enabled = true;  // through the record cache (record_cache.h)
  std::optional<BytesStoreSupplier> supplier;

  static Materialized as(std::string name) {
    return {std::move(name), std::nullopt, std::nullopt, true, true, std::nullopt};
  }
  static Materialized as(BytesStoreSupplier supplier) {
    std::string name = supplier.name;
    return {std::move(name), std::nullopt, std::nullopt, true, true, std::move(supplier)};
  }
  // A windowed aggregation's store (its retention follows the windows).
  static Materialized as(WindowBytesStoreSupplier supplier) {
    return as(std::move(supplier.bytes));
  }
  // The bytes store to materialize `store` in.
  BytesStoreSupplier bytes_supplier(const std::string& store) const {
    return supplier ? *supplier : stores::persistent_key_value_store(store);
  }
  static Materialized with(Serde<K> key, Serde<V> value) {
    return {"", std::move(key), std::move(value), true, true, std::nullopt};
  }
  Materialized with_caching_disabled() && {
    caching_enabled = false;
    return std::move(*this);
  }
  Materialized with_value_serde(Serde<V> value) && {
    value_serde = std::move(value);
    return std::move(*this);
  }
  Materialized with_logging_disabled() && {
    logging_enabled = false;
    return std::move(*this);
  }
};

namespace detail {

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

// A processor whose behaviour is a function made at init() from its context
// (so it can hold the stores it looked up).
template <class KIn, class VIn, class KOut, class VOut>
class FunctionProcessor final : public Processor<KIn, VIn, KOut, VOut> {
 public:
  using Body = std::function<void(const Record<KIn, VIn>&)>;
  using MakeBody = std::function<Body(ProcessorContext<KOut, VOut>&)>;
  explicit FunctionProcessor(MakeBody make_body) : make_body_(std::move(make_body)) {}
  void init(ProcessorContext<KOut, VOut>& context) override { body_ = make_body_(context); }
  void process(const Record<KIn, VIn>& record) override { body_(record); }

 private:
  MakeBody make_body_;
  Body body_;
};

template <class KIn, class VIn, class KOut, class VOut>
ProcessorSupplier<KIn, VIn, KOut, VOut> supplier_of(
    typename FunctionProcessor<KIn, VIn, KOut, VOut>::MakeBody make_body) {
  return
      [make_body] { return std::make_unique<FunctionProcessor<KIn, VIn, KOut, VOut>>(make_body); };
}

// The serde known here, else the type's default, else a TopologyError.
template <class T>
Serde<T> require_serde(const std::optional<Serde<T>>& serde, const std::string& what) {
  if (serde) return *serde;
  if constexpr (DefaultSerde<T>::available) {
    return DefaultSerde<T>::get();
  } else {
    throw TopologyError(what +
                        " needs a serde that is not known here and its type has no "
                        "default: give one to the operation (Produced, Grouped or "
                        "Materialized)");
  }
}

// Reads a table's current value for a key from within a task (Kafka's
// KTableValueGetter): made at a processor's init() from its context.
template <class K, class V>
using ValueGetter = std::function<std::optional<V>(const K& key)>;
template <class K, class V>
struct ValueGetterSupplier {
  std::function<ValueGetter<K, V>(ProcessingContext& context)> make;
  std::vector<std::string> stores;  // what the getter reads: connect them to the user
};

// How count, reduce and aggregate turn (key, value, old aggregate) into the
// new aggregate; windowed and plain aggregations share them.
template <class K, class V>
auto counting_update() {
  return
      [](const K&, const V&, const std::optional<int64_t>& count) { return count.value_or(0) + 1; };
}
template <class K, class V, class Reducer>
auto reducing_update(Reducer reducer) {
  return [reducer](const K&, const V& value, const std::optional<V>& aggregate) {
    return aggregate ? V(reducer(*aggregate, value)) : value;
  };
}
template <class K, class V, class VA, class Initializer, class Aggregator>
auto aggregating_update(Initializer initializer, Aggregator aggregator) {
  return
      [initializer, aggregator](const K& key, const V& value, const std::optional<VA>& aggregate) {
        return VA(aggregator(key, value, aggregate ? *aggregate : VA(initializer())));
      };
}

}  // namespace detail

class StreamsBuilder;
template <class K, class V>
class KStream;
template <class K, class V>
class KTable;
template <class K, class V>
class KGroupedStream;
template <class K, class V>
class TimeWindowedKStream;
template <class K, class V>
class SlidingWindowedKStream;
template <class K, class V>
class SessionWindowedKStream;
template <class K, class V>
class GlobalKTable;

namespace detail {
// Repartitions a key-changed join input (stream_joins.h).
template <class K, class V>
std::string repartition_for_join(StreamsBuilder& builder, const std::string& node,
                                 const std::string& prefix, Serde<K> key_serde,
                                 Serde<V> value_serde);
// A foreign-key join's extractor: foreign_key(value) or foreign_key(key, value).
template <class F, class K, class V>
concept ForeignKeyExtractor =
    std::is_invocable_v<F&, const V&> || std::is_invocable_v<F&, const K&, const V&>;
}  // namespace detail

class StreamsBuilder {
 public:
  template <class K, class V>
  KStream<K, V> stream(std::vector<std::string> topics, Consumed<K, V> consumed);
  template <class K, class V>
  KStream<K, V> stream(const std::string& topic, Consumed<K, V> consumed) {
    return stream(std::vector<std::string>{topic}, std::move(consumed));
  }
  template <class K, class V>
  KTable<K, V> table(const std::string& topic, Consumed<K, V> consumed,
                     Materialized<K, V> materialized = {});
  // Every partition of `topic` in a store on every instance (global_table.h).
  template <class K, class V>
  GlobalKTable<K, V> global_table(const std::string& topic, Consumed<K, V> consumed,
                                  Materialized<K, V> materialized = {});

  // The topology built so far (Kafka's build()).
  const Topology& build() const { return topology_; }
  Topology& topology() { return topology_; }

  // Kafka's InternalStreamsBuilder names: one counter for processors and
  // stores, ten digits.
  std::string new_processor_name(const std::string& prefix);
  std::string new_store_name(const std::string& prefix) {
    return new_processor_name(prefix + "STATE-STORE-");
  }

 private:
  Topology topology_;
  int index_ = 0;
};

template <class K, class V>
class KStream {
 public:
  KStream(StreamsBuilder& builder, std::string node, std::optional<Serde<K>> key_serde,
          std::optional<Serde<V>> value_serde, bool repartition_required)
      : builder_(&builder),
        node_(std::move(node)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        repartition_required_(repartition_required) {}

  const std::string& node_name() const { return node_; }

  template <class Predicate>
  KStream filter(Predicate predicate) const {
    return filter_impl("KSTREAM-FILTER-", std::move(predicate), false);
  }
  template <class Predicate>
  KStream filter_not(Predicate predicate) const {
    return filter_impl("KSTREAM-FILTER-", std::move(predicate), true);
  }

  // mapper(value) or mapper(key, value): the key stays, so no repartition.
  template <class Mapper>
  auto map_values(Mapper mapper) const {
    using VR =
        std::decay_t<decltype(call_with_value(mapper, std::declval<K>(), std::declval<V>()))>;
    std::string name = builder_->new_processor_name("KSTREAM-MAPVALUES-");
    add_processor<K, VR>(
        name, [mapper](const Record<K, V>& record, ProcessorContext<K, VR>& context) {
          context.forward(record.with_value(call_with_value(mapper, record.key, record.value)));
        });
    return KStream<K, VR>(*builder_, name, key_serde_, std::nullopt, repartition_required_);
  }

  // mapper(key, value) -> std::pair<KR, VR>.
  template <class Mapper>
  auto map(Mapper mapper) const {
    using Pair = std::decay_t<decltype(mapper(std::declval<K>(), std::declval<V>()))>;
    using KR = typename Pair::first_type;
    using VR = typename Pair::second_type;
    std::string name = builder_->new_processor_name("KSTREAM-MAP-");
    add_processor<KR, VR>(
        name, [mapper](const Record<K, V>& record, ProcessorContext<KR, VR>& context) {
          auto [key, value] = mapper(record.key, record.value);
          context.forward(
              Record<KR, VR>{std::move(key), std::move(value), record.timestamp, record.headers});
        });
    return KStream<KR, VR>(*builder_, name, std::nullopt, std::nullopt, true);
  }

  // mapper(key, value) -> a container of std::pair<KR, VR>.
  template <class Mapper>
  auto flat_map(Mapper mapper) const {
    using Pairs = std::decay_t<decltype(mapper(std::declval<K>(), std::declval<V>()))>;
    using KR = typename Pairs::value_type::first_type;
    using VR = typename Pairs::value_type::second_type;
    std::string name = builder_->new_processor_name("KSTREAM-FLATMAP-");
    add_processor<KR, VR>(
        name, [mapper](const Record<K, V>& record, ProcessorContext<KR, VR>& context) {
          for (auto& [key, value] : mapper(record.key, record.value)) {
            context.forward(Record<KR, VR>{key, value, record.timestamp, record.headers});
          }
        });
    return KStream<KR, VR>(*builder_, name, std::nullopt, std::nullopt, true);
  }

  // mapper(value) or mapper(key, value) -> a container of VR.
  template <class Mapper>
  auto flat_map_values(Mapper mapper) const {
    using Values =
        std::decay_t<decltype(call_with_value(mapper, std::declval<K>(), std::declval<V>()))>;
    using VR = typename Values::value_type;
    std::string name = builder_->new_processor_name("KSTREAM-FLATMAPVALUES-");
    add_processor<K, VR>(name,
                         [mapper](const Record<K, V>& record, ProcessorContext<K, VR>& context) {
                           for (auto& value : call_with_value(mapper, record.key, record.value)) {
                             context.forward(record.with_value(VR(value)));
                           }
                         });
    return KStream<K, VR>(*builder_, name, key_serde_, std::nullopt, repartition_required_);
  }

  // selector(key, value) -> the new key.
  template <class Selector>
  auto select_key(Selector selector) const {
    using KR = std::decay_t<decltype(selector(std::declval<K>(), std::declval<V>()))>;
    std::string name = builder_->new_processor_name("KSTREAM-KEY-SELECT-");
    add_processor<KR, V>(name,
                         [selector](const Record<K, V>& record, ProcessorContext<KR, V>& context) {
                           context.forward(record.with_key(selector(record.key, record.value)));
                         });
    return KStream<KR, V>(*builder_, name, std::nullopt, value_serde_, true);
  }

  template <class Action>
  KStream peek(Action action) const {
    std::string name = builder_->new_processor_name("KSTREAM-PEEK-");
    add_processor<K, V>(name,
                        [action](const Record<K, V>& record, ProcessorContext<K, V>& context) {
                          action(record.key, record.value);
                          context.forward(record);
                        });
    return derived(name);
  }

  template <class Action>
  void foreach (Action action) const {
    std::string name = builder_->new_processor_name("KSTREAM-FOREACH-");
    add_processor<K, V>(name, [action](const Record<K, V>& record, ProcessorContext<K, V>&) {
      action(record.key, record.value);
    });
  }

  KStream merge(const KStream& other) const {
    std::string name = builder_->new_processor_name("KSTREAM-MERGE-");
    builder_->topology().add_processor<K, V, K, V>(
        name, detail::supplier_of<K, V, K, V>([](ProcessorContext<K, V>& context) {
          return [&context](const Record<K, V>& record) { context.forward(record); };
        }),
        {node_, other.node_});
    return KStream(*builder_, name, key_serde_, value_serde_,
                   repartition_required_ || other.repartition_required_);
  }

  // Kafka's split(): each record goes to the first branch whose predicate
  // it matches, else to the default branch (if any).
  class Branched {
   public:
    Branched(const KStream& source, std::string splitter)
        : source_(source), splitter_(std::move(splitter)) {
      predicates_ = std::make_shared<std::vector<std::function<bool(const K&, const V&)>>>();
      children_ = std::make_shared<std::vector<std::string>>();
      auto predicates = predicates_;
      auto children = children_;
      source_.builder_->topology().template add_processor<K, V, K, V>(
          splitter_,
          detail::supplier_of<K, V, K, V>([predicates, children](ProcessorContext<K, V>& context) {
            return [predicates, children, &context](const Record<K, V>& record) {
              for (size_t i = 0; i < children->size(); ++i) {
                if (i >= predicates->size() || (*predicates)[i](record.key, record.value)) {
                  context.forward(record, (*children)[i]);
                  return;
                }
              }
            };
          }),
          {source_.node_});
    }
    // The branch is named `<splitter><name>`, or `<splitter><n>` (n from 1).
    Branched& branch(std::function<bool(const K&, const V&)> predicate, std::string name = "") {
      predicates_->push_back(std::move(predicate));
      add_child(name.empty() ? std::to_string(predicates_->size()) : name);
      return *this;
    }
    // The default branch is `<splitter><name>` or `<splitter>0`.
    std::map<std::string, KStream> default_branch(std::string name = "") {
      add_child(name.empty() ? "0" : name);
      return branches_;
    }
    std::map<std::string, KStream> no_default_branch() { return branches_; }

   private:
    void add_child(const std::string& suffix) {
      std::string child = splitter_ + suffix;
      source_.builder_->new_processor_name(child);  // burns an index, as Kafka's does
      children_->push_back(child);
      source_.builder_->topology().template add_processor<K, V, K, V>(
          child, detail::supplier_of<K, V, K, V>([](ProcessorContext<K, V>& context) {
            return [&context](const Record<K, V>& record) { context.forward(record); };
          }),
          {splitter_});
      branches_.emplace(child, source_.derived(child));
    }

    KStream source_;
    std::string splitter_;
    std::shared_ptr<std::vector<std::function<bool(const K&, const V&)>>> predicates_;
    std::shared_ptr<std::vector<std::string>> children_;
    std::map<std::string, KStream> branches_;
  };
  Branched split(const std::string& name = "") const {
    return Branched(*this, name.empty() ? builder_->new_processor_name("KSTREAM-BRANCH-") : name);
  }

  void to(const std::string& topic, std::optional<Produced<K, V>> produced = std::nullopt) const {
    std::string name = builder_->new_processor_name("KSTREAM-SINK-");
    Serde<K> key_serde =
        produced ? produced->key_serde : detail::require_serde(key_serde_, "to(" + topic + ")");
    Serde<V> value_serde =
        produced ? produced->value_serde : detail::require_serde(value_serde_, "to(" + topic + ")");
    builder_->topology().add_sink(name, topic, key_serde, value_serde, {node_},
                                  produced ? produced->partitioner : nullptr);
  }
  // To `topic` with the stream's serdes and `partitioner`.
  void to(const std::string& topic, StreamPartitioner<K, V> partitioner) const {
    to(topic, Produced<K, V>{detail::require_serde(key_serde_, "to(" + topic + ")"),
                             detail::require_serde(value_serde_, "to(" + topic + ")"),
                             std::move(partitioner)});
  }

  // Writes through the internal topic `<application.id>-<name>-repartition`
  // and reads it back (Kafka's repartition()), so records are partitioned
  // by their current key.
  KStream repartition(const std::string& name = "",
                      std::optional<Produced<K, V>> serdes = std::nullopt) const {
    std::string prefix = name.empty() ? builder_->new_processor_name("KSTREAM-REPARTITION-") : name;
    Serde<K> key_serde =
        serdes ? serdes->key_serde : detail::require_serde(key_serde_, "repartition()");
    Serde<V> value_serde =
        serdes ? serdes->value_serde : detail::require_serde(value_serde_, "repartition()");
    std::string source = repartition_through(*builder_, node_, prefix, key_serde, value_serde,
                                             serdes ? serdes->partitioner : nullptr);
    return KStream(*builder_, source, key_serde, value_serde, false);
  }

  // A user processor (Kafka's process()): `stores` are connected to it.
  template <class KOut, class VOut>
  KStream<KOut, VOut> process(ProcessorSupplier<K, V, KOut, VOut> supplier,
                              std::vector<std::string> stores = {}) const {
    std::string name = builder_->new_processor_name("KSTREAM-PROCESSOR-");
    builder_->topology().add_processor<K, V, KOut, VOut>(name, std::move(supplier), {node_});
    if (!stores.empty()) builder_->topology().connect_processor_and_state_stores(name, stores);
    return KStream<KOut, VOut>(*builder_, name, std::nullopt, std::nullopt, true);
  }

  KGroupedStream<K, V> group_by_key(Grouped<K, V> grouped = {}) const {
    return KGroupedStream<K, V>(*builder_, node_,
                                grouped.key_serde ? grouped.key_serde : key_serde_,
                                grouped.value_serde ? grouped.value_serde : value_serde_,
                                grouped.name, repartition_required_);
  }

  // selector(key, value) -> the grouping key; always repartitions.
  template <class Selector>
  auto group_by(Selector selector,
                Grouped<std::decay_t<decltype(selector(std::declval<K>(), std::declval<V>()))>, V>
                    grouped = {}) const {
    using KR = std::decay_t<decltype(selector(std::declval<K>(), std::declval<V>()))>;
    KStream<KR, V> keyed = select_key(selector);
    return KGroupedStream<KR, V>(*builder_, keyed.node_name(), grouped.key_serde,
                                 grouped.value_serde ? grouped.value_serde : value_serde_,
                                 grouped.name, true);
  }

  // Stream-table join (inner): each record meets the table's current value
  // for its key; records without one are dropped.
  template <class VT, class Joiner>
  auto join(const KTable<K, VT>& table, Joiner joiner) const {
    using VR = std::decay_t<decltype(joiner(std::declval<V>(), std::declval<VT>()))>;
    return table_join<false, VT, VR>(table, std::move(joiner));
  }
  // Left join: joiner(value, std::optional<VT>) for every record.
  template <class VT, class Joiner>
  auto left_join(const KTable<K, VT>& table, Joiner joiner) const {
    using VR = std::decay_t<decltype(joiner(std::declval<V>(), std::declval<std::optional<VT>>()))>;
    return table_join<true, VT, VR>(table, std::move(joiner));
  }

  // Windowed stream-stream joins (stream_joins.h): joiner(value, other)
  // or joiner(key, value, other); left_join's other is std::optional<VO>,
  // outer_join's value and other both optional.
  template <class VO, class Joiner>
  auto join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
            StreamJoined<K, V, VO> joined = {}) const;
  template <class VO, class Joiner>
  auto left_join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                 StreamJoined<K, V, VO> joined = {}) const;
  template <class VO, class Joiner>
  auto outer_join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                  StreamJoined<K, V, VO> joined = {}) const;
  // Stream-globaltable joins (global_table.h): each record meets the global
  // table's row for key_selector(key, value); no co-partitioning needed.
  template <class KG, class VG, class Selector, class Joiner>
  auto join(const GlobalKTable<KG, VG>& table, Selector key_selector, Joiner joiner) const;
  // joiner(value, std::optional<VG>) for every record.
  template <class KG, class VG, class Selector, class Joiner>
  auto left_join(const GlobalKTable<KG, VG>& table, Selector key_selector, Joiner joiner) const;

  // Internal: builds the repartition nodes (sink, null-key filter, source)
  // with Kafka's names; returns the source's name.
  static std::string repartition_through(StreamsBuilder& builder, const std::string& parent,
                                         const std::string& prefix, Serde<K> key_serde,
                                         Serde<V> value_serde,
                                         StreamPartitioner<K, V> partitioner = nullptr) {
    const std::string suffix = "-repartition";
    std::string topic = prefix.ends_with(suffix) ? prefix : prefix + suffix;
    std::string sink = builder.new_processor_name("KSTREAM-SINK-");
    std::string filter = builder.new_processor_name("KSTREAM-FILTER-");
    std::string source = builder.new_processor_name("KSTREAM-SOURCE-");
    if (!generated_name(prefix)) {
      sink = topic + "-sink";
      filter = topic + "-filter";
      source = topic + "-source";
    }
    Topology& topology = builder.topology();
    topology.add_processor<K, V, K, V>(
        filter, detail::supplier_of<K, V, K, V>([](ProcessorContext<K, V>& context) {
          return [&context](const Record<K, V>& record) {
            if (!is_null_value(record.key)) context.forward(record);
          };
        }),
        {parent});
    topology.add_sink_spec(
        sink, topic, true, {filter},
        [sink, key_serde, value_serde, partitioner](const std::string& resolved) {
          return std::make_unique<SinkNode<K, V>>(sink, resolved, key_serde, value_serde,
                                                  partitioner);
        });
    topology.add_source_spec(
        source, {topic}, true, [source, key_serde, value_serde](const std::string&) {
          return std::make_unique<SourceNode<K, V>>(source, key_serde, value_serde);
        });
    return source;
  }

 private:
  template <class K2, class V2>
  friend class KStream;
  template <int Kind, class VO, class VR, class Joiner>
  KStream<K, VR> stream_join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                             StreamJoined<K, V, VO> joined) const;

  // Kafka's "KSTREAM.*-[0-9]{10}": a generated name keeps generated node names.
  static bool generated_name(const std::string& name) {
    if (!name.starts_with("KSTREAM") || name.size() < 11) return false;
    size_t dash = name.size() - 11;
    if (name[dash] != '-') return false;
    for (size_t i = dash + 1; i < name.size(); ++i) {
      if (name[i] < '0' || name[i] > '9') return false;
    }
    return true;
  }

  template <class F>
  static auto call_with_value(F& f, const K& key, const V& value) {
    if constexpr (std::is_invocable_v<F&, const K&, const V&>) {
      return f(key, value);
    } else {
      return f(value);
    }
  }

  template <class KOut, class VOut, class Body>
  void add_processor(const std::string& name, Body body) const {
    builder_->topology().add_processor<K, V, KOut, VOut>(
        name, detail::supplier_of<K, V, KOut, VOut>([body](ProcessorContext<KOut, VOut>& context) {
          return [body, &context](const Record<K, V>& record) { body(record, context); };
        }),
        {node_});
  }

  template <class Predicate>
  KStream filter_impl(const std::string& prefix, Predicate predicate, bool negate) const {
    std::string name = builder_->new_processor_name(prefix);
    add_processor<K, V>(
        name, [predicate, negate](const Record<K, V>& record, ProcessorContext<K, V>& context) {
          if (static_cast<bool>(predicate(record.key, record.value)) != negate)
            context.forward(record);
        });
    return derived(name);
  }

  KStream derived(const std::string& name) const {
    return KStream(*builder_, name, key_serde_, value_serde_, repartition_required_);
  }

  template <bool Left, class VT, class VR, class Joiner>
  KStream<K, VR> table_join(const KTable<K, VT>& table, Joiner joiner) const {
    // After a key change the stream is repartitioned first (Kafka's
    // `<node>-repartition`), and it is co-partitioned with the table.
    std::string parent = node_;
    if (repartition_required_) {
      parent = detail::repartition_for_join(
          *builder_, node_, node_, detail::require_serde(key_serde_, "the stream-table join"),
          detail::require_serde(value_serde_, "the stream-table join"));
    }
    ensure_copartitioned(builder_->topology(), {parent, table.node_name()});
    std::string name = builder_->new_processor_name(Left ? "KSTREAM-LEFTJOIN-" : "KSTREAM-JOIN-");
    detail::ValueGetterSupplier<K, VT> getter = table.value_getter();
    builder_->topology().add_processor<K, V, K, VR>(
        name, detail::supplier_of<K, V, K, VR>([getter, joiner](ProcessorContext<K, VR>& context) {
          detail::ValueGetter<K, VT> get = getter.make(context);
          return [get, joiner, &context](const Record<K, V>& record) {
            if (is_null_value(record.key)) return;
            std::optional<VT> other = get(record.key);
            if constexpr (Left) {
              context.forward(record.with_value(VR(joiner(record.value, other))));
            } else if (other) {
              context.forward(record.with_value(VR(joiner(record.value, *other))));
            }
          };
        }),
        {parent});
    builder_->topology().connect_processor_and_state_stores(name, getter.stores);
    return KStream<K, VR>(*builder_, name, key_serde_, std::nullopt, false);
  }

  StreamsBuilder* builder_;
  std::string node_;
  std::optional<Serde<K>> key_serde_;
  std::optional<Serde<V>> value_serde_;
  bool repartition_required_ = false;
};

template <class K, class V>
class KTable {
 public:
  KTable(StreamsBuilder& builder, std::string node, std::optional<Serde<K>> key_serde,
         std::optional<Serde<V>> value_serde, detail::ValueGetterSupplier<K, V> getter,
         std::string store_name)
      : builder_(&builder),
        node_(std::move(node)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        getter_(std::move(getter)),
        store_name_(std::move(store_name)) {}

  const std::string& node_name() const { return node_; }
  // The store an interactive query (or the test driver) reads; empty when
  // the table is computed from its parent's store.
  const std::string& queryable_store_name() const { return store_name_; }
  const detail::ValueGetterSupplier<K, V>& value_getter() const { return getter_; }
  // A windowed aggregation's grace period (what suppression waits for).
  std::optional<int64_t> window_grace_ms() const { return window_grace_ms_; }
  KTable with_window_grace(int64_t grace_ms) const {
    KTable table = *this;
    table.window_grace_ms_ = grace_ms;
    return table;
  }

  // Kafka's suppress(Suppressed.untilWindowCloses(unbounded())): one final
  // result per window, once stream time passes its end plus the grace
  // period (windowed_dsl.h).
  KTable suppress_until_window_closes() const;

  template <class Predicate>
  KTable filter(Predicate predicate) const {
    return filter_impl(std::move(predicate), false);
  }
  template <class Predicate>
  KTable filter_not(Predicate predicate) const {
    return filter_impl(std::move(predicate), true);
  }

  // mapper(value) or mapper(key, value).
  template <class Mapper>
  auto map_values(Mapper mapper) const {
    using VR =
        std::decay_t<decltype(call_with_value(mapper, std::declval<K>(), std::declval<V>()))>;
    std::string name = builder_->new_processor_name("KTABLE-MAPVALUES-");
    add_change_processor<VR>(name, [mapper](const Record<K, Change<V>>& record,
                                            ProcessorContext<K, Change<VR>>& context) {
      Change<VR> change;
      if (record.value.new_value)
        change.new_value = call_with_value(mapper, record.key, *record.value.new_value);
      if (record.value.old_value)
        change.old_value = call_with_value(mapper, record.key, *record.value.old_value);
      context.forward(record.with_value(std::move(change)));
    });
    detail::ValueGetterSupplier<K, V> parent = getter_;
    detail::ValueGetterSupplier<K, VR> getter{
        [parent, mapper](ProcessingContext& context) -> detail::ValueGetter<K, VR> {
          detail::ValueGetter<K, V> get = parent.make(context);
          return [get, mapper](const K& key) -> std::optional<VR> {
            std::optional<V> value = get(key);
            if (!value) return std::nullopt;
            return call_with_value(mapper, key, *value);
          };
        },
        parent.stores};
    KTable<K, VR> mapped(*builder_, name, key_serde_, std::nullopt, getter, "");
    if (window_grace_ms_) mapped = mapped.with_window_grace(*window_grace_ms_);
    return mapped;
  }

  // Table-table joins (table_joins.h): joiner(value, other) for join,
  // joiner(value, std::optional<VO>) for left_join, joiner(std::optional<V>,
  // std::optional<VO>) for outer_join; the result is materialized in a
  // store only when `materialized` is given.
  template <class VO, class Joiner>
  auto join(const KTable<K, VO>& other, Joiner joiner) const;
  template <class VO, class Joiner, class VR>
  KTable<K, VR> join(const KTable<K, VO>& other, Joiner joiner,
                     Materialized<K, VR> materialized) const;
  template <class VO, class Joiner>
  auto left_join(const KTable<K, VO>& other, Joiner joiner) const;
  template <class VO, class Joiner, class VR>
  KTable<K, VR> left_join(const KTable<K, VO>& other, Joiner joiner,
                          Materialized<K, VR> materialized) const;
  template <class VO, class Joiner>
  auto outer_join(const KTable<K, VO>& other, Joiner joiner) const;
  template <class VO, class Joiner, class VR>
  KTable<K, VR> outer_join(const KTable<K, VO>& other, Joiner joiner,
                           Materialized<K, VR> materialized) const;
  // Foreign-key joins (Kafka's KIP-213, fk_join.h): each row meets the row
  // of `other` whose key foreign_key(value) names; joiner(value, other's).
  // Eventually the result holds the join of both tables' current rows.
  template <class KO, class VO, class Extractor, class Joiner,
            class VR = std::decay_t<std::invoke_result_t<Joiner&, const V&, const VO&>>>
  requires detail::ForeignKeyExtractor<Extractor, K, V> KTable<K, VR> join(
      const KTable<KO, VO>& other, Extractor foreign_key, Joiner joiner,
      Materialized<K, VR> materialized = {})
  const;
  // Every row of this table: joiner(value, std::optional<VO>).
  template <class KO, class VO, class Extractor, class Joiner,
            class VR =
                std::decay_t<std::invoke_result_t<Joiner&, const V&, const std::optional<VO>&>>>
  requires detail::ForeignKeyExtractor<Extractor, K, V> KTable<K, VR> left_join(
      const KTable<KO, VO>& other, Extractor foreign_key, Joiner joiner,
      Materialized<K, VR> materialized = {})
  const;

  // The table's changes as a stream: each update's new value. A deletion
  // reaches the stream only when V can say null (std::optional); otherwise
  // it is dropped here.
  KStream<K, V> to_stream() const {
    std::string name = builder_->new_processor_name("KTABLE-TOSTREAM-");
    builder_->topology().add_processor<K, Change<V>, K, V>(
        name, detail::supplier_of<K, Change<V>, K, V>([](ProcessorContext<K, V>& context) {
          return [&context](const Record<K, Change<V>>& record) {
            if (record.value.new_value) {
              context.forward(record.with_value(*record.value.new_value));
            } else if constexpr (detail::is_optional<V>::value) {
              context.forward(record.with_value(V{}));
            }
          };
        }),
        {node_});
    return KStream<K, V>(*builder_, name, key_serde_, value_serde_, false);
  }

 private:
  template <int Kind, class VO, class VR, class Joiner>
  KTable<K, VR> table_join(const KTable<K, VO>& other, Joiner joiner,
                           std::optional<Materialized<K, VR>> materialized) const;
  template <class K2, class V2>
  friend class KTable;

  template <bool Left, class KO, class VO, class VR, class Extractor, class Joiner>
  KTable<K, VR> foreign_key_join(const KTable<KO, VO>& other, Extractor foreign_key, Joiner joiner,
                                 Materialized<K, VR> materialized) const;

  template <class F>
  static auto call_with_value(F& f, const K& key, const V& value) {
    if constexpr (std::is_invocable_v<F&, const K&, const V&>) {
      return f(key, value);
    } else {
      return f(value);
    }
  }

  template <class VOut, class Body>
  void add_change_processor(const std::string& name, Body body) const {
    builder_->topology().add_processor<K, Change<V>, K, Change<VOut>>(
        name,
        detail::supplier_of<K, Change<V>, K, Change<VOut>>(
            [body](ProcessorContext<K, Change<VOut>>& context) {
              return
                  [body, &context](const Record<K, Change<V>>& record) { body(record, context); };
            }),
        {node_});
  }

  template <class Predicate>
  KTable filter_impl(Predicate predicate, bool negate) const {
    std::string name = builder_->new_processor_name("KTABLE-FILTER-");
    auto keep = [predicate, negate](const K& key,
                                    const std::optional<V>& value) -> std::optional<V> {
      if (value && static_cast<bool>(predicate(key, *value)) != negate) return value;
      return std::nullopt;
    };
    add_change_processor<V>(
        name, [keep](const Record<K, Change<V>>& record, ProcessorContext<K, Change<V>>& context) {
          Change<V> change{keep(record.key, record.value.new_value),
                           keep(record.key, record.value.old_value)};
          // Kafka's KTableFilter: nothing to say when neither side passes.
          if (!change.new_value && !change.old_value) return;
          context.forward(record.with_value(std::move(change)));
        });
    detail::ValueGetterSupplier<K, V> parent = getter_;
    detail::ValueGetterSupplier<K, V> getter{
        [parent, keep](ProcessingContext& context) -> detail::ValueGetter<K, V> {
          detail::ValueGetter<K, V> get = parent.make(context);
          return [get, keep](const K& key) { return keep(key, get(key)); };
        },
        parent.stores};
    KTable filtered(*builder_, name, key_serde_, value_serde_, getter, "");
    filtered.window_grace_ms_ = window_grace_ms_;
    return filtered;
  }

  StreamsBuilder* builder_;
  std::string node_;
  std::optional<Serde<K>> key_serde_;
  std::optional<Serde<V>> value_serde_;
  detail::ValueGetterSupplier<K, V> getter_;
  std::string store_name_;
  std::optional<int64_t> window_grace_ms_;
};

namespace detail {

// A getter reading a key-value store by name.
template <class K, class V>
ValueGetterSupplier<K, V> store_getter(const std::string& store) {
  return {[store](ProcessingContext& context) -> ValueGetter<K, V> {
            auto* typed = &context.get_state_store<KeyValueStore<K, V>>(store);
            return [typed](const K& key) { return typed->get(key); };
          },
          {store}};
}

}  // namespace detail

template <class K, class V>
class KGroupedStream {
 public:
  KGroupedStream(StreamsBuilder& builder, std::string node, std::optional<Serde<K>> key_serde,
                 std::optional<Serde<V>> value_serde, std::string repartition_name,
                 bool repartition_required)
      : builder_(&builder),
        node_(std::move(node)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        repartition_name_(std::move(repartition_name)),
        repartition_required_(repartition_required) {}

  // Records per key (Kafka's count(): a Long per key).
  KTable<K, int64_t> count(Materialized<K, int64_t> materialized = {}) const {
    if (!materialized.value_serde) materialized.value_serde = serdes::long_();
    return aggregate_impl<int64_t>("KSTREAM-AGGREGATE-", detail::counting_update<K, V>(),
                                   std::move(materialized));
  }

  // reducer(aggregate, value) -> the new aggregate; the first value starts it.
  template <class Reducer>
  KTable<K, V> reduce(Reducer reducer, Materialized<K, V> materialized = {}) const {
    if (!materialized.value_serde) materialized.value_serde = value_serde_;
    return aggregate_impl<V>("KSTREAM-REDUCE-", detail::reducing_update<K, V>(reducer),
                             std::move(materialized));
  }

  // Aggregations per time window (windowed_dsl.h), sliding window
  // (sliding_windows.h) and session (session_windows.h).
  TimeWindowedKStream<K, V> windowed_by(const TimeWindows& windows) const;
  SlidingWindowedKStream<K, V> windowed_by(const SlidingWindows& windows) const;
  SessionWindowedKStream<K, V> windowed_by(const SessionWindows& windows) const;

  // aggregator(key, value, aggregate) -> the new aggregate, from initializer().
  template <class VA, class Initializer, class Aggregator>
  KTable<K, VA> aggregate(Initializer initializer, Aggregator aggregator,
                          Materialized<K, VA> materialized) const {
    return aggregate_impl<VA>("KSTREAM-AGGREGATE-",
                              detail::aggregating_update<K, V, VA>(initializer, aggregator),
                              std::move(materialized));
  }

 private:
  // `update(key, value, old aggregate)` -> the new aggregate.
  template <class VA>
  KTable<K, VA> aggregate_impl(
      const std::string& prefix,
      std::function<VA(const K&, const V&, const std::optional<VA>&)> update,
      Materialized<K, VA> materialized) const {
    auto plan = plan_aggregation<VA>(prefix, materialized);
    std::string store = plan.store;
    std::string name = plan.name;
    Serde<K> key_serde = plan.key_serde;
    Serde<VA> value_serde = plan.value_serde;
    std::string parent = plan.parent;
    Topology& topology = builder_->topology();
    topology.add_processor<K, V, K, Change<VA>>(
        name,
        detail::supplier_of<K, V, K, Change<VA>>(
            [store, update](ProcessorContext<K, Change<VA>>& context) {
              auto* values = &context.template get_state_store<KeyValueStore<K, VA>>(store);
              // Kafka's TimestampedTupleForwarder: a cache forwards when it flushes.
              bool cached = values->set_flush_listener(
                  [&context](const Record<K, Change<VA>>& latest) { context.forward(latest); });
              return [values, update, cached, &context](const Record<K, V>& record) {
                if (is_null_value(record.key) || is_null_value(record.value)) {
                  spdlog::debug("Skipping record due to null key or value");
                  return;
                }
                std::optional<VA> old = values->get(record.key);
                VA next = update(record.key, record.value, old);
                values->put(record.key, next);
                if (!cached) context.forward(record.with_value(Change<VA>{next, old}));
              };
            }),
        {parent});
    StoreBuilder store_builder = stores::key_value_store_builder<K, VA>(
        materialized.bytes_supplier(store), key_serde, value_serde);
    store_builder.logging_enabled = materialized.logging_enabled;
    store_builder.caching_enabled = materialized.caching_enabled;
    topology.add_state_store(std::move(store_builder), {name});
    return KTable<K, VA>(*builder_, name, key_serde, value_serde,
                         detail::store_getter<K, VA>(store), store);
  }

  template <class K2, class V2>
  friend class TimeWindowedKStream;
  template <class K2, class V2>
  friend class SlidingWindowedKStream;
  template <class K2, class V2>
  friend class SessionWindowedKStream;

  // What every aggregation settles first, in Kafka's order (which numbers
  // the names): its store's name, its processor's name, the store's serdes,
  // and the node it reads: this stream's, or after a key change the source
  // of a repartition topic named after the store.
  template <class VA>
  struct AggregationPlan {
    std::string store;
    std::string name;
    Serde<K> key_serde;
    Serde<VA> value_serde;
    std::string parent;
  };
  template <class VA>
  AggregationPlan<VA> plan_aggregation(const std::string& prefix,
                                       const Materialized<K, VA>& materialized) const {
    std::string store = materialized.store_name.empty() ? builder_->new_store_name(prefix)
                                                        : materialized.store_name;
    std::string name = builder_->new_processor_name(prefix);
    Serde<K> key_serde = materialized.key_serde
                             ? *materialized.key_serde
                             : detail::require_serde(key_serde_, "the store " + store);
    Serde<VA> value_serde = detail::require_serde(materialized.value_serde, "the store " + store);
    std::string parent = node_;
    if (repartition_required_) {
      Serde<V> value = detail::require_serde(value_serde_, "the repartition topic of " + store);
      parent = KStream<K, V>::repartition_through(
          *builder_, node_, repartition_name_.empty() ? store : repartition_name_, key_serde,
          value);
    }
    return {store, name, key_serde, value_serde, parent};
  }

  StreamsBuilder* builder_;
  std::string node_;
  std::optional<Serde<K>> key_serde_;
  std::optional<Serde<V>> value_serde_;
  std::string repartition_name_;
  bool repartition_required_ = false;
};

template <class K, class V>
KStream<K, V> StreamsBuilder::stream(std::vector<std::string> topics, Consumed<K, V> consumed) {
  std::string name = new_processor_name("KSTREAM-SOURCE-");
  topology_.add_source<K, V>(name, consumed.key_serde, consumed.value_serde, std::move(topics),
                             consumed.timestamp_extractor);
  return KStream<K, V>(*this, name, consumed.key_serde, consumed.value_serde, false);
}

template <class K, class V>
KTable<K, V> StreamsBuilder::table(const std::string& topic, Consumed<K, V> consumed,
                                   Materialized<K, V> materialized) {
  std::string store =
      materialized.store_name.empty() ? new_store_name(topic + "-") : materialized.store_name;
  std::string source = new_processor_name("KSTREAM-SOURCE-");
  std::string table_source = new_processor_name("KTABLE-SOURCE-");
  Serde<K> key_serde = materialized.key_serde ? *materialized.key_serde : consumed.key_serde;
  Serde<V> value_serde =
      materialized.value_serde ? *materialized.value_serde : consumed.value_serde;
  // Tombstones are null values: the source reads values as optional.
  topology_.add_source<K, std::optional<V>>(source, consumed.key_serde,
                                            serdes::optional(consumed.value_serde), {topic});
  topology_.add_processor<K, std::optional<V>, K, Change<V>>(
      table_source,
      detail::supplier_of<K, std::optional<V>, K, Change<V>>(
          [store](ProcessorContext<K, Change<V>>& context) {
            auto* values = &context.template get_state_store<KeyValueStore<K, V>>(store);
            bool cached = values->set_flush_listener(
                [&context](const Record<K, Change<V>>& latest) { context.forward(latest); });
            return [values, cached, &context](const Record<K, std::optional<V>>& record) {
              if (is_null_value(record.key)) return;  // Kafka skips null keys
              std::optional<V> old = values->get(record.key);
              if (record.value) {
                values->put(record.key, *record.value);
              } else if (old) {
                values->remove(record.key);
              } else {
                return;  // deleting what is not there changes nothing
              }
              if (!cached) context.forward(record.with_value(Change<V>{record.value, old}));
            };
          }),
      {source});
  StoreBuilder store_builder = stores::key_value_store_builder<K, V>(
      materialized.bytes_supplier(store), key_serde, value_serde);
  store_builder.logging_enabled = materialized.logging_enabled;
  store_builder.caching_enabled = materialized.caching_enabled;
  topology_.add_state_store(std::move(store_builder), {table_source});
  return KTable<K, V>(*this, table_source, key_serde, value_serde,
                      detail::store_getter<K, V>(store), store);
}

}  // namespace sluice::streams

#include "streams/fk_join.h"       // IWYU pragma: export
#include "streams/global_table.h"  // IWYU pragma: export
#include "streams/stream_joins.h"  // IWYU pragma: export
#include "streams/table_joins.h"   // IWYU pragma: export
#include "streams/windowed_dsl.h"  // IWYU pragma: export
