#include "net/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <map>

namespace sluice::net {
namespace {

// A listener's TLS contexts share one session id context, so TLS session
// resumption works with client certificates.
constexpr unsigned char kSessionIdContext[] = "sluice";

Status tls_error(const TlsSettings& settings, const std::string& what) {
  return Status(Errc::invalid_value, "listener " + settings.listener_name + ": " + what);
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return text;
}

Result<int> protocol_version(const TlsSettings& settings, const std::string& name) {
  static const std::map<std::string, int> versions{{"tlsv1", TLS1_VERSION},
                                                   {"tlsv1.1", TLS1_1_VERSION},
                                                   {"tlsv1.2", TLS1_2_VERSION},
                                                   {"tlsv1.3", TLS1_3_VERSION}};
  auto found = versions.find(lower(name));
  if (found == versions.end())
    return tls_error(settings, "ssl.enabled.protocols: unknown protocol '" + name +
                                   "' (Sluice knows TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)");
  return found->second;
}

Status set_protocols(SSL_CTX* context, const TlsSettings& settings) {
  if (settings.enabled_protocols.empty())
    return tls_error(settings, "ssl.enabled.protocols is empty");
  int lowest = TLS1_3_VERSION;
  int highest = TLS1_VERSION;
  for (const std::string& name : settings.enabled_protocols) {
    auto version = protocol_version(settings, name);
    if (!version) return version.status();
    lowest = std::min(lowest, *version);
    highest = std::max(highest, *version);
  }
  SSL_CTX_set_min_proto_version(context, lowest);
  SSL_CTX_set_max_proto_version(context, highest);
  return Status::ok();
}

// ssl.cipher.suites names suites as Kafka (Java) does, by their IANA names
// (TLS_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); OpenSSL's
// own names are accepted too. TLS 1.3 suites and older ones are configured
// apart in OpenSSL.
Status set_cipher_suites(SSL_CTX* context, const TlsSettings& settings) {
  if (settings.cipher_suites.empty()) return Status::ok();
  std::string tls13;
  std::string older;
  for (const std::string& name : settings.cipher_suites) {
    const bool is_tls13 = name == "TLS_AES_128_GCM_SHA256" || name == "TLS_AES_256_GCM_SHA384" ||
                          name == "TLS_CHACHA20_POLY1305_SHA256" ||
                          name == "TLS_AES_128_CCM_SHA256" || name == "TLS_AES_128_CCM_8_SHA256";
    std::string& list = is_tls13 ? tls13 : older;
    const char* openssl_name = is_tls13 ? name.c_str() : OPENSSL_cipher_name(name.c_str());
    if (openssl_name == nullptr || std::string(openssl_name) == "(NONE)")
      openssl_name = name.c_str();
    if (!list.empty()) list += ':';
    list += openssl_name;
  }
  // Naming only TLS 1.2 suites turns TLS 1.3 off, as in Java; naming only
  // TLS 1.3 ones leaves OpenSSL's TLS 1.2 defaults (it has no empty list).
  if (SSL_CTX_set_ciphersuites(context, tls13.c_str()) != 1)
    return tls_error(settings, "ssl.cipher.suites: unknown TLS 1.3 suite in " + tls13);
  if (!older.empty() && SSL_CTX_set_cipher_list(context, older.c_str()) != 1)
    return tls_error(settings,
                     "ssl.cipher.suites: none of " + older + " is known: " + openssl_errors());
  return Status::ok();
}

int password_callback(char* buffer, int size, int /*rwflag*/, void* user_data) {
  const auto* password = static_cast<const std::string*>(user_data);
  if (password == nullptr || password->empty()) return 0;
  int length = std::min(size, static_cast<int>(password->size()));
  std::copy_n(password->data(), length, buffer);
  return length;
}

std::unique_ptr<BIO, decltype(&BIO_free)> memory_bio(const std::string& text) {
  return {BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free};
}

Status load_inline_keystore(SSL_CTX* context, const TlsSettings& settings) {
  auto chain = memory_bio(settings.keystore_certificate_chain);
  X509* leaf = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr || SSL_CTX_use_certificate(context, leaf) != 1) {
    X509_free(leaf);
    return tls_error(settings,
                     "ssl.keystore.certificate.chain: no PEM certificate: " + openssl_errors());
  }
  X509_free(leaf);
  while (X509* extra = PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr))
    SSL_CTX_add0_chain_cert(context, extra);  // the context owns it now
  ERR_clear_error();                          // the end of the chain reads as an error
  auto key_bio = memory_bio(settings.keystore_key);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio.get(), nullptr, password_callback,
                                          const_cast<std::string*>(&settings.key_password));
  if (key == nullptr || SSL_CTX_use_PrivateKey(context, key) != 1) {
    EVP_PKEY_free(key);
    return tls_error(
        settings,
        "ssl.keystore.key: no PEM private key (or a wrong ssl.key.password): " + openssl_errors());
  }
  EVP_PKEY_free(key);
  return Status::ok();
}

Status load_keystore(SSL_CTX* context, const TlsSettings& settings) {
  SSL_CTX_set_default_passwd_cb(context, password_callback);
  SSL_CTX_set_default_passwd_cb_userdata(context, const_cast<std::string*>(&settings.key_password));
  Status status = Status::ok();
  if (!settings.keystore_location.empty()) {
    const char* path = settings.keystore_location.c_str();
    if (SSL_CTX_use_certificate_chain_file(context, path) != 1)
      status = tls_error(settings, "ssl.keystore.location " + settings.keystore_location +
                                       ": no PEM certificate chain: " + openssl_errors());
    else if (SSL_CTX_use_PrivateKey_file(context, path, SSL_FILETYPE_PEM) != 1)
      status = tls_error(
          settings, "ssl.keystore.location " + settings.keystore_location +
                        ": no PEM private key (or a wrong ssl.key.password): " + openssl_errors());
  } else if (!settings.keystore_key.empty() || !settings.keystore_certificate_chain.empty()) {
    status = load_inline_keystore(context, settings);
  } else {
    status =
        tls_error(settings,
                  "a TLS listener needs ssl.keystore.location (PEM: key and certificate chain) or "
                  "ssl.keystore.key with ssl.keystore.certificate.chain");
  }
  // The callback must not keep a pointer into settings a reload replaces.
  SSL_CTX_set_default_passwd_cb_userdata(context, nullptr);
  if (!status) return status;
  if (SSL_CTX_check_private_key(context) != 1)
    return tls_error(settings,
                     "the private key does not match the certificate: " + openssl_errors());
  return Status::ok();
}

Status load_truststore(SSL_CTX* context, const TlsSettings& settings) {
  if (!settings.truststore_location.empty()) {
    if (SSL_CTX_load_verify_locations(context, settings.truststore_location.c_str(), nullptr) != 1)
      return tls_error(settings, "ssl.truststore.location " + settings.truststore_location +
                                     ": no PEM certificates: " + openssl_errors());
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.truststore_location.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(context, names);
    return Status::ok();
  }
  if (settings.truststore_certificates.empty()) {
    if (settings.client_auth != TlsClientAuth::none)
      return tls_error(settings,
                       "ssl.client.auth is set but no truststore names the CAs to trust "
                       "(ssl.truststore.location or ssl.truststore.certificates)");
    return Status::ok();
  }
  X509_STORE* store = SSL_CTX_get_cert_store(context);
  auto bio = memory_bio(settings.truststore_certificates);
  int loaded = 0;
  while (X509* certificate = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, certificate);
    SSL_CTX_add_client_CA(context, certificate);
    X509_free(certificate);
    ++loaded;
  }
  ERR_clear_error();
  if (loaded == 0) return tls_error(settings, "ssl.truststore.certificates: no PEM certificate");
  return Status::ok();
}

int verify_mode(TlsClientAuth client_auth) {
  switch (client_auth) {
    case TlsClientAuth::none:
      return SSL_VERIFY_NONE;
    case TlsClientAuth::requested:
      return SSL_VERIFY_PEER;
    case TlsClientAuth::required:
      return SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  }
  return SSL_VERIFY_NONE;
}

int64_t mtime_ns(const struct stat& info) {
  return static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec;
}

}  // namespace

std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "no OpenSSL error given" : out;
}

Result<TlsClientAuth> parse_tls_client_auth(const std::string& text) {
  const std::string value = lower(text);
  if (value == "none") return TlsClientAuth::none;
  if (value == "requested") return TlsClientAuth::requested;
  if (value == "required") return TlsClientAuth::required;
  return Status(Errc::invalid_value,
                "ssl.client.auth: '" + text + "' is not one of none, requested, required");
}

Result<std::shared_ptr<SSL_CTX>> make_server_context(const TlsSettings& settings) {
  std::shared_ptr<SSL_CTX> context(SSL_CTX_new(TLS_server_method()), &SSL_CTX_free);
  if (!context) return tls_error(settings, "cannot create a TLS context: " + openssl_errors());
  SSL_CTX* raw = context.get();
  // Kernel TLS where OpenSSL and the kernel offer it: Fetch's file ranges
  // then go out with SSL_sendfile, without a copy through user space.
  SSL_CTX_set_options(raw, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(raw, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_session_id_context(raw, kSessionIdContext, sizeof kSessionIdContext - 1);
  for (Status status : {set_protocols(raw, settings), set_cipher_suites(raw, settings),
                        load_keystore(raw, settings), load_truststore(raw, settings)})
    if (!status) return status;
  SSL_CTX_set_verify(raw, verify_mode(settings.client_auth), nullptr);
  return context;
}

Result<std::shared_ptr<TlsContext>> TlsContext::create(TlsSettings settings) {
  auto context = std::make_shared<TlsContext>(std::move(settings));
  auto built = make_server_context(context->settings_);
  if (!built) return built.status();
  context->context_ = std::move(built.value());
  context->stamps_ = context->stamp_files();
  context->last_check_ = std::chrono::steady_clock::now();
  return context;
}

std::vector<TlsContext::FileStamp> TlsContext::stamp_files() const {
  std::vector<FileStamp> stamps;
  for (const std::string* path : {&settings_.keystore_location, &settings_.truststore_location}) {
    if (path->empty()) continue;
    FileStamp stamp{*path};
    struct stat info {};
    if (::stat(path->c_str(), &info) == 0) {
      stamp.mtime_ns = mtime_ns(info);
      stamp.size = static_cast<int64_t>(info.st_size);
    }
    stamps.push_back(std::move(stamp));
  }
  return stamps;
}

std::shared_ptr<SSL_CTX> TlsContext::current() {
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ < reload_check_interval) return context_;
  last_check_ = now;
  std::vector<FileStamp> stamps = stamp_files();
  if (stamps == stamps_) return context_;
  stamps_ = std::move(stamps);
  auto reloaded = make_server_context(settings_);
  if (!reloaded) {
    spdlog::warn("{}; new connections keep the previous certificates", reloaded.status().message());
    return context_;
  }
  spdlog::info("listener {}: TLS keystore or truststore changed; new connections use it",
               settings_.listener_name);
  context_ = std::move(reloaded.value());
  return context_;
}

std::string peer_subject(SSL* ssl) {
  X509* certificate = SSL_get0_peer_certificate(ssl);
  if (certificate == nullptr) return {};
  std::unique_ptr<BIO, decltype(&BIO_free)> out(BIO_new(BIO_s_mem()), &BIO_free);
  // RFC 2253 order and escaping, as Java's X500Principal.getName(), without
  // the multi-byte escapes Java does not apply.
  constexpr unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
  if (X509_NAME_print_ex(out.get(), X509_get_subject_name(certificate), 0, flags) < 0) return {};
  char* data = nullptr;
  long size = BIO_get_mem_data(out.get(), &data);
  return size > 0 ? std::string(data, static_cast<size_t>(size)) : std::string();
}

}  // namespace sluice::net
