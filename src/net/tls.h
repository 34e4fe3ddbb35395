#pragma once
// TLS for the SSL and SASL_SSL listeners (OpenSSL 3), configured with
// Kafka's ssl.* settings in their PEM form (Kafka 2.7+). A TlsContext is
// one listener's server context; the connection stream that uses it is in
// connection_streams.h.
//
// Certificate reload without restart: the keystore and truststore files
// are watched (their modification time and size, at most once per
// `reload_check_interval` when a connection is accepted); a change builds a
// new context that later connections use, and connections already open keep
// the one they started with. A change that does not load (a half-written
// file, a key that does not match) is logged and the previous context stays.
//
// Thread contract: every function may be called from any thread.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;

namespace sluice::net {

enum class TlsClientAuth : uint8_t { none, requested, required };  // ssl.client.auth

struct TlsSettings {
  std::string listener_name;  // for messages
  // ssl.keystore.location (private key and certificate chain in one PEM
  // file), or the inline ssl.keystore.key + ssl.keystore.certificate.chain.
  std::string keystore_location;
  std::string keystore_key;
  std::string keystore_certificate_chain;
  std::string key_password;  // ssl.key.password (or ssl.keystore.password)
  // ssl.truststore.location or the inline ssl.truststore.certificates (PEM):
  // the CAs client certificates must chain to.
  std::string truststore_location;
  std::string truststore_certificates;
  TlsClientAuth client_auth = TlsClientAuth::none;
  std::vector<std::string> enabled_protocols{"TLSv1.2", "TLSv1.3"};  // ssl.enabled.protocols
  std::vector<std::string> cipher_suites;  // ssl.cipher.suites; empty: OpenSSL's defaults
};

// Parses ssl.client.auth's value (case-insensitive none/requested/required).
Result<TlsClientAuth> parse_tls_client_auth(const std::string& text);

class TlsContext {
 public:
  // Loads the key, certificates and trust anchors; an error names the
  // listener and the setting at fault.
  static Result<std::shared_ptr<TlsContext>> create(TlsSettings settings);

  // The context a new connection uses: reloaded first when a watched file
  // changed since the last check (see the header comment).
  std::shared_ptr<SSL_CTX> current();
  const TlsSettings& settings() const { return settings_; }
  static constexpr std::chrono::milliseconds reload_check_interval{1000};

  explicit TlsContext(TlsSettings settings) : settings_(std::move(settings)) {}

 private:
  struct FileStamp {
    std::string path;
    int64_t mtime_ns = 0;
    int64_t size = 0;
    bool operator==(const FileStamp&) const = default;
  };
  std::vector<FileStamp> stamp_files() const;

  TlsSettings settings_;
  std::mutex mutex_;
  std::shared_ptr<SSL_CTX> context_;
  std::vector<FileStamp> stamps_;
  std::chrono::steady_clock::time_point last_check_;
};

// Builds a server SSL_CTX from `settings`.
Result<std::shared_ptr<SSL_CTX>> make_server_context(const TlsSettings& settings);

// The subject of the peer's verified certificate in RFC 2253 form, most
// specific name first ("CN=alice,OU=eng,O=Sluice"), as Java's
// X500Principal.getName() prints it for Kafka's principal builder; empty
// when the peer sent no certificate.
std::string peer_subject(SSL* ssl);

// The last OpenSSL error(s) as text, clearing the queue.
std::string openssl_errors();

}  // namespace sluice::net
