#pragma once
// Who may use the admin HTTP port (README.md, "Authentication"):
// `admin.authentication` picks the mode, and in the `basic` mode a request
// names a SCRAM user of the metadata image and its password in HTTP Basic
// (RFC 7617). The password is checked the way a SCRAM exchange would: the
// salted password is derived with the stored salt and iterations, and its
// StoredKey compared with the stored one in constant time; either mechanism
// (SCRAM-SHA-256 or -512) may hold the password.
//
// Threads: the free functions are pure; BasicAuthenticator is thread-safe
// (one mutex around its cache, never held while PBKDF2 runs).

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "cluster/metadata_image.h"

namespace sluice::admin {

enum class AdminAuthentication {
  none,   // every request is served, as User:ANONYMOUS
  basic,  // HTTP Basic against the SCRAM users; 401 without valid credentials
  // HTTPS with a client certificate required (admin.ssl.*); the principal is
  // its subject through ssl.principal.mapping.rules, as on an SSL listener.
  mtls,
};

// Only literal loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x.y.z) count:
// a host name or 0.0.0.0 / :: may be reachable from elsewhere.
bool is_loopback_host(std::string_view host);

// `admin.authentication`: "auto" (none on a loopback bind, basic otherwise),
// "none", "basic" or "mtls". Errors name the setting.
Result<AdminAuthentication> resolve_admin_authentication(std::string_view setting,
                                                         std::string_view bind_host);

struct BasicCredentials {
  std::string user;
  std::string password;
};

// The value of an `Authorization` header: "Basic <base64(user:password)>"
// (scheme case-insensitive, RFC 7617). nullopt for another scheme, bad
// base64, no ':' or an empty user. The user may not contain ':', the
// password may.
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

// Whether `password` is the password of one of `mechanisms` (by
// UserScramCredentialRecord mechanism id; unknown ids are skipped). Costs
// one PBKDF2 per mechanism tried.
bool scram_password_matches(const std::map<int8_t, cluster::ScramCredentialImage>& mechanisms,
                            std::string_view password);

// Checks Basic credentials against the image's SCRAM users and remembers a
// success for `cache_ttl`: PBKDF2 with 4096 iterations costs about a
// millisecond (SHA-256; more for SHA-512 or more iterations), which a
// scraper would pay on every request. An entry holds a keyed digest of the
// password (never the password) and the StoredKey it matched: a changed or
// deleted credential misses at once. Failures are never cached, so a wrong
// password always costs a PBKDF2, and an unknown user costs one too (the
// answer's timing does not tell which users exist).
class BasicAuthenticator {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto default_cache_ttl = std::chrono::minutes(5);
  static constexpr size_t cache_entries_max = 1024;

  explicit BasicAuthenticator(Clock::duration cache_ttl = default_cache_ttl);

  bool authenticate(const cluster::ScramCredentials& users, const BasicCredentials& credentials,
                    Clock::time_point now = Clock::now());

  // For tests: how many checks the cache answered.
  uint64_t cache_hits() const;

 private:
  struct Entry {
    int8_t mechanism = 0;
    std::vector<uint8_t> stored_key;
    std::vector<uint8_t> password_digest;
    Clock::time_point verified_at;
  };

  std::vector<uint8_t> digest(std::string_view password) const;
  bool cached(const cluster::ScramCredentials& users, const BasicCredentials& credentials,
              const std::vector<uint8_t>& password_digest, Clock::time_point now);
  void remember(const std::string& user, Entry entry);

  const Clock::duration cache_ttl_;
  std::array<uint8_t, 32> digest_key_{};  // random per process: digests mean nothing elsewhere
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> cache_;  // by user: the last password verified
  uint64_t cache_hits_ = 0;
};

}  // namespace sluice::admin
