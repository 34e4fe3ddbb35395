// KafkaClient over real TCP against a real net::Server with a small handler
// answering ApiVersions and Metadata: the round trips, then the server
// stopped and started again on the same port, and the client reconnecting.

#include <gtest/gtest.h>

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include "base/clock.h"
#include "net/kafka_client.h"
#include "net/server.h"
#include "net/tcp_transport.h"
#include "protocol/headers.h"
#include "protocol/messages/api_versions_response.h"
#include "protocol/messages/metadata_request.h"
#include "protocol/messages/metadata_response.h"

namespace sluice::net {
namespace {

using namespace std::chrono_literals;
using protocol::ApiVersionsResponse;
using protocol::MetadataRequest;
using protocol::MetadataResponse;

// Answers ApiVersions (ApiVersions 0-3, Metadata 0-12) and Metadata (a
// cluster id naming this server's generation); closes on anything else.
class MiniBroker : public RequestHandler {
 public:
  explicit MiniBroker(std::string cluster_id) : cluster_id_(std::move(cluster_id)) {}

  void handle(const ConnectionInfo&, std::shared_ptr<const FrameBuffer> frame,
              Respond respond) override {
    WireReader reader{Bytes(*frame)};
    protocol::RequestHeader header;
    if (!protocol::decode_request_header(reader, header)) return respond(Response::close());
    Response response;
    protocol::ResponseHeader response_header;
    response_header.correlation_id = header.correlation_id;
    protocol::encode_response_header(response.body, header.request_api_key,
                                     header.request_api_version, response_header);
    if (header.request_api_key == ApiVersionsResponse::api_key) {
      ApiVersionsResponse versions;
      versions.api_keys.push_back({ApiVersionsResponse::api_key, 0, 3, {}});
      versions.api_keys.push_back({MetadataResponse::api_key, 0, 12, {}});
      versions.encode(response.body, header.request_api_version);
    } else if (header.request_api_key == MetadataResponse::api_key) {
      MetadataResponse metadata;
      metadata.cluster_id = cluster_id_;
      metadata.encode(response.body, header.request_api_version);
    } else {
      return respond(Response::close());
    }
    respond(std::move(response));
  }

 private:
  std::string cluster_id_;
};

class KafkaClientTcpTest : public ::testing::Test {
 protected:
  void start_server(uint16_t port, std::string cluster_id) {
    handler_ = std::make_unique<MiniBroker>(std::move(cluster_id));
    ServerConfig config;
    config.listeners.push_back({"PLAINTEXT", "127.0.0.1", port});
    config.reactor_threads = 1;
    server_ = std::make_unique<Server>(config, *handler_);
    ASSERT_TRUE(server_->start().is_ok());
    port_ = server_->bound_port(0);
  }

  void make_client() {
    KafkaClientConfig config;
    config.request_timeout = 5000ms;
    client_ = std::make_unique<KafkaClient>(transport_, Endpoint{"127.0.0.1", port_}, config,
                                            system_clock(), [] { return 0.5; });
  }

  // Runs the client's reactor on this thread, ticking the client, until
  // `done` or 10 s.
  bool run_until(const std::function<bool()>& done) {
    auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      reactor_.restart();
      reactor_.run_for(5ms);
      client_->tick();
    }
    return true;
  }

  std::optional<ClientResult<MetadataResponse>> metadata_round_trip() {
    std::optional<ClientResult<MetadataResponse>> result;
    client_->send(MetadataRequest{},
                  [&result](ClientResult<MetadataResponse> answer) { result = std::move(answer); });
    if (!run_until([&result] { return result.has_value(); })) return std::nullopt;
    return result;
  }

  asio::io_context reactor_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ =
      asio::make_work_guard(reactor_);
  TcpTransport transport_{reactor_};
  std::unique_ptr<MiniBroker> handler_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  std::unique_ptr<KafkaClient> client_;
};

TEST_F(KafkaClientTcpTest, ApiVersionsAndMetadataRoundTrips) {
  start_server(0, "first");
  make_client();
  auto result = metadata_round_trip();
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->ok()) << result->status.message;
  EXPECT_EQ(result->version, 12);
  EXPECT_EQ(result->message.cluster_id, "first");
  EXPECT_TRUE(client_->ready());

  // Pipelined: several in flight at once, answered in order.
  std::vector<int> order;
  for (int i = 0; i < 5; ++i)
    client_->send(MetadataRequest{}, [&order, i](ClientResult<MetadataResponse> answer) {
      EXPECT_TRUE(answer.ok());
      order.push_back(i);
    });
  EXPECT_EQ(client_->in_flight(), 5u);
  ASSERT_TRUE(run_until([&order] { return order.size() == 5; }));
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  client_->close();
}

TEST_F(KafkaClientTcpTest, AReactorTickerDrivesTimeoutsWithoutManualTicks) {
  start_server(0, "first");
  KafkaClientConfig config;
  config.request_timeout = 200ms;
  // Nothing listens on this endpoint's port once the server is gone.
  server_->stop(0);
  server_.reset();
  client_ = std::make_unique<KafkaClient>(transport_, Endpoint{"127.0.0.1", port_}, config,
                                          system_clock(), [] { return 0.5; });
  ReactorTicker ticker(reactor_, 10ms, [this] { client_->tick(); });
  std::optional<ClientResult<MetadataResponse>> result;
  client_->send(MetadataRequest{},
                [&result](ClientResult<MetadataResponse> answer) { result = std::move(answer); });
  auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!result && std::chrono::steady_clock::now() < give_up) reactor_.run_one_for(50ms);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->status.code, ClientErrc::timed_out);
  EXPECT_GE(client_->failed_attempts(), 1);  // refused connects, backing off
}

TEST_F(KafkaClientTcpTest, ReconnectsAfterTheServerRestarts) {
  start_server(0, "first");
  make_client();
  ASSERT_TRUE(metadata_round_trip().value().ok());

  server_->stop(0);
  server_.reset();
  ASSERT_TRUE(run_until([this] { return !client_->ready(); }));
  EXPECT_EQ(client_->failed_attempts(), 1);

  // While nothing listens, the request waits and the connects back off.
  std::optional<ClientResult<MetadataResponse>> result;
  client_->send(MetadataRequest{},
                [&result](ClientResult<MetadataResponse> answer) { result = std::move(answer); });
  ASSERT_TRUE(run_until([this] { return client_->failed_attempts() >= 3; }));
  EXPECT_FALSE(result.has_value());

  start_server(port_, "second");
  ASSERT_TRUE(run_until([&result] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->status.message;
  EXPECT_EQ(result->message.cluster_id, "second");
  EXPECT_EQ(client_->failed_attempts(), 0);
  client_->close();
}

TEST_F(KafkaClientTcpTest, AServerStoppingFailsTheRequestsInFlightAndNothingHangs) {
  start_server(0, "first");
  make_client();
  ASSERT_TRUE(metadata_round_trip().value().ok());
  int answered = 0, disconnected = 0, closed = 0;
  for (int i = 0; i < 20; ++i)
    client_->send(MetadataRequest{}, [&](ClientResult<MetadataResponse> answer) {
      if (answer.ok()) ++answered;
      if (answer.status.code == ClientErrc::disconnected) ++disconnected;
      if (answer.status.code == ClientErrc::closed) ++closed;
    });
  server_->stop(0);
  // Every request sent is answered or failed once the connection is gone.
  ASSERT_TRUE(run_until([this] { return !client_->ready() && client_->in_flight() == 0; }));
  client_->close();  // the ones still waiting to be sent
  EXPECT_EQ(answered + disconnected + closed, 20);
}

}  // namespace
}  // namespace sluice::net
