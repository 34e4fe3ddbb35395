#include "security/plain.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <vector>

#include "base/assert.h"

namespace sluice::security {

namespace {

using Digest = std::array<uint8_t, 32>;

Digest sha256(std::string_view text) {
  Digest digest{};
  unsigned int size = 0;
  int ok = EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr);
  SLUICE_ASSERT(ok == 1 && size == digest.size(), "SHA-256 cannot fail");
  return digest;
}

}  // namespace

bool password_equals(std::string_view password, std::string_view expected) {
  Digest a = sha256(password);
  Digest b = sha256(expected);
  // Equal digests of different strings would be a SHA-256 collision.
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

PlainServer::PlainServer(std::shared_ptr<const PlainUsers> users) : users_(std::move(users)) {
  SLUICE_ASSERT(users_ != nullptr, "a PLAIN server needs a user table, possibly empty");
}

SaslStep PlainServer::step(Bytes client_message) {
  if (done_) {
    complete_ = false;  // a message after the end spoils the exchange, as in ScramServer
    return SaslStep::fail(sasl_invalid_credentials_message(mechanism()),
                          "unexpected SASL/PLAIN message after the exchange ended");
  }
  done_ = true;
  std::string_view text(reinterpret_cast<const char*>(client_message.data()),
                        client_message.size());
  // Kafka splits at up to three NULs and wants exactly three tokens.
  std::vector<std::string_view> tokens;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t end = text.find('\0', start);
    if (end == std::string_view::npos) {
      tokens.push_back(text.substr(start));
      break;
    }
    tokens.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (tokens.size() != 3) {
    std::string message =
        "Invalid SASL/PLAIN response: expected 3 tokens, got " + std::to_string(tokens.size());
    return SaslStep::fail(message, message);
  }
  std::string_view authzid = tokens[0];
  std::string_view username = tokens[1];
  std::string_view password = tokens[2];
  if (username.empty())
    return SaslStep::fail("Authentication failed: username not specified", "empty username");
  if (password.empty())
    return SaslStep::fail("Authentication failed: password not specified", "empty password");

  auto user = users_->find(username);
  // An unknown user costs the same compare as a known one.
  bool authenticated =
      password_equals(password, user == users_->end() ? "" : user->second) && user != users_->end();
  if (!authenticated)
    return SaslStep::fail("Authentication failed: Invalid username or password",
                          user == users_->end() ? "unknown user" : "wrong password");
  if (!authzid.empty() && authzid != username)
    return SaslStep::fail(
        "Authentication failed: Client requested an authorization id that is different from "
        "username",
        "authorization id different from the username");
  username_ = std::string(username);
  complete_ = true;
  return SaslStep::reply(std::vector<uint8_t>{});
}

}  // namespace sluice::security
