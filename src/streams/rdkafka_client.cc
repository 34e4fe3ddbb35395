#include "streams/rdkafka_client.h"

#include <algorithm>
#include <stdexcept>

namespace sluice::streams::rdkafka {
namespace {

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char message[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), message, sizeof message) !=
      RD_KAFKA_CONF_OK) {
    throw std::invalid_argument("client setting " + name + "=" + value + ": " + message);
  }
}

}  // namespace

RdKafka make_client(rd_kafka_type_t type, const StreamsConfig& config,
                    const std::map<std::string, std::string>& defaults,
                    const std::map<std::string, std::string>& user,
                    void (*configure)(rd_kafka_conf_t*, void*), void* opaque) {
  RdConf conf(rd_kafka_conf_new());
  set(conf.get(), "bootstrap.servers", config.bootstrap_servers);
  for (const auto& [name, value] : defaults) set(conf.get(), name, value);
  for (const auto& [name, value] : user) set(conf.get(), name, value);
  if (configure != nullptr) configure(conf.get(), opaque);
  char message[512];
  rd_kafka_t* handle = rd_kafka_new(type, conf.get(), message, sizeof message);
  if (handle == nullptr) {
    throw std::runtime_error(std::string("cannot make a Kafka client: ") + message);
  }
  (void)conf.release();  // rd_kafka_new took it
  return RdKafka(handle);
}

std::string error_text(rd_kafka_error_t* error) {
  return error == nullptr ? "" : rd_kafka_error_string(error);
}

std::map<std::string, int> partition_counts(rd_kafka_t* client,
                                            const std::set<std::string>& topics) {
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(client, 1, nullptr, &metadata, kAdminTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("cannot read the cluster's metadata: ") +
                             rd_kafka_err2str(err));
  }
  std::map<std::string, int> counts;
  for (const std::string& topic : topics) counts[topic] = -1;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& topic = metadata->topics[i];
    if (topic.err == RD_KAFKA_RESP_ERR_NO_ERROR && counts.count(topic.topic) != 0) {
      counts[topic.topic] = topic.partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return counts;
}

SerializedRecord record_of(rd_kafka_message_t* message) {
  SerializedRecord record;
  record.topic = rd_kafka_topic_name(message->rkt);
  record.partition = message->partition;
  record.offset = message->offset;
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  // -1 when the record has none: the timestamp extractor decides.
  record.timestamp = rd_kafka_message_timestamp(message, &type);
  if (message->key != nullptr)
    record.key = std::string(static_cast<const char*>(message->key), message->key_len);
  if (message->payload != nullptr) {
    record.value = std::string(static_cast<const char*>(message->payload), message->len);
  }
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* data = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &data, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Header header{name, std::nullopt};
      if (data != nullptr) header.value = std::string(static_cast<const char*>(data), size);
      record.headers.push_back(std::move(header));
    }
  }
  return record;
}

}  // namespace sluice::streams::rdkafka
