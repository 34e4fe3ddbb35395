#pragma once
// Table-table joins (Kafka's KTableKTableInnerJoin, LeftJoin, RightJoin,
// OuterJoin and JoinMerger), included by dsl.h.
//
// An update on either side (a Change: new and old value) is joined with
// the other side's current value, read through its value getter, and
// forwarded as a Change of the join result, so a result that disappears
// travels as a Change without a new value (a tombstone downstream):
//
// - join: only keys both sides hold have a result; either side's deletion
//   deletes it.
// - left_join: every key the left side holds has a result (the right value
//   optional); the left side's deletion deletes it, the right side's turns
//   it back into (left, null).
// - outer_join: every key either side holds; the result goes only when
//   both sides are gone.
//
// Nodes as Kafka names them: KTABLE-JOINTHIS- (this side's updates),
// KTABLE-JOINOTHER- (the other's), both feeding KTABLE-MERGE-, which writes
// the result's store when a Materialized is given (its store is then
// named KTABLE-MERGE-STATE-STORE-<n> unless the Materialized names it).
// Both tables' sources are recorded as co-partitioned (copartition.h).

#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "streams/dsl.h"
#include "streams/stream_joins.h"

namespace sluice::streams {
namespace detail {

// The joiner's argument types: the left value is optional only in outer
// joins, the right one in left and outer joins (as for streams).
template <int Kind, class V, class VO, class Joiner>
using TableJoinResult = std::decay_t<
    std::invoke_result_t<Joiner&, const JoinLeftArg<Kind, V>&, const JoinRightArg<Kind, VO>&>>;

// The result for one key from both sides' values (nullopt: no result):
// what the join's value getter answers and what each update is joined to.
template <int Kind, class V, class VO, class VR, class Joiner>
std::optional<VR> table_join_value(Joiner& joiner, const std::optional<V>& left,
                                   const std::optional<VO>& right) {
  if constexpr (Kind == join_inner) {
    if (!left || !right) return std::nullopt;
    return VR(joiner(*left, *right));
  } else if constexpr (Kind == join_left) {
    if (!left) return std::nullopt;
    return VR(joiner(*left, right));
  } else {
    if (!left && !right) return std::nullopt;
    return VR(joiner(left, right));
  }
}

// One side's processor: this side's change joined with the other side's
// current value. `ThisIsLeft` says which argument of the joiner this side
// is. Kafka's rules, kind by kind:
// - inner: nothing when the other side has no value;
// - left, left side: nothing when the other side has no value and the
//   change carries neither value; results with a null right value;
// - left, right side (Kafka's KTableKTableRightJoin): nothing when the left
//   side has no value; new and old results both (left, change's value);
// - outer: nothing when the other side has no value and the change carries
//   neither; each result when either side has a value.
template <int Kind, bool ThisIsLeft, class K, class VThis, class VOther, class VR, class Joiner>
Change<VR> table_join_change(Joiner& joiner, const Change<VThis>& change,
                             const std::optional<VOther>& other, bool& skip) {
  auto result = [&](const std::optional<VThis>& mine) -> std::optional<VR> {
    if constexpr (ThisIsLeft) {
      return table_join_value<Kind, VThis, VOther, VR>(joiner, mine, other);
    } else {
      return table_join_value<Kind, VOther, VThis, VR>(joiner, other, mine);
    }
  };
  skip = false;
  if constexpr (Kind == join_inner) {
    if (!other) {
      skip = true;
      return {};
    }
    return {change.new_value ? result(change.new_value) : std::nullopt,
            change.old_value ? result(change.old_value) : std::nullopt};
  } else if constexpr (Kind == join_left && !ThisIsLeft) {
    if (!other) {
      skip = true;
      return {};
    }
    return {result(change.new_value), result(change.old_value)};
  } else {
    if (!other && !change.new_value && !change.old_value) {
      skip = true;
      return {};
    }
    // left side of a left join: a change without a new value deletes;
    // outer: a result exists when either side has a value.
    return {change.new_value || Kind == join_outer ? result(change.new_value) : std::nullopt,
            change.old_value || Kind == join_outer ? result(change.old_value) : std::nullopt};
  }
}

template <int Kind, bool ThisIsLeft, class K, class VThis, class VOther, class VR, class Joiner>
ProcessorSupplier<K, Change<VThis>, K, Change<VR>> table_join_side(
    ValueGetterSupplier<K, VOther> other, Joiner joiner) {
  return supplier_of<K, Change<VThis>, K, Change<VR>>(
      [other, joiner](ProcessorContext<K, Change<VR>>& context) {
        ValueGetter<K, VOther> get = other.make(context);
        return [get, joiner, &context](const Record<K, Change<VThis>>& record) mutable {
          if (is_null_value(record.key)) {
            spdlog::debug("Skipping record due to null key.");
            return;
          }
          bool skip = false;
          Change<VR> change = table_join_change<Kind, ThisIsLeft, K, VThis, VOther, VR>(
              joiner, record.value, get(record.key), skip);
          if (!skip) context.forward(record.with_value(std::move(change)));
        };
      });
}

}  // namespace detail

template <class K, class V>
template <class VO, class Joiner>
auto KTable<K, V>::join(const KTable<K, VO>& other, Joiner joiner) const {
  using VR = detail::TableJoinResult<detail::join_inner, V, VO, Joiner>;
  return table_join<detail::join_inner, VO, VR>(other, std::move(joiner), std::nullopt);
}

template <class K, class V>
template <class VO, class Joiner, class VR>
KTable<K, VR> KTable<K, V>::join(const KTable<K, VO>& other, Joiner joiner,
                                 Materialized<K, VR> materialized) const {
  return table_join<detail::join_inner, VO, VR>(other, std::move(joiner), std::move(materialized));
}

template <class K, class V>
template <class VO, class Joiner>
auto KTable<K, V>::left_join(const KTable<K, VO>& other, Joiner joiner) const {
  using VR = detail::TableJoinResult<detail::join_left, V, VO, Joiner>;
  return table_join<detail::join_left, VO, VR>(other, std::move(joiner), std::nullopt);
}

template <class K, class V>
template <class VO, class Joiner, class VR>
KTable<K, VR> KTable<K, V>::left_join(const KTable<K, VO>& other, Joiner joiner,
                                      Materialized<K, VR> materialized) const {
  return table_join<detail::join_left, VO, VR>(other, std::move(joiner), std::move(materialized));
}

template <class K, class V>
template <class VO, class Joiner>
auto KTable<K, V>::outer_join(const KTable<K, VO>& other, Joiner joiner) const {
  using VR = detail::TableJoinResult<detail::join_outer, V, VO, Joiner>;
  return table_join<detail::join_outer, VO, VR>(other, std::move(joiner), std::nullopt);
}

template <class K, class V>
template <class VO, class Joiner, class VR>
KTable<K, VR> KTable<K, V>::outer_join(const KTable<K, VO>& other, Joiner joiner,
                                       Materialized<K, VR> materialized) const {
  return table_join<detail::join_outer, VO, VR>(other, std::move(joiner), std::move(materialized));
}

template <class K, class V>
template <int Kind, class VO, class VR, class Joiner>
KTable<K, VR> KTable<K, V>::table_join(const KTable<K, VO>& other, Joiner joiner,
                                       std::optional<Materialized<K, VR>> materialized) const {
  StreamsBuilder& builder = *builder_;
  Topology& topology = builder.topology();
  // Kafka's order: the result's store name, then the merge, this and other
  // nodes.
  std::string store;
  if (materialized) {
    store = materialized->store_name.empty() ? builder.new_store_name("KTABLE-MERGE-")
                                             : materialized->store_name;
  }
  std::string merge = builder.new_processor_name("KTABLE-MERGE-");
  std::string join_this = builder.new_processor_name("KTABLE-JOINTHIS-");
  std::string join_other = builder.new_processor_name("KTABLE-JOINOTHER-");

  topology.add_processor<K, Change<V>, K, Change<VR>>(
      join_this, detail::table_join_side<Kind, true, K, V, VO, VR>(other.value_getter(), joiner),
      {node_});
  topology.add_processor<K, Change<VO>, K, Change<VR>>(
      join_other, detail::table_join_side<Kind, false, K, VO, V, VR>(getter_, joiner),
      {other.node_name()});
  topology.connect_processor_and_state_stores(join_this, other.value_getter().stores);
  topology.connect_processor_and_state_stores(join_other, getter_.stores);

  // The result's value getter: the join computed from both sides, or the
  // result's own store once materialized (Kafka's KTableKTableJoinMerger).
  detail::ValueGetterSupplier<K, V> left_getter = getter_;
  detail::ValueGetterSupplier<K, VO> right_getter = other.value_getter();
  std::vector<std::string> getter_stores = left_getter.stores;
  getter_stores.insert(getter_stores.end(), right_getter.stores.begin(), right_getter.stores.end());
  detail::ValueGetterSupplier<K, VR> getter{
      [left_getter, right_getter,
       joiner](ProcessingContext& context) -> detail::ValueGetter<K, VR> {
        detail::ValueGetter<K, V> left = left_getter.make(context);
        detail::ValueGetter<K, VO> right = right_getter.make(context);
        return [left, right, joiner](const K& key) mutable {
          std::optional<V> left_value = left(key);
          // Kafka's getters read the right side only when the left side
          // alone does not decide.
          if (!left_value && Kind != detail::join_outer) return std::optional<VR>();
          return detail::table_join_value<Kind, V, VO, VR>(joiner, left_value, right(key));
        };
      },
      getter_stores};

  Serde<K> key_serde = detail::require_serde(
      materialized && materialized->key_serde ? materialized->key_serde : key_serde_,
      "the table-table join's key");
  std::optional<Serde<VR>> value_serde;
  if (materialized) {
    value_serde = detail::require_serde(materialized->value_serde, "the store " + store);
    getter = detail::store_getter<K, VR>(store);
  }
  topology.add_processor<K, Change<VR>, K, Change<VR>>(
      merge,
      detail::supplier_of<K, Change<VR>, K, Change<VR>>(
          [store](ProcessorContext<K, Change<VR>>& context) {
            KeyValueStore<K, VR>* values = nullptr;
            if (!store.empty())
              values = &context.template get_state_store<KeyValueStore<K, VR>>(store);
            return [values, &context](const Record<K, Change<VR>>& record) {
              if (values != nullptr) {
                if (record.value.new_value) {
                  values->put(record.key, *record.value.new_value);
                } else {
                  values->remove(record.key);
                }
              }
              context.forward(record);
            };
          }),
      {join_this, join_other});
  if (materialized) {
    StoreBuilder store_builder = stores::in_memory_key_value<K, VR>(store, key_serde, *value_serde);
    store_builder.logging_enabled = materialized->logging_enabled;
    topology.add_state_store(std::move(store_builder), {merge});
  }
  ensure_copartitioned(topology, {node_, other.node_name()});
  return KTable<K, VR>(builder, merge, key_serde, value_serde, getter, store);
}

}  // namespace sluice::streams
