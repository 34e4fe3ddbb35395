#include "cli/bench/kafka_client.h"

#include <chrono>
#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::cli::bench {
namespace {

using Settings = std::vector<std::pair<std::string, std::string>>;

Settings default_settings(const BenchOptions& options, ClientRole role) {
  Settings settings = {
      {"socket.nagle.disable", "true"},
      // Quiet: a run prints its own errors; librdkafka's logs go to stderr.
      {"log_level", "4"},
  };
  if (role == ClientRole::kProducer) {
    settings.insert(settings.end(), {
        {"linger.ms", std::to_string(options.linger_ms)},
        {"batch.size", std::to_string(options.batch_size_bytes)},
        {"queue.buffering.max.messages", "2000000"},
        {"queue.buffering.max.kbytes", "2097152"},
        {"acks", acks_setting(options.acks)},
        {"compression.codec", options.compression},
    });
  } else if (role == ClientRole::kConsumer) {
    settings.insert(settings.end(), {
        {"enable.partition.eof", "true"},
        {"auto.offset.reset", "earliest"},
        // 1 MiB per partition, Kafka's and librdkafka's default: on this
        // 2-core machine 1 KiB records consume ~25% faster than with 4 MiB
        // (1.6-2.0 against 1.3-1.5 GB/s; 100 B: 3.2-3.8 against 2.8-3.3 M/s;
        // bench/RESULTS.md).
        {"fetch.message.max.bytes", "1048576"},
        {"fetch.max.bytes", "67108864"},
        {"queued.min.messages", "1000000"},
        {"queued.max.messages.kbytes", "262144"},
    });
  }
  return settings;
}

bool set(rd_kafka_conf_t* conf, const std::string& key, const std::string& value,
         std::string* error) {
  char message[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), message, sizeof message) !=
      RD_KAFKA_CONF_OK) {
    *error = key + "=" + value + ": " + message;
    return false;
  }
  return true;
}

// The -X settings that only make sense for one role are applied to that role
// alone, so "-X acks=all" does not break the consumer's configuration.
bool applies_to(const std::string& key, ClientRole role) {
  static const char* const producer_only[] = {"acks", "request.required.acks", "linger.ms",
                                              "queue.buffering.max.ms", "batch.size",
                                              "batch.num.messages", "compression.codec",
                                              "compression.type", "enable.idempotence",
                                              "queue.buffering.max.messages",
                                              "queue.buffering.max.kbytes", "partitioner"};
  static const char* const consumer_prefixes[] = {"fetch.", "queued.", "enable.partition.eof",
                                                  "auto.offset.reset", "group.", "check.crcs"};
  for (const char* name : producer_only) {
    if (key == name) return role == ClientRole::kProducer;
  }
  for (const char* prefix : consumer_prefixes) {
    if (key.rfind(prefix, 0) == 0) return role == ClientRole::kConsumer;
  }
  return true;
}

}  // namespace

KafkaConf make_conf(const BenchOptions& options, const std::string& bootstrap, ClientRole role,
                    std::string* error) {
  KafkaConf conf(rd_kafka_conf_new());
  error->clear();
  if (!set(conf.get(), "bootstrap.servers", bootstrap, error)) return nullptr;
  for (const auto& [key, value] : default_settings(options, role)) {
    if (!set(conf.get(), key, value, error)) return nullptr;
  }
  for (const auto& [key, value] : options.client_settings) {
    if (applies_to(key, role) && !set(conf.get(), key, value, error)) return nullptr;
  }
  return conf;
}

KafkaHandle make_client(KafkaConf conf, ClientRole role, std::string* error) {
  char message[512];
  rd_kafka_type_t type = role == ClientRole::kConsumer ? RD_KAFKA_CONSUMER : RD_KAFKA_PRODUCER;
  // rd_kafka_new owns the conf only when it succeeds.
  rd_kafka_t* client = rd_kafka_new(type, conf.get(), message, sizeof message);
  if (client == nullptr) {
    *error = message;
    return nullptr;
  }
  (void)conf.release();
  return KafkaHandle(client);
}

std::unique_ptr<MockCluster> MockCluster::start(std::string* error) {
  std::unique_ptr<MockCluster> mock(new MockCluster());
  KafkaConf conf(rd_kafka_conf_new());
  if (!set(conf.get(), "log_level", "3", error)) return nullptr;
  mock->host_ = make_client(std::move(conf), ClientRole::kAdmin, error);
  if (!mock->host_) return nullptr;
  mock->cluster_ = rd_kafka_mock_cluster_new(mock->host_.get(), 1);
  if (mock->cluster_ == nullptr) {
    *error = "rd_kafka_mock_cluster_new failed";
    return nullptr;
  }
  mock->bootstraps_ = rd_kafka_mock_cluster_bootstraps(mock->cluster_);
  return mock;
}

MockCluster::~MockCluster() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
}

bool MockCluster::create_topic(const std::string& topic, int partitions, std::string* error) {
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    *error = std::string("mock topic create: ") + rd_kafka_err2str(err);
    return false;
  }
  return true;
}

int partition_count(rd_kafka_t* client, const std::string& topic, int timeout_ms) {
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_metadata(client, 1, nullptr, &metadata, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return -2;
  }
  int count = -1;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& entry = metadata->topics[i];
    if (topic != entry.topic || entry.err != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    count = 0;
    for (int p = 0; p < entry.partition_cnt; ++p) {
      if (entry.partitions[p].leader >= 0) ++count;
    }
    // A partition without a leader yet: not ready.
    if (count != entry.partition_cnt) count = -1;
  }
  rd_kafka_metadata_destroy(metadata);
  return count;
}

namespace {

std::string create_topic(rd_kafka_t* client, const std::string& topic, int partitions) {
  char message[512];
  rd_kafka_NewTopic_t* new_topic =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, message, sizeof message);
  if (new_topic == nullptr) return message;
  KafkaQueue queue(rd_kafka_queue_new(client));
  rd_kafka_CreateTopics(client, &new_topic, 1, nullptr, queue.get());
  rd_kafka_NewTopic_destroy(new_topic);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue.get(), 30000);
  if (event == nullptr) return "CreateTopics timed out";
  std::string result;
  if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    result = rd_kafka_event_error_string(event);
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** topics =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count; ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* text = rd_kafka_topic_result_error_string(topics[i]);
        result = text != nullptr ? text : rd_kafka_err2str(err);
      }
    }
  }
  rd_kafka_event_destroy(event);
  return result;
}

// A metadata request naming the topic, from a producer: a broker with
// auto.create.topics.enable creates it (with its num.partitions).
void request_auto_creation(rd_kafka_t* client, const std::string& topic) {
  KafkaTopic handle(rd_kafka_topic_new(client, topic.c_str(), nullptr));
  const rd_kafka_metadata_t* metadata = nullptr;
  if (rd_kafka_metadata(client, 0, handle.get(), &metadata, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_metadata_destroy(metadata);
  }
}

}  // namespace

int ensure_topic(const BenchOptions& options, const std::string& bootstrap, std::string* error) {
  KafkaConf conf = make_conf(options, bootstrap, ClientRole::kAdmin, error);
  if (!conf) return -1;
  KafkaHandle client = make_client(std::move(conf), ClientRole::kAdmin, error);
  if (!client) return -1;
  int count = partition_count(client.get(), options.topic, 10000);
  if (count == -2) {
    *error = "no metadata from " + bootstrap;
    return -1;
  }
  bool created = true;
  if (count < 0) {
    std::string failure = create_topic(client.get(), options.topic, options.partitions);
    // Not fatal: a broker without CreateTopics may still auto-create.
    if (!failure.empty()) {
      std::fprintf(stderr, "sluice bench: CreateTopics: %s\n", failure.c_str());
      created = false;
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (count < 0 && std::chrono::steady_clock::now() < deadline) {
    if (!created) request_auto_creation(client.get(), options.topic);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    count = partition_count(client.get(), options.topic, 5000);
  }
  if (count < 0) *error = "topic " + options.topic + " did not appear with leaders";
  return count;
}

}  // namespace sluice::cli::bench
