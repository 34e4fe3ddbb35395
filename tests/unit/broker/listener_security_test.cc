// Listener security settings as BrokerConfig::load resolves them
// (listener_security.h): protocols, listener.name.<l>.* overrides, SASL
// mechanisms and PLAIN users, and the start-up errors naming the key.
#include "broker/listener_security.h"

#include <gtest/gtest.h>

#include "broker/broker_config.h"
#include "test_support.h"

namespace sluice::broker {
namespace {

using testing::Settings;

constexpr const char* kAliceJaas =
    "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"alice-secret\";";

TEST(ListenerSecurityTest, PlaintextByDefault) {
  auto config = testing::load_config({});
  ASSERT_TRUE(config) << config.status().to_string();
  const ListenerSecurity& plain = config->listener_security.at("PLAINTEXT");
  EXPECT_EQ(plain.protocol, net::SecurityProtocol::plaintext);
  EXPECT_EQ(plain.tls, nullptr);
  EXPECT_TRUE(plain.sasl_mechanisms.empty());
}

TEST(ListenerSecurityTest, PerListenerSettingsWinOverTheBrokerWideOnes) {
  auto config = testing::load_config(
      {{"listeners", "BROKERS://127.0.0.1:0,INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0"},
       {"listener.security.protocol.map",
        "BROKERS:PLAINTEXT,INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT"},
       {"inter.broker.listener.name", "BROKERS"},
       {"sasl.enabled.mechanisms", "SCRAM-SHA-512"},
       {"listener.name.internal.sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256"},
       {"listener.name.internal.plain.sasl.jaas.config", kAliceJaas},
       {"listener.name.external.connections.max.reauth.ms", "60000"}});
  ASSERT_TRUE(config) << config.status().to_string();
  const ListenerSecurity& internal = config->listener_security.at("INTERNAL");
  EXPECT_EQ(internal.sasl_mechanisms, (std::vector<std::string>{"PLAIN", "SCRAM-SHA-256"}));
  ASSERT_NE(internal.plain_users, nullptr);
  EXPECT_EQ(internal.plain_users->at("alice"), "alice-secret");
  EXPECT_EQ(internal.reauth_ms, 0);
  const ListenerSecurity& external = config->listener_security.at("EXTERNAL");
  EXPECT_EQ(external.sasl_mechanisms, (std::vector<std::string>{"SCRAM-SHA-512"}));
  EXPECT_EQ(external.reauth_ms, 60000);
}

TEST(ListenerSecurityTest, MistakesFailTheStartNamingTheKey) {
  auto unknown = testing::load_config({{"listener.name.plaintext.no.such.key", "1"}});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.status().message().find("listener.name.plaintext.no.such.key"),
            std::string::npos);

  auto gssapi = testing::load_config({{"listeners", "SASL_PLAINTEXT://127.0.0.1:0"},
                                      {"inter.broker.listener.name", "SASL_PLAINTEXT"}});
  ASSERT_FALSE(gssapi);  // Kafka's default mechanism, which Sluice does not serve
  EXPECT_NE(gssapi.status().message().find("GSSAPI"), std::string::npos)
      << gssapi.status().message();

  auto no_users = testing::load_config({{"listeners", "SASL_PLAINTEXT://127.0.0.1:0"},
                                        {"inter.broker.listener.name", "SASL_PLAINTEXT"},
                                        {"sasl.enabled.mechanisms", "PLAIN"}});
  ASSERT_FALSE(no_users);
  EXPECT_NE(no_users.status().message().find("PLAIN is enabled"), std::string::npos)
      << no_users.status().message();

  auto no_keystore = testing::load_config(
      {{"listeners", "SSL://127.0.0.1:0"}, {"inter.broker.listener.name", "SSL"}});
  ASSERT_FALSE(no_keystore);
  EXPECT_NE(no_keystore.status().message().find("ssl.keystore.location"), std::string::npos)
      << no_keystore.status().message();

  auto jks = testing::load_config({{"listeners", "SSL://127.0.0.1:0"},
                                   {"inter.broker.listener.name", "SSL"},
                                   {"ssl.keystore.type", "JKS"},
                                   {"ssl.keystore.location", "/nowhere.jks"}});
  ASSERT_FALSE(jks);
  EXPECT_NE(jks.status().message().find("PEM"), std::string::npos) << jks.status().message();

  auto internal_sasl =
      testing::load_config({{"listeners", "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0"},
                            {"inter.broker.listener.name", "SASL_PLAINTEXT"},
                            {"sasl.enabled.mechanisms", "SCRAM-SHA-256"}});
  ASSERT_FALSE(internal_sasl);
  EXPECT_NE(internal_sasl.status().message().find("inter.broker.listener.name"), std::string::npos)
      << internal_sasl.status().message();

  auto authorizer = testing::load_config({{"authorizer.class.name", "com.example.MyAuthorizer"}});
  ASSERT_TRUE(authorizer);  // checked when the broker opens (authorization.h)
}

}  // namespace
}  // namespace sluice::broker
