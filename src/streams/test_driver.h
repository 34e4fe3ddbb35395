#pragma once
// Runs a topology without a broker (Kafka's TopologyTestDriver): records
// piped into input topics are processed at once, in order, by one task
// holding the whole topology; what sinks write lands in output topics the
// test reads. Records written to a topic the topology itself reads (its
// repartition topics, or a user topic it consumes) are processed in turn,
// as a broker would deliver them. Wall-clock time is a mock the test
// advances, so punctuations are deterministic; input timestamps start at 0
// (Kafka's driver starts at the real time) unless the test says otherwise.
//
// As Kafka's driver, it commits after every record it processes (piped or
// read back from a topic the topology writes and reads): the record caches
// (cache.max.bytes.buffering, 10 MiB by default, as Kafka's) forward what
// they hold then, so a cache shows only where one record updates a key more
// than once.
// As Kafka's driver, it keeps persistent (RocksDB) stores in a temporary
// state directory of its own, removed when the driver is destroyed.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "streams/record.h"
#include "streams/serde.h"
#include "streams/store.h"
#include "streams/task.h"
#include "streams/topology.h"

namespace sluice::streams {

struct TestDriverSettings {
  std::string application_id = "test-driver";
  int64_t initial_wall_clock_ms = 0;
  DeserializationHandling on_deserialization_error = DeserializationHandling::log_and_fail;
  BuiltInTimestampExtractor timestamp_extractor = BuiltInTimestampExtractor::fail_on_invalid;
  std::shared_ptr<ProcessingExceptionHandler> processing_exception_handler = nullptr;  // LogAndFail
  int64_t cache_max_bytes = kDefaultCacheMaxBytes;  // cache.max.bytes.buffering
  RecordingLevel recording_level = RecordingLevel::info;
};

template <class K, class V>
struct TestRecord {
  K key{};
  V value{};
  int64_t timestamp = 0;
  Headers headers;
};

class TopologyTestDriver;

template <class K, class V>
class TestInputTopic {
 public:
  TestInputTopic(TopologyTestDriver& driver, std::string topic, Serde<K> key_serde,
                 Serde<V> value_serde, int64_t start_timestamp, std::chrono::milliseconds advance)
      : driver_(&driver),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        next_timestamp_(start_timestamp),
        advance_(advance.count()) {}

  // At the topic's current time, which then moves on by the auto-advance.
  void pipe_input(const K& key, const V& value) {
    pipe_input(key, value, next_timestamp_);
    next_timestamp_ += advance_;
  }
  void pipe_input(const K& key, const V& value, int64_t timestamp, Headers headers = {});
  // A record without a key (null key bytes).
  void pipe_value(const V& value) {
    pipe_bytes(std::nullopt, value_serde_.serialize(topic_, value), next_timestamp_, {});
    next_timestamp_ += advance_;
  }
  // A tombstone for `key` (null value bytes).
  void pipe_tombstone(const K& key, int64_t timestamp) {
    pipe_bytes(key_serde_.serialize(topic_, key), std::nullopt, timestamp, {});
  }
  void advance_time(std::chrono::milliseconds by) { next_timestamp_ += by.count(); }

 private:
  void pipe_bytes(std::optional<std::string> key, std::optional<std::string> value,
                  int64_t timestamp, Headers headers);

  TopologyTestDriver* driver_;
  std::string topic_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
  int64_t next_timestamp_;
  int64_t advance_;
};

template <class K, class V>
class TestOutputTopic {
 public:
  TestOutputTopic(TopologyTestDriver& driver, std::string topic, Serde<K> key_serde,
                  Serde<V> value_serde)
      : driver_(&driver),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  // The next record, consumed; std::out_of_range when none is left.
  TestRecord<K, V> read_record();
  V read_value() { return read_record().value; }
  std::pair<K, V> read_key_value() {
    TestRecord<K, V> record = read_record();
    return {std::move(record.key), std::move(record.value)};
  }
  std::vector<V> read_values_to_list() {
    std::vector<V> values;
    while (!is_empty()) values.push_back(read_value());
    return values;
  }
  std::vector<std::pair<K, V>> read_key_values_to_list() {
    std::vector<std::pair<K, V>> pairs;
    while (!is_empty()) pairs.push_back(read_key_value());
    return pairs;
  }
  // The last value per key (a table's final state).
  std::map<K, V> read_key_values_to_map() {
    std::map<K, V> latest;
    while (!is_empty()) {
      auto [key, value] = read_key_value();
      latest.insert_or_assign(std::move(key), std::move(value));
    }
    return latest;
  }
  bool is_empty() const;
  size_t queue_size() const;

 private:
  TopologyTestDriver* driver_;
  std::string topic_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
};

class TopologyTestDriver final : private RecordCollector {
 public:
  explicit TopologyTestDriver(const Topology& topology, TestDriverSettings settings = {});
  ~TopologyTestDriver() override;

  template <class K, class V>
  TestInputTopic<K, V> create_input_topic(const std::string& topic, Serde<K> key_serde,
                                          Serde<V> value_serde, int64_t start_timestamp = 0,
                                          std::chrono::milliseconds auto_advance = {}) {
    if (task_->input_topics().count(topic) == 0) {
      throw std::invalid_argument("Unknown topic: " + topic);
    }
    return TestInputTopic<K, V>(*this, topic, std::move(key_serde), std::move(value_serde),
                                start_timestamp, auto_advance);
  }
  template <class K, class V>
  TestOutputTopic<K, V> create_output_topic(const std::string& topic, Serde<K> key_serde,
                                            Serde<V> value_serde) {
    return TestOutputTopic<K, V>(*this, topic, std::move(key_serde), std::move(value_serde));
  }

  // Processes `record` (its topic must be an input topic) and everything
  // it leads to; offsets are assigned per topic.
  void pipe(SerializedRecord record);
  // Moves the mock wall clock and runs the punctuations due.
  void advance_wall_clock_time(std::chrono::milliseconds by);

  template <class K, class V>
  KeyValueStore<K, V>& get_key_value_store(const std::string& name) {
    StateStore* store = task_->store(name);
    auto* typed = dynamic_cast<KeyValueStore<K, V>*>(store);
    if (typed == nullptr)
      throw std::invalid_argument("no key-value store " + name + " of these types");
    return *typed;
  }

  // Any store by its type (window stores: WindowStore<K, V>).
  template <class Store>
  Store& get_state_store_for_test(const std::string& name) {
    auto* typed = dynamic_cast<Store*>(task_->store(name));
    if (typed == nullptr) throw std::invalid_argument("no store " + name + " of this type");
    return *typed;
  }

  // Kafka's TopologyTestDriver.metrics(): the task's (and, at DEBUG, its
  // stores') metrics, under the thread id "main".
  std::vector<Metric> metrics() const;
  const ThreadCache& cache() const { return cache_; }

  // Every topic written to, internal topics (repartition, changelog) included.
  std::set<std::string> produced_topic_names() const;
  std::deque<SerializedRecord>& output(const std::string& topic) { return outputs_[topic]; }
  const Task& task() const { return *task_; }

 private:
  void send(SerializedRecord record) override;
  int32_t partition_count(const std::string& topic) override;
  void process_pending();

  TestDriverSettings settings_;
  std::string state_root_;  // the temporary state.dir
  int64_t wall_clock_ms_;
  ThreadCache cache_;
  std::shared_ptr<ThreadMetrics> thread_metrics_;
  std::unique_ptr<Task> task_;
  std::map<std::string, int64_t> next_offset_;
  std::deque<SerializedRecord> pending_;  // written to topics the topology reads
  std::map<std::string, std::deque<SerializedRecord>> outputs_;
  std::set<std::string> produced_;
  bool processing_ = false;
};

template <class K, class V>
void TestInputTopic<K, V>::pipe_input(const K& key, const V& value, int64_t timestamp,
                                      Headers headers) {
  pipe_bytes(key_serde_.serialize(topic_, key), value_serde_.serialize(topic_, value), timestamp,
             std::move(headers));
}

template <class K, class V>
void TestInputTopic<K, V>::pipe_bytes(std::optional<std::string> key,
                                      std::optional<std::string> value, int64_t timestamp,
                                      Headers headers) {
  SerializedRecord record;
  record.topic = topic_;
  record.partition = 0;
  record.timestamp = timestamp;
  record.key = std::move(key);
  record.value = std::move(value);
  record.headers = std::move(headers);
  driver_->pipe(std::move(record));
}

template <class K, class V>
TestRecord<K, V> TestOutputTopic<K, V>::read_record() {
  std::deque<SerializedRecord>& queue = driver_->output(topic_);
  if (queue.empty()) throw std::out_of_range("Empty topic: " + topic_);
  SerializedRecord record = std::move(queue.front());
  queue.pop_front();
  auto view = [](const std::optional<std::string>& bytes) -> std::optional<std::string_view> {
    if (!bytes) return std::nullopt;
    return std::string_view(*bytes);
  };
  return {key_serde_.deserialize(topic_, view(record.key)),
          value_serde_.deserialize(topic_, view(record.value)), record.timestamp, record.headers};
}

template <class K, class V>
bool TestOutputTopic<K, V>::is_empty() const {
  return driver_->output(topic_).empty();
}

template <class K, class V>
size_t TestOutputTopic<K, V>::queue_size() const {
  return driver_->output(topic_).size();
}

}  // namespace sluice::streams
