#pragma once
// Windowed stream-stream joins (Kafka's KStreamImplJoin, KStreamJoinWindow,
// KStreamKStreamJoinLeftSide/RightSide), included by dsl.h.
//
// Each side's records pass a KSTREAM-WINDOWED- node that keeps them in the
// side's window store (KSTREAM-JOINTHIS-...-store, KSTREAM-JOINOTHER-...-store,
// changelogged), then a join node (KSTREAM-JOINTHIS-, KSTREAM-JOINOTHER-; for
// the sides whose unmatched records are emitted KSTREAM-OUTERTHIS-,
// KSTREAM-OUTEROTHER-) that looks the key up in the other side's store:
// a record at t meets the other side's records in [t - before, t + after]
// (mirrored for the other side) and each pair is joined with the later of
// the two timestamps. Both join nodes feed one KSTREAM-MERGE- node.
//
// Left and outer joins: a record that found no partner waits in the
// KSTREAM-OUTERSHARED-...-store until its window has closed (stream time,
// the highest timestamp either side has seen, passed its timestamp plus
// the window's reach plus the grace period); it is then emitted with a
// null partner, unless a partner came in the meantime. A record that
// arrives after its window has already closed is emitted at once. (Kafka
// throttles the scan for closed windows to once per second of wall-clock
// time, except in its test driver; here every record that advances stream
// time may emit, as in the test driver.)
//
// Inputs whose key was changed are repartitioned first (Kafka's names:
// `<node>-repartition`, or `<name>-left-repartition` and
// `<name>-right-repartition` when StreamJoined names the join), and both
// inputs are recorded as co-partitioned (copartition.h).

#include <algorithm>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "streams/dsl.h"
#include "streams/join_stores.h"
#include "streams/join_windows.h"

namespace sluice::streams {
namespace detail {

// The joiner's argument types for each kind of join: the left value is
// optional only in outer joins, the right one in left and outer joins.
template <int Kind, class V>
using JoinLeftArg = std::conditional_t<Kind == join_outer, std::optional<V>, V>;
template <int Kind, class VO>
using JoinRightArg = std::conditional_t<Kind == join_inner, VO, std::optional<VO>>;

// joiner(key, left, right) when it takes the key (Kafka's
// ValueJoinerWithKey), else joiner(left, right).
template <class K, class Joiner, class A, class B>
auto call_joiner(Joiner& joiner, const K& key, const A& left, const B& right) {
  if constexpr (std::is_invocable_v<Joiner&, const K&, const A&, const B&>) {
    return joiner(key, left, right);
  } else {
    return joiner(left, right);
  }
}

template <int Kind, class K, class V, class VO, class Joiner>
using StreamJoinResult = std::decay_t<decltype(call_joiner(
    std::declval<Joiner&>(), std::declval<const K&>(), std::declval<const JoinLeftArg<Kind, V>&>(),
    std::declval<const JoinRightArg<Kind, VO>&>()))>;

// The user's joiner with both sides optional: called only with the sides
// the kind of join allows to be missing.
template <class K, class VL, class VR, class VOut>
using NullableJoiner =
    std::function<VOut(const K&, const std::optional<VL>&, const std::optional<VR>&)>;

template <int Kind, class K, class VL, class VR, class VOut, class Joiner>
NullableJoiner<K, VL, VR, VOut> nullable_joiner(Joiner joiner) {
  return [joiner](const K& key, const std::optional<VL>& left,
                  const std::optional<VR>& right) mutable -> VOut {
    if constexpr (Kind == join_inner) {
      return VOut(call_joiner(joiner, key, *left, *right));
    } else if constexpr (Kind == join_left) {
      return VOut(call_joiner(joiner, key, *left, right));
    } else {
      return VOut(call_joiner(joiner, key, left, right));
    }
  };
}

// Kafka's KStreamJoinWindow: forwards each record, then keeps it in the
// side's window store.
template <class K, class V>
ProcessorSupplier<K, V, K, V> join_window_supplier(const std::string& store) {
  return supplier_of<K, V, K, V>([store](ProcessorContext<K, V>& context) {
    auto* window = &context.template get_state_store<JoinWindowStore<K, V>>(store);
    return [window, &context](const Record<K, V>& record) {
      context.forward(record);
      if (!is_null_value(record.key) && !is_null_value(record.value)) {
        window->put(record.key, record.value, record.timestamp);
      }
    };
  });
}

template <class K, class VL, class VR, class VOut>
struct StreamJoinSide {
  std::string other_window_store;
  std::optional<std::string> outer_store;  // left and outer joins
  int64_t join_before = 0;                 // this side's view of the window
  int64_t join_after = 0;
  int64_t windows_before = 0;  // the JoinWindows' own bounds
  int64_t windows_after = 0;
  int64_t grace = 0;
  bool outer = false;  // this side's unmatched records are emitted
  NullableJoiner<K, VL, VR, VOut> joiner;
};

// One side of the join (Kafka's KStreamKStreamJoin processor): looks the
// record up in the other side's window store.
template <class K, class VL, class VR, class VOut, bool ThisIsLeft>
class StreamJoinProcessor final
    : public Processor<K, std::conditional_t<ThisIsLeft, VL, VR>, K, VOut> {
 public:
  using VThis = std::conditional_t<ThisIsLeft, VL, VR>;
  using VOther = std::conditional_t<ThisIsLeft, VR, VL>;

  explicit StreamJoinProcessor(StreamJoinSide<K, VL, VR, VOut> side) : side_(std::move(side)) {}

  void init(ProcessorContext<K, VOut>& context) override {
    context_ = &context;
    other_window_ =
        &context.template get_state_store<JoinWindowStore<K, VOther>>(side_.other_window_store);
    if (side_.outer_store) {
      outer_ = &context.template get_state_store<OuterJoinStore<K, VL, VR>>(*side_.outer_store);
    }
  }

  void process(const Record<K, VThis>& record) override {
    int64_t timestamp = record.timestamp;
    if (outer_ != nullptr) {
      JoinTimeTracker& tracker = outer_->tracker();
      tracker.stream_time = std::max(tracker.stream_time, timestamp);
    }
    if (is_null_value(record.key) || is_null_value(record.value)) {
      // Kafka 3.7+: an outer side's record without a key is emitted alone.
      if (side_.outer && is_null_value(record.key) && !is_null_value(record.value)) {
        forward(record, record.key, join(record.key, record.value, std::nullopt), timestamp);
        return;
      }
      spdlog::debug("Skipping record due to null key or value. topic=[{}]", topic_of_record());
      return;
    }
    if (outer_ != nullptr && timestamp == outer_->tracker().stream_time) {
      emit_closed_unmatched(record);
    }
    int64_t from = std::max<int64_t>(0, timestamp - side_.join_before);
    int64_t to = std::max<int64_t>(0, timestamp + side_.join_after);
    std::vector<std::pair<int64_t, VOther>> partners = other_window_->fetch(record.key, from, to);
    for (const auto& [other_timestamp, other_value] : partners) {
      // The partner, waiting in the outer store, is matched now.
      if (outer_ != nullptr) outer_->remove(record.key, other_timestamp, !ThisIsLeft);
      forward(record, record.key, join(record.key, record.value, other_value),
              std::max(timestamp, other_timestamp));
    }
    if (!side_.outer || !partners.empty()) return;
    // Kafka's condition: a record whose window already closed (an
    // out-of-order record) is emitted at once rather than kept.
    if (outer_ == nullptr || to < outer_->tracker().stream_time) {
      forward(record, record.key, join(record.key, record.value, std::nullopt), timestamp);
      return;
    }
    JoinTimeTracker& tracker = outer_->tracker();
    tracker.min_time = std::min(tracker.min_time, timestamp);
    if constexpr (ThisIsLeft) {
      outer_->add_left(record.key, timestamp, record.value);
    } else {
      outer_->add_right(record.key, timestamp, record.value);
    }
  }

 private:
  VOut join(const K& key, const std::optional<VThis>& value,
            const std::optional<VOther>& other) const {
    if constexpr (ThisIsLeft) {
      return side_.joiner(key, value, other);
    } else {
      return side_.joiner(key, other, value);
    }
  }

  void forward(const Record<K, VThis>& cause, const K& key, VOut value, int64_t timestamp) {
    context_->forward(Record<K, VOut>{key, std::move(value), timestamp, cause.headers});
  }

  std::string topic_of_record() const {
    std::optional<RecordMetadata> metadata = context_->record_metadata();
    return metadata ? metadata->topic : "";
  }

  // Kafka's emitNonJoinedOuterRecords: the outer store's records whose
  // window has closed, oldest first, each with a null partner; the scan
  // stops once both sides have reached records whose window is open.
  void emit_closed_unmatched(const Record<K, VThis>& cause) {
    using join_bytes::java_add;
    JoinTimeTracker& tracker = outer_->tracker();
    if (java_add(java_add(tracker.min_time, side_.join_after), side_.grace) >=
        tracker.stream_time) {
      return;  // nothing can have closed yet
    }
    tracker.min_time = std::numeric_limits<int64_t>::max();
    bool left_open = false;
    bool right_open = false;
    std::optional<std::string> emitted;  // deleted once the next entry is reached
    for (auto& entry : outer_->all()) {
      tracker.min_time = entry.timestamp;
      if (left_open && right_open) break;
      int64_t reach = entry.left_side ? side_.windows_after : side_.windows_before;
      if (java_add(java_add(tracker.min_time, reach), side_.grace) >= tracker.stream_time) {
        (entry.left_side ? left_open : right_open) = true;
        continue;
      }
      for (const auto& [left, right] : entry.values) {
        forward(cause, entry.key, side_.joiner(entry.key, left, right), entry.timestamp);
      }
      if (emitted && *emitted != entry.store_key) outer_->remove_entry(*emitted);
      emitted = entry.store_key;
    }
    if (emitted) outer_->remove_entry(*emitted);
  }

  StreamJoinSide<K, VL, VR, VOut> side_;
  ProcessorContext<K, VOut>* context_ = nullptr;
  JoinWindowStore<K, VOther>* other_window_ = nullptr;
  OuterJoinStore<K, VL, VR>* outer_ = nullptr;
};

template <class T>
std::optional<Serde<T>> first_known(std::optional<Serde<T>> a, std::optional<Serde<T>> b) {
  return a ? a : b;
}

// A repartition for a join: Kafka burns the three node names each time but
// reuses the topic when the same stream was repartitioned for a join before.
template <class K, class V>
std::string repartition_for_join(StreamsBuilder& builder, const std::string& node,
                                 const std::string& prefix, Serde<K> key_serde,
                                 Serde<V> value_serde) {
  const std::string suffix = "-repartition";
  std::string topic = prefix.ends_with(suffix) ? prefix : prefix + suffix;
  for (const NodeSpec& spec : builder.topology().nodes()) {
    if (spec.kind == NodeKind::source && spec.internal_topics && spec.topics.size() == 1 &&
        spec.topics.front() == topic) {
      for (const char* burnt : {"KSTREAM-SINK-", "KSTREAM-FILTER-", "KSTREAM-SOURCE-"}) {
        builder.new_processor_name(burnt);
      }
      return spec.name;
    }
  }
  return KStream<K, V>::repartition_through(builder, node, prefix, std::move(key_serde),
                                            std::move(value_serde));
}

// A side's window store: the user's (its settings must be the join's,
// Kafka's check) or RocksDB under `default_name`.
inline BytesStoreSupplier join_store_supplier(const std::optional<WindowBytesStoreSupplier>& given,
                                              const JoinWindows& windows,
                                              const std::string& default_name) {
  if (!given) return stores::persistent_key_value_store(default_name);
  if (given->retention_ms != windows.retention_ms() || given->window_size_ms != windows.size_ms()) {
    throw StreamsError(
        "Window settings mismatch. WindowBytesStoreSupplier settings (retention " +
        std::to_string(given->retention_ms) + " ms, window size " +
        std::to_string(given->window_size_ms) + " ms) must match JoinWindows settings (retention " +
        std::to_string(windows.retention_ms()) + " ms, size " + std::to_string(windows.size_ms()) +
        " ms) for the window size and retention period");
  }
  return given->bytes;
}

}  // namespace detail

template <class K, class V>
template <class VO, class Joiner>
auto KStream<K, V>::join(const KStream<K, VO>& other, Joiner joiner, const JoinWindows& windows,
                         StreamJoined<K, V, VO> joined) const {
  using VR = detail::StreamJoinResult<detail::join_inner, K, V, VO, Joiner>;
  return stream_join<detail::join_inner, VO, VR>(other, std::move(joiner), windows,
                                                 std::move(joined));
}

template <class K, class V>
template <class VO, class Joiner>
auto KStream<K, V>::left_join(const KStream<K, VO>& other, Joiner joiner,
                              const JoinWindows& windows, StreamJoined<K, V, VO> joined) const {
  using VR = detail::StreamJoinResult<detail::join_left, K, V, VO, Joiner>;
  return stream_join<detail::join_left, VO, VR>(other, std::move(joiner), windows,
                                                std::move(joined));
}

template <class K, class V>
template <class VO, class Joiner>
auto KStream<K, V>::outer_join(const KStream<K, VO>& other, Joiner joiner,
                               const JoinWindows& windows, StreamJoined<K, V, VO> joined) const {
  using VR = detail::StreamJoinResult<detail::join_outer, K, V, VO, Joiner>;
  return stream_join<detail::join_outer, VO, VR>(other, std::move(joiner), windows,
                                                 std::move(joined));
}

template <class K, class V>
template <int Kind, class VO, class VR, class Joiner>
KStream<K, VR> KStream<K, V>::stream_join(const KStream<K, VO>& other, Joiner joiner,
                                          const JoinWindows& windows,
                                          StreamJoined<K, V, VO> joined) const {
  StreamsBuilder& builder = *builder_;
  Topology& topology = builder.topology();
  const bool left_outer = Kind != detail::join_inner;
  const bool right_outer = Kind == detail::join_outer;
  const std::string& name = joined.name;

  Serde<K> key_serde = detail::require_serde(
      detail::first_known(joined.key_serde, detail::first_known(key_serde_, other.key_serde_)),
      "the stream-stream join's key");
  Serde<V> value_serde = detail::require_serde(
      detail::first_known(joined.value_serde, value_serde_), "the stream-stream join's values");
  Serde<VO> other_value_serde =
      detail::require_serde(detail::first_known(joined.other_value_serde, other.value_serde_),
                            "the stream-stream join's other values");

  std::string this_node = node_;
  if (repartition_required_) {
    this_node = detail::repartition_for_join(builder, node_, name.empty() ? node_ : name + "-left",
                                             key_serde, value_serde);
  }
  std::string other_node = other.node_;
  if (other.repartition_required_) {
    other_node = detail::repartition_for_join(builder, other.node_,
                                              name.empty() ? other.node_ : name + "-right",
                                              key_serde, other_value_serde);
  }

  // Kafka's names: generated ones burn an index even when a name is given.
  auto named = [&](const std::string& suffix, const std::string& prefix) {
    std::string generated = builder.new_processor_name(prefix);
    return name.empty() ? generated : name + suffix;
  };
  const std::string this_prefix = right_outer ? "KSTREAM-OUTERTHIS-" : "KSTREAM-JOINTHIS-";
  const std::string this_suffix = right_outer ? "-outer-this-join" : "-this-join";
  const std::string other_suffix = left_outer ? "-outer-other-join" : "-other-join";
  std::string this_windowed = named("-this-windowed", "KSTREAM-WINDOWED-");
  std::string other_windowed = named("-other-windowed", "KSTREAM-WINDOWED-");
  std::string join_this_generated = builder.new_processor_name(this_prefix);
  std::string join_other_generated =
      builder.new_processor_name(left_outer ? "KSTREAM-OUTEROTHER-" : "KSTREAM-JOINOTHER-");
  std::string join_this = name.empty() ? join_this_generated : name + this_suffix;
  std::string join_other = name.empty() ? join_other_generated : name + other_suffix;
  std::string merge = named("-merge", "KSTREAM-MERGE-");

  const std::string& store_name = joined.store_name;
  BytesStoreSupplier this_supplier = detail::join_store_supplier(
      joined.this_store_supplier, windows,
      (store_name.empty() ? join_this_generated : store_name + this_suffix) + "-store");
  BytesStoreSupplier other_supplier = detail::join_store_supplier(
      joined.other_store_supplier, windows,
      (store_name.empty() ? join_other_generated : store_name + other_suffix) + "-store");
  if (this_supplier.name == other_supplier.name) {
    throw StreamsError(
        "Both StoreSuppliers have the same name.  StoreSuppliers must provide unique names");
  }
  const std::string this_store = this_supplier.name;
  const std::string other_store = other_supplier.name;
  std::optional<std::string> outer_store;
  if (left_outer) {
    outer_store = (store_name.empty()
                       ? "KSTREAM-OUTERSHARED-" + join_this_generated.substr(this_prefix.size())
                       : store_name + (right_outer ? "-outer-shared-join" : "-left-shared-join")) +
                  "-store";
  }

  topology.add_processor<K, V, K, V>(this_windowed, detail::join_window_supplier<K, V>(this_store),
                                     {this_node});
  topology.add_processor<K, VO, K, VO>(
      other_windowed, detail::join_window_supplier<K, VO>(other_store), {other_node});
  auto window_store = [&](const BytesStoreSupplier& supplier, auto serde) {
    using T = typename decltype(serde)::Type;
    StoreBuilder store_builder =
        stores::join_window_store<K, T>(supplier, windows.retention_ms(), key_serde, serde);
    store_builder.logging_enabled = joined.logging_enabled;
    return store_builder;
  };
  topology.add_state_store(window_store(this_supplier, value_serde), {this_windowed});
  topology.add_state_store(window_store(other_supplier, other_value_serde), {other_windowed});

  detail::NullableJoiner<K, V, VO, VR> nullable =
      detail::nullable_joiner<Kind, K, V, VO, VR>(std::move(joiner));
  detail::StreamJoinSide<K, V, VO, VR> this_side{
      other_store,        outer_store,         windows.before_ms(),
      windows.after_ms(), windows.before_ms(), windows.after_ms(),
      windows.grace_ms(), left_outer,          nullable};
  detail::StreamJoinSide<K, V, VO, VR> other_side = this_side;
  other_side.other_window_store = this_store;
  other_side.join_before = windows.after_ms();
  other_side.join_after = windows.before_ms();
  other_side.outer = right_outer;
  topology.add_processor<K, V, K, VR>(
      join_this,
      [this_side] {
        return std::make_unique<detail::StreamJoinProcessor<K, V, VO, VR, true>>(this_side);
      },
      {this_windowed});
  topology.add_processor<K, VO, K, VR>(
      join_other,
      [other_side] {
        return std::make_unique<detail::StreamJoinProcessor<K, V, VO, VR, false>>(other_side);
      },
      {other_windowed});
  topology.connect_processor_and_state_stores(join_this, {other_store});
  topology.connect_processor_and_state_stores(join_other, {this_store});
  if (outer_store) {
    BytesStoreSupplier outer_supplier = this_supplier.persistent
                                            ? stores::persistent_key_value_store(*outer_store)
                                            : stores::in_memory_key_value_store(*outer_store);
    StoreBuilder store_builder = stores::outer_join_store<K, V, VO>(outer_supplier, key_serde,
                                                                    value_serde, other_value_serde);
    store_builder.logging_enabled = joined.logging_enabled;
    topology.add_state_store(std::move(store_builder), {join_this, join_other});
  }
  topology.add_processor<K, VR, K, VR>(
      merge, detail::supplier_of<K, VR, K, VR>([](ProcessorContext<K, VR>& context) {
        return [&context](const Record<K, VR>& record) { context.forward(record); };
      }),
      {join_this, join_other});
  ensure_copartitioned(topology, {this_node, other_node});
  return KStream<K, VR>(builder, merge, key_serde, std::nullopt, false);
}

}  // namespace sluice::streams
