#pragma once
// Foreign-key table-table joins (Kafka's KIP-213, kstream.internals.
// foreignkeyjoin), included by dsl.h. `left.join(right, foreign_key, joiner)`:
//
//  left's sub-topology                      right's sub-topology
//  KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION  (send: hash of the new value,
//    --> KTABLE-SINK --[registration topic, keyed by the foreign key]-->
//                                            KTABLE-SOURCE
//                                              --> SUBSCRIPTION-PROCESSOR (receive:
//                                                  the subscription store, keyed
//                                                  by foreign key + primary key)
//                                              --> SUBSCRIPTION-PROCESSOR (join:
//                                                  right's value for the key)
//                                            right's table node
//                                              --> SUBSCRIPTION-PROCESSOR (every
//                                                  subscriber of the changed key)
//                                            KTABLE-SINK <--[response topic, keyed by
//  KTABLE-SOURCE                             the primary key, to the subscription's
//    --> SUBSCRIPTION-RESPONSE-RESOLVER      partition]
//        (drops a response whose hash is not the current value's)
//    --> KTABLE-FK-JOIN-OUTPUT (the result table)
//
// The registration topic is co-partitioned with right's source, the
// response topic with left's (kafka_streams.cc). A changed foreign key
// unsubscribes the old one; deletions on either side reach the result as
// Kafka's do: an inner join's row disappears when either side's does, a
// left join's when the left row does. Kafka's 3.x semantics, including an
// inner join ignoring a left row whose foreign key is null.

#include <spdlog/spdlog.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "streams/dsl.h"
#include "streams/fk_join_wire.h"
#include "streams/murmur3.h"

namespace sluice::streams {
namespace fkjoin {

template <class K>
struct SubscriptionWrapper {
  std::optional<Hash128> hash;  // of the primary row's value; nullopt: deleted
  Instruction instruction = Instruction::delete_key_no_propagate;
  K primary_key{};
  int8_t version = kSubscriptionVersion;
  std::optional<int32_t> primary_partition;  // where the response goes
};

template <class VO>
struct SubscriptionResponseWrapper {
  std::optional<Hash128> original_value_hash;
  std::optional<VO> foreign_value;
  int8_t version = kResponseVersion;
  std::optional<int32_t> primary_partition;  // not serialized: the sink's partition
};

// The subscription store's key, decoded.
template <class KO, class K>
struct CombinedKey {
  std::optional<KO> foreign_key;  // nullopt: null (a left join's row without one)
  K primary_key{};
};

template <class T>
std::string non_null_bytes(const Serde<T>& serde, const std::string& topic, const T& value,
                           const char* what) {
  std::optional<std::string> bytes = serde.serialize(topic, value);
  if (!bytes) throw SerializationError(std::string(what) + " cannot be null");
  return *bytes;
}

template <class K>
Serde<SubscriptionWrapper<K>> subscription_serde(Serde<K> primary_key, std::string pk_topic) {
  return {
      [primary_key, pk_topic](const std::string&,
                              const SubscriptionWrapper<K>& wrapper) -> std::optional<std::string> {
        return encode_subscription(
            {wrapper.version, wrapper.hash, wrapper.instruction,
             non_null_bytes(primary_key, pk_topic, wrapper.primary_key, "primaryKey"),
             wrapper.primary_partition});
      },
      [primary_key, pk_topic](const std::string&, std::optional<std::string_view> bytes) {
        if (!bytes) throw SerializationError("a SubscriptionWrapper cannot be null");
        SubscriptionBytes parts = decode_subscription(*bytes);
        return SubscriptionWrapper<K>{
            parts.hash, parts.instruction,
            primary_key.deserialize(pk_topic, std::string_view(parts.primary_key)), parts.version,
            parts.primary_partition};
      }};
}

template <class VO>
Serde<SubscriptionResponseWrapper<VO>> response_serde(Serde<VO> foreign_value) {
  return {[foreign_value](const std::string& topic, const SubscriptionResponseWrapper<VO>& wrapper)
              -> std::optional<std::string> {
            std::optional<std::string> value;
            if (wrapper.foreign_value)
              value = foreign_value.serialize(topic, *wrapper.foreign_value);
            return encode_response({wrapper.version, wrapper.original_value_hash, value});
          },
          [foreign_value](const std::string& topic, std::optional<std::string_view> bytes) {
            if (!bytes) throw SerializationError("a SubscriptionResponseWrapper cannot be null");
            ResponseBytes parts = decode_response(*bytes);
            SubscriptionResponseWrapper<VO> wrapper{parts.hash, std::nullopt, parts.version,
                                                    std::nullopt};
            if (parts.foreign_value) {
              wrapper.foreign_value =
                  foreign_value.deserialize(topic, std::string_view(*parts.foreign_value));
            }
            return wrapper;
          }};
}

// A sink whose records go to the partition `partition_of` names (-1: the
// producer's partitioner decides): the response sink sends each answer to
// the partition its subscription came from.
template <class K, class V>
class PartitionedSinkNode final : public NodeBase, public Receiver<K, V> {
 public:
  using PartitionOf = std::function<int32_t(const K&, const V&)>;
  PartitionedSinkNode(std::string name, std::string topic, Serde<K> key_serde, Serde<V> value_serde,
                      PartitionOf partition_of)
      : NodeBase(std::move(name)),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        partition_of_(std::move(partition_of)) {}

  void add_child(NodeBase& child) override {
    throw TopologyError("sink " + name() + " cannot have children (" + child.name() + ")");
  }
  void init(Task& task) override { task_ = &task; }
  void receive(const Record<K, V>& record) override {
    SerializedRecord out;
    out.topic = topic_;
    out.partition = partition_of_(record.key, record.value);
    out.timestamp = record.timestamp;
    out.key = key_serde_.serialize(topic_, record.key);
    out.value = value_serde_.serialize(topic_, record.value);
    out.headers = record.headers;
    send_from_sink(*task_, std::move(out));
  }

 private:
  std::string topic_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
  PartitionOf partition_of_;
  Task* task_ = nullptr;
};

// Kafka's node, store and topic names, drawn in Kafka's order.
struct Names {
  std::string registration_topic, send, registration_sink, registration_source;
  std::string subscription_store, receive, join_foreign, foreign_join;
  std::string response_topic, response_sink, response_source, resolver, output, output_store;

  static Names draw(StreamsBuilder& builder, const std::string& materialized_store) {
    Names names;
    names.registration_topic =
        builder.new_processor_name("KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-") + "-topic";
    names.send = builder.new_processor_name("KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-");
    names.registration_sink = builder.new_processor_name("KTABLE-SINK-");
    names.registration_source = builder.new_processor_name("KTABLE-SOURCE-");
    names.subscription_store = builder.new_store_name("KTABLE-FK-JOIN-SUBSCRIPTION-");
    names.receive = builder.new_processor_name("KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-");
    names.join_foreign = builder.new_processor_name("KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-");
    names.foreign_join = builder.new_processor_name("KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-");
    names.response_topic =
        builder.new_processor_name("KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-") + "-topic";
    names.response_sink = builder.new_processor_name("KTABLE-SINK-");
    names.response_source = builder.new_processor_name("KTABLE-SOURCE-");
    names.resolver =
        builder.new_processor_name("KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-");
    names.output = builder.new_processor_name("KTABLE-FK-JOIN-OUTPUT-");
    // Kafka draws a store name even for a result it does not materialize.
    names.output_store = materialized_store.empty()
                             ? builder.new_store_name("KTABLE-FK-JOIN-OUTPUT-")
                             : materialized_store;
    return names;
  }
};

inline void log_skipped_null_foreign_key(const ProcessingContext& context) {
  if (std::optional<RecordMetadata> metadata = context.record_metadata()) {
    spdlog::warn("Skipping record due to null foreign key. topic=[{}] partition=[{}] offset=[{}]",
                 metadata->topic, metadata->partition, metadata->offset);
  } else {
    spdlog::warn(
        "Skipping record due to null foreign key. Topic, partition, and offset not known.");
  }
}

// Kafka's SubscriptionSendProcessorSupplier: a left row's change becomes
// subscriptions keyed by its foreign keys (old and new).
template <bool Left, class K, class V, class KO, class Extractor>
auto subscription_sender(Extractor extract, Serde<KO> fk_serde, Serde<V> value_serde,
                         std::string fk_topic, std::string vh_topic) {
  using Out = SubscriptionWrapper<K>;
  return
      [=](const Record<K, Change<V>>& record, ProcessorContext<std::optional<KO>, Out>& context) {
        auto foreign_key_of = [&](const V& value) -> std::optional<KO> {
          KO key = [&] {
            if constexpr (std::is_invocable_v<Extractor&, const K&, const V&>) {
              return KO(extract(record.key, value));
            } else {
              return KO(extract(value));
            }
          }();
          if (is_null_value(key)) return std::nullopt;
          return key;
        };
        auto bytes_of = [&](const std::optional<KO>& key) -> std::optional<std::string> {
          if (!key) return std::nullopt;
          return fk_serde.serialize(fk_topic, *key);
        };
        std::optional<Hash128> hash;
        if (record.value.new_value) {
          if (auto bytes = value_serde.serialize(vh_topic, *record.value.new_value)) {
            hash = murmur3_hash128(*bytes);
          }
        }
        std::optional<RecordMetadata> metadata = context.record_metadata();
        std::optional<int32_t> partition;
        if (metadata) partition = metadata->partition;
        auto send = [&](const std::optional<KO>& foreign_key, Instruction instruction) {
          context.forward(Record<std::optional<KO>, Out>{
              foreign_key, Out{hash, instruction, record.key, kSubscriptionVersion, partition},
              record.timestamp, record.headers});
        };
        const std::optional<V>& old_value = record.value.old_value;
        const std::optional<V>& new_value = record.value.new_value;
        if constexpr (Left) {
          if (old_value) {
            std::optional<KO> old_key = foreign_key_of(*old_value);
            std::optional<KO> new_key = new_value ? foreign_key_of(*new_value) : std::nullopt;
            if (old_key && bytes_of(new_key) != bytes_of(old_key)) {
              send(old_key, Instruction::delete_key_and_propagate);
            }
            send(new_key, Instruction::propagate_null_if_no_fk_val_available);
          } else if (new_value) {
            send(foreign_key_of(*new_value), Instruction::propagate_null_if_no_fk_val_available);
          }
        } else {
          if (old_value) {
            std::optional<KO> old_key = foreign_key_of(*old_value);
            if (!old_key) return log_skipped_null_foreign_key(context);
            if (!new_value) return send(old_key, Instruction::delete_key_and_propagate);
            std::optional<KO> new_key = foreign_key_of(*new_value);
            if (!new_key) return log_skipped_null_foreign_key(context);
            // A new foreign key: unsubscribe from the old one; the new one's
            // answer (null if it has no row) replaces the old result.
            if (bytes_of(new_key) != bytes_of(old_key)) {
              send(old_key, Instruction::delete_key_no_propagate);
            }
            send(new_key, Instruction::propagate_null_if_no_fk_val_available);
          } else if (new_value) {
            std::optional<KO> new_key = foreign_key_of(*new_value);
            if (!new_key) return log_skipped_null_foreign_key(context);
            send(new_key, Instruction::propagate_only_if_fk_val_available);
          }
        }
      };
}

}  // namespace fkjoin

template <class K, class V>
template <class KO, class VO, class Extractor, class Joiner, class VR>
requires detail::ForeignKeyExtractor<Extractor, K, V> KTable<K, VR> KTable<K, V>::join(
    const KTable<KO, VO>& other, Extractor foreign_key, Joiner joiner,
    Materialized<K, VR> materialized)
const {
  return foreign_key_join<false, KO, VO, VR>(other, std::move(foreign_key), std::move(joiner),
                                             std::move(materialized));
}

template <class K, class V>
template <class KO, class VO, class Extractor, class Joiner, class VR>
requires detail::ForeignKeyExtractor<Extractor, K, V> KTable<K, VR> KTable<K, V>::left_join(
    const KTable<KO, VO>& other, Extractor foreign_key, Joiner joiner,
    Materialized<K, VR> materialized)
const {
  return foreign_key_join<true, KO, VO, VR>(other, std::move(foreign_key), std::move(joiner),
                                            std::move(materialized));
}

template <class K, class V>
template <bool Left, class KO, class VO, class VR, class Extractor, class Joiner>
KTable<K, VR> KTable<K, V>::foreign_key_join(const KTable<KO, VO>& other, Extractor foreign_key,
                                             Joiner joiner,
                                             Materialized<K, VR> materialized) const {
  using namespace fkjoin;  // NOLINT(google-build-using-namespace): the join's own types
  using Subscription = SubscriptionWrapper<K>;
  using Response = SubscriptionResponseWrapper<VO>;
  using Combined = CombinedKey<KO, K>;
  StreamsBuilder& builder = *builder_;
  Topology& topology = builder.topology();
  const bool queryable = !materialized.store_name.empty();
  Names names = Names::draw(builder, materialized.store_name);
  const std::string what = "the foreign-key join " + names.output;
  Serde<K> pk_serde = detail::require_serde(key_serde_, what + " (this table's keys)");
  Serde<V> value_serde = detail::require_serde(value_serde_, what + " (this table's values)");
  Serde<KO> fk_serde = detail::require_serde(other.key_serde_, what + " (the other table's keys)");
  Serde<VO> foreign_value_serde =
      detail::require_serde(other.value_serde_, what + " (the other table's values)");
  // Kafka's pseudo topics: what the serdes see when hashing and keying.
  const std::string pk_topic = names.registration_topic + "-pk";
  const std::string fk_topic = names.registration_topic + "-fk";
  const std::string vh_topic = names.registration_topic + "-vh";
  Serde<Subscription> subscription = subscription_serde(pk_serde, pk_topic);
  Serde<Response> response = response_serde(foreign_value_serde);
  Serde<std::optional<KO>> nullable_fk = serdes::optional(fk_serde);

  // This table's side: subscriptions out.
  topology.add_processor<K, Change<V>, std::optional<KO>, Subscription>(
      names.send,
      detail::supplier_of<K, Change<V>, std::optional<KO>, Subscription>(
          [body = subscription_sender<Left, K, V, KO>(foreign_key, fk_serde, value_serde, fk_topic,
                                                      vh_topic)](
              ProcessorContext<std::optional<KO>, Subscription>& context) {
            return [body, &context](const Record<K, Change<V>>& record) { body(record, context); };
          }),
      {node_});
  topology.add_sink_spec(
      names.registration_sink, names.registration_topic, true, {names.send},
      [sink = names.registration_sink, nullable_fk, subscription](const std::string& resolved) {
        return std::make_unique<SinkNode<std::optional<KO>, Subscription>>(
            sink, resolved, nullable_fk, subscription);
      });

  // The other table's side: the subscription store and the answers.
  topology.add_source_spec(
      names.registration_source, {names.registration_topic}, true,
      [source = names.registration_source, nullable_fk, subscription](const std::string&) {
        return std::make_unique<SourceNode<std::optional<KO>, Subscription>>(source, nullable_fk,
                                                                             subscription);
      });
  const std::string store = names.subscription_store;
  auto combined_bytes = [fk_serde, pk_serde, fk_topic, pk_topic](const KO& fk, const K& pk) {
    return combined_key(non_null_bytes(fk_serde, fk_topic, fk, "a foreign key"),
                        non_null_bytes(pk_serde, pk_topic, pk, "a primary key"));
  };
  topology.add_processor<std::optional<KO>, Subscription, Combined, Subscription>(
      names.receive,
      detail::supplier_of<std::optional<KO>, Subscription, Combined, Subscription>(
          [store, combined_bytes](ProcessorContext<Combined, Subscription>& context) {
            auto* subscriptions =
                &context.template get_state_store<KeyValueStore<std::string, Subscription>>(store);
            return [subscriptions, combined_bytes,
                    &context](const Record<std::optional<KO>, Subscription>& record) {
              const Subscription& wrapper = record.value;
              if (!record.key &&
                  wrapper.instruction != Instruction::propagate_null_if_no_fk_val_available) {
                return log_skipped_null_foreign_key(context);
              }
              if (record.key) {
                std::string key = combined_bytes(*record.key, wrapper.primary_key);
                if (wrapper.instruction == Instruction::delete_key_and_propagate ||
                    wrapper.instruction == Instruction::delete_key_no_propagate) {
                  subscriptions->remove(key);
                } else {
                  subscriptions->put(key, wrapper);
                }
              }
              context.forward(
                  Record<Combined, Subscription>{Combined{record.key, wrapper.primary_key}, wrapper,
                                                 record.timestamp, record.headers});
            };
          }),
      {names.registration_source});
  StoreBuilder subscription_store =
      stores::in_memory_key_value<std::string, Subscription>(store, serdes::bytes(), subscription);
  topology.add_state_store(std::move(subscription_store), {names.receive});

  detail::ValueGetterSupplier<KO, VO> foreign_getter = other.getter_;
  topology.add_processor<Combined, Subscription, K, Response>(
      names.join_foreign,
      detail::supplier_of<Combined, Subscription, K, Response>(
          [foreign_getter](ProcessorContext<K, Response>& context) {
            detail::ValueGetter<KO, VO> foreign_values = foreign_getter.make(context);
            return [foreign_values, &context](const Record<Combined, Subscription>& record) {
              const Subscription& wrapper = record.value;
              std::optional<VO> foreign_value;
              if (record.key.foreign_key) foreign_value = foreign_values(*record.key.foreign_key);
              auto answer = [&](std::optional<VO> value) {
                context.forward(
                    Record<K, Response>{record.key.primary_key,
                                        Response{wrapper.hash, std::move(value), kResponseVersion,
                                                 wrapper.primary_partition},
                                        record.timestamp, record.headers});
              };
              switch (wrapper.instruction) {
                case Instruction::delete_key_and_propagate:
                  answer(std::nullopt);
                  break;
                case Instruction::propagate_null_if_no_fk_val_available:
                  // Also for an inner join: the old foreign key's result must go.
                  answer(foreign_value);
                  break;
                case Instruction::propagate_only_if_fk_val_available:
                  if (foreign_value) answer(foreign_value);
                  break;
                case Instruction::delete_key_no_propagate:
                  break;
              }
            };
          }),
      {names.receive});
  topology.connect_processor_and_state_stores(names.join_foreign, foreign_getter.stores);

  topology.add_processor<KO, Change<VO>, K, Response>(
      names.foreign_join,
      detail::supplier_of<KO, Change<VO>, K, Response>([store, fk_serde, fk_topic](
                                                           ProcessorContext<K, Response>& context) {
        auto* subscriptions =
            &context.template get_state_store<KeyValueStore<std::string, Subscription>>(store);
        return [subscriptions, fk_serde, fk_topic, &context](const Record<KO, Change<VO>>& record) {
          if (is_null_value(record.key)) {
            spdlog::warn("Skipping record due to null key.");
            return;
          }
          std::string prefix =
              combined_key_prefix(non_null_bytes(fk_serde, fk_topic, record.key, "a foreign key"));
          for (const auto& [key, wrapper] :
               subscriptions->range(prefix, prefix_upper_bound(prefix))) {
            if (!key.starts_with(prefix)) continue;  // the range's end is inclusive
            context.forward(
                Record<K, Response>{wrapper.primary_key,
                                    Response{wrapper.hash, record.value.new_value, kResponseVersion,
                                             wrapper.primary_partition},
                                    record.timestamp, record.headers});
          }
        };
      }),
      {other.node_});
  topology.connect_processor_and_state_stores(names.foreign_join, {store});

  topology.add_sink_spec(
      names.response_sink, names.response_topic, true, {names.join_foreign, names.foreign_join},
      [sink = names.response_sink, pk_serde, response](const std::string& resolved) {
        return std::make_unique<PartitionedSinkNode<K, Response>>(
            sink, resolved, pk_serde, response, [](const K&, const Response& wrapper) {
              return wrapper.primary_partition.value_or(-1);
            });
      });

  // Back on this table's side: answers checked against the current row.
  topology.add_source_spec(
      names.response_source, {names.response_topic}, true,
      [source = names.response_source, pk_serde, response](const std::string&) {
        return std::make_unique<SourceNode<K, Response>>(source, pk_serde, response);
      });
  detail::ValueGetterSupplier<K, V> primary_getter = getter_;
  topology.add_processor<K, Response, K, std::optional<VR>>(
      names.resolver,
      detail::supplier_of<K, Response, K, std::optional<VR>>(
          [primary_getter, joiner, value_serde,
           vh_topic](ProcessorContext<K, std::optional<VR>>& context) {
            detail::ValueGetter<K, V> primary_values = primary_getter.make(context);
            return [primary_values, joiner, value_serde, vh_topic,
                    &context](const Record<K, Response>& record) {
              std::optional<V> current = primary_values(record.key);
              std::optional<Hash128> current_hash;
              if (current) {
                if (auto bytes = value_serde.serialize(vh_topic, *current)) {
                  current_hash = murmur3_hash128(*bytes);
                }
              }
              // An answer to an older value of the row: a newer one is coming.
              if (record.value.original_value_hash != current_hash) {
                spdlog::trace("Dropping FK-join response due to hash mismatch.");
                return;
              }
              std::optional<VR> result;
              const std::optional<VO>& foreign_value = record.value.foreign_value;
              if (current && (foreign_value || Left)) {
                if constexpr (Left) {
                  result = VR(joiner(*current, foreign_value));
                } else {
                  result = VR(joiner(*current, *foreign_value));
                }
              }
              context.forward(record.with_value(std::move(result)));
            };
          }),
      {names.response_source});
  topology.connect_processor_and_state_stores(names.resolver, primary_getter.stores);

  // The result table (Kafka's KTableSource): a store only when named.
  const std::string output_store = names.output_store;
  topology.add_processor<K, std::optional<VR>, K, Change<VR>>(
      names.output,
      detail::supplier_of<K, std::optional<VR>, K, Change<VR>>(
          [output_store, queryable](ProcessorContext<K, Change<VR>>& context) {
            KeyValueStore<K, VR>* results = nullptr;
            if (queryable) {
              results = &context.template get_state_store<KeyValueStore<K, VR>>(output_store);
            }
            return [results, &context](const Record<K, std::optional<VR>>& record) {
              std::optional<VR> old;
              if (results != nullptr) {
                old = record.value ? results->get(record.key) : results->remove(record.key);
                if (record.value) results->put(record.key, *record.value);
              }
              context.forward(record.with_value(Change<VR>{record.value, std::move(old)}));
            };
          }),
      {names.resolver});
  std::optional<Serde<VR>> result_serde = materialized.value_serde;
  detail::ValueGetterSupplier<K, VR> result_getter;
  if (queryable) {
    Serde<K> key_serde = materialized.key_serde ? *materialized.key_serde : pk_serde;
    Serde<VR> value = detail::require_serde(result_serde, "the store " + output_store);
    StoreBuilder result_store = stores::in_memory_key_value<K, VR>(output_store, key_serde, value);
    result_store.logging_enabled = materialized.logging_enabled;
    topology.add_state_store(std::move(result_store), {names.output});
    result_getter = detail::store_getter<K, VR>(output_store);
  } else {
    result_getter = {[output = names.output](ProcessingContext&) -> detail::ValueGetter<K, VR> {
                       throw TopologyError("the result of " + output +
                                           " is read by a join but has no store: give the "
                                           "foreign-key join Materialized::as(a store name)");
                     },
                     {}};
  }
  return KTable<K, VR>(builder, names.output, pk_serde, result_serde, result_getter,
                       queryable ? output_store : "");
}

}  // namespace sluice::streams
