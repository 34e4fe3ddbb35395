// The MarkerSender's core over the in-memory transport: the test plays the
// partition leaders (accepts, negotiates versions, reads WriteTxnMarkers,
// answers errors then success) and moves a manual clock: markers grouped by
// leader and batched per broker, retries on Kafka's retriable errors, lost
// connections and missing leaders with the image's new leader, deleted
// topics skipped, dropped markers on a fenced epoch, cancel().
#include "txn/marker_sender.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "net/memory_transport.h"
#include "peer_requests.h"
#include "protocol/headers.h"

namespace sluice::txn {
namespace {

using protocol::WriteTxnMarkersRequest;
using protocol::WriteTxnMarkersResponse;

using ReceivedMarkers = testing::ReceivedRequest<WriteTxnMarkersRequest>;
using testing::response_frame;

class MarkerSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto image = std::make_shared<cluster::MetadataImage>();
    for (int32_t id : {1, 2}) {
      cluster::BrokerImage broker;
      broker.node_id = id;
      broker.endpoints = {{"PLAINTEXT", "b" + std::to_string(id), 9092, 0}};
      image->brokers[id] = broker;
    }
    image_ = image;
    set_leaders("t", {1, 2, 1});
    MarkerSenderOptions options;
    options.node_id = 9;
    options.image = [this] { return image_; };
    options.clock = &clock_;
    core_ = std::make_unique<MarkerSenderCore>(transport_, options);
  }

  void set_leaders(const std::string& name, std::vector<int32_t> leaders) {
    auto image = std::make_shared<cluster::MetadataImage>(*image_);
    cluster::TopicImage topic;
    topic.name = name;
    topic.id = Uuid{{1}};
    for (size_t i = 0; i < leaders.size(); ++i) {
      cluster::PartitionImage partition;
      partition.partition = static_cast<int32_t>(i);
      partition.replicas = {1, 2};
      partition.leader = leaders[i];
      topic.partitions.push_back(partition);
    }
    image->put_topic(std::move(topic));
    image_ = image;
  }
  void delete_topic(const std::string& name) {
    auto image = std::make_shared<cluster::MetadataImage>(*image_);
    image->topic_names.erase(image->topic(name)->id);
    image->topics.erase(name);
    image_ = image;
  }

  TxnMarker marker(int64_t producer_id, bool commit, std::vector<MarkerPartition> partitions,
                   int32_t coordinator_partition = 0, int32_t coordinator_epoch = 1) {
    TxnMarker out;
    out.transactional_id = TransactionalId{"tx-" + std::to_string(producer_id)};
    out.producer_id = ProducerId{producer_id};
    out.producer_epoch = ProducerEpoch{3};
    out.coordinator_partition = coordinator_partition;
    out.coordinator_epoch = LeaderEpoch{coordinator_epoch};
    out.commit = commit;
    out.partitions = std::move(partitions);
    return out;
  }
  void send(TxnMarker m) {
    const int64_t id = m.producer_id.value();
    core_->send(std::move(m), [this, id](ErrorCode error) { done_.emplace_back(id, error); });
  }

  // The connection to `host` (the newest attempt), accepted and negotiated
  // with WriteTxnMarkers up to `max_version`.
  net::MemoryTransport::Peer peer(const std::string& host, int16_t max_version = 1) {
    for (size_t i = transport_.attempts(); i-- > 0;) {
      net::MemoryTransport::Peer candidate = transport_.attempt(i);
      if (candidate.endpoint().host != host) continue;
      if (!candidate.connected() && !candidate.closed_by_client()) {
        candidate.accept();
        EXPECT_EQ(candidate.sent_count(), 1u);
        auto frame = candidate.take_sent();
        WireReader reader(Bytes(frame.data(), frame.size()));
        protocol::RequestHeader header;
        EXPECT_TRUE(protocol::decode_request_header(reader, header).is_ok());
        protocol::ApiVersionsResponse versions;
        versions.api_keys.push_back({protocol::ApiVersionsRequest::api_key, 0, 3, {}});
        versions.api_keys.push_back({WriteTxnMarkersRequest::api_key, 0, max_version, {}});
        candidate.deliver(
            response_frame(header.correlation_id, header.request_api_version, versions));
      }
      return candidate;
    }
    ADD_FAILURE() << "no connection to " << host;
    return transport_.last();
  }
  std::optional<ReceivedMarkers> receive(const std::string& host, int16_t max_version = 1) {
    net::MemoryTransport::Peer p = peer(host, max_version);
    if (p.sent_count() == 0) return std::nullopt;
    auto frame = p.take_sent();
    WireReader reader(Bytes(frame.data(), frame.size()));
    protocol::RequestHeader header;
    EXPECT_TRUE(protocol::decode_request_header(reader, header).is_ok());
    EXPECT_EQ(header.request_api_key, WriteTxnMarkersRequest::api_key);
    ReceivedMarkers received{p, header.correlation_id, header.request_api_version, {}};
    EXPECT_TRUE(received.request.decode(reader, header.request_api_version).is_ok());
    return received;
  }
  // Answers every partition of `received` with `error`, except those in
  // `errors` ("topic-partition" -> code).
  void answer(const ReceivedMarkers& received, ErrorCode error = ErrorCode::NONE,
              std::map<std::string, ErrorCode> errors = {}) {
    WriteTxnMarkersResponse response;
    for (const auto& m : received.request.markers) {
      auto& result = response.markers.emplace_back();
      result.producer_id = m.producer_id;
      for (const auto& topic : m.topics) {
        auto& t = result.topics.emplace_back();
        t.name = topic.name;
        for (int32_t p : topic.partition_indexes) {
          auto special = errors.find(topic.name + "-" + std::to_string(p));
          t.partitions.push_back(
              {p, to_wire(special == errors.end() ? error : special->second), {}});
        }
      }
    }
    net::MemoryTransport::Peer peer = received.peer;
    peer.deliver(response_frame(received.correlation_id, received.version, response));
  }
  void advance_and_tick(int64_t ms) {
    clock_.advance_ms(ms);
    core_->tick();
  }

  ManualClock clock_;
  net::MemoryTransport transport_;
  cluster::MetadataImagePtr image_;
  std::unique_ptr<MarkerSenderCore> core_;
  std::vector<std::pair<int64_t, ErrorCode>> done_;
};

TEST_F(MarkerSenderTest, GroupsByLeaderOneRequestPerBroker) {
  send(marker(10, true, {{"t", 0}, {"t", 1}, {"t", 2}}));
  send(marker(11, false, {{"t", 0}}));
  core_->tick();
  auto to_1 = receive("b1");
  auto to_2 = receive("b2");
  ASSERT_TRUE(to_1 && to_2);
  EXPECT_EQ(to_1->version, 1) << "the highest version the leader advertises";
  ASSERT_EQ(to_1->request.markers.size(), 2u) << "both markers in one request";
  const auto& first = to_1->request.markers[0];
  EXPECT_EQ(first.producer_id, 10);
  EXPECT_EQ(first.producer_epoch, 3);
  EXPECT_TRUE(first.transaction_result);
  EXPECT_EQ(first.coordinator_epoch, 1);
  ASSERT_EQ(first.topics.size(), 1u);
  EXPECT_EQ(first.topics[0].partition_indexes, (std::vector<int32_t>{0, 2}));
  EXPECT_FALSE(to_1->request.markers[1].transaction_result);
  ASSERT_EQ(to_2->request.markers.size(), 1u);
  EXPECT_EQ(to_2->request.markers[0].topics[0].partition_indexes, std::vector<int32_t>{1});
  answer(*to_1);
  EXPECT_EQ(done_, (std::vector<std::pair<int64_t, ErrorCode>>{{11, ErrorCode::NONE}}))
      << "producer 10 still waits for t-1";
  answer(*to_2);
  EXPECT_EQ(done_.size(), 2u);
  EXPECT_EQ(done_[1], std::make_pair(int64_t{10}, ErrorCode::NONE));
  EXPECT_EQ(core_->pending_markers(), 0u);
}

TEST_F(MarkerSenderTest, OlderLeadersGetTheVersionTheyAdvertise) {
  send(marker(10, true, {{"t", 0}}));
  core_->tick();
  auto to_1 = receive("b1", 0);
  ASSERT_TRUE(to_1);
  EXPECT_EQ(to_1->version, 0);
  answer(*to_1);
  EXPECT_EQ(done_.size(), 1u);
}

TEST_F(MarkerSenderTest, RetriableErrorsGoToTheNewLeaderAfterTheBackoff) {
  send(marker(10, true, {{"t", 0}, {"t", 2}}));
  core_->tick();
  auto to_1 = receive("b1");
  ASSERT_TRUE(to_1);
  answer(*to_1, ErrorCode::NONE, {{"t-0", ErrorCode::NOT_LEADER_OR_FOLLOWER}});
  EXPECT_TRUE(done_.empty());
  set_leaders("t", {2, 2, 1});
  advance_and_tick(50);
  EXPECT_EQ(transport_.attempts(), 1u) << "nothing sent within the backoff";
  advance_and_tick(50);
  auto to_2 = receive("b2");
  ASSERT_TRUE(to_2);
  ASSERT_EQ(to_2->request.markers.size(), 1u);
  EXPECT_EQ(to_2->request.markers[0].topics[0].partition_indexes, std::vector<int32_t>{0});
  answer(*to_2, ErrorCode::NOT_ENOUGH_REPLICAS);
  advance_and_tick(100);
  auto again = receive("b2");
  ASSERT_TRUE(again);
  answer(*again, ErrorCode::REQUEST_TIMED_OUT);
  advance_and_tick(100);
  again = receive("b2");
  ASSERT_TRUE(again);
  answer(*again);
  EXPECT_EQ(done_, (std::vector<std::pair<int64_t, ErrorCode>>{{10, ErrorCode::NONE}}));
}

TEST_F(MarkerSenderTest, ALostConnectionOrNoLeaderIsRetried) {
  set_leaders("t", {1, -1});
  send(marker(10, false, {{"t", 0}, {"t", 1}}));
  core_->tick();
  auto to_1 = receive("b1");
  ASSERT_TRUE(to_1);
  EXPECT_EQ(to_1->request.markers[0].topics[0].partition_indexes, std::vector<int32_t>{0})
      << "t-1 has no leader: not sent";
  to_1->peer.cut("link down");
  core_->tick();
  set_leaders("t", {1, 2});
  advance_and_tick(100);
  advance_and_tick(1000);  // past the client's reconnect backoff
  auto to_2 = receive("b2");
  ASSERT_TRUE(to_2);
  answer(*to_2);
  auto retried = receive("b1");
  ASSERT_TRUE(retried) << "t-0 again, on a new connection";
  EXPECT_EQ(retried->request.markers[0].topics[0].partition_indexes, std::vector<int32_t>{0});
  answer(*retried);
  EXPECT_EQ(done_, (std::vector<std::pair<int64_t, ErrorCode>>{{10, ErrorCode::NONE}}));
}

TEST_F(MarkerSenderTest, PartitionsOfADeletedTopicAreSkipped) {
  set_leaders("gone", {1});
  send(marker(10, true, {{"gone", 0}, {"t", 0}}));
  send(marker(12, true, {{"never", 0}}));
  core_->tick();
  EXPECT_EQ(done_, (std::vector<std::pair<int64_t, ErrorCode>>{{12, ErrorCode::NONE}}))
      << "a topic unknown to the image has nothing to mark";
  auto to_1 = receive("b1");
  ASSERT_TRUE(to_1);
  answer(*to_1, ErrorCode::NONE, {{"gone-0", ErrorCode::UNKNOWN_TOPIC_OR_PARTITION}});
  advance_and_tick(100);
  auto retry = receive("b1");
  ASSERT_TRUE(retry) << "retried while the topic exists";
  delete_topic("gone");
  answer(*retry, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ(done_.size(), 1u);
  advance_and_tick(100);
  EXPECT_EQ(done_, (std::vector<std::pair<int64_t, ErrorCode>>{{12, ErrorCode::NONE},
                                                               {10, ErrorCode::NONE}}))
      << "the deleted topic's partition is skipped";
}

TEST_F(MarkerSenderTest, AFencedProducerOrCoordinatorDropsTheMarker) {
  send(marker(10, true, {{"t", 0}, {"t", 2}}));
  core_->tick();
  auto to_1 = receive("b1");
  ASSERT_TRUE(to_1);
  answer(*to_1, ErrorCode::NONE, {{"t-2", ErrorCode::TRANSACTION_COORDINATOR_FENCED}});
  EXPECT_EQ(done_, (std::vector<std::pair<int64_t, ErrorCode>>{
                       {10, ErrorCode::TRANSACTION_COORDINATOR_FENCED}}));
  advance_and_tick(1000);
  EXPECT_EQ(transport_.last().sent_count(), 0u);
}

TEST_F(MarkerSenderTest, CancelDropsTheMarkersOfAResignedCoordinatorPartition) {
  send(marker(10, true, {{"t", 0}}, 3, 5));
  send(marker(11, true, {{"t", 0}}, 3, 6));
  send(marker(12, true, {{"t", 0}}, 4, 5));
  core_->tick();
  auto to_1 = receive("b1");
  ASSERT_TRUE(to_1);
  EXPECT_EQ(to_1->request.markers.size(), 3u);
  core_->cancel(3, LeaderEpoch{5});
  EXPECT_EQ(done_, (std::vector<std::pair<int64_t, ErrorCode>>{{10, ErrorCode::NOT_COORDINATOR}}));
  answer(*to_1);  // the late answer for 10 is ignored
  EXPECT_EQ(done_.size(), 3u);
  core_->close();
}

TEST_F(MarkerSenderTest, OneMarkerPerProducerInARequest) {
  send(marker(10, false, {{"t", 0}}));
  send(marker(10, true, {{"t", 2}}));
  core_->tick();
  auto first = receive("b1");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->request.markers.size(), 1u);
  EXPECT_FALSE(first->request.markers[0].transaction_result);
  answer(*first);
  core_->tick();
  auto second = receive("b1");
  ASSERT_TRUE(second);
  EXPECT_TRUE(second->request.markers[0].transaction_result);
  answer(*second);
  EXPECT_EQ(done_.size(), 2u);
}

TEST_F(MarkerSenderTest, CloseAnswersEveryPendingMarker) {
  send(marker(10, true, {{"t", 0}}));
  core_->tick();
  core_->close();
  EXPECT_EQ(done_, (std::vector<std::pair<int64_t, ErrorCode>>{{10, ErrorCode::NOT_COORDINATOR}}));
}

TEST(TcpMarkerSender, StopAnswersPendingAndLaterMarkers) {
  auto image = std::make_shared<cluster::MetadataImage>();
  cluster::TopicImage topic;
  topic.name = "t";
  topic.partitions.push_back(cluster::PartitionImage{});  // leader -1: waits
  image->put_topic(std::move(topic));
  MarkerSenderOptions options;
  options.image = [image] { return image; };
  TcpMarkerSender sender(options);
  std::promise<ErrorCode> first;
  TxnMarker marker;
  marker.partitions = {{"t", 0}};
  sender.send(marker, [&first](ErrorCode error) { first.set_value(error); });
  sender.stop();
  EXPECT_EQ(first.get_future().get(), ErrorCode::NOT_COORDINATOR);
  ErrorCode later = ErrorCode::NONE;
  sender.send(marker, [&later](ErrorCode error) { later = error; });
  EXPECT_EQ(later, ErrorCode::NOT_COORDINATOR);
}

// A tick already due when stop() cancels the timer runs with success: it
// must not arm the timer again, or stop() never joins (a broker hung on
// SIGTERM). Stops land around the 10 ms tick, where that race is; a hang
// is this test's failure (ctest's timeout).
TEST(TcpMarkerSender, StopJoinsWhenATickIsDue) {
  auto image = std::make_shared<cluster::MetadataImage>();
  MarkerSenderOptions options;
  options.image = [image] { return image; };
  for (int i = 0; i < 400; ++i) {
    TcpMarkerSender sender(options);
    std::this_thread::sleep_for(std::chrono::microseconds(9800 + (i % 40) * 10));
    sender.stop();
  }
}

}  // namespace
}  // namespace sluice::txn
