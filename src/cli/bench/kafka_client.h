#pragma once
// Thin RAII over librdkafka's C API for the bench runners: configuration
// with throughput defaults, the in-process mock cluster, topic creation and
// metadata. Every call here blocks; none is on a measured path.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>

#include "cli/bench/bench_options.h"

namespace sluice::cli::bench {

struct KafkaDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
  void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using KafkaTopic = std::unique_ptr<rd_kafka_topic_t, KafkaDeleter>;
using KafkaQueue = std::unique_ptr<rd_kafka_queue_t, KafkaDeleter>;
using KafkaConf = std::unique_ptr<rd_kafka_conf_t, KafkaDeleter>;

enum class ClientRole { kProducer, kConsumer, kAdmin };

// The configuration of one client: bootstrap, the throughput defaults
// (linger.ms, batch.size, raised queue and fetch sizes, Nagle off), the
// run's acks and compression, then the -X settings, which win. Empty
// `*error` on success.
KafkaConf make_conf(const BenchOptions& options, const std::string& bootstrap, ClientRole role,
                    std::string* error);

// Creates a client; `conf` is consumed either way.
KafkaHandle make_client(KafkaConf conf, ClientRole role, std::string* error);

// librdkafka's in-process mock cluster (one broker), hosted by a client of
// its own; clients reach it through bootstraps() as they would a broker.
class MockCluster {
 public:
  static std::unique_ptr<MockCluster> start(std::string* error);
  ~MockCluster();
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  const std::string& bootstraps() const { return bootstraps_; }
  bool create_topic(const std::string& topic, int partitions, std::string* error);

 private:
  MockCluster() = default;
  KafkaHandle host_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
};

// Partitions of `topic` with a leader, from a full metadata request (which
// never auto-creates); -1 when absent, -2 when metadata failed.
int partition_count(rd_kafka_t* client, const std::string& topic, int timeout_ms);

// Makes sure `topic` exists on the broker at `bootstrap`: CreateTopics with
// `partitions` (replication factor 1) when metadata does not list it, then
// waits for its leaders. Returns the partition count, or -1 with `*error`.
int ensure_topic(const BenchOptions& options, const std::string& bootstrap,
                 std::string* error);

}  // namespace sluice::cli::bench
