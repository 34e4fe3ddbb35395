#pragma once
// librdkafka handles and helpers the runtime's threads share (the stream
// threads in kafka_streams.cc, the global thread in global_thread.cc).

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "streams/record.h"
#include "streams/streams_config.h"

namespace sluice::streams::rdkafka {

constexpr int kAdminTimeoutMs = 30'000;

struct RdDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
  void operator()(rd_kafka_consumer_group_metadata_t* metadata) const {
    rd_kafka_consumer_group_metadata_destroy(metadata);
  }
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
};
using RdKafka = std::unique_ptr<rd_kafka_t, RdDeleter>;
using RdConf = std::unique_ptr<rd_kafka_conf_t, RdDeleter>;
using RdPartitions = std::unique_ptr<rd_kafka_topic_partition_list_t, RdDeleter>;
using RdError = std::unique_ptr<rd_kafka_error_t, RdDeleter>;

// A client with `defaults` (the runtime's), then the user's settings;
// `configure` sets callbacks. Throws std::invalid_argument for a setting
// librdkafka refuses, std::runtime_error when the client cannot be made.
RdKafka make_client(rd_kafka_type_t type, const StreamsConfig& config,
                    const std::map<std::string, std::string>& defaults,
                    const std::map<std::string, std::string>& user,
                    void (*configure)(rd_kafka_conf_t*, void*) = nullptr, void* opaque = nullptr);

std::string error_text(rd_kafka_error_t* error);

// Partitions of each existing topic named in `topics` (-1: absent).
std::map<std::string, int> partition_counts(rd_kafka_t* client,
                                            const std::set<std::string>& topics);

// A consumed message as the tasks take it (negative timestamps read as 0).
SerializedRecord record_of(rd_kafka_message_t* message);

}  // namespace sluice::streams::rdkafka
