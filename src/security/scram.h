#pragma once
// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka implements
// them (ScramSaslServer, ScramMessages, ScramFormatter): credential
// derivation, and the server side of the three-message exchange.
//
// Kafka's restrictions, kept: the GS2 header must be "n" (no channel binding:
// "y" and "p=" are refused), an authzid must equal the username, the
// credential's iterations must be at least 4096, and the delegation-token
// extension (tokenauth=true) is refused here (Sluice has no delegation
// tokens). Other extensions are ignored, as Kafka does.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "security/sasl.h"

namespace sluice::security {

// The ids are those of Kafka's UserScramCredentialRecord and
// AlterUserScramCredentials/DescribeUserScramCredentials.
enum class ScramMechanism : int8_t { sha256 = 1, sha512 = 2 };

constexpr int32_t scram_iterations_min = 4096;   // Kafka's ScramMechanism.minIterations
constexpr int32_t scram_iterations_max = 16384;  // and maxIterations (both mechanisms)

std::string_view scram_mechanism_name(ScramMechanism mechanism);  // "SCRAM-SHA-256"
std::optional<ScramMechanism> scram_mechanism_from_name(std::string_view name);
std::optional<ScramMechanism> scram_mechanism_from_id(int8_t id);
// The digest size: 32 (SHA-256) or 64 (SHA-512) bytes, the size of every key.
size_t scram_hash_size(ScramMechanism mechanism);

// What the broker stores of a SCRAM user (never the password).
struct ScramCredential {
  std::vector<uint8_t> salt;
  std::vector<uint8_t> stored_key;
  std::vector<uint8_t> server_key;
  int32_t iterations = 0;
  bool operator==(const ScramCredential&) const = default;
};

// The stored and server keys from a salted password (PBKDF2 already run):
// AlterUserScramCredentials carries the salted password, and Kafka's
// controller derives the keys from it.
ScramCredential scram_credential_from_salted_password(ScramMechanism mechanism,
                                                      Bytes salted_password,
                                                      std::vector<uint8_t> salt,
                                                      int32_t iterations);

// SaltedPassword = PBKDF2-HMAC(password, salt, iterations);
// StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key").
// Iterations outside [min, max] are the caller's to refuse (AlterUserScramCredentials).
ScramCredential make_scram_credential(ScramMechanism mechanism, std::string_view password,
                                      std::vector<uint8_t> salt, int32_t iterations);
// A salt from the system's CSPRNG (RAND_bytes).
std::vector<uint8_t> random_scram_salt(size_t size = 32);

// The primitives, for tests and for a client side (the `sluice` CLI).
std::vector<uint8_t> scram_hmac(ScramMechanism mechanism, Bytes key, Bytes data);
std::vector<uint8_t> scram_hash(ScramMechanism mechanism, Bytes data);
std::vector<uint8_t> scram_salted_password(ScramMechanism mechanism, std::string_view password,
                                           Bytes salt, int32_t iterations);

// saslname escaping of RFC 5802: ',' is "=2C" and '=' is "=3D" in the
// username a client sends. Unescaping returns nullopt for any other '='.
std::string scram_escape_username(std::string_view username);
std::optional<std::string> scram_unescape_username(std::string_view saslname);

// The server's side of one exchange: client-first -> server-first,
// client-final -> server-final ("v=<ServerSignature>"). One object per
// authentication; not thread-safe.
class ScramServer final : public SaslServer {
 public:
  using CredentialLookup =
      std::function<std::optional<ScramCredential>(const std::string& username)>;
  // Returns the server's part of the nonce: printable ASCII without ','.
  using NonceSource = std::function<std::string()>;

  ScramServer(ScramMechanism mechanism, CredentialLookup lookup,
              NonceSource nonce_source = random_scram_nonce);

  std::string_view mechanism() const override { return scram_mechanism_name(mechanism_); }
  SaslStep step(Bytes client_message) override;
  bool complete() const override { return state_ == State::complete; }
  const std::string& username() const override { return username_; }

  // 24 bytes of the system's CSPRNG, base64-encoded (32 printable characters).
  static std::string random_scram_nonce();

 private:
  enum class State { client_first, client_final, complete, failed };

  SaslStep client_first(std::string_view message);
  SaslStep client_final(std::string_view message);
  SaslStep fail(std::string log_reason);
  SaslStep fail_with(std::string client_message, std::string log_reason);

  ScramMechanism mechanism_;
  CredentialLookup lookup_;
  NonceSource nonce_source_;
  State state_ = State::client_first;
  std::string username_;
  ScramCredential credential_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client nonce + server nonce
};

}  // namespace sluice::security
