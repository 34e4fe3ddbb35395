// The admin port's authentication (admin_auth.h): which binds count as
// loopback, admin.authentication, the Authorization header's parsing, and
// passwords checked against SCRAM credentials as the controller stores them
// (make_scram_credential), with the verified-password cache.
#include "admin/admin_auth.h"

#include <gtest/gtest.h>

#include <chrono>

#include "security/base64.h"
#include "security/scram.h"

namespace sluice::admin {
namespace {

using security::ScramMechanism;

std::string basic(std::string_view user_and_password) {
  return "Basic " +
         security::base64_encode(Bytes(reinterpret_cast<const uint8_t*>(user_and_password.data()),
                                       user_and_password.size()));
}

cluster::ScramCredentialImage image_of(const security::ScramCredential& credential) {
  return {credential.salt, credential.stored_key, credential.server_key, credential.iterations};
}

cluster::ScramCredentials users_with(const std::string& user, ScramMechanism mechanism,
                                     std::string_view password, int32_t iterations = 4096) {
  cluster::ScramCredentials users;
  users[user][static_cast<int8_t>(mechanism)] = image_of(security::make_scram_credential(
      mechanism, password, security::random_scram_salt(), iterations));
  return users;
}

TEST(AdminLoopback, OnlyLiteralLoopbackAddresses) {
  for (const char* host : {"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "::ffff:127.0.0.1"})
    EXPECT_TRUE(is_loopback_host(host)) << host;
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "localhost", "example.com", "",
                           "::ffff:10.0.0.1", "fe80::1"})
    EXPECT_FALSE(is_loopback_host(host)) << host;
}

TEST(AdminAuthenticationSetting, AutoAsksCredentialsOffLoopback) {
  EXPECT_EQ(*resolve_admin_authentication("auto", "127.0.0.1"), AdminAuthentication::none);
  EXPECT_EQ(*resolve_admin_authentication("auto", "::1"), AdminAuthentication::none);
  EXPECT_EQ(*resolve_admin_authentication("auto", "0.0.0.0"), AdminAuthentication::basic);
  EXPECT_EQ(*resolve_admin_authentication("auto", "localhost"), AdminAuthentication::basic);
  EXPECT_EQ(*resolve_admin_authentication("basic", "127.0.0.1"), AdminAuthentication::basic);
  EXPECT_EQ(*resolve_admin_authentication("none", "0.0.0.0"), AdminAuthentication::none);
  EXPECT_EQ(*resolve_admin_authentication("mtls", "0.0.0.0"), AdminAuthentication::mtls);
  auto bad = resolve_admin_authentication("kerberos", "127.0.0.1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.status().message().find("admin.authentication"), std::string::npos);
}

TEST(AdminBasicHeader, ParsesUserAndPassword) {
  auto parsed = parse_basic_authorization(basic("alice:s3cr:et"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->user, "alice");
  EXPECT_EQ(parsed->password, "s3cr:et");  // only the first ':' separates
  auto lower = parse_basic_authorization("basic  " + basic("bob:").substr(6) + " ");
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->user, "bob");
  EXPECT_EQ(lower->password, "");
}

TEST(AdminBasicHeader, RefusesOtherSchemesAndMalformedTokens) {
  for (const std::string& header :
       {std::string(), std::string("Basic"), std::string("Basic "), std::string("Bearer abc"),
        std::string("Basicx ") + basic("a:b").substr(6), std::string("Basic !!!!"),
        std::string("Basic YWxpY2U"),  // unpadded
        basic("alice"),                // no ':'
        basic(":password")})           // no user
    EXPECT_FALSE(parse_basic_authorization(header)) << header;
}

TEST(AdminScramPassword, MatchesEitherMechanism) {
  for (ScramMechanism mechanism : {ScramMechanism::sha256, ScramMechanism::sha512}) {
    auto users = users_with("alice", mechanism, "alice-secret", 8192);
    EXPECT_TRUE(scram_password_matches(users["alice"], "alice-secret"));
    EXPECT_FALSE(scram_password_matches(users["alice"], "alice-secreT"));
    EXPECT_FALSE(scram_password_matches(users["alice"], ""));
  }
  // Two mechanisms with different passwords: either one is accepted.
  auto users = users_with("bob", ScramMechanism::sha256, "one");
  users["bob"][static_cast<int8_t>(ScramMechanism::sha512)] =
      image_of(security::make_scram_credential(ScramMechanism::sha512, "two",
                                               security::random_scram_salt(), 4096));
  EXPECT_TRUE(scram_password_matches(users["bob"], "one"));
  EXPECT_TRUE(scram_password_matches(users["bob"], "two"));
  // An unknown mechanism id is skipped, not trusted.
  std::map<int8_t, cluster::ScramCredentialImage> unknown{{9, users["bob"][1]}};
  EXPECT_FALSE(scram_password_matches(unknown, "one"));
}

TEST(AdminBasicAuthenticator, ChecksUsersAndCachesSuccessesOnly) {
  auto users = users_with("alice", ScramMechanism::sha256, "alice-secret");
  BasicAuthenticator authenticator(std::chrono::seconds(60));
  const auto now = BasicAuthenticator::Clock::now();
  EXPECT_FALSE(authenticator.authenticate(users, {"alice", "wrong"}, now));
  EXPECT_FALSE(authenticator.authenticate(users, {"mallory", "alice-secret"}, now));
  EXPECT_TRUE(authenticator.authenticate(users, {"alice", "alice-secret"}, now));
  EXPECT_EQ(authenticator.cache_hits(), 0u);
  EXPECT_TRUE(authenticator.authenticate(users, {"alice", "alice-secret"}, now));
  EXPECT_EQ(authenticator.cache_hits(), 1u);
  // A cached user with another password is checked, and refused.
  EXPECT_FALSE(authenticator.authenticate(users, {"alice", "alice-secreT"}, now));
  EXPECT_EQ(authenticator.cache_hits(), 1u);
  // Past the TTL the password is checked again (and cached again).
  EXPECT_TRUE(
      authenticator.authenticate(users, {"alice", "alice-secret"}, now + std::chrono::seconds(61)));
  EXPECT_EQ(authenticator.cache_hits(), 1u);
}

TEST(AdminBasicAuthenticator, AChangedOrDeletedCredentialMissesTheCache) {
  auto users = users_with("alice", ScramMechanism::sha256, "old");
  BasicAuthenticator authenticator;
  ASSERT_TRUE(authenticator.authenticate(users, {"alice", "old"}));
  auto changed = users_with("alice", ScramMechanism::sha256, "new");
  EXPECT_FALSE(authenticator.authenticate(changed, {"alice", "old"}));
  EXPECT_TRUE(authenticator.authenticate(changed, {"alice", "new"}));
  EXPECT_FALSE(authenticator.authenticate(cluster::ScramCredentials{}, {"alice", "new"}));
  EXPECT_EQ(authenticator.cache_hits(), 0u);
}

// What the cache saves: one PBKDF2 per request (printed, not asserted: the
// machine's speed varies).
TEST(AdminBasicAuthenticator, CostOfACheckWithAndWithoutTheCache) {
  for (ScramMechanism mechanism : {ScramMechanism::sha256, ScramMechanism::sha512}) {
    auto users = users_with("alice", mechanism, "alice-secret", 4096);
    constexpr int rounds = 20;
    auto started = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i)
      ASSERT_TRUE(scram_password_matches(users["alice"], "alice-secret"));
    const auto uncached = (std::chrono::steady_clock::now() - started) / rounds;
    BasicAuthenticator authenticator;
    ASSERT_TRUE(authenticator.authenticate(users, {"alice", "alice-secret"}));
    started = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i)
      ASSERT_TRUE(authenticator.authenticate(users, {"alice", "alice-secret"}));
    const auto cached = (std::chrono::steady_clock::now() - started) / rounds;
    std::printf("%s, 4096 iterations: %.3f ms a check, %.4f ms cached\n",
                std::string(security::scram_mechanism_name(mechanism)).c_str(),
                std::chrono::duration<double, std::milli>(uncached).count(),
                std::chrono::duration<double, std::milli>(cached).count());
  }
}

}  // namespace
}  // namespace sluice::admin
