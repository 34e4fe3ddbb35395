// The admin server without a broker (as during start-up recovery): health
// and the broker endpoints answer 503, /metrics serves the registry, and a
// port already in use fails start() naming admin.listener. The endpoints
// backed by a broker are tested against real brokers in
// tests/integration/admin/.
#include "admin/admin_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

namespace sluice::admin {
namespace {

AdminOptions options_for(uint16_t port, AdminAuthentication mode = AdminAuthentication::none) {
  AdminOptions options;
  options.address = {"127.0.0.1", port};
  options.authentication = mode;
  return options;
}

AdminSettings settings_for(std::string listener, std::string authentication) {
  AdminSettings settings;
  settings.listener = std::move(listener);
  settings.authentication = std::move(authentication);
  return settings;
}

TEST(AdminListener, ParsesHostAndPort) {
  auto address = parse_admin_listener("127.0.0.1:9644");
  ASSERT_TRUE(address);
  EXPECT_EQ(address->host, "127.0.0.1");
  EXPECT_EQ(address->port, 9644);
  auto v6 = parse_admin_listener("[::1]:0");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
  auto any = parse_admin_listener(":9644");
  ASSERT_TRUE(any);
  EXPECT_EQ(any->host, "0.0.0.0");
}

TEST(AdminListener, RejectsBadValuesNamingTheKey) {
  for (const char* bad : {"localhost", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:-1"}) {
    auto address = parse_admin_listener(bad);
    ASSERT_FALSE(address) << bad;
    EXPECT_NE(address.status().message().find("admin.listener"), std::string::npos) << bad;
  }
}

class AdminServerWithoutBroker : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = AdminServer::start(options_for(0));
    ASSERT_TRUE(started) << started.status().message();
    server_ = std::move(*started);
    ASSERT_NE(server_->bound_port(), 0);
  }
  httplib::Result get(const std::string& path) {
    httplib::Client client("127.0.0.1", server_->bound_port());
    return client.Get(path.c_str());
  }
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminServerWithoutBroker, HealthSaysStartingWith503) {
  auto response = get("/v1/health");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->body, R"({"status":"starting"})");
}

TEST_F(AdminServerWithoutBroker, BrokerEndpointsAnswer503) {
  for (const char* path : {"/v1/cluster", "/v1/topics", "/v1/topics/t", "/v1/groups", "/v1/groups/g"}) {
    auto response = get(path);
    ASSERT_TRUE(response) << path;
    EXPECT_EQ(response->status, 503) << path;
    EXPECT_NE(response->body.find("BROKER_NOT_AVAILABLE"), std::string::npos) << path;
  }
}

TEST_F(AdminServerWithoutBroker, MetricsServeTheRegistryAndTheProcess) {
  metrics::default_registry().counter("admin_test_marker_total", "A counter of this test.").inc(7);
  auto response = get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(response->body.find("\nadmin_test_marker_total 7\n"), std::string::npos);
  EXPECT_NE(response->body.find("# TYPE process_resident_memory_bytes gauge\n"), std::string::npos);
  EXPECT_NE(response->body.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
}

TEST_F(AdminServerWithoutBroker, UnknownPathIs404Json) {
  auto response = get("/nothing");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_NE(response->body.find(R"("error":"NOT_FOUND")"), std::string::npos);
}

TEST_F(AdminServerWithoutBroker, APortInUseFailsNamingAdminListener) {
  auto second = AdminServer::start(options_for(server_->bound_port()));
  ASSERT_FALSE(second);
  EXPECT_NE(second.status().message().find("admin.listener"), std::string::npos);
}

TEST_F(AdminServerWithoutBroker, StopsPromptlyWithAnIdleKeepAliveConnection) {
  httplib::Client client("127.0.0.1", server_->bound_port());
  client.set_keep_alive(true);
  ASSERT_TRUE(client.Get("/v1/health"));
  auto started = std::chrono::steady_clock::now();
  server_->detach();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
}

// With Basic required and no broker: no credentials is 401 with the
// challenge; credentials cannot be checked yet, so they get 503.
TEST(AdminServerBasic, AsksForCredentialsAndCannotCheckThemWithoutABroker) {
  auto started = AdminServer::start(options_for(0, AdminAuthentication::basic));
  ASSERT_TRUE(started) << started.status().message();
  httplib::Client client("127.0.0.1", (*started)->bound_port());
  for (const char* path : {"/metrics", "/v1/health", "/v1/topics"}) {
    auto response = client.Get(path);
    ASSERT_TRUE(response) << path;
    EXPECT_EQ(response->status, 401) << path;
    EXPECT_EQ(response->get_header_value("WWW-Authenticate"), R"(Basic realm="sluice")") << path;
    EXPECT_NE(response->body.find(R"("error":"SASL_AUTHENTICATION_FAILED")"), std::string::npos);
  }
  client.set_basic_auth("alice", "secret");
  auto response = client.Get("/v1/health");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
}

TEST(AdminOptions, AuthenticationSettingAndTheListenerTogether) {
  auto options = parse_admin_options(settings_for("0.0.0.0:9644", "auto"));
  ASSERT_TRUE(options);
  EXPECT_EQ(options->authentication, AdminAuthentication::basic);
  auto bad_listener = parse_admin_options(settings_for("nowhere", "auto"));
  ASSERT_FALSE(bad_listener);
  EXPECT_NE(bad_listener.status().message().find("admin.listener"), std::string::npos);
  auto no_stores = parse_admin_options(settings_for("127.0.0.1:0", "mtls"));
  ASSERT_FALSE(no_stores);
  EXPECT_NE(no_stores.status().message().find("admin.ssl.truststore.location"), std::string::npos);
}

TEST(AdminOptions, UnreadableStoresFailStartNamingTheSetting) {
  AdminOptions options = options_for(0, AdminAuthentication::mtls);
  options.keystore_location = "/nonexistent/admin.pem";
  options.truststore_location = "/nonexistent/ca.pem";
  auto started = AdminServer::start(options);
  ASSERT_FALSE(started);
  EXPECT_NE(started.status().message().find("admin.ssl.keystore.location"), std::string::npos);
  options.principal_mapping_rules = "RULE:broken";
  started = AdminServer::start(options);
  ASSERT_FALSE(started);
  EXPECT_NE(started.status().message().find("ssl.principal.mapping.rules"), std::string::npos);
}

}  // namespace
}  // namespace sluice::admin
