#pragma once
// Kafka's StreamPartitioner: which partitions of a sink's topic a record
// goes to, given the topic's partition count. std::nullopt leaves it to the
// producer's default partitioner (murmur2 of the key's bytes, as a Java
// producer); an empty set drops the record; several partitions send one
// copy to each (KIP-837's multicast).

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

namespace sluice::streams {

template <class K, class V>
using StreamPartitioner = std::function<std::optional<std::set<int32_t>>(
    const std::string& topic, const K& key, const V& value, int32_t num_partitions)>;

// A partitioner that picks one partition (Kafka's deprecated
// `Integer partition(...)` form; std::nullopt: the default partitioner).
template <class K, class V>
StreamPartitioner<K, V> single_partition(
    std::function<std::optional<int32_t>(const std::string&, const K&, const V&, int32_t)> pick) {
  return [pick = std::move(pick)](const std::string& topic, const K& key, const V& value,
                                  int32_t num_partitions) -> std::optional<std::set<int32_t>> {
    std::optional<int32_t> partition = pick(topic, key, value, num_partitions);
    if (!partition) return std::nullopt;
    return std::set<int32_t>{*partition};
  };
}

}  // namespace sluice::streams
