#pragma once
// The table of Kafka APIs this build has codecs for, the request/response
// header rules, and compile-time dispatch from an API key to its types.
//
// find_api() answers for every API key in the schema (all of Kafka's, from
// Produce = 0 up); which of them the broker serves, and so advertises in
// ApiVersions, is the broker's decision, not this table's.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "base/bytes.h"
#include "base/result.h"

namespace sluice::protocol {

// Which of Kafka's listener kinds an API is served on (ApiInfo::listeners).
enum ApiListener : uint8_t {
  zk_broker_listener = 1,
  broker_listener = 2,
  controller_listener = 4,
};

struct ApiInfo {
  int16_t api_key;
  const char* name;  // "Produce", "Fetch", ... (the request name without "Request")
  int16_t min_version;
  int16_t max_version;
  int16_t first_flexible_version;  // -1 when no version is flexible
  bool latest_version_unstable;    // Kafka marks max_version as still in development
  uint8_t listeners;               // ApiListener bits

  bool is_flexible(int16_t version) const {
    return first_flexible_version >= 0 && version >= first_flexible_version;
  }
  bool supports(int16_t version) const {
    return version >= min_version && version <= max_version;
  }
};

// Every API, ordered by key. nullptr from find_api for a key no schema defines.
std::span<const ApiInfo> all_apis();
const ApiInfo* find_api(int16_t api_key);

// Kafka's header rules: a request in a flexible version carries request header
// v2 (v1 otherwise; ControlledShutdown v0 uses v0); a response in a flexible
// version carries response header v1 (v0 otherwise), except ApiVersions whose
// response header is always v0 so that any client can read it. Versions above
// max_version follow the flexible rule, so a newer client's header still
// parses (the broker then answers UNSUPPORTED_VERSION). -1 for an unknown key.
int16_t request_header_version(int16_t api_key, int16_t api_version);
int16_t response_header_version(int16_t api_key, int16_t api_version);

namespace detail {
extern const ApiInfo api_infos[];
extern const size_t api_info_count;
}  // namespace detail

}  // namespace sluice::protocol
