// KafkaClient over the in-memory transport: the test plays the node (accepts
// or refuses connects, reads the frames sent, answers, cuts the link) and
// moves a manual clock, so every step is deterministic.

#include "net/kafka_client.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "base/clock.h"
#include "net/memory_transport.h"
#include "protocol/headers.h"
#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"

namespace sluice::net {
namespace {

using namespace std::chrono_literals;
using protocol::ApiVersionsResponse;
using protocol::MetadataRequest;
using protocol::MetadataResponse;

protocol::RequestHeader parse_header(const std::vector<uint8_t>& frame) {
  WireReader reader(Bytes(frame.data(), frame.size()));
  protocol::RequestHeader header;
  EXPECT_TRUE(protocol::decode_request_header(reader, header).is_ok());
  return header;
}

template <class Message>
std::vector<uint8_t> response_frame(int32_t correlation_id, int16_t version,
                                    const Message& message) {
  WireWriter writer;
  protocol::ResponseHeader header;
  header.correlation_id = correlation_id;
  protocol::encode_response_header(writer, Message::api_key, version, header);
  message.encode(writer, version);
  return writer.to_vector();
}

ApiVersionsResponse node_versions(int16_t metadata_min = 0, int16_t metadata_max = 12) {
  ApiVersionsResponse response;
  response.api_keys.push_back({ApiVersionsResponse::api_key, 0, 3, {}});
  response.api_keys.push_back({MetadataResponse::api_key, metadata_min, metadata_max, {}});
  return response;
}

class KafkaClientTest : public ::testing::Test {
 protected:
  void make_client() {
    client_ = std::make_unique<KafkaClient>(transport_, Endpoint{"node-1", 9092}, config_, clock_,
                                            [this] { return random_; });
  }

  // Accepts the newest connect and answers its ApiVersions.
  void accept_and_negotiate(const ApiVersionsResponse& versions = node_versions()) {
    MemoryTransport::Peer peer = transport_.last();
    peer.accept();
    ASSERT_EQ(peer.sent_count(), 1u);
    protocol::RequestHeader header = parse_header(peer.take_sent());
    ASSERT_EQ(header.request_api_key, ApiVersionsResponse::api_key);
    ASSERT_EQ(header.request_api_version, 3);
    peer.deliver(response_frame(header.correlation_id, 3, versions));
    ASSERT_TRUE(client_->ready());
  }

  void send_metadata() {
    client_->send(MetadataRequest{}, [this](ClientResult<MetadataResponse> result) {
      results_.push_back(std::move(result));
    });
  }

  // Answers the oldest request the node has not answered, with `throttle`
  // as a mark to tell responses apart.
  void answer_next(int32_t throttle) {
    protocol::RequestHeader header = parse_header(transport_.last().take_sent());
    MetadataResponse response;
    response.throttle_time_ms = throttle;
    transport_.last().deliver(
        response_frame(header.correlation_id, header.request_api_version, response));
  }

  void advance_and_tick(std::chrono::milliseconds by) {
    clock_.advance(by);
    client_->tick();
  }

  ManualClock clock_;
  MemoryTransport transport_;
  KafkaClientConfig config_;
  double random_ = 0.5;  // a jitter factor of exactly 1
  std::unique_ptr<KafkaClient> client_;
  std::vector<ClientResult<MetadataResponse>> results_;
};

TEST_F(KafkaClientTest, ConnectsOnDemandNegotiatesAndSendsTheHighestCommonVersion) {
  make_client();
  EXPECT_EQ(transport_.attempts(), 0u);
  send_metadata();
  ASSERT_EQ(transport_.attempts(), 1u);
  EXPECT_EQ(transport_.last().endpoint(), (Endpoint{"node-1", 9092}));
  accept_and_negotiate(node_versions(0, 9));
  EXPECT_EQ(client_->node_versions(MetadataRequest::api_key),
            std::make_pair(int16_t{0}, int16_t{9}));

  protocol::RequestHeader header = parse_header(transport_.last().take_sent());
  EXPECT_EQ(header.request_api_key, MetadataRequest::api_key);
  EXPECT_EQ(header.request_api_version, 9);
  EXPECT_EQ(header.client_id, "sluice");
  MetadataResponse response;
  response.throttle_time_ms = 7;
  response.cluster_id = "c1";
  transport_.last().deliver(response_frame(header.correlation_id, 9, response));
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_TRUE(results_[0].ok()) << results_[0].status.message;
  EXPECT_EQ(results_[0].version, 9);
  EXPECT_EQ(results_[0].message.throttle_time_ms, 7);
  EXPECT_EQ(results_[0].message.cluster_id, "c1");
}

TEST_F(KafkaClientTest, PipelinesUpToTheBoundAndAnswersInOrder) {
  config_.max_in_flight_requests_per_connection = 2;
  make_client();
  for (int i = 0; i < 3; ++i) send_metadata();
  accept_and_negotiate();
  EXPECT_EQ(client_->in_flight(), 2u);
  EXPECT_EQ(client_->queued(), 1u);
  EXPECT_EQ(transport_.last().sent_count(), 2u);

  answer_next(1);  // frees a slot: the third goes out
  EXPECT_EQ(client_->in_flight(), 2u);
  EXPECT_EQ(transport_.last().sent_count(), 2u);
  answer_next(2);
  answer_next(3);
  ASSERT_EQ(results_.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(results_[i].ok());
    EXPECT_EQ(results_[i].message.throttle_time_ms, i + 1);
  }
}

TEST_F(KafkaClientTest, CorrelationIdsIncreasePerRequest) {
  make_client();
  send_metadata();
  send_metadata();
  accept_and_negotiate();
  int32_t first = parse_header(transport_.last().take_sent()).correlation_id;
  int32_t second = parse_header(transport_.last().take_sent()).correlation_id;
  EXPECT_EQ(second, first + 1);
}

TEST_F(KafkaClientTest, AResponseOutOfOrderBreaksTheConnection) {
  make_client();
  send_metadata();
  send_metadata();
  accept_and_negotiate();
  MemoryTransport::Peer peer = transport_.last();
  protocol::RequestHeader first = parse_header(peer.take_sent());
  protocol::RequestHeader second = parse_header(peer.take_sent());
  peer.deliver(
      response_frame(second.correlation_id, second.request_api_version, MetadataResponse{}));

  ASSERT_EQ(results_.size(), 2u);
  for (const auto& result : results_) {
    EXPECT_EQ(result.status.code, ClientErrc::disconnected);
    EXPECT_NE(result.status.message.find("correlation id " + std::to_string(second.correlation_id)),
              std::string::npos)
        << result.status.message;
  }
  EXPECT_TRUE(peer.closed_by_client());
  EXPECT_FALSE(client_->ready());
  EXPECT_EQ(client_->failed_attempts(), 1);
  (void)first;
}

TEST_F(KafkaClientTest, AResponseWithNothingOutstandingBreaksTheConnection) {
  make_client();
  send_metadata();
  accept_and_negotiate();
  answer_next(0);
  transport_.last().deliver(response_frame(99, 9, MetadataResponse{}));
  EXPECT_TRUE(transport_.last().closed_by_client());
}

TEST_F(KafkaClientTest, AnInFlightTimeoutFailsItAndClosesTheConnection) {
  config_.request_timeout = 1000ms;
  make_client();
  send_metadata();
  accept_and_negotiate();
  advance_and_tick(500ms);
  send_metadata();  // its own deadline is later
  advance_and_tick(499ms);
  EXPECT_TRUE(results_.empty());
  advance_and_tick(1ms);
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_EQ(results_[0].status.code, ClientErrc::timed_out);
  // The second cannot be matched on this connection any more.
  EXPECT_EQ(results_[1].status.code, ClientErrc::disconnected);
  EXPECT_TRUE(transport_.last().closed_by_client());
}

TEST_F(KafkaClientTest, ARequestNeverSentTimesOutAlone) {
  config_.request_timeout = 2000ms;
  make_client();
  send_metadata();  // the connect is never answered
  EXPECT_EQ(client_->next_wakeup(), clock_.monotonic() + 2000ms);
  advance_and_tick(2000ms);
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status.code, ClientErrc::timed_out);
  EXPECT_FALSE(transport_.last().closed_by_client());  // the connect goes on
}

TEST_F(KafkaClientTest, AConnectNotCompletedInTheSetupTimeoutIsRetried) {
  config_.connection_setup_timeout = 3000ms;
  make_client();
  send_metadata();
  advance_and_tick(3000ms);
  EXPECT_TRUE(transport_.last().closed_by_client());
  EXPECT_EQ(client_->failed_attempts(), 1);
  advance_and_tick(50ms);
  EXPECT_EQ(transport_.attempts(), 2u);
  EXPECT_TRUE(results_.empty());  // still waiting to be sent
}

TEST_F(KafkaClientTest, ReconnectBackoffDoublesToTheMaximumAndResetsOnSuccess) {
  make_client();
  send_metadata();
  std::vector<int64_t> waits_ms;
  for (int attempt = 0; attempt < 7; ++attempt) {
    size_t attempts = transport_.attempts();
    transport_.last().refuse("connection refused");
    int64_t waited_ms = 0;
    while (transport_.attempts() == attempts) {
      advance_and_tick(1ms);
      ++waited_ms;
    }
    waits_ms.push_back(waited_ms);
  }
  EXPECT_EQ(waits_ms, (std::vector<int64_t>{50, 100, 200, 400, 800, 1000, 1000}));
  EXPECT_TRUE(results_.empty());  // the request waits through all of it

  accept_and_negotiate();
  EXPECT_EQ(client_->failed_attempts(), 0);
  answer_next(0);
  send_metadata();
  transport_.last().cut("reset by peer");
  EXPECT_EQ(client_->current_backoff(), 50ms);
}

TEST_F(KafkaClientTest, BackoffJitterComesFromTheInjectedRandomSource) {
  make_client();
  send_metadata();
  random_ = 0.0;  // factor 1 - 0.2
  transport_.last().refuse("refused");
  EXPECT_EQ(client_->current_backoff(), 40ms);
  advance_and_tick(40ms);
  random_ = 0.75;  // factor 1.1
  transport_.last().refuse("refused");
  EXPECT_EQ(client_->current_backoff(), 110ms);
}

TEST_F(KafkaClientTest, ADisconnectFailsInFlightRequestsAndQueuedOnesGoOnTheNextConnection) {
  config_.max_in_flight_requests_per_connection = 1;
  make_client();
  send_metadata();
  send_metadata();
  accept_and_negotiate();
  transport_.last().cut("reset by peer");
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status.code, ClientErrc::disconnected);
  EXPECT_NE(results_[0].status.message.find("reset by peer"), std::string::npos);
  EXPECT_EQ(client_->queued(), 1u);

  advance_and_tick(50ms);
  ASSERT_EQ(transport_.attempts(), 2u);
  accept_and_negotiate();
  answer_next(5);
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_TRUE(results_[1].ok());
  EXPECT_EQ(results_[1].message.throttle_time_ms, 5);
}

TEST_F(KafkaClientTest, NoCommonVersionFailsTheRequestNotTheConnection) {
  make_client();
  send_metadata();
  accept_and_negotiate(node_versions(13, 14));
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status.code, ClientErrc::unsupported_version);
  EXPECT_TRUE(client_->ready());

  ApiVersionsResponse without_metadata;
  without_metadata.api_keys.push_back({ApiVersionsResponse::api_key, 0, 3, {}});
  transport_.last().cut("restart");
  advance_and_tick(50ms);
  send_metadata();
  accept_and_negotiate(without_metadata);
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_EQ(results_[1].status.code, ClientErrc::unsupported_version);
  EXPECT_NE(results_[1].status.message.find("does not offer it"), std::string::npos);
}

TEST_F(KafkaClientTest, AnApiVersionsErrorFailsTheConnection) {
  make_client();
  send_metadata();
  MemoryTransport::Peer peer = transport_.last();
  peer.accept();
  protocol::RequestHeader header = parse_header(peer.take_sent());
  ApiVersionsResponse refused;
  refused.error_code = -1;  // UNKNOWN_SERVER_ERROR
  peer.deliver(response_frame(header.correlation_id, 3, refused));
  EXPECT_FALSE(client_->ready());
  EXPECT_TRUE(peer.closed_by_client());
  EXPECT_TRUE(results_.empty());  // still queued for the next connection
}

TEST_F(KafkaClientTest, ANodeRefusingApiVersionsV3IsAskedInTheVersionItNames) {
  make_client();
  send_metadata();
  MemoryTransport::Peer peer = transport_.last();
  peer.accept();
  protocol::RequestHeader header = parse_header(peer.take_sent());
  // Kafka's answer to an ApiVersions version it does not know: v0, with
  // UNSUPPORTED_VERSION and its own ApiVersions range.
  ApiVersionsResponse refused;
  refused.error_code = 35;
  refused.api_keys.push_back({ApiVersionsResponse::api_key, 0, 2, {}});
  peer.deliver(response_frame(header.correlation_id, 0, refused));
  EXPECT_FALSE(peer.closed_by_client());

  ASSERT_EQ(peer.sent_count(), 1u);
  header = parse_header(peer.take_sent());
  EXPECT_EQ(header.request_api_key, ApiVersionsResponse::api_key);
  EXPECT_EQ(header.request_api_version, 2);
  peer.deliver(response_frame(header.correlation_id, 2, node_versions(0, 8)));
  ASSERT_TRUE(client_->ready());
  EXPECT_EQ(parse_header(peer.take_sent()).request_api_version, 8);
}

TEST_F(KafkaClientTest, CloseFailsEverythingAndLaterSendsToo) {
  config_.max_in_flight_requests_per_connection = 1;
  make_client();
  send_metadata();
  send_metadata();
  accept_and_negotiate();
  client_->close();
  ASSERT_EQ(results_.size(), 2u);
  EXPECT_EQ(results_[0].status.code, ClientErrc::closed);
  EXPECT_EQ(results_[1].status.code, ClientErrc::closed);
  EXPECT_TRUE(transport_.last().closed_by_client());

  send_metadata();
  EXPECT_EQ(results_.size(), 2u);  // never inside send()
  client_->tick();
  ASSERT_EQ(results_.size(), 3u);
  EXPECT_EQ(results_[2].status.code, ClientErrc::closed);
}

TEST_F(KafkaClientTest, TheQueueIsBounded) {
  config_.queued_requests_max = 2;
  make_client();
  for (int i = 0; i < 3; ++i) send_metadata();
  client_->tick();
  ASSERT_EQ(results_.size(), 1u);
  EXPECT_EQ(results_[0].status.code, ClientErrc::queue_full);
}

TEST_F(KafkaClientTest, ACallbackMaySendAgain) {
  make_client();
  int answered = 0;
  std::function<void(ClientResult<MetadataResponse>)> again =
      [&](ClientResult<MetadataResponse> result) {
        EXPECT_TRUE(result.ok());
        if (++answered < 3) client_->send(MetadataRequest{}, again);
      };
  client_->send(MetadataRequest{}, again);
  accept_and_negotiate();
  for (int i = 0; i < 3; ++i) answer_next(i);
  EXPECT_EQ(answered, 3);
}

}  // namespace
}  // namespace sluice::net
