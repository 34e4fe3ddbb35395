#include "security/plain.h"

#include <gtest/gtest.h>

#include <string>

#include "text_bytes.h"

namespace sluice::security {
namespace {

using testing::bytes_of;

class PlainTest : public ::testing::Test {
 protected:
  SaslStep run(std::string_view message) {
    server_ = std::make_unique<PlainServer>(users_);
    return server_->step(bytes_of(message));
  }
  std::string failure(std::string_view message) {
    SaslStep step = run(message);
    EXPECT_FALSE(step.ok()) << "accepted: " << message.size() << " bytes";
    EXPECT_FALSE(server_->complete());
    return step.failure ? step.failure->client_message : "";
  }

  std::shared_ptr<const PlainUsers> users_ = std::make_shared<const PlainUsers>(
      PlainUsers{{"alice", "alice-secret"}, {"admin", "admin-secret"}});
  std::unique_ptr<PlainServer> server_;
};

using namespace std::string_view_literals;

TEST_F(PlainTest, AcceptsAKnownUser) {
  SaslStep step = run("\0alice\0alice-secret"sv);
  ASSERT_TRUE(step.ok());
  EXPECT_TRUE(step.response.empty());
  EXPECT_TRUE(server_->complete());
  EXPECT_EQ(server_->username(), "alice");
  EXPECT_EQ(server_->mechanism(), "PLAIN");
  // With an authzid equal to the username.
  ASSERT_TRUE(run("alice\0alice\0alice-secret"sv).ok());
  EXPECT_EQ(server_->username(), "alice");
}

TEST_F(PlainTest, KafkasFailureMessages) {
  constexpr std::string_view invalid = "Authentication failed: Invalid username or password";
  EXPECT_EQ(failure("\0alice\0wrong"sv), invalid);
  EXPECT_EQ(failure("\0alice\0alice-secreT"sv), invalid);
  EXPECT_EQ(failure("\0alice\0alice-secret2"sv), invalid);
  EXPECT_EQ(failure("\0bob\0alice-secret"sv), invalid);
  EXPECT_EQ(failure("\0ALICE\0alice-secret"sv), invalid);
  EXPECT_EQ(failure("\0\0alice-secret"sv), "Authentication failed: username not specified");
  EXPECT_EQ(failure("\0alice\0"sv), "Authentication failed: password not specified");
  EXPECT_EQ(failure("admin\0alice\0alice-secret"sv),
            "Authentication failed: Client requested an authorization id that is different from "
            "username");
  EXPECT_EQ(failure(""sv), "Invalid SASL/PLAIN response: expected 3 tokens, got 1");
  EXPECT_EQ(failure("alice"sv), "Invalid SASL/PLAIN response: expected 3 tokens, got 1");
  EXPECT_EQ(failure("\0alice"sv), "Invalid SASL/PLAIN response: expected 3 tokens, got 2");
  EXPECT_EQ(failure("\0alice\0alice-secret\0"sv),
            "Invalid SASL/PLAIN response: expected 3 tokens, got 4");
  EXPECT_EQ(failure("\0alice\0alice-secret\0\0x"sv),
            "Invalid SASL/PLAIN response: expected 3 tokens, got 4");
}

TEST_F(PlainTest, NoPasswordInFailures) {
  for (std::string_view message : {"\0alice\0hunter2"sv, "\0bob\0hunter2"sv, "\0\0hunter2"sv}) {
    SaslStep step = run(message);
    ASSERT_FALSE(step.ok());
    EXPECT_EQ(step.failure->client_message.find("hunter2"), std::string::npos);
    EXPECT_EQ(step.failure->log_reason.find("hunter2"), std::string::npos);
  }
}

TEST_F(PlainTest, OneStepOnly) {
  ASSERT_TRUE(run("\0alice\0alice-secret"sv).ok());
  EXPECT_FALSE(server_->step(bytes_of("\0alice\0alice-secret"sv)).ok());
  EXPECT_FALSE(server_->complete());  // a message after the end spoils the exchange
  EXPECT_FALSE(run("\0alice\0wrong"sv).ok());
  EXPECT_FALSE(server_->step(bytes_of("\0alice\0alice-secret"sv)).ok());
  EXPECT_FALSE(server_->complete());
}

TEST(PasswordEqualsTest, ComparesWholeStrings) {
  EXPECT_TRUE(password_equals("abc", "abc"));
  EXPECT_TRUE(password_equals("", ""));
  EXPECT_FALSE(password_equals("abc", "abd"));
  EXPECT_FALSE(password_equals("abc", "abcd"));
  EXPECT_FALSE(password_equals("abc", ""));
  EXPECT_TRUE(password_equals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(password_equals(std::string_view("a\0b", 3), "a"));
}

}  // namespace
}  // namespace sluice::security
