#include "security/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <utility>

#include "base/assert.h"
#include "security/base64.h"

namespace sluice::security {

namespace {

const EVP_MD* digest_of(ScramMechanism mechanism) {
  return mechanism == ScramMechanism::sha512 ? EVP_sha512() : EVP_sha256();
}

Bytes as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

std::string_view as_text(Bytes bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Character classes of Kafka's ScramMessages patterns.
bool is_value_char(char c) {  // VALUE: 0x01-0x7F but ','
  auto byte = static_cast<unsigned char>(c);
  return byte >= 0x01 && byte <= 0x7f && c != ',';
}
bool is_printable_char(char c) { return c >= 0x21 && c <= 0x7e && c != ','; }  // PRINTABLE
bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

// A cursor over one SCRAM message: attribute=value pairs separated by ','.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool at_end() const { return position_ == text_.size(); }
  size_t position() const { return position_; }
  bool consume(std::string_view prefix) {
    if (text_.substr(position_).substr(0, prefix.size()) != prefix) return false;
    position_ += prefix.size();
    return true;
  }
  bool peek(std::string_view prefix) const {
    return text_.substr(position_).substr(0, prefix.size()) == prefix;
  }
  // Characters up to the next ',' (or the end), all satisfying `valid`.
  std::optional<std::string_view> value(bool (*valid)(char)) {
    size_t end = text_.find(',', position_);
    if (end == std::string_view::npos) end = text_.size();
    std::string_view result = text_.substr(position_, end - position_);
    if (result.empty()) return std::nullopt;
    for (char c : result)
      if (!valid(c)) return std::nullopt;
    position_ = end;
    return result;
  }

 private:
  std::string_view text_;
  size_t position_ = 0;
};

// saslname: VALUE characters besides '=', which only starts "=2C" or "=3D".
bool is_saslname(std::string_view text) {
  if (text.empty()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      std::string_view escape = text.substr(i, 3);
      if (escape != "=2C" && escape != "=3D") return false;
      i += 2;
    } else if (!is_value_char(c)) {
      return false;
    }
  }
  return true;
}

// (",name=value")* as Kafka's EXTENSIONS: name ALPHA+, value VALUE+.
// Returns false when malformed; sets `token_auth` when tokenauth=true.
bool parse_extensions(Cursor& cursor, bool& token_auth) {
  while (!cursor.at_end()) {
    if (!cursor.consume(",")) return false;
    std::optional<std::string_view> pair = cursor.value(is_value_char);
    if (!pair) return false;
    size_t equals = pair->find('=');
    if (equals == 0 || equals == std::string_view::npos) return false;
    std::string_view name = pair->substr(0, equals);
    std::string_view value = pair->substr(equals + 1);
    for (char c : name)
      if (!is_alpha(c)) return false;
    if (value.empty()) return false;
    // Kafka: Boolean.parseBoolean, i.e. "true" in any case.
    if (name == "tokenauth" && value.size() == 4) {
      std::string lower(value);
      for (char& c : lower) c = static_cast<char>(c | 0x20);
      if (lower == "true") token_auth = true;
    }
  }
  return true;
}

std::vector<uint8_t> xor_bytes(Bytes a, Bytes b) {
  SLUICE_ASSERT(a.size() == b.size(), "SCRAM keys of one mechanism have one size");
  std::vector<uint8_t> out(a.size());
  for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] ^ b[i];
  return out;
}

}  // namespace

std::string_view scram_mechanism_name(ScramMechanism mechanism) {
  return mechanism == ScramMechanism::sha512 ? "SCRAM-SHA-512" : "SCRAM-SHA-256";
}

std::optional<ScramMechanism> scram_mechanism_from_name(std::string_view name) {
  if (name == "SCRAM-SHA-256") return ScramMechanism::sha256;
  if (name == "SCRAM-SHA-512") return ScramMechanism::sha512;
  return std::nullopt;
}

std::optional<ScramMechanism> scram_mechanism_from_id(int8_t id) {
  if (id == 1) return ScramMechanism::sha256;
  if (id == 2) return ScramMechanism::sha512;
  return std::nullopt;
}

size_t scram_hash_size(ScramMechanism mechanism) {
  return mechanism == ScramMechanism::sha512 ? 64 : 32;
}

std::vector<uint8_t> scram_hmac(ScramMechanism mechanism, Bytes key, Bytes data) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int size = 0;
  const uint8_t* result = HMAC(digest_of(mechanism), key.data(), static_cast<int>(key.size()),
                               data.data(), data.size(), out.data(), &size);
  SLUICE_ASSERT(result != nullptr, "HMAC with a SHA-2 digest cannot fail");
  out.resize(size);
  return out;
}

std::vector<uint8_t> scram_hash(ScramMechanism mechanism, Bytes data) {
  std::vector<uint8_t> out(EVP_MAX_MD_SIZE);
  unsigned int size = 0;
  int ok = EVP_Digest(data.data(), data.size(), out.data(), &size, digest_of(mechanism), nullptr);
  SLUICE_ASSERT(ok == 1, "a SHA-2 digest cannot fail");
  out.resize(size);
  return out;
}

std::vector<uint8_t> scram_salted_password(ScramMechanism mechanism, std::string_view password,
                                           Bytes salt, int32_t iterations) {
  SLUICE_ASSERT(iterations > 0, "PBKDF2 needs at least one iteration");
  std::vector<uint8_t> out(scram_hash_size(mechanism));
  int ok = PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                             static_cast<int>(salt.size()), iterations, digest_of(mechanism),
                             static_cast<int>(out.size()), out.data());
  SLUICE_ASSERT(ok == 1, "PBKDF2 with a SHA-2 digest cannot fail");
  return out;
}

ScramCredential make_scram_credential(ScramMechanism mechanism, std::string_view password,
                                      std::vector<uint8_t> salt, int32_t iterations) {
  std::vector<uint8_t> salted = scram_salted_password(mechanism, password, salt, iterations);
  ScramCredential credential =
      scram_credential_from_salted_password(mechanism, salted, std::move(salt), iterations);
  OPENSSL_cleanse(salted.data(), salted.size());
  return credential;
}

ScramCredential scram_credential_from_salted_password(ScramMechanism mechanism,
                                                      Bytes salted_password,
                                                      std::vector<uint8_t> salt,
                                                      int32_t iterations) {
  std::vector<uint8_t> client_key = scram_hmac(mechanism, salted_password, as_bytes("Client Key"));
  ScramCredential credential;
  credential.stored_key = scram_hash(mechanism, client_key);
  credential.server_key = scram_hmac(mechanism, salted_password, as_bytes("Server Key"));
  credential.salt = std::move(salt);
  credential.iterations = iterations;
  OPENSSL_cleanse(client_key.data(), client_key.size());
  return credential;
}

std::vector<uint8_t> random_scram_salt(size_t size) {
  std::vector<uint8_t> salt(size);
  SLUICE_ASSERT(RAND_bytes(salt.data(), static_cast<int>(salt.size())) == 1,
                "the system CSPRNG must be available");
  return salt;
}

std::string scram_escape_username(std::string_view username) {
  std::string out;
  for (char c : username) {
    if (c == '=')
      out += "=3D";
    else if (c == ',')
      out += "=2C";
    else
      out += c;
  }
  return out;
}

std::optional<std::string> scram_unescape_username(std::string_view saslname) {
  std::string out;
  for (size_t i = 0; i < saslname.size(); ++i) {
    if (saslname[i] != '=') {
      out += saslname[i];
      continue;
    }
    std::string_view escape = saslname.substr(i, 3);
    if (escape == "=2C")
      out += ',';
    else if (escape == "=3D")
      out += '=';
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

std::string ScramServer::random_scram_nonce() {
  uint8_t bytes[24];
  SLUICE_ASSERT(RAND_bytes(bytes, sizeof bytes) == 1, "the system CSPRNG must be available");
  return base64_encode(Bytes(bytes, sizeof bytes));
}

ScramServer::ScramServer(ScramMechanism mechanism, CredentialLookup lookup,
                         NonceSource nonce_source)
    : mechanism_(mechanism), lookup_(std::move(lookup)), nonce_source_(std::move(nonce_source)) {}

SaslStep ScramServer::fail_with(std::string client_message, std::string log_reason) {
  state_ = State::failed;
  // The keys are of no use once the exchange is over (Kafka's clearCredentials).
  credential_ = {};
  return SaslStep::fail(std::move(client_message), std::move(log_reason));
}

SaslStep ScramServer::fail(std::string log_reason) {
  return fail_with(sasl_invalid_credentials_message(mechanism()), std::move(log_reason));
}

SaslStep ScramServer::step(Bytes client_message) {
  switch (state_) {
    case State::client_first:
      return client_first(as_text(client_message));
    case State::client_final:
      return client_final(as_text(client_message));
    case State::complete:
      return fail("unexpected SCRAM message after the exchange completed");
    case State::failed:
      break;
  }
  return fail("unexpected SCRAM message after a failed exchange");
}

// gs2-header [reserved-mext ","] username "," nonce ["," extensions], with
// gs2-header "n," [ "a=" saslname ] ",".
SaslStep ScramServer::client_first(std::string_view message) {
  Cursor cursor(message);
  if (cursor.peek("y,") || cursor.peek("p="))
    return fail("SCRAM client first message asks for channel binding, which is not supported");
  if (!cursor.consume("n,")) return fail("invalid SCRAM client first message format");
  std::string authzid;
  if (cursor.consume("a=")) {
    std::optional<std::string_view> name = cursor.value(is_value_char);
    if (!name || !is_saslname(*name))
      return fail("invalid SCRAM client first message format (authzid)");
    authzid = *scram_unescape_username(*name);
  }
  if (!cursor.consume(",")) return fail("invalid SCRAM client first message format");
  gs2_header_ = std::string(message.substr(0, cursor.position()));
  client_first_bare_ = std::string(message.substr(cursor.position()));
  if (cursor.consume("m=") && (!cursor.value(is_value_char) || !cursor.consume(",")))
    return fail("invalid SCRAM client first message format (reserved m=)");
  if (!cursor.consume("n=")) return fail("invalid SCRAM client first message format (no n=)");
  std::optional<std::string_view> saslname = cursor.value(is_value_char);
  if (!saslname || !is_saslname(*saslname))
    return fail("invalid SCRAM client first message format (username)");
  if (!cursor.consume(",r=")) return fail("invalid SCRAM client first message format (no r=)");
  std::optional<std::string_view> client_nonce = cursor.value(is_printable_char);
  if (!client_nonce) return fail("invalid SCRAM client first message format (nonce)");
  bool token_auth = false;
  if (!parse_extensions(cursor, token_auth))
    return fail("invalid SCRAM client first message format (extensions)");

  username_ = *scram_unescape_username(*saslname);
  if (token_auth) return fail("delegation token authentication (tokenauth) is not supported");
  std::optional<ScramCredential> credential = lookup_(username_);
  if (!credential) return fail("no " + std::string(mechanism()) + " credential for the user");
  // Kafka: a SaslAuthenticationException, whose message reaches the client.
  if (!authzid.empty() && authzid != username_)
    return fail_with(
        "Authentication failed: Client requested an authorization id that is different from "
        "username",
        "authorization id different from the username");
  if (credential->iterations < scram_iterations_min)
    return fail("Iterations " + std::to_string(credential->iterations) +
                " is less than the minimum " + std::to_string(scram_iterations_min) + " for " +
                std::string(mechanism()));
  if (credential->stored_key.size() != scram_hash_size(mechanism_) ||
      credential->server_key.size() != scram_hash_size(mechanism_))
    return fail("the stored credential's keys do not have the mechanism's size");
  credential_ = std::move(*credential);

  std::string server_nonce = nonce_source_();
  SLUICE_ASSERT(!server_nonce.empty(), "a server nonce is never empty");
  for (char c : server_nonce)
    SLUICE_ASSERT(is_printable_char(c), "a server nonce is printable ASCII without ','");
  nonce_ = std::string(*client_nonce) + server_nonce;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(credential_.salt) +
                  ",i=" + std::to_string(credential_.iterations);
  state_ = State::client_final;
  return SaslStep::reply(server_first_);
}

// "c=" base64(gs2-header) ",r=" nonce ["," extensions] ",p=" base64(proof).
SaslStep ScramServer::client_final(std::string_view message) {
  size_t proof_at = message.rfind(",p=");
  if (proof_at == std::string_view::npos)
    return fail("invalid SCRAM client final message format (no p=)");
  std::string_view without_proof = message.substr(0, proof_at);
  std::optional<std::vector<uint8_t>> proof = base64_decode(message.substr(proof_at + 3));
  if (!proof) return fail("invalid SCRAM client final message format (proof)");

  Cursor cursor(without_proof);
  if (!cursor.consume("c=")) return fail("invalid SCRAM client final message format (no c=)");
  std::optional<std::string_view> channel = cursor.value(is_printable_char);
  std::optional<std::vector<uint8_t>> binding = channel ? base64_decode(*channel) : std::nullopt;
  if (!binding) return fail("invalid SCRAM client final message format (channel binding)");
  if (!cursor.consume(",r=")) return fail("invalid SCRAM client final message format (no r=)");
  std::optional<std::string_view> nonce = cursor.value(is_printable_char);
  if (!nonce) return fail("invalid SCRAM client final message format (nonce)");
  bool token_auth = false;
  if (!parse_extensions(cursor, token_auth))
    return fail("invalid SCRAM client final message format (extensions)");

  // Without channel binding, c= repeats the GS2 header; "n,," is accepted too
  // for clients that leave an authzid out of it.
  std::string_view binding_text = as_text(*binding);
  if (binding_text != gs2_header_ && binding_text != "n,,")
    return fail("channel binding of the client final message does not match its GS2 header");
  // Kafka checks only that the nonce ends with the server's (client's +
  // server's part): librdkafka before 2.2 sends the client's part twice
  // ("r=" client nonce + the server's whole nonce), and its proof covers
  // what it sent, so an exact comparison would refuse every such client.
  if (!nonce->ends_with(nonce_)) return fail("invalid client nonce in the final client message");
  if (proof->size() != scram_hash_size(mechanism_))
    return fail("client proof of the wrong size for the mechanism");

  std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  std::vector<uint8_t> client_signature =
      scram_hmac(mechanism_, credential_.stored_key, as_bytes(auth_message));
  std::vector<uint8_t> client_key = xor_bytes(*proof, client_signature);
  std::vector<uint8_t> computed_stored_key = scram_hash(mechanism_, client_key);
  OPENSSL_cleanse(client_key.data(), client_key.size());
  if (CRYPTO_memcmp(computed_stored_key.data(), credential_.stored_key.data(),
                    computed_stored_key.size()) != 0)
    return fail("invalid client credentials (wrong proof)");

  std::vector<uint8_t> server_signature =
      scram_hmac(mechanism_, credential_.server_key, as_bytes(auth_message));
  credential_ = {};
  state_ = State::complete;
  return SaslStep::reply("v=" + base64_encode(server_signature));
}

}  // namespace sluice::security
