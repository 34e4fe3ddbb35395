#pragma once
// Timestamp extractors (Kafka's TimestampExtractor): the event time a record
// read from Kafka gets, and so the stream time, windows and punctuations.
//
// - `default.timestamp.extractor` names one of Kafka's built-in classes
//   (FailOnInvalidTimestamp, the default; LogAndSkipOnInvalidTimestamp;
//   UsePartitionTimeOnInvalidTimestamp; WallclockTimestampExtractor), used
//   by every source without its own.
// - A source may have its own, typed: `Consumed{...}.with_timestamp_extractor(e)`
//   with a TimestampExtractor<K, V> (or `timestamp_extractor<K, V>(lambda)`).
//
// A negative answer drops the record (Kafka's RecordQueue: a warning and
// the task's dropped-records metric). An extractor that throws stops the
// task, as Kafka's does.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "streams/record.h"

namespace sluice::streams {

enum class BuiltInTimestampExtractor {
  fail_on_invalid,                // FailOnInvalidTimestamp
  log_and_skip_on_invalid,        // LogAndSkipOnInvalidTimestamp
  use_partition_time_on_invalid,  // UsePartitionTimeOnInvalidTimestamp
  wallclock,                      // WallclockTimestampExtractor
};

// The built-in named by a `default.timestamp.extractor` value (Kafka's class
// name, with or without its package); nullopt for any other.
std::optional<BuiltInTimestampExtractor> built_in_timestamp_extractor(
    const std::string& class_name);
// Kafka's canonical class name (for log lines).
const char* class_name(BuiltInTimestampExtractor extractor);

// What the built-in answers for `record` (its own timestamp, as the broker
// stored it) given the partition time (the largest timestamp extracted so
// far from the record's partition, -1 when none): Kafka's messages and
// exceptions (StreamsError) for the invalid (negative) timestamps.
int64_t extract_timestamp(BuiltInTimestampExtractor extractor, const SerializedRecord& record,
                          int64_t partition_time);

// Kafka's ConsumerRecord.toString() for messages about a record.
std::string describe_consumer_record(const SerializedRecord& record);

// A source's own extractor (Kafka's TimestampExtractor, typed): `record`
// is deserialized and carries its own timestamp; `metadata` says where it
// was read.
template <class K, class V>
class TimestampExtractor {
 public:
  virtual ~TimestampExtractor() = default;
  virtual int64_t extract(const Record<K, V>& record, const RecordMetadata& metadata,
                          int64_t partition_time) = 0;
};

// An extractor from a function `(record, partition_time) -> timestamp`.
template <class K, class V, class F>
std::shared_ptr<TimestampExtractor<K, V>> timestamp_extractor(F function) {
  class FromFunction final : public TimestampExtractor<K, V> {
   public:
    explicit FromFunction(F f) : f_(std::move(f)) {}
    int64_t extract(const Record<K, V>& record, const RecordMetadata&,
                    int64_t partition_time) override {
      return f_(record, partition_time);
    }

   private:
    F f_;
  };
  return std::make_shared<FromFunction>(std::move(function));
}

}  // namespace sluice::streams
