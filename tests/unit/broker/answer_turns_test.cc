// Kafka handles a connection's requests one at a time, so a Metadata answer
// pipelined behind a slow request describes the cluster as of after that
// request (net::Response::at_turn). A real in-process Broker over TCP: a
// Metadata request waits behind a long-polling Fetch while a topic is
// created; its answer lists the topic. Built at arrival (before), it did
// not: in a loaded CI run such an answer, held seconds behind an acks=all
// Produce waiting for a dead follower, named the dead leader after the
// client had learnt the new one, and librdkafka 2.0 stayed on it.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "base/metrics.h"
#include "broker/broker.h"
#include "kafka_connection.h"
#include "protocol/protocol.h"
#include "test_support.h"

// Its own namespace: the target is a unity build with produce_lanes_test.cc.
namespace sluice::broker::answer_turns {
namespace {

using namespace protocol;
using namespace std::chrono_literals;
using testing::batch_of;
using testing::KafkaConnection;

constexpr int16_t fetch_version = 11;
constexpr int16_t metadata_version = 9;
constexpr int16_t produce_version = 9;

// sluice_requests_total{api="Metadata"} as /metrics shows it.
uint64_t metadata_requests() {
  const std::string text = metrics::default_registry().render();
  const std::string series = "sluice_requests_total{api=\"Metadata\"} ";
  auto at = text.find(series);
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + series.size()));
}

template <class Condition>
bool eventually(Condition condition) {
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (!condition() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(2ms);
  return condition();
}

class AnswerTurnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("answer-turns");
    auto broker = testing::start_broker({{"log.dirs", dir_.string()},
                                         {"listeners", "PLAINTEXT://127.0.0.1:0"},
                                         {"num.network.threads", "1"},
                                         {"admin.listener", ""}});
    ASSERT_TRUE(broker.is_ok()) << broker.status().to_string();
    broker_ = std::move(broker).value();
    create_topic("t");
  }
  void TearDown() override {
    if (broker_) broker_->stop();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Created, and in the image the broker answers from.
  void create_topic(const std::string& name) {
    ASSERT_TRUE(testing::create_topic(*broker_, name, 1));
  }

  static FetchRequest long_poll_of_t() {
    FetchRequest fetch;
    fetch.max_wait_ms = 20000;
    fetch.min_bytes = 1;
    auto& topic = fetch.topics.emplace_back();
    topic.topic = "t";
    auto& partition = topic.partitions.emplace_back();
    partition.partition = 0;
    partition.fetch_offset = 0;
    partition.partition_max_bytes = 1 << 20;
    return fetch;
  }

  static ProduceRequest produce_to_t(const std::vector<uint8_t>& batch) {
    ProduceRequest request;
    request.acks = 1;
    request.timeout_ms = 30000;
    auto& topic = request.topic_data.emplace_back();
    topic.name = "t";
    auto& data = topic.partition_data.emplace_back();
    data.index = 0;
    data.records = Records{Bytes(batch), nullptr};
    return request;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Broker> broker_;
};

TEST_F(AnswerTurnsTest, AMetadataAnswerBehindAParkedFetchDescribesTheClusterAsOfItsTurn) {
  KafkaConnection consumer(broker_->bound_port());
  KafkaConnection producer(broker_->bound_port());
  ASSERT_TRUE(consumer.connected() && producer.connected());
  consumer.send(long_poll_of_t(), fetch_version, 1);  // parks: t is empty
  const uint64_t metadata_before = metadata_requests();
  MetadataRequest all_topics;
  all_topics.topics = std::nullopt;
  all_topics.allow_auto_topic_creation = false;
  consumer.send(all_topics, metadata_version, 2);
  // The Metadata request has reached the broker (counted at arrival) while
  // the Fetch before it is still parked; then the cluster changes.
  ASSERT_TRUE(eventually([&] { return metadata_requests() == metadata_before + 1; }));
  create_topic("u");
  EXPECT_FALSE(consumer.receive(50ms).has_value()) << "the parked Fetch answered early";
  producer.send(produce_to_t(batch_of(1)), produce_version, 7);  // wakes the Fetch
  ASSERT_TRUE(producer.receive().has_value());

  auto fetched = consumer.receive();
  ASSERT_TRUE(fetched.has_value());
  FetchResponse fetch;
  EXPECT_EQ(KafkaConnection::decode(*fetched, fetch_version, fetch), 1);
  auto described = consumer.receive();
  ASSERT_TRUE(described.has_value());
  MetadataResponse metadata;
  EXPECT_EQ(KafkaConnection::decode(*described, metadata_version, metadata), 2);
  std::vector<std::string> names;
  for (const auto& topic : metadata.topics) names.push_back(topic.name.value_or(""));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"t", "u"}))
      << "the answer describes the cluster as of the request's arrival, not of its turn";
}

// Nothing before it: a Metadata request is answered at once, as before.
TEST_F(AnswerTurnsTest, AMetadataRequestAloneIsAnsweredAtOnce) {
  KafkaConnection client(broker_->bound_port());
  ASSERT_TRUE(client.connected());
  MetadataRequest request;
  request.topics = std::vector<MetadataRequest::MetadataRequestTopic>(1);
  request.topics->front().name = "t";
  client.send(request, metadata_version, 3);
  auto answer = client.receive(5s);
  ASSERT_TRUE(answer.has_value());
  MetadataResponse metadata;
  EXPECT_EQ(KafkaConnection::decode(*answer, metadata_version, metadata), 3);
  ASSERT_EQ(metadata.topics.size(), 1u);
  EXPECT_EQ(metadata.topics[0].error_code, 0);
  EXPECT_EQ(metadata.topics[0].partitions.size(), 1u);
}

}  // namespace
}  // namespace sluice::broker::answer_turns
