// Fuzz target: the SASL exchange of a connection, bytes a client chose.
//
// The first input byte picks the server and the point the fuzzed bytes
// enter; the rest is the client's message(s):
//   bits 0-1: 0 SCRAM-SHA-256, 1 SCRAM-SHA-512, 2-3 PLAIN;
//   bits 2-3 (SCRAM): 0 the rest split at NUL bytes into messages sent in
//     turn; 1 a valid client-first, then the rest as the client-final;
//     2 a whole valid exchange, then the rest as one more message;
//     3 the rest as the client-first, then (if accepted) the final message a
//     correct client computes from the server's answer.
// The user "fuzz" exists with password "fuzz-password" (both mechanisms).
// Properties checked besides ASan+UBSan:
// - a failure is final: every later step fails, complete() stays false;
// - an exchange completes only through a correct proof (mode 3 always
//   completes when the client-first was accepted; a fuzzed client-final
//   completes only if it is the one a correct client sends);
// - failures name no password, and the client sees one of Kafka's messages;
// - PLAIN completes exactly for "[fuzz] NUL fuzz NUL fuzz-password".

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"
#include "security/base64.h"
#include "security/plain.h"
#include "security/scram.h"

namespace {

using namespace sluice;
using namespace sluice::security;

constexpr std::string_view user = "fuzz";
constexpr std::string_view password = "fuzz-password";
constexpr std::string_view client_nonce = "fuzzclientnonce";
constexpr std::string_view server_nonce = "fuzzservernonce";

Bytes bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

struct Fixture {
  ScramMechanism mechanism;
  std::vector<uint8_t> salt{'f', 'u', 'z', 'z', 's', 'a', 'l', 't'};
  ScramCredential credential;
  std::vector<uint8_t> salted_password;  // cached: PBKDF2 once, not per input
};

Fixture& fixture(ScramMechanism mechanism) {
  static Fixture fixtures[2] = {{ScramMechanism::sha256, {}, {}, {}},
                                {ScramMechanism::sha512, {}, {}, {}}};
  Fixture& f = fixtures[mechanism == ScramMechanism::sha512 ? 1 : 0];
  if (f.salted_password.empty()) {
    f.salt = {'f', 'u', 'z', 'z', 's', 'a', 'l', 't'};
    f.credential = make_scram_credential(mechanism, password, f.salt, scram_iterations_min);
    f.salted_password = scram_salted_password(mechanism, password, f.salt, scram_iterations_min);
  }
  return f;
}

// The client-final a correct client sends after `client_first_bare` and the
// server's `server_first`; nullopt if server_first is not one it can use.
std::optional<std::string> correct_final(const Fixture& f, std::string_view gs2_header,
                                         std::string_view client_first_bare,
                                         std::string_view server_first) {
  size_t salt_at = server_first.find(",s=");
  if (!server_first.starts_with("r=") || salt_at == std::string_view::npos) return std::nullopt;
  std::string nonce(server_first.substr(2, salt_at - 2));
  std::vector<uint8_t> client_key =
      scram_hmac(f.mechanism, f.salted_password, bytes_of("Client Key"));
  std::vector<uint8_t> stored_key = scram_hash(f.mechanism, client_key);
  std::string without_proof = "c=" + base64_encode(bytes_of(gs2_header)) + ",r=" + nonce;
  std::string auth_message =
      std::string(client_first_bare) + "," + std::string(server_first) + "," + without_proof;
  std::vector<uint8_t> signature = scram_hmac(f.mechanism, stored_key, bytes_of(auth_message));
  for (size_t i = 0; i < client_key.size(); ++i) client_key[i] ^= signature[i];
  return without_proof + ",p=" + base64_encode(client_key);
}

class Checked {
 public:
  explicit Checked(std::unique_ptr<SaslServer> server) : server_(std::move(server)) {}

  SaslStep step(Bytes message) {
    bool was_complete = server_->complete();
    SaslStep result = server_->step(message);
    if (!result.ok()) {
      failed_ = true;
      const SaslFailure& failure = *result.failure;
      SLUICE_ASSERT(!failure.client_message.empty() && !failure.log_reason.empty(),
                    "a failure says why, to the client and to the log");
      SLUICE_ASSERT(failure.client_message.find(password) == std::string::npos &&
                        failure.log_reason.find(password) == std::string::npos,
                    "no failure text holds the password");
      SLUICE_ASSERT(failure.client_message.starts_with("Authentication failed") ||
                        failure.client_message.starts_with("Invalid SASL/PLAIN response"),
                    "the client sees one of Kafka's messages");
    }
    SLUICE_ASSERT(!(failed_ && result.ok()), "after a failure every step fails");
    SLUICE_ASSERT(!(failed_ && server_->complete()), "a failed exchange is never complete");
    SLUICE_ASSERT(!(was_complete && result.ok()), "nothing follows a completed exchange");
    return result;
  }
  bool complete() const { return server_->complete(); }
  const std::string& username() const { return server_->username(); }

 private:
  std::unique_ptr<SaslServer> server_;
  bool failed_ = false;
};

Checked make_scram(ScramMechanism mechanism) {
  return Checked(std::make_unique<ScramServer>(
      mechanism,
      [mechanism](const std::string& name) -> std::optional<ScramCredential> {
        if (name != user) return std::nullopt;
        return fixture(mechanism).credential;
      },
      [] { return std::string(server_nonce); }));
}

void fuzz_scram(ScramMechanism mechanism, int mode, std::string_view rest) {
  const Fixture& f = fixture(mechanism);
  Checked scram = make_scram(mechanism);
  const std::string bare = "n=" + std::string(user) + ",r=" + std::string(client_nonce);
  const std::string first = "n,," + bare;
  switch (mode) {
    case 0: {
      size_t start = 0;
      for (int messages = 0; messages < 4 && start <= rest.size(); ++messages) {
        size_t end = rest.find('\0', start);
        if (end == std::string_view::npos) end = rest.size();
        (void)scram.step(bytes_of(rest.substr(start, end - start)));
        start = end + 1;
      }
      break;
    }
    case 1: {
      SaslStep server_first = scram.step(bytes_of(first));
      SLUICE_ASSERT(server_first.ok(), "the known user's client-first is accepted");
      std::string server_first_text(server_first.response.begin(), server_first.response.end());
      SaslStep final = scram.step(bytes_of(rest));
      std::optional<std::string> expected = correct_final(f, "n,,", bare, server_first_text);
      if (final.ok()) {
        // The correct message, up to how its proof's base64 spells the last bits.
        SLUICE_ASSERT(expected.has_value(), "a server-first is r=...,s=...,i=...");
        size_t proof_at = expected->rfind(",p=");
        SLUICE_ASSERT(rest.substr(0, proof_at + 3) == expected->substr(0, proof_at + 3) &&
                          base64_decode(rest.substr(proof_at + 3)) ==
                              base64_decode(expected->substr(proof_at + 3)),
                      "a completed exchange had the correct proof");
      }
      SLUICE_ASSERT(final.ok() == scram.complete(), "an accepted client-final completes");
      break;
    }
    case 2: {
      SaslStep server_first = scram.step(bytes_of(first));
      std::string server_first_text(server_first.response.begin(), server_first.response.end());
      std::optional<std::string> final = correct_final(f, "n,,", bare, server_first_text);
      SLUICE_ASSERT(final && scram.step(bytes_of(*final)).ok() && scram.complete(),
                    "a correct client completes");
      SLUICE_ASSERT(scram.username() == user, "the username is the client's");
      (void)scram.step(bytes_of(rest));
      SLUICE_ASSERT(!scram.complete(), "a message after completion spoils the exchange");
      break;
    }
    default: {
      SaslStep server_first = scram.step(bytes_of(rest));
      if (!server_first.ok()) break;
      SLUICE_ASSERT(scram.username() == user, "only the known user gets a server-first");
      // The GS2 header ends at the second ',' ("n,," or "n,a=<authzid>,").
      size_t header_end = rest.find(',', rest.find(',') + 1) + 1;
      std::string server_first_text(server_first.response.begin(), server_first.response.end());
      std::optional<std::string> final =
          correct_final(f, rest.substr(0, header_end), rest.substr(header_end), server_first_text);
      SLUICE_ASSERT(final.has_value(), "a server-first is r=...,s=...,i=...");
      SLUICE_ASSERT(scram.step(bytes_of(*final)).ok() && scram.complete(),
                    "an accepted client-first and a correct proof complete");
      break;
    }
  }
}

void fuzz_plain(std::string_view rest) {
  auto users = std::make_shared<const PlainUsers>(
      PlainUsers{{std::string(user), std::string(password)}, {"other", "x"}});
  Checked plain(std::make_unique<PlainServer>(users));
  SaslStep step = plain.step(bytes_of(rest));
  std::string valid = std::string(1, '\0') + std::string(user) + '\0' + std::string(password);
  bool expected = rest == valid || rest == std::string(user) + valid;
  SLUICE_ASSERT(step.ok() == expected && plain.complete() == expected,
                "PLAIN completes exactly for the right user and password");
  (void)plain.step(bytes_of(rest));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  int server = data[0] & 3;
  int mode = (data[0] >> 2) & 3;
  if (server >= 2)
    fuzz_plain(rest);
  else
    fuzz_scram(server == 0 ? ScramMechanism::sha256 : ScramMechanism::sha512, mode, rest);
  return 0;
}
