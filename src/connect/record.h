#pragma once
// Kafka Connect's records (ConnectRecord, SourceRecord, SinkRecord) and
// headers (ConnectHeaders). One struct for all three: the origin says which
// it is, so a transform that rebuilds a record (Kafka's newRecord) keeps the
// source offsets or the sink position by copying the record, as Kafka's
// SourceRecord.newRecord and SinkRecord.newRecord do.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "connect/data.h"

namespace sluice::connect {

struct Header {
  std::string key;
  SchemaPtr schema;  // null: schemaless
  Value value;
  friend bool operator==(const Header& a, const Header& b) {
    return a.key == b.key && schema_equals(a.schema, b.schema) && a.value == b.value;
  }
};

// Kafka's ConnectHeaders: ordered, a key may repeat.
using Headers = std::vector<Header>;

inline bool has_header(const Headers& headers, std::string_view key) {
  for (const Header& header : headers) {
    if (header.key == key) return true;
  }
  return false;
}

// Kafka's TimestampType of a consumed record.
enum class TimestampType { no_timestamp_type, create_time, log_append_time };

// What a SourceRecord adds: where in the source system the record came from,
// and the position to resume from (both maps are stored by the runtime in
// offset.storage.*).
struct SourceOrigin {
  Map source_partition;
  Map source_offset;
};

// What a SinkRecord adds: the record's position in Kafka.
struct SinkOrigin {
  int64_t kafka_offset = 0;
  TimestampType timestamp_type = TimestampType::no_timestamp_type;
};

struct ConnectRecord {
  std::string topic;
  std::optional<int32_t> kafka_partition;
  SchemaPtr key_schema;
  Value key;
  SchemaPtr value_schema;
  Value value;
  std::optional<int64_t> timestamp;  // milliseconds since the epoch
  Headers headers;
  std::variant<std::monostate, SourceOrigin, SinkOrigin> origin;

  bool is_sink_record() const { return std::holds_alternative<SinkOrigin>(origin); }
  bool is_source_record() const { return std::holds_alternative<SourceOrigin>(origin); }
  // Kafka's class name, for Requirements' messages.
  const char* java_class_name() const {
    if (is_sink_record()) return "org.apache.kafka.connect.sink.SinkRecord";
    if (is_source_record()) return "org.apache.kafka.connect.source.SourceRecord";
    return "org.apache.kafka.connect.connector.ConnectRecord";
  }
};

inline ConnectRecord make_source_record(Map source_partition, Map source_offset, std::string topic,
                                        std::optional<int32_t> partition, SchemaPtr key_schema,
                                        Value key, SchemaPtr value_schema, Value value,
                                        std::optional<int64_t> timestamp = std::nullopt) {
  return ConnectRecord{std::move(topic),
                       partition,
                       std::move(key_schema),
                       std::move(key),
                       std::move(value_schema),
                       std::move(value),
                       timestamp,
                       {},
                       SourceOrigin{std::move(source_partition), std::move(source_offset)}};
}

inline ConnectRecord make_sink_record(std::string topic, int32_t partition, SchemaPtr key_schema,
                                      Value key, SchemaPtr value_schema, Value value,
                                      int64_t kafka_offset,
                                      std::optional<int64_t> timestamp = std::nullopt,
                                      TimestampType timestamp_type = TimestampType::create_time) {
  return ConnectRecord{std::move(topic),
                       partition,
                       std::move(key_schema),
                       std::move(key),
                       std::move(value_schema),
                       std::move(value),
                       timestamp,
                       {},
                       SinkOrigin{kafka_offset, timestamp_type}};
}

}  // namespace sluice::connect
