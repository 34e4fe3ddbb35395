#include "security/jaas.h"

#include <gtest/gtest.h>

namespace sluice::security {
namespace {

TEST(JaasTest, ParsesAPlainLoginModuleConfig) {
  Result<JaasEntry> entry = parse_jaas_config(
      R"(org.apache.kafka.common.security.plain.PlainLoginModule required
         username="admin" password="admin-secret"
         user_admin="admin-secret" user_alice=alice_pw;)");
  ASSERT_TRUE(entry.is_ok()) << entry.status().to_string();
  EXPECT_EQ(entry->login_module, plain_login_module);
  EXPECT_EQ(entry->flag, JaasControlFlag::required);
  std::map<std::string, std::string> expected{{"username", "admin"},
                                              {"password", "admin-secret"},
                                              {"user_admin", "admin-secret"},
                                              {"user_alice", "alice_pw"}};
  EXPECT_EQ(entry->options, expected);
  auto users = plain_users_from_jaas({*entry});
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users["admin"], "admin-secret");
  EXPECT_EQ(users["alice"], "alice_pw");
}

TEST(JaasTest, FlagsQuotingEscapesAndComments) {
  Result<std::vector<JaasEntry>> entries = parse_jaas_entries(
      "// a comment\n"
      "a.B REQUISITE k1='single \"quoted\"' /* inline */ k2=\"a\\\"b\\\\c\\n\\101\";\n"
      "c.D Sufficient;\n"
      "e.F optional k=$var-1.x_y;");
  ASSERT_TRUE(entries.is_ok()) << entries.status().to_string();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].flag, JaasControlFlag::requisite);
  EXPECT_EQ((*entries)[0].options.at("k1"), "single \"quoted\"");
  EXPECT_EQ((*entries)[0].options.at("k2"), "a\"b\\c\nA");
  EXPECT_EQ((*entries)[1].flag, JaasControlFlag::sufficient);
  EXPECT_TRUE((*entries)[1].options.empty());
  EXPECT_EQ((*entries)[2].flag, JaasControlFlag::optional);
  EXPECT_EQ((*entries)[2].options.at("k"), "$var-1.x_y");
}

std::string error_of(std::string_view text) {
  Result<std::vector<JaasEntry>> entries = parse_jaas_entries(text);
  EXPECT_FALSE(entries.is_ok()) << text;
  return entries.is_ok() ? "" : entries.status().message();
}

TEST(JaasTest, ErrorsNameThePlaceAndNeverTheValue) {
  EXPECT_EQ(error_of(""), "Login module not specified in JAAS config");
  EXPECT_EQ(error_of("  // only a comment\n"), "Login module not specified in JAAS config");
  EXPECT_NE(error_of("a.B").find("Login module control flag not specified"), std::string::npos);
  EXPECT_NE(error_of("a.B mandatory;").find("Invalid login module control flag 'mandatory'"),
            std::string::npos);
  std::string unterminated = error_of("a.B required k=\"secret-value\"");
  EXPECT_NE(unterminated.find("not terminated by semi-colon"), std::string::npos);
  EXPECT_EQ(unterminated.find("secret-value"), std::string::npos);
  std::string missing = error_of("a.B required\n  user_x;");
  EXPECT_NE(missing.find("line 2 column 9: Value not specified for key 'user_x'"),
            std::string::npos)
      << missing;
  EXPECT_NE(error_of("a.B required k=123;").find("must be quoted"), std::string::npos);
  EXPECT_NE(
      error_of("a.B required k=\"open;").find("string opened at line 1 column 16 is not closed"),
      std::string::npos);
  EXPECT_NE(error_of("a.B required /* never closed").find("comment opened at line 1 column 14"),
            std::string::npos);
  EXPECT_NE(error_of("a.B required = x;").find("expected an option name"), std::string::npos);
  EXPECT_NE(error_of("123 required;").find("login module class name"), std::string::npos);
}

TEST(JaasTest, ConfigPropertyWantsOneEntry) {
  Result<JaasEntry> two = parse_jaas_config("a.B required; c.D required;");
  ASSERT_FALSE(two.is_ok());
  EXPECT_EQ(two.status().message(),
            "JAAS config property contains 2 login modules, should be 1 module");
}

TEST(JaasTest, ParsesAFileWithListenerSections) {
  Result<std::vector<JaasSection>> sections = parse_jaas_file(R"(
    /* the broker's file */
    KafkaServer {
      org.apache.kafka.common.security.plain.PlainLoginModule required
        user_alice="alice-secret";
      org.apache.kafka.common.security.scram.ScramLoginModule required;
    };
    sasl_plaintext.KafkaServer {
      org.apache.kafka.common.security.plain.PlainLoginModule required
        user_bob="bob-secret" // bob only here
        user_carol="carol-secret";
    };
    Client { org.apache.zookeeper.server.auth.DigestLoginModule required username="x" password="y"; };
  )");
  ASSERT_TRUE(sections.is_ok()) << sections.status().to_string();
  ASSERT_EQ(sections->size(), 3u);
  const JaasSection* server = find_jaas_section(*sections, "KafkaServer");
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->entries.size(), 2u);
  EXPECT_EQ(server->entries[1].login_module, scram_login_module);
  auto users = plain_users_from_jaas(server->entries);
  EXPECT_EQ(users.size(), 1u);
  EXPECT_EQ(users["alice"], "alice-secret");
  const JaasSection* listener = find_jaas_section(*sections, "sasl_plaintext.KafkaServer");
  ASSERT_NE(listener, nullptr);
  users = plain_users_from_jaas(listener->entries);
  EXPECT_EQ(users.size(), 2u);
  EXPECT_EQ(users["carol"], "carol-secret");
  EXPECT_EQ(find_jaas_section(*sections, "kafkaserver"), nullptr);
  // Only PlainLoginModule's user_ options are users.
  EXPECT_TRUE(plain_users_from_jaas(find_jaas_section(*sections, "Client")->entries).empty());
}

TEST(JaasTest, FileErrors) {
  auto error = [](std::string_view text) {
    Result<std::vector<JaasSection>> sections = parse_jaas_file(text);
    EXPECT_FALSE(sections.is_ok()) << text;
    return sections.is_ok() ? "" : sections.status().message();
  };
  EXPECT_NE(error("KafkaServer { a.B required; }").find("expected ';' after the '}'"),
            std::string::npos);
  EXPECT_NE(error("KafkaServer { a.B required;").find("not closed by '}'"), std::string::npos);
  EXPECT_NE(error("KafkaServer a.B required;").find("expected '{'"), std::string::npos);
  EXPECT_NE(error("KafkaServer { };").find("has no login module"), std::string::npos);
  EXPECT_NE(error("A { a.B required; };\nA { c.D required; };")
                .find("line 2 column 1: Can not specify multiple entries for A"),
            std::string::npos);
  Result<std::vector<JaasSection>> empty = parse_jaas_file("// nothing\n");
  ASSERT_TRUE(empty.is_ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace sluice::security
