#pragma once
// Records as the Processor API sees them (Kafka's api.Record), and as they
// cross the boundary to Kafka: serialized, with where they came from.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sluice::streams {

struct Header {
  std::string key;
  std::optional<std::string> value;  // nullopt: a null header value
  bool operator==(const Header&) const = default;
};
using Headers = std::vector<Header>;

// A typed record flowing between processors. The timestamp is the record's
// event time (the timestamp extractor's answer for records read from Kafka).
template <class K, class V>
struct Record {
  K key{};
  V value{};
  int64_t timestamp = 0;
  Headers headers;

  template <class NewK>
  Record<NewK, V> with_key(NewK new_key) const {
    return {std::move(new_key), value, timestamp, headers};
  }
  template <class NewV>
  Record<K, NewV> with_value(NewV new_value) const {
    return {key, std::move(new_value), timestamp, headers};
  }
  Record with_timestamp(int64_t new_timestamp) const {
    return {key, value, new_timestamp, headers};
  }
};

// What a KTable forwards: the key's new value and the one it replaced
// (nullopt: absent). A deletion has no new value.
template <class V>
struct Change {
  std::optional<V> new_value;
  std::optional<V> old_value;
  bool operator==(const Change&) const = default;
};

// A record in Kafka's terms: bytes, with its position. `key`/`value`
// nullopt are null (a tombstone value).
struct SerializedRecord {
  std::string topic;
  int32_t partition = -1;  // -1: the producer's partitioner decides
  int64_t offset = -1;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  Headers headers;
};

// Where the record being processed came from (Kafka's RecordMetadata);
// absent in a punctuation.
struct RecordMetadata {
  std::string topic;
  int32_t partition = -1;
  int64_t offset = -1;
};

}  // namespace sluice::streams
