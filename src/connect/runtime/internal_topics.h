#pragma once
// A distributed worker's access to its internal topics (Kafka's KafkaBasedLog):
// TopicReader reads every partition of a topic from its beginning with a
// consumer of no group, TopicWriter writes with an idempotent producer and
// acks=all (a write that returned is on every in-sync replica).
// KafkaOffsetStore keeps source offsets in offset.storage.topic: every
// worker reads the whole topic into memory, and reads to its end before it
// answers, so a task that moved resumes from the last committed offset.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "connect/config.h"
#include "connect/runtime/kafka_clients.h"
#include "connect/runtime/offset_store.h"

namespace sluice::connect {

class TopicReader {
 public:
  using Sink = std::function<void(int64_t offset, const std::string& key,
                                  const std::optional<std::string>& value)>;
  // `settings`: a consumer's (client_settings); the topic must exist.
  static Result<std::unique_ptr<TopicReader>> open(const Properties& settings,
                                                   const std::string& topic);
  // What arrived, waiting at most `max_wait` for the first record.
  Status poll(std::chrono::milliseconds max_wait, const Sink& sink);
  // Everything up to each partition's end as it is now.
  Status read_to_end(const Sink& sink, std::chrono::milliseconds timeout);

 private:
  TopicReader(RdKafka consumer, std::string topic, int partitions)
      : consumer_(std::move(consumer)), topic_(std::move(topic)), partitions_(partitions) {}
  RdKafka consumer_;
  std::string topic_;
  int partitions_;
};

class TopicWriter {
 public:
  // `settings`: a producer's (client_settings); idempotence and acks=all
  // are set here.
  static Result<std::unique_ptr<TopicWriter>> open(const Properties& settings);
  ~TopicWriter();
  // Durable writes in order; the offset of the last one.
  Result<int64_t> write(
      const std::string& topic,
      const std::vector<std::pair<std::string, std::optional<std::string>>>& records);
  // Fire and forget (statuses: a lost one is written again at the next change).
  void send(const std::string& topic, const std::string& key,
            const std::optional<std::string>& value);

 private:
  explicit TopicWriter(RdKafka producer) : producer_(std::move(producer)) {}
  RdKafka producer_;
};

// The topic's partition count (metadata), or an error naming the topic.
Result<int> topic_partitions(rd_kafka_t* client, const std::string& topic);

class KafkaOffsetStore final : public OffsetStore {
 public:
  KafkaOffsetStore(std::unique_ptr<TopicReader> reader, std::unique_ptr<TopicWriter> writer,
                   std::string topic)
      : reader_(std::move(reader)), writer_(std::move(writer)), topic_(std::move(topic)) {}

  std::optional<std::string> get(const std::string& key) override;
  std::vector<std::pair<std::string, std::string>> entries_of(
      const std::string& connector) override;
  Status put(const std::vector<std::pair<std::string, std::optional<std::string>>>& batch) override;
  // Reads the topic to its end (every worker at start).
  Status read_to_end();

 private:
  Status read_locked();

  std::unique_ptr<TopicReader> reader_;
  std::unique_ptr<TopicWriter> writer_;
  std::string topic_;
  std::mutex mutex_;
  std::map<std::string, std::string> entries_;
};

}  // namespace sluice::connect
