#include "admin/admin_auth.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

#include "base/assert.h"
#include "security/base64.h"
#include "security/scram.h"

namespace sluice::admin {
namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Bytes as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

bool same_secret(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The StoredKey `password` would have under `credential`.
std::vector<uint8_t> stored_key_of(security::ScramMechanism mechanism, std::string_view password,
                                   const cluster::ScramCredentialImage& credential) {
  const std::vector<uint8_t> salted =
      security::scram_salted_password(mechanism, password, credential.salt, credential.iterations);
  const std::vector<uint8_t> client_key =
      security::scram_hmac(mechanism, salted, as_bytes("Client Key"));
  return security::scram_hash(mechanism, client_key);
}

// The mechanism whose credential `password` matches, if any.
std::optional<int8_t> matching_mechanism(
    const std::map<int8_t, cluster::ScramCredentialImage>& mechanisms, std::string_view password) {
  for (const auto& [id, credential] : mechanisms) {
    const auto mechanism = security::scram_mechanism_from_id(id);
    if (!mechanism || credential.iterations <= 0) continue;
    if (same_secret(stored_key_of(*mechanism, password, credential), credential.stored_key))
      return id;
  }
  return std::nullopt;
}

// What checking a password of an unknown user costs, spent for nothing, so
// that a 401's timing does not say whether the user exists.
void spend_one_check(std::string_view password) {
  static const cluster::ScramCredentialImage decoy{
      std::vector<uint8_t>(32, 0), {}, {}, security::scram_iterations_min};
  (void)stored_key_of(security::ScramMechanism::sha256, password, decoy);
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  const std::string text(host);
  in_addr v4{};
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, text.c_str(), &v6) != 1) return false;  // a name: not known to be local
  if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
  return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
}

Result<AdminAuthentication> resolve_admin_authentication(std::string_view setting,
                                                         std::string_view bind_host) {
  if (setting == "none") return AdminAuthentication::none;
  if (setting == "basic") return AdminAuthentication::basic;
  if (setting == "mtls") return AdminAuthentication::mtls;
  if (setting == "auto" || setting.empty())
    return is_loopback_host(bind_host) ? AdminAuthentication::none : AdminAuthentication::basic;
  return Status(Errc::invalid_value,
                "admin.authentication: expected auto, none, basic or mtls, got '" +
                    std::string(setting) + "'");
}

std::optional<BasicCredentials> parse_basic_authorization(std::string_view header) {
  constexpr std::string_view scheme = "basic";
  if (header.size() <= scheme.size() ||
      !equals_ignoring_case(header.substr(0, scheme.size()), scheme) ||
      header[scheme.size()] != ' ')
    return std::nullopt;
  std::string_view token = header.substr(scheme.size() + 1);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  const auto decoded = security::base64_decode(token);
  if (!decoded) return std::nullopt;
  const std::string pair(decoded->begin(), decoded->end());
  const size_t colon = pair.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  return BasicCredentials{pair.substr(0, colon), pair.substr(colon + 1)};
}

bool scram_password_matches(const std::map<int8_t, cluster::ScramCredentialImage>& mechanisms,
                            std::string_view password) {
  return matching_mechanism(mechanisms, password).has_value();
}

BasicAuthenticator::BasicAuthenticator(Clock::duration cache_ttl) : cache_ttl_(cache_ttl) {
  SLUICE_ASSERT(RAND_bytes(digest_key_.data(), static_cast<int>(digest_key_.size())) == 1,
                "the CSPRNG gave no key for the admin password cache");
}

std::vector<uint8_t> BasicAuthenticator::digest(std::string_view password) const {
  return security::scram_hmac(security::ScramMechanism::sha256, digest_key_, as_bytes(password));
}

bool BasicAuthenticator::cached(const cluster::ScramCredentials& users,
                                const BasicCredentials& credentials,
                                const std::vector<uint8_t>& password_digest,
                                Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto entry = cache_.find(credentials.user);
  if (entry == cache_.end()) return false;
  auto user = users.find(credentials.user);
  const cluster::ScramCredentialImage* current = nullptr;
  if (user != users.end()) {
    auto mechanism = user->second.find(entry->second.mechanism);
    if (mechanism != user->second.end()) current = &mechanism->second;
  }
  const bool valid = current != nullptr && now - entry->second.verified_at < cache_ttl_ &&
                     same_secret(current->stored_key, entry->second.stored_key) &&
                     same_secret(password_digest, entry->second.password_digest);
  if (valid) ++cache_hits_;
  return valid;
}

void BasicAuthenticator::remember(const std::string& user, Entry entry) {
  std::lock_guard lock(mutex_);
  // Bounded: a flood of distinct users that all verify is not expected; if
  // it comes, starting over costs one PBKDF2 per user again.
  if (cache_.size() >= cache_entries_max && !cache_.count(user)) cache_.clear();
  cache_[user] = std::move(entry);
}

bool BasicAuthenticator::authenticate(const cluster::ScramCredentials& users,
                                      const BasicCredentials& credentials, Clock::time_point now) {
  const std::vector<uint8_t> password_digest = digest(credentials.password);
  if (cached(users, credentials, password_digest, now)) return true;
  auto user = users.find(credentials.user);
  if (user == users.end()) {
    spend_one_check(credentials.password);
    return false;
  }
  const std::optional<int8_t> mechanism = matching_mechanism(user->second, credentials.password);
  if (!mechanism) return false;
  remember(credentials.user,
           {*mechanism, user->second.at(*mechanism).stored_key, password_digest, now});
  return true;
}

uint64_t BasicAuthenticator::cache_hits() const {
  std::lock_guard lock(mutex_);
  return cache_hits_;
}

}  // namespace sluice::admin
