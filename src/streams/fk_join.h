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
#include <set>
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

// The subscription's own partition (a response to an old subscription
// without one: the default partitioner).
template <class K, class Response>
StreamPartitioner<K, Response> response_partitioner() {
  return [](const std::string&, const K&, const Response& wrapper,
            int32_t) -> std::optional<std::set<int32_t>> {
    if (!wrapper.primary_partition) return std::nullopt;
    return std::set<int32_t>{*wrapper.primary_partition};
  };
}

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

// What every step of one join needs: its names and serdes.
template <class K, class V, class KO, class VO>
struct JoinParts {
  Names names;
  Serde<K> pk_serde;
  Serde<V> value_serde;
  Serde<KO> fk_serde;
  // Kafka's pseudo topics: what the serdes see when hashing and keying.
  std::string pk_topic, fk_topic, vh_topic;
  Serde<SubscriptionWrapper<K>> subscription;
  Serde<SubscriptionResponseWrapper<VO>> response;

  std::optional<Hash128> hash_of(const V& value) const {
    std::optional<std::string> bytes = value_serde.serialize(vh_topic, value);
    if (!bytes) return std::nullopt;
    return murmur3_hash128(*bytes);
  }
};

// This table's side: each change becomes subscriptions on the registration topic.
template <bool Left, class K, class V, class KO, class VO, class Extractor>
void add_subscription_sender(Topology& topology, const JoinParts<K, V, KO, VO>& parts,
                             const std::string& table_node, Extractor foreign_key) {
  using Subscription = SubscriptionWrapper<K>;
  auto body = subscription_sender<Left, K, V, KO>(foreign_key, parts.fk_serde, parts.value_serde,
                                                  parts.fk_topic, parts.vh_topic);
  topology.add_processor<K, Change<V>, std::optional<KO>, Subscription>(
      parts.names.send,
      detail::supplier_of<K, Change<V>, std::optional<KO>, Subscription>(
          [body](ProcessorContext<std::optional<KO>, Subscription>& context) {
            return [body, &context](const Record<K, Change<V>>& record) { body(record, context); };
          }),
      {table_node});
  Serde<std::optional<KO>> nullable_fk = serdes::optional(parts.fk_serde);
  topology.add_sink_spec(parts.names.registration_sink, parts.names.registration_topic, true,
                         {parts.names.send},
                         [sink = parts.names.registration_sink, nullable_fk,
                          subscription = parts.subscription](const std::string& resolved) {
                           return std::make_unique<SinkNode<std::optional<KO>, Subscription>>(
                               sink, resolved, nullable_fk, subscription);
                         });
}

// The other side (Kafka's SubscriptionReceiveProcessorSupplier): the
// registration topic's subscriptions kept (or removed) in the subscription
// store, keyed by foreign key and primary key.
template <class K, class V, class KO, class VO>
void add_subscription_receiver(Topology& topology, const JoinParts<K, V, KO, VO>& parts) {
  using Subscription = SubscriptionWrapper<K>;
  using Combined = CombinedKey<KO, K>;
  Serde<std::optional<KO>> nullable_fk = serdes::optional(parts.fk_serde);
  topology.add_source_spec(parts.names.registration_source, {parts.names.registration_topic}, true,
                           [source = parts.names.registration_source, nullable_fk,
                            subscription = parts.subscription](const std::string&) {
                             return std::make_unique<SourceNode<std::optional<KO>, Subscription>>(
                                 source, nullable_fk, subscription);
                           });
  auto combined_bytes = [parts](const KO& fk, const K& pk) {
    return combined_key(non_null_bytes(parts.fk_serde, parts.fk_topic, fk, "a foreign key"),
                        non_null_bytes(parts.pk_serde, parts.pk_topic, pk, "a primary key"));
  };
  const std::string store = parts.names.subscription_store;
  topology.add_processor<std::optional<KO>, Subscription, Combined, Subscription>(
      parts.names.receive,
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
      {parts.names.registration_source});
  topology.add_state_store(stores::in_memory_key_value<std::string, Subscription>(
                               store, serdes::bytes(), parts.subscription),
                           {parts.names.receive});
}

// Kafka's SubscriptionJoinProcessorSupplier: a subscription answered with
// the other table's row for its foreign key, as its instruction says.
template <class K, class V, class KO, class VO>
void add_subscription_joiner(Topology& topology, const JoinParts<K, V, KO, VO>& parts,
                             const detail::ValueGetterSupplier<KO, VO>& foreign_getter) {
  using Subscription = SubscriptionWrapper<K>;
  using Response = SubscriptionResponseWrapper<VO>;
  using Combined = CombinedKey<KO, K>;
  topology.add_processor<Combined, Subscription, K, Response>(
      parts.names.join_foreign,
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
      {parts.names.receive});
  topology.connect_processor_and_state_stores(parts.names.join_foreign, foreign_getter.stores);
}

// Kafka's ForeignTableJoinProcessorSupplier: a change of the other table's
// row answers every subscription to its key (a prefix scan of the store).
template <class K, class V, class KO, class VO>
void add_foreign_table_joiner(Topology& topology, const JoinParts<K, V, KO, VO>& parts,
                              const std::string& foreign_node) {
  using Subscription = SubscriptionWrapper<K>;
  using Response = SubscriptionResponseWrapper<VO>;
  const std::string store = parts.names.subscription_store;
  topology.add_processor<KO, Change<VO>, K, Response>(
      parts.names.foreign_join,
      detail::supplier_of<KO, Change<VO>, K, Response>(
          [store, parts](ProcessorContext<K, Response>& context) {
            auto* subscriptions =
                &context.template get_state_store<KeyValueStore<std::string, Subscription>>(store);
            return [subscriptions, parts, &context](const Record<KO, Change<VO>>& record) {
              if (is_null_value(record.key)) {
                spdlog::warn("Skipping record due to null key.");
                return;
              }
              std::string prefix = combined_key_prefix(
                  non_null_bytes(parts.fk_serde, parts.fk_topic, record.key, "a foreign key"));
              for (const auto& [key, wrapper] :
                   subscriptions->range(prefix, prefix_upper_bound(prefix))) {
                if (!key.starts_with(prefix)) continue;  // the range's end is inclusive
                context.forward(
                    Record<K, Response>{wrapper.primary_key,
                                        Response{wrapper.hash, record.value.new_value,
                                                 kResponseVersion, wrapper.primary_partition},
                                        record.timestamp, record.headers});
              }
            };
          }),
      {foreign_node});
  topology.connect_processor_and_state_stores(parts.names.foreign_join, {store});
  // Each answer goes back to the partition its subscription came from.
  topology.add_sink_spec(parts.names.response_sink, parts.names.response_topic, true,
                         {parts.names.join_foreign, parts.names.foreign_join},
                         [sink = parts.names.response_sink, pk = parts.pk_serde,
                          response = parts.response](const std::string& resolved) {
                           return std::make_unique<SinkNode<K, Response>>(
                               sink, resolved, pk, response, response_partitioner<K, Response>());
                         });
}

// Back on this table's side (Kafka's ResponseJoinProcessorSupplier): an
// answer made for the row's current value is joined; one made for an
// older value is dropped (a newer answer is on its way).
template <bool Left, class K, class V, class KO, class VO, class VR, class Joiner>
void add_response_resolver(Topology& topology, const JoinParts<K, V, KO, VO>& parts,
                           const detail::ValueGetterSupplier<K, V>& primary_getter, Joiner joiner) {
  using Response = SubscriptionResponseWrapper<VO>;
  topology.add_source_spec(parts.names.response_source, {parts.names.response_topic}, true,
                           [source = parts.names.response_source, pk = parts.pk_serde,
                            response = parts.response](const std::string&) {
                             return std::make_unique<SourceNode<K, Response>>(source, pk, response);
                           });
  topology.add_processor<K, Response, K, std::optional<VR>>(
      parts.names.resolver,
      detail::supplier_of<K, Response, K, std::optional<VR>>(
          [primary_getter, joiner, parts](ProcessorContext<K, std::optional<VR>>& context) {
            detail::ValueGetter<K, V> primary_values = primary_getter.make(context);
            return [primary_values, joiner, parts, &context](const Record<K, Response>& record) {
              std::optional<V> current = primary_values(record.key);
              std::optional<Hash128> current_hash;
              if (current) current_hash = parts.hash_of(*current);
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
      {parts.names.response_source});
  topology.connect_processor_and_state_stores(parts.names.resolver, primary_getter.stores);
}

// The result table (Kafka's KTableSource): a store only when named.
template <class K, class VR>
void add_result(Topology& topology, const std::string& name, const std::string& parent,
                const std::string& store, bool materialized) {
  topology.add_processor<K, std::optional<VR>, K, Change<VR>>(
      name,
      detail::supplier_of<K, std::optional<VR>, K, Change<VR>>(
          [store, materialized](ProcessorContext<K, Change<VR>>& context) {
            KeyValueStore<K, VR>* results = nullptr;
            if (materialized) {
              results = &context.template get_state_store<KeyValueStore<K, VR>>(store);
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
      {parent});
}

template <class K, class VR>
detail::ValueGetterSupplier<K, VR> unmaterialized_result_getter(const std::string& output) {
  return {[output](ProcessingContext&) -> detail::ValueGetter<K, VR> {
            throw TopologyError("the result of " + output +
                                " is read by a join but has no store: give the foreign-key "
                                "join Materialized::as(a store name)");
          },
          {}};
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
  Topology& topology = builder_->topology();
  const bool queryable = !materialized.store_name.empty();
  fkjoin::JoinParts<K, V, KO, VO> parts;
  parts.names = fkjoin::Names::draw(*builder_, materialized.store_name);
  const std::string what = "the foreign-key join " + parts.names.output;
  parts.pk_serde = detail::require_serde(key_serde_, what + " (this table's keys)");
  parts.value_serde = detail::require_serde(value_serde_, what + " (this table's values)");
  parts.fk_serde = detail::require_serde(other.key_serde_, what + " (the other table's keys)");
  parts.pk_topic = parts.names.registration_topic + "-pk";
  parts.fk_topic = parts.names.registration_topic + "-fk";
  parts.vh_topic = parts.names.registration_topic + "-vh";
  parts.subscription = fkjoin::subscription_serde(parts.pk_serde, parts.pk_topic);
  parts.response = fkjoin::response_serde(
      detail::require_serde(other.value_serde_, what + " (the other table's values)"));

  fkjoin::add_subscription_sender<Left>(topology, parts, node_, std::move(foreign_key));
  fkjoin::add_subscription_receiver(topology, parts);
  fkjoin::add_subscription_joiner(topology, parts, other.getter_);
  fkjoin::add_foreign_table_joiner(topology, parts, other.node_);
  fkjoin::add_response_resolver<Left, K, V, KO, VO, VR>(topology, parts, getter_,
                                                        std::move(joiner));
  const std::string& store = parts.names.output_store;
  fkjoin::add_result<K, VR>(topology, parts.names.output, parts.names.resolver, store, queryable);
  if (!queryable) {
    return KTable<K, VR>(*builder_, parts.names.output, parts.pk_serde, materialized.value_serde,
                         fkjoin::unmaterialized_result_getter<K, VR>(parts.names.output), "");
  }
  Serde<K> key_serde = materialized.key_serde ? *materialized.key_serde : parts.pk_serde;
  Serde<VR> value_serde = detail::require_serde(materialized.value_serde, "the store " + store);
  StoreBuilder result_store = stores::in_memory_key_value<K, VR>(store, key_serde, value_serde);
  result_store.logging_enabled = materialized.logging_enabled;
  topology.add_state_store(std::move(result_store), {parts.names.output});
  return KTable<K, VR>(*builder_, parts.names.output, parts.pk_serde, value_serde,
                       detail::store_getter<K, VR>(store), store);
}

}  // namespace sluice::streams
