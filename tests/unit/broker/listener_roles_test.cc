// Handler tables per listener role: a listener named in
// controller.listener.names serves and advertises only the controller's
// APIs, the others only the brokers' (Kafka's ApiMessageType.ListenerType).

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <future>

#include "broker/broker.h"
#include "broker/handlers.h"
#include "protocol/protocol.h"

namespace sluice::broker {
namespace {

using namespace protocol;

bool serves(ListenerRole role, int16_t api_key) { return find_handler(api_key, role) != nullptr; }

TEST(ListenerRolesTest, EachRoleServesTheApisItsSchemaListsInKeyOrder) {
  EXPECT_TRUE(serves(ListenerRole::broker, ProduceRequest::api_key));
  EXPECT_TRUE(serves(ListenerRole::broker, MetadataRequest::api_key));
  EXPECT_TRUE(serves(ListenerRole::broker, JoinGroupRequest::api_key));
  EXPECT_FALSE(serves(ListenerRole::controller, ProduceRequest::api_key));
  EXPECT_FALSE(serves(ListenerRole::controller, MetadataRequest::api_key));
  EXPECT_FALSE(serves(ListenerRole::controller, JoinGroupRequest::api_key));
  for (ListenerRole role : {ListenerRole::broker, ListenerRole::controller}) {
    EXPECT_TRUE(serves(role, ApiVersionsRequest::api_key));
    EXPECT_TRUE(serves(role, CreateTopicsRequest::api_key));
    auto table = api_handlers(role);
    EXPECT_TRUE(std::is_sorted(table.begin(), table.end(),
                               [](const auto& a, const auto& b) { return a.api_key < b.api_key; }));
    for (const ApiHandler& handler : table) {
      uint8_t bit = role == ListenerRole::controller ? controller_listener : broker_listener;
      EXPECT_TRUE(find_api(handler.api_key)->listeners & bit) << handler.api_key;
    }
  }
}

class ListenerRolesBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-listener-roles-" + std::to_string(::getpid()));
    std::filesystem::remove_all(dir_);
    auto config =
        BrokerConfig::load("", {{"log.dirs", dir_.string()},
                                {"listeners", "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"}});
    ASSERT_TRUE(config.is_ok()) << config.status().to_string();
    auto broker = Broker::open(std::move(config).value());
    ASSERT_TRUE(broker.is_ok()) << broker.status().to_string();
    broker_ = std::move(broker).value();
  }
  void TearDown() override {
    if (broker_) broker_->stop();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <class Request>
  net::Response call(const std::string& listener, const Request& request, int16_t version) {
    RequestHeader header;
    header.request_api_key = Request::api_key;
    header.request_api_version = version;
    header.correlation_id = 1;
    header.client_id = "test";
    WireWriter writer;
    encode_request_header(writer, header);
    request.encode(writer, version);
    std::vector<uint8_t> frame = writer.to_vector();
    auto answer = std::make_shared<std::promise<net::Response>>();
    broker_->handle(net::ConnectionInfo{1, listener, "127.0.0.1:1"},
                    std::make_shared<const FrameBuffer>(frame.begin(), frame.end()),
                    net::taking_turn_at_once([answer](net::Response response) {
                      answer->set_value(std::move(response));
                    }));
    auto future = answer->get_future();
    EXPECT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    return future.get();
  }

  std::vector<int16_t> advertised(const std::string& listener) {
    ApiVersionsRequest request;  // v3+ names its client, as Kafka's pattern wants
    request.client_software_name = "sluice-test";
    request.client_software_version = "1";
    net::Response answer = call(listener, request, 3);
    std::vector<uint8_t> bytes = answer.bytes();
    WireReader reader(bytes);
    ResponseHeader header;
    EXPECT_TRUE(decode_response_header(reader, ApiVersionsRequest::api_key, 3, header).is_ok());
    ApiVersionsResponse response;
    EXPECT_TRUE(response.decode(reader, 3).is_ok());
    std::vector<int16_t> keys;
    for (const auto& api : response.api_keys) keys.push_back(api.api_key);
    return keys;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Broker> broker_;
};

bool contains(const std::vector<int16_t>& keys, int16_t key) {
  return std::find(keys.begin(), keys.end(), key) != keys.end();
}

TEST_F(ListenerRolesBrokerTest, ApiVersionsAdvertisesTheListenersTable) {
  std::vector<int16_t> client_side = advertised("PLAINTEXT");
  std::vector<int16_t> controller_side = advertised("CONTROLLER");
  EXPECT_TRUE(contains(client_side, ProduceRequest::api_key));
  EXPECT_TRUE(contains(client_side, MetadataRequest::api_key));
  EXPECT_FALSE(contains(controller_side, ProduceRequest::api_key));
  EXPECT_FALSE(contains(controller_side, MetadataRequest::api_key));
  EXPECT_TRUE(contains(controller_side, ApiVersionsRequest::api_key));
  // FetchSnapshot, as Kafka: the controller listener only.
  EXPECT_TRUE(contains(controller_side, FetchSnapshotRequest::api_key));
  EXPECT_FALSE(contains(client_side, FetchSnapshotRequest::api_key));
  EXPECT_EQ(controller_side.size(), api_handlers(ListenerRole::controller).size());
  EXPECT_EQ(client_side.size(), api_handlers(ListenerRole::broker).size());
}

TEST_F(ListenerRolesBrokerTest, AClientApiOnTheControllerListenerClosesTheConnection) {
  net::Response refused = call("CONTROLLER", MetadataRequest{}, 12);
  EXPECT_TRUE(refused.close_after);
  EXPECT_FALSE(refused.send);
  net::Response served = call("PLAINTEXT", MetadataRequest{}, 12);
  EXPECT_TRUE(served.send);
  EXPECT_FALSE(served.close_after);
}

}  // namespace
}  // namespace sluice::broker
