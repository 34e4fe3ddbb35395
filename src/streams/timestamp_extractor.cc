#include "streams/timestamp_extractor.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "streams/processor.h"

namespace sluice::streams {

std::optional<BuiltInTimestampExtractor> built_in_timestamp_extractor(const std::string& name) {
  // Kafka takes the class by its full name; the simple name is accepted too.
  auto is = [&name](const std::string& simple) {
    return name == simple || name == "org.apache.kafka.streams.processor." + simple;
  };
  if (is("FailOnInvalidTimestamp")) return BuiltInTimestampExtractor::fail_on_invalid;
  if (is("LogAndSkipOnInvalidTimestamp")) return BuiltInTimestampExtractor::log_and_skip_on_invalid;
  if (is("UsePartitionTimeOnInvalidTimestamp"))
    return BuiltInTimestampExtractor::use_partition_time_on_invalid;
  if (is("WallclockTimestampExtractor")) return BuiltInTimestampExtractor::wallclock;
  return std::nullopt;
}

const char* class_name(BuiltInTimestampExtractor extractor) {
  switch (extractor) {
    case BuiltInTimestampExtractor::fail_on_invalid:
      return "org.apache.kafka.streams.processor.FailOnInvalidTimestamp";
    case BuiltInTimestampExtractor::log_and_skip_on_invalid:
      return "org.apache.kafka.streams.processor.LogAndSkipOnInvalidTimestamp";
    case BuiltInTimestampExtractor::use_partition_time_on_invalid:
      return "org.apache.kafka.streams.processor.UsePartitionTimeOnInvalidTimestamp";
    case BuiltInTimestampExtractor::wallclock:
      return "org.apache.kafka.streams.processor.WallclockTimestampExtractor";
  }
  return "?";
}

std::string describe_consumer_record(const SerializedRecord& record) {
  auto size = [](const std::optional<std::string>& bytes) {
    return bytes ? std::to_string(bytes->size()) : std::string("-1");
  };
  return "ConsumerRecord(topic = " + record.topic +
         ", partition = " + std::to_string(record.partition) +
         ", offset = " + std::to_string(record.offset) +
         ", CreateTime = " + std::to_string(record.timestamp) +
         ", serialized key size = " + size(record.key) +
         ", serialized value size = " + size(record.value) + ")";
}

int64_t extract_timestamp(BuiltInTimestampExtractor extractor, const SerializedRecord& record,
                          int64_t partition_time) {
  if (extractor == BuiltInTimestampExtractor::wallclock) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  if (record.timestamp >= 0) return record.timestamp;
  switch (extractor) {
    case BuiltInTimestampExtractor::fail_on_invalid: {
      std::string message =
          "Input record " + describe_consumer_record(record) +
          " has invalid (negative) timestamp. Possibly because a pre-0.10 producer client was "
          "used to write this record to Kafka without embedding a timestamp, or because the "
          "input topic was created before upgrading the Kafka cluster to 0.10+. Use a "
          "different TimestampExtractor to process this data.";
      spdlog::error("{}", message);
      throw StreamsError(message);
    }
    case BuiltInTimestampExtractor::log_and_skip_on_invalid:
      spdlog::warn(
          "Input record {} will be dropped because it has an invalid (negative) timestamp.",
          describe_consumer_record(record));
      return record.timestamp;
    case BuiltInTimestampExtractor::use_partition_time_on_invalid:
      if (partition_time < 0) {
        throw StreamsError("Could not infer new timestamp for input record " +
                           describe_consumer_record(record) +
                           " because partition time is unknown.");
      }
      return partition_time;
    case BuiltInTimestampExtractor::wallclock:
      break;
  }
  return record.timestamp;
}

}  // namespace sluice::streams
