// KRaft roles and quorum settings (BrokerConfig::quorum): parsing, Kafka's
// defaults, the lone default node, and each misconfiguration refused at load
// with Kafka's message naming the setting.

#include <gtest/gtest.h>

#include "broker/broker_config.h"
#include "test_support.h"

namespace sluice::broker {
namespace {

using testing::Settings;

// A valid combined node 1 of a three-voter quorum.
Settings combined() {
  return {{"process.roles", "broker,controller"},
          {"node.id", "1"},
          {"controller.quorum.voters", "1@127.0.0.1:9093,2@10.0.0.2:9093,3@[::1]:9093"},
          {"listeners", "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"}};
}

Settings broker_only() {
  return {{"process.roles", "broker"},
          {"node.id", "4"},
          {"controller.quorum.voters", "1@127.0.0.1:9093"},
          {"listeners", "PLAINTEXT://127.0.0.1:9092"}};
}

Settings controller_only() {
  return {{"process.roles", "controller"},
          {"node.id", "1"},
          {"controller.quorum.voters", "1@127.0.0.1:9093"},
          {"listeners", "CONTROLLER://127.0.0.1:9093"}};
}

Settings with(Settings settings, const std::string& key, const std::string& value) {
  settings[key] = value;
  return settings;
}

// The load fails and its message contains `expected`.
void expect_refused(const Settings& settings, const std::string& expected) {
  auto config = testing::load_config(settings);
  ASSERT_FALSE(config) << "expected a failure containing: " << expected;
  EXPECT_NE(config.status().message().find(expected), std::string::npos)
      << config.status().message();
}

TEST(QuorumSettingsTest, RolesUnsetIsTheLoneDefaultNodeItsOwnVoter) {
  auto config =
      testing::load_config({{"node.id", "7"}, {"listeners", "PLAINTEXT://127.0.0.1:9092"}});
  ASSERT_TRUE(config) << config.status().message();
  const QuorumSettings& quorum = config->quorum;
  EXPECT_FALSE(quorum.roles_explicit);
  EXPECT_TRUE(quorum.broker_role);
  EXPECT_TRUE(quorum.controller_role);
  ASSERT_EQ(quorum.voters.size(), 1u);
  EXPECT_EQ(quorum.voters.at(7), (HostPort{"127.0.0.1", 9092}));
  EXPECT_TRUE(config->is_voter());
  EXPECT_FALSE(config->controller_endpoint());
  EXPECT_EQ(quorum.inter_broker_listener_name, "PLAINTEXT");
}

TEST(QuorumSettingsTest, LoneDefaultNodeVotesAtItsControllerListenerAndIgnoresVoters) {
  auto config =
      testing::load_config({{"listeners", "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"},
                            {"controller.quorum.voters", "1@h:1,2@h:2"}});
  ASSERT_TRUE(config) << config.status().message();
  ASSERT_EQ(config->quorum.voters.size(), 1u);
  EXPECT_EQ(config->quorum.voters.at(1), (HostPort{"127.0.0.1", 9093}));
  EXPECT_EQ(config->ignored_quorum_settings(),
            std::vector<std::string>{"controller.quorum.voters"});
}

// The three-node example of README.md, "Running a cluster".
TEST(QuorumSettingsTest, TheReadmeThreeNodeExampleLoadsOnEachNode) {
  for (int node = 1; node <= 3; ++node) {
    std::string base = std::to_string(node - 1);
    std::string text =
        "process.roles=broker,controller\n"
        "node.id=" +
        std::to_string(node) +
        "\n"
        "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293\n"
        "listeners=PLAINTEXT://127.0.0.1:9" +
        base + "92,CONTROLLER://127.0.0.1:9" + base +
        "93\n"
        "controller.listener.names=CONTROLLER\n"
        "inter.broker.listener.name=PLAINTEXT\n"
        "log.dirs=/var/lib/sluice/node" +
        std::to_string(node) + "\n";
    auto config = BrokerConfig::load(text, {});
    ASSERT_TRUE(config) << node << ": " << config.status().message();
    EXPECT_TRUE(config->is_voter());
    EXPECT_EQ(config->quorum.voters.size(), 3u);
    EXPECT_EQ(config->controller_endpoint()->port, config->quorum.voters.at(node).port);
  }
}

TEST(QuorumSettingsTest, KafkaDefaults) {
  auto config = testing::load_config(combined());
  ASSERT_TRUE(config) << config.status().message();
  const QuorumSettings& quorum = config->quorum;
  EXPECT_EQ(quorum.election_timeout_ms, 1000);
  EXPECT_EQ(quorum.fetch_timeout_ms, 2000);
  EXPECT_EQ(quorum.election_backoff_max_ms, 1000);
  EXPECT_EQ(quorum.request_timeout_ms, 2000);
  EXPECT_EQ(quorum.retry_backoff_ms, 20);
  EXPECT_EQ(quorum.broker_heartbeat_interval_ms, 2000);
  EXPECT_EQ(quorum.broker_session_timeout_ms, 9000);
  EXPECT_EQ(quorum.snapshot_record_bytes_max, 20971520);
  EXPECT_EQ(quorum.snapshot_interval_ms, 3600000);
  EXPECT_FALSE(quorum.broker_rack);
}

TEST(QuorumSettingsTest, CombinedNodeParsesVotersAndHelpers) {
  Settings settings = combined();
  settings["broker.rack"] = "rack-a";
  settings["controller.quorum.election.timeout.ms"] = "1500";
  settings["broker.session.timeout.ms"] = "12000";
  auto config = testing::load_config(settings);
  ASSERT_TRUE(config) << config.status().message();
  const QuorumSettings& quorum = config->quorum;
  EXPECT_TRUE(quorum.roles_explicit);
  EXPECT_TRUE(quorum.combined());
  ASSERT_EQ(quorum.voters.size(), 3u);
  EXPECT_EQ(quorum.voters.at(2), (HostPort{"10.0.0.2", 9093}));
  EXPECT_EQ(quorum.voters.at(3), (HostPort{"::1", 9093}));
  EXPECT_TRUE(config->is_voter());
  auto endpoint = config->controller_endpoint();
  ASSERT_TRUE(endpoint);
  EXPECT_EQ(endpoint->name, "CONTROLLER");
  EXPECT_EQ(endpoint->port, 9093);
  ASSERT_EQ(config->controller_listeners().size(), 1u);
  EXPECT_EQ(quorum.broker_rack, "rack-a");
  EXPECT_EQ(quorum.election_timeout_ms, 1500);
  EXPECT_EQ(quorum.broker_session_timeout_ms, 12000);
  EXPECT_TRUE(config->ignored_quorum_settings().empty());
}

// KIP-392 (issue 16, point 2): Kafka's default leaves consumers on the
// leader; Kafka's rack-aware selector is known by its class name.
TEST(QuorumSettingsTest, ReplicaSelectorClass) {
  auto plain = testing::load_config({});
  ASSERT_TRUE(plain) << plain.status().message();
  EXPECT_FALSE(plain->rack_aware_replica_selector);
  auto rack_aware = testing::load_config(
      {{"replica.selector.class", "org.apache.kafka.common.replica.RackAwareReplicaSelector"}});
  ASSERT_TRUE(rack_aware) << rack_aware.status().message();
  EXPECT_TRUE(rack_aware->rack_aware_replica_selector);
  auto unknown = testing::load_config({{"replica.selector.class", "com.example.MySelector"}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.status().message().find("replica.selector.class"), std::string::npos);
}

TEST(QuorumSettingsTest, ControllerEndpointPrefersTheAdvertisedAddress) {
  auto config = testing::load_config(
      with(combined(), "advertised.listeners",
           "PLAINTEXT://broker1.example:9092,CONTROLLER://ctl1.example:19093"));
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->controller_endpoint()->host, "ctl1.example");
  EXPECT_EQ(config->controller_endpoint()->port, 19093);
}

TEST(QuorumSettingsTest, BrokerOnlyAndControllerOnlyNodes) {
  auto broker = testing::load_config(with(broker_only(), "controller.quorum.voters", ""));
  EXPECT_FALSE(broker);  // neither voters nor bootstrap servers
  broker = testing::load_config(with(with(broker_only(), "controller.quorum.voters", ""),
                                     "controller.quorum.bootstrap.servers",
                                     "127.0.0.1:9093,[::1]:9094"));
  ASSERT_TRUE(broker) << broker.status().message();
  EXPECT_FALSE(broker->quorum.controller_role);
  EXPECT_FALSE(broker->is_voter());
  ASSERT_EQ(broker->quorum.bootstrap_servers.size(), 2u);
  EXPECT_EQ(broker->quorum.bootstrap_servers[1], (HostPort{"::1", 9094}));

  auto controller = testing::load_config(controller_only());
  ASSERT_TRUE(controller) << controller.status().message();
  EXPECT_FALSE(controller->quorum.broker_role);
  EXPECT_TRUE(controller->is_voter());
}

TEST(QuorumSettingsTest, ControllerNotAmongVoters) {
  expect_refused(with(combined(), "node.id", "5"),
                 "If process.roles contains the 'controller' role, the node id 5 must be included "
                 "in the set of voters controller.quorum.voters=Set(1, 2, 3)");
  expect_refused(with(controller_only(), "node.id", "2"), "must be included in the set of voters");
}

TEST(QuorumSettingsTest, BrokerOnlyAmongVoters) {
  expect_refused(with(broker_only(), "node.id", "1"),
                 "If process.roles contains just the 'broker' role, the node id 1 must not be "
                 "included in the set of voters controller.quorum.voters=Set(1)");
}

TEST(QuorumSettingsTest, ControllerListenerNamesEmpty) {
  expect_refused(with(broker_only(), "controller.listener.names", ""),
                 "controller.listener.names must contain at least one value when running KRaft "
                 "with just the broker role");
  expect_refused(with(combined(), "controller.listener.names", ""),
                 "controller.listener.names must contain at least one value appearing in the "
                 "'listeners' configuration when running the KRaft controller role");
}

TEST(QuorumSettingsTest, ControllerWithoutControllerListener) {
  expect_refused(with(combined(), "listeners", "PLAINTEXT://127.0.0.1:9092"),
                 "controller.listener.names must contain at least one value appearing in the "
                 "'listeners' configuration when running the KRaft controller role");
  expect_refused(with(combined(), "controller.listener.names", "CONTROLLER,OTHER"),
                 "controller.listener.names must only contain values appearing in the "
                 "'listeners' configuration");
  expect_refused(with(controller_only(), "listeners",
                      "CONTROLLER://127.0.0.1:9093,PLAINTEXT://127.0.0.1:9092"),
                 "The listeners config must only contain KRaft controller listeners from "
                 "controller.listener.names when process.roles=controller");
}

TEST(QuorumSettingsTest, BrokerOnlyWithControllerListener) {
  expect_refused(
      with(broker_only(), "listeners", "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"),
      "controller.listener.names must not contain a value appearing in the "
      "'listeners' configuration when running KRaft with just the broker role");
  expect_refused(with(broker_only(), "advertised.listeners",
                      "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"),
                 "advertised.listeners must not contain the controller listener CONTROLLER");
  expect_refused(with(with(broker_only(), "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT"),
                      "controller.listener.names", "CONTROLLER"),
                 "Controller listener with name CONTROLLER defined in controller.listener.names "
                 "not found in listener.security.protocol.map");
}

TEST(QuorumSettingsTest, InterBrokerListener) {
  expect_refused(with(combined(), "inter.broker.listener.name", "INTERNAL"),
                 "Listener with name INTERNAL defined in inter.broker.listener.name not found in "
                 "listener.security.protocol.map.");
  Settings internal = with(combined(), "listener.security.protocol.map",
                           "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT");
  expect_refused(with(internal, "inter.broker.listener.name", "INTERNAL"),
                 "inter.broker.listener.name must be a listener name defined in "
                 "advertised.listeners. The valid options based on currently configured listeners "
                 "are PLAINTEXT");
  expect_refused(with(combined(), "inter.broker.listener.name", "CONTROLLER"),
                 "inter.broker.listener.name must not be a controller listener");
  expect_refused(with(with(combined(), "inter.broker.listener.name", "PLAINTEXT"),
                      "security.inter.broker.protocol", "PLAINTEXT"),
                 "Only one of inter.broker.listener.name and security.inter.broker.protocol "
                 "should be set.");
  expect_refused(with(combined(), "security.inter.broker.protocol", "SSL"),
                 "inter.broker.listener.name must be a listener name defined in "
                 "advertised.listeners");
  expect_refused(with(combined(), "security.inter.broker.protocol", "TLS"),
                 "Invalid security protocol `TLS` defined in security.inter.broker.protocol");
  auto named =
      testing::load_config(with(with(internal, "listeners",
                                     "PLAINTEXT://127.0.0.1:9092,INTERNAL://127.0.0.1:9094,"
                                     "CONTROLLER://127.0.0.1:9093"),
                                "inter.broker.listener.name", "INTERNAL"));
  ASSERT_TRUE(named) << named.status().message();
  EXPECT_EQ(named->quorum.inter_broker_listener_name, "INTERNAL");
  // The lone default node: only a listener named explicitly is checked.
  expect_refused({{"inter.broker.listener.name", "PLAINTEXT"},
                  {"listeners", "OTHER://127.0.0.1:9092"},
                  {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,OTHER:PLAINTEXT"}},
                 "inter.broker.listener.name must be a listener name defined in "
                 "advertised.listeners");
  EXPECT_TRUE(testing::load_config({{"listeners", "OTHER://127.0.0.1:9092"}}));
}

TEST(QuorumSettingsTest, NonRoutableAdvertisedAddress) {
  expect_refused(
      with(combined(), "listeners", "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093"),
      "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a "
      "routable IP address. (advertised.listeners is unset");
  expect_refused(with(combined(), "advertised.listeners",
                      "PLAINTEXT://0.0.0.0:9092,CONTROLLER://10.0.0.1:9093"),
                 "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0.");
  auto config = testing::load_config(
      with(with(combined(), "listeners", "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093"),
           "advertised.listeners", "PLAINTEXT://10.0.0.1:9092,CONTROLLER://10.0.0.1:9093"));
  ASSERT_TRUE(config) << config.status().message();
  EXPECT_EQ(config->controller_endpoint()->host, "10.0.0.1");
  // The lone default node keeps advertising 127.0.0.1 for 0.0.0.0.
  EXPECT_TRUE(testing::load_config({{"listeners", "PLAINTEXT://0.0.0.0:9092"}}));
}

TEST(QuorumSettingsTest, NeitherVotersNorBootstrapServers) {
  expect_refused(with(combined(), "controller.quorum.voters", ""),
                 "If using process.roles, either controller.quorum.bootstrap.servers must contain "
                 "the set of bootstrap controllers or controller.quorum.voters must contain a "
                 "parseable set of controllers.");
}

TEST(QuorumSettingsTest, MalformedVoters) {
  expect_refused(with(combined(), "controller.quorum.voters", "1-127.0.0.1:9093"),
                 "Invalid configuration value for controller.quorum.voters. Each entry should be "
                 "in the form `{id}@{host}:{port}`.");
  expect_refused(with(combined(), "controller.quorum.voters", "one@127.0.0.1:9093"),
                 "Failed to parse voter ID as an integer from one");
  expect_refused(with(combined(), "controller.quorum.voters", "1@127.0.0.1"),
                 "Failed to parse host name from entry 1@127.0.0.1 for the configuration "
                 "controller.quorum.voters");
  expect_refused(with(combined(), "controller.quorum.voters", "1@127.0.0.1:port"),
                 "Failed to parse host port from entry 1@127.0.0.1:port for the configuration "
                 "controller.quorum.voters");
  expect_refused(with(combined(), "controller.quorum.voters", "1@a@b:1"),
                 "Invalid configuration value for controller.quorum.voters");
  // Malformed voters are refused even on the lone default node, as Kafka's
  // validator refuses them whatever the roles.
  expect_refused({{"controller.quorum.voters", "x"}}, "controller.quorum.voters");
  expect_refused(with(broker_only(), "controller.quorum.bootstrap.servers", "nohost"),
                 "Failed to parse host name from nohost for the configuration "
                 "controller.quorum.bootstrap.servers");
}

TEST(QuorumSettingsTest, NodeIdRequiredWithRoles) {
  Settings settings = combined();
  settings.erase("node.id");
  expect_refused(settings,
                 "Missing configuration `node.id` which is required when `process.roles` is "
                 "defined (i.e. when running in KRaft mode).");
  expect_refused(with(combined(), "node.id", "-1"), "node.id");
  expect_refused(with(settings, "broker.id", "-1"), "Missing configuration `node.id`");
  auto by_broker_id = testing::load_config(with(settings, "broker.id", "1"));
  ASSERT_TRUE(by_broker_id) << by_broker_id.status().message();
  EXPECT_EQ(by_broker_id->node_id, 1);
  expect_refused(with(combined(), "broker.id", "2"),
                 "You must set `node.id` to the same value as `broker.id`.");
}

TEST(QuorumSettingsTest, RolesMustBeKnownAndDistinct) {
  expect_refused(with(combined(), "process.roles", "broker,broker"), "process.roles");
  expect_refused(with(combined(), "process.roles", "observer"), "process.roles");
  expect_refused(with(combined(), "process.roles", ""), "process.roles is set but empty");
}

TEST(QuorumSettingsTest, ControllerListenerAlsoInterBrokerListener) {
  // Every listener a controller listener: no broker listener is left.
  expect_refused(with(with(combined(), "listeners", "CONTROLLER://127.0.0.1:9093"), "process.roles",
                      "broker,controller"),
                 "There must be at least one broker advertised listener. Perhaps all listeners "
                 "appear in controller.listener.names?");
}

}  // namespace
}  // namespace sluice::broker
