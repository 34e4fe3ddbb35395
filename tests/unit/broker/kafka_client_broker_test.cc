// net::KafkaClient against a real in-process Broker over TCP: the versions
// it negotiates are the listener's handler table, Metadata round trips on
// the client listener, and the CONTROLLER listener does not offer it.

#include <gtest/gtest.h>
#include <unistd.h>

#include <asio.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>

#include "base/clock.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "net/kafka_client.h"
#include "net/tcp_transport.h"
#include "protocol/protocol.h"

namespace sluice::broker {
namespace {

using namespace std::chrono_literals;
using protocol::MetadataRequest;
using protocol::MetadataResponse;

class KafkaClientBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-kafka-client-broker-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto config =
        BrokerConfig::load("", {{"log.dirs", dir_.string()},
                                {"listeners", "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"},
                                {"num.network.threads", "1"}});
    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    auto broker = Broker::open(std::move(config).value());
    ASSERT_TRUE(broker.is_ok()) << broker.status().to_string();
    broker_ = std::move(broker).value();
    ASSERT_TRUE(broker_->start().is_ok());
  }
  void TearDown() override {
    clients_.clear();
    if (broker_) broker_->stop();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  net::KafkaClient& client_to(size_t listener_index) {
    clients_.push_back(std::make_unique<net::KafkaClient>(
        transport_, net::Endpoint{"127.0.0.1", broker_->bound_port(listener_index)},
        net::KafkaClientConfig{}, system_clock(), [] { return 0.5; }));
    return *clients_.back();
  }

  bool run_until(const std::function<bool()>& done) {
    auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > give_up) return false;
      reactor_.restart();
      reactor_.run_for(5ms);
      for (auto& client : clients_) client->tick();
    }
    return true;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Broker> broker_;
  asio::io_context reactor_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ =
      asio::make_work_guard(reactor_);
  net::TcpTransport transport_{reactor_};
  std::vector<std::unique_ptr<net::KafkaClient>> clients_;
};

TEST_F(KafkaClientBrokerTest, NegotiatesTheClientListenersTableAndRoundTripsMetadata) {
  net::KafkaClient& client = client_to(0);
  std::optional<net::ClientResult<MetadataResponse>> result;
  client.send(MetadataRequest{},
              [&](net::ClientResult<MetadataResponse> answer) { result = std::move(answer); });
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  ASSERT_TRUE(result->ok()) << result->status.message;
  ASSERT_EQ(result->message.brokers.size(), 1u);
  EXPECT_EQ(result->message.brokers[0].port, broker_->bound_port(0));
  for (const ApiHandler& handler : api_handlers(ListenerRole::broker))
    EXPECT_EQ(client.node_versions(handler.api_key),
              std::make_pair(handler.min_version, handler.max_version));

  // The broker going away fails nothing silently: the client notices.
  broker_->stop();
  ASSERT_TRUE(run_until([&] { return !client.ready(); }));
}

TEST_F(KafkaClientBrokerTest, TheControllerListenerDoesNotOfferMetadata) {
  net::KafkaClient& client = client_to(1);
  std::optional<net::ClientResult<MetadataResponse>> result;
  client.send(MetadataRequest{},
              [&](net::ClientResult<MetadataResponse> answer) { result = std::move(answer); });
  ASSERT_TRUE(run_until([&] { return result.has_value(); }));
  EXPECT_EQ(result->status.code, net::ClientErrc::unsupported_version) << result->status.message;
  EXPECT_TRUE(client.ready());  // the connection stays
  EXPECT_FALSE(client.node_versions(protocol::ProduceRequest::api_key).has_value());
  EXPECT_TRUE(client.node_versions(protocol::CreateTopicsRequest::api_key).has_value());
}

}  // namespace
}  // namespace sluice::broker
