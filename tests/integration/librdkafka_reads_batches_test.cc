// Batches that Sluice builds are read back by a real client: librdkafka
// consumes them from a minimal in-test broker that answers ApiVersions,
// Metadata, ListOffsets and Fetch with the generated codecs, and serves
// batches made by record::BatchBuilder with every codec. Every record must
// arrive with its offset, timestamp, key, value and headers intact.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "protocol/protocol.h"
#include "record/batch_builder.h"

namespace sluice {
namespace {

using namespace protocol;
using record::Compression;

constexpr const char* topic_name = "interop";
constexpr int records_per_batch = 40;
constexpr int64_t base_timestamp_ms = 1700000000000;

struct ExpectedRecord {
  int64_t offset;
  int64_t timestamp_ms;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

Bytes as_bytes(const std::string& text) {
  return Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// The log the broker serves: one batch per codec, at consecutive offsets.
struct TestLog {
  std::vector<uint8_t> bytes;
  std::vector<ExpectedRecord> records;
  int64_t end_offset = 0;

  void append_batch(Compression codec) {
    record::BatchOptions options;
    options.compression = codec;
    options.base_offset = end_offset;
    options.partition_leader_epoch = 0;
    record::BatchBuilder builder(options);
    for (int i = 0; i < records_per_batch; ++i) {
      ExpectedRecord expected;
      expected.offset = end_offset + i;
      expected.timestamp_ms = base_timestamp_ms + expected.offset;
      if (i % 7 != 3) expected.key = "key-" + std::to_string(expected.offset);
      if (i % 11 != 5) expected.value = std::string(static_cast<size_t>(i * 13), 'a' + i % 26);
      expected.headers.emplace_back("codec", record::compression_name(codec));
      if (i % 2 == 0) expected.headers.emplace_back("null-header", std::nullopt);

      std::vector<record::RecordHeader> headers;
      for (const auto& [key, value] : expected.headers)
        headers.push_back({key, value ? std::optional<Bytes>(as_bytes(*value)) : std::nullopt});
      auto key = expected.key ? std::optional<Bytes>(as_bytes(*expected.key)) : std::nullopt;
      auto value = expected.value ? std::optional<Bytes>(as_bytes(*expected.value)) : std::nullopt;
      builder.append(expected.timestamp_ms, key, value, headers);
      records.push_back(std::move(expected));
    }
    auto batch = builder.build();
    ASSERT_TRUE(batch.is_ok()) << batch.status().to_string();
    bytes.insert(bytes.end(), batch->begin(), batch->end());
    end_offset += records_per_batch;
  }
};

bool read_exact(int fd, uint8_t* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool write_all(int fd, const std::vector<uint8_t>& data) {
  size_t written = 0;
  while (written < data.size()) {
    // MSG_NOSIGNAL: a client that hangs up must not kill the test with SIGPIPE.
    ssize_t n = ::send(fd, data.data() + written, data.size() - written, MSG_NOSIGNAL);
    if (n <= 0) return false;
    written += static_cast<size_t>(n);
  }
  return true;
}

class MiniBroker {
 public:
  explicit MiniBroker(const TestLog& log) : log_(log) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    SLUICE_ASSERT(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) == 0, "bind");
    SLUICE_ASSERT(::listen(listen_fd_, 16) == 0, "listen");
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~MiniBroker() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    for (std::thread& thread : sessions_) thread.join();
  }
  int port() const { return port_; }
  int fetches_served() const { return fetches_served_; }

 private:
  void accept_loop() {
    while (!stopping_) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      connections_.push_back(fd);
      sessions_.emplace_back([this, fd] {
        serve(fd);
        ::close(fd);
      });
    }
  }

  void serve(int fd) {
    while (!stopping_) {
      uint8_t size_bytes[4];
      if (!read_exact(fd, size_bytes, 4)) return;
      WireReader size_reader(size_bytes);
      int32_t size = size_reader.read_int32();
      if (size <= 0 || size > (1 << 24)) return;
      std::vector<uint8_t> frame(static_cast<size_t>(size));
      if (!read_exact(fd, frame.data(), frame.size())) return;
      WireReader reader(frame);
      RequestHeader header;
      if (!decode_request_header(reader, header)) return;
      if (!answer(fd, header, reader)) return;
    }
  }

  template <class Response>
  bool respond(int fd, const RequestHeader& header, const Response& response) {
    WireWriter body;
    ResponseHeader response_header;
    response_header.correlation_id = header.correlation_id;
    encode_response_header(body, header.request_api_key, header.request_api_version,
                           response_header);
    response.encode(body, header.request_api_version);
    WireWriter frame;
    frame.write_int32(static_cast<int32_t>(body.size()));
    std::vector<uint8_t> out = frame.to_vector();
    std::vector<uint8_t> rest = body.to_vector();
    out.insert(out.end(), rest.begin(), rest.end());
    return write_all(fd, out);
  }

  bool answer(int fd, const RequestHeader& header, WireReader& reader) {
    int16_t version = header.request_api_version;
    switch (header.request_api_key) {
      case ApiVersionsRequest::api_key: {
        ApiVersionsResponse response;
        if (version > 3) {  // Kafka's fallback: answer v0 with the supported range
          response.error_code = 35;  // UNSUPPORTED_VERSION
        }
        // Produce is advertised (never sent by a consumer) so that librdkafka
        // enables record batch v2 and uses its newest Fetch version.
        for (int16_t key : {ApiVersionsRequest::api_key, MetadataRequest::api_key, ProduceRequest::api_key,
                            ListOffsetsRequest::api_key, FetchRequest::api_key}) {
          const ApiInfo* api = find_api(key);
          response.api_keys.push_back({key, api->min_version, api->max_version, {}});
        }
        RequestHeader answered = header;
        if (version > 3) answered.request_api_version = 0;
        return respond(fd, answered, response);
      }
      case MetadataRequest::api_key: {
        MetadataRequest request;
        if (!request.decode(reader, version)) return false;
        MetadataResponse response;
        response.brokers.push_back({1, "127.0.0.1", port_, std::nullopt, {}});
        response.controller_id = 1;
        response.cluster_id = "interop-cluster";
        MetadataResponse::MetadataResponseTopic topic;
        topic.name = topic_name;
        MetadataResponse::MetadataResponsePartition partition;
        partition.leader_id = 1;
        partition.leader_epoch = 0;
        partition.replica_nodes = {1};
        partition.isr_nodes = {1};
        topic.partitions.push_back(partition);
        response.topics.push_back(topic);
        return respond(fd, header, response);
      }
      case ListOffsetsRequest::api_key: {
        ListOffsetsRequest request;
        if (!request.decode(reader, version)) return false;
        ListOffsetsResponse response;
        for (const auto& topic : request.topics) {
          ListOffsetsResponse::ListOffsetsTopicResponse out{topic.name, {}, {}};
          for (const auto& partition : topic.partitions) {
            ListOffsetsResponse::ListOffsetsPartitionResponse answer;
            answer.partition_index = partition.partition_index;
            answer.offset = partition.timestamp == -2 ? 0 : log_.end_offset;
            answer.old_style_offsets = {answer.offset};
            answer.leader_epoch = 0;
            out.partitions.push_back(answer);
          }
          response.topics.push_back(out);
        }
        return respond(fd, header, response);
      }
      case FetchRequest::api_key: {
        FetchRequest request;
        if (!request.decode(reader, version)) return false;
        return respond(fd, header, fetch(request));
      }
      default:
        return false;
    }
  }

  FetchResponse fetch(const FetchRequest& request) {
    FetchResponse response;
    bool any_data = false;
    for (const auto& topic : request.topics) {
      FetchResponse::FetchableTopicResponse out;
      out.topic = topic.topic;
      out.topic_id = topic.topic_id;
      for (const auto& partition : topic.partitions) {
        FetchResponse::PartitionData data;
        data.partition_index = partition.partition;
        data.high_watermark = log_.end_offset;
        data.last_stable_offset = log_.end_offset;
        data.log_start_offset = 0;
        // Serve from the batch holding fetch_offset: the client skips records
        // before it, as with a real log.
        size_t start = batch_position(partition.fetch_offset);
        data.records = Records{Bytes(log_.bytes).subspan(start), nullptr};
        any_data = any_data || start < log_.bytes.size();
        out.partitions.push_back(std::move(data));
      }
      response.responses.push_back(std::move(out));
    }
    if (!any_data)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(request.max_wait_ms, 100)));
    ++fetches_served_;
    return response;
  }

  size_t batch_position(int64_t offset) const {
    size_t position = 0;
    while (position < log_.bytes.size()) {
      auto header = record::read_batch_header(Bytes(log_.bytes).subspan(position));
      SLUICE_ASSERT(header.is_ok(), "the test log holds valid batches");
      if (header->next_offset() > offset) return position;
      position += header->size_bytes();
    }
    return position;
  }

  const TestLog& log_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> fetches_served_{0};
  std::thread acceptor_;
  std::vector<int> connections_;
  std::vector<std::thread> sessions_;
};

std::optional<std::string> optional_text(const void* data, size_t size) {
  if (data == nullptr) return std::nullopt;
  return std::string(static_cast<const char*>(data), size);
}

TEST(LibrdkafkaInterop, ConsumesBatchesSluiceBuiltWithEveryCodec) {
  TestLog log;
  for (Compression codec : {Compression::none, Compression::gzip, Compression::snappy,
                            Compression::lz4, Compression::zstd})
    log.append_batch(codec);
  MiniBroker broker(log);

  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  std::string bootstrap = "127.0.0.1:" + std::to_string(broker.port());
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof(error)),
            RD_KAFKA_CONF_OK);
  ASSERT_EQ(rd_kafka_conf_set(conf, "enable.auto.commit", "false", error, sizeof(error)),
            RD_KAFKA_CONF_OK);
  ASSERT_EQ(rd_kafka_conf_set(conf, "check.crcs", "true", error, sizeof(error)), RD_KAFKA_CONF_OK);
  if (const char* debug = std::getenv("SLUICE_RDKAFKA_DEBUG"))  // e.g. "protocol,fetch"
    rd_kafka_conf_set(conf, "debug", debug, error, sizeof(error));
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof(error));
  ASSERT_NE(consumer, nullptr) << error;
  rd_kafka_topic_t* topic = rd_kafka_topic_new(consumer, topic_name, nullptr);
  ASSERT_EQ(rd_kafka_consume_start(topic, 0, RD_KAFKA_OFFSET_BEGINNING), 0);

  size_t received = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (received < log.records.size() && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consume(topic, 0, 500);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      rd_kafka_message_destroy(message);
      continue;
    }
    ASSERT_EQ(message->err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_message_errstr(message);
    const ExpectedRecord& expected = log.records[received];
    SCOPED_TRACE("offset " + std::to_string(expected.offset));
    EXPECT_EQ(message->offset, expected.offset);
    rd_kafka_timestamp_type_t timestamp_type;
    EXPECT_EQ(rd_kafka_message_timestamp(message, &timestamp_type), expected.timestamp_ms);
    EXPECT_EQ(timestamp_type, RD_KAFKA_TIMESTAMP_CREATE_TIME);
    EXPECT_EQ(optional_text(message->key, message->key_len), expected.key);
    EXPECT_EQ(optional_text(message->payload, message->len), expected.value);

    rd_kafka_headers_t* headers = nullptr;
    size_t header_count = 0;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR)
      header_count = rd_kafka_header_cnt(headers);
    ASSERT_EQ(header_count, expected.headers.size());
    for (size_t i = 0; i < header_count; ++i) {
      const char* name;
      const void* value;
      size_t size;
      ASSERT_EQ(rd_kafka_header_get_all(headers, i, &name, &value, &size),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      EXPECT_EQ(name, expected.headers[i].first);
      EXPECT_EQ(optional_text(value, size), expected.headers[i].second);
    }
    rd_kafka_message_destroy(message);
    ++received;
  }
  EXPECT_EQ(received, log.records.size());
  EXPECT_GT(broker.fetches_served(), 0);

  rd_kafka_consume_stop(topic, 0);
  rd_kafka_topic_destroy(topic);
  rd_kafka_destroy(consumer);
}

}  // namespace
}  // namespace sluice
