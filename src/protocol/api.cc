#include "protocol/api.h"

#include <array>

namespace sluice::protocol {
namespace {

constexpr int16_t api_versions_key = 18;
constexpr int16_t controlled_shutdown_key = 7;
constexpr size_t index_size = 1024;  // API keys are small; Kafka's highest is below 100

// Index from API key to table entry, built once.
const std::array<const ApiInfo*, index_size>& api_index() {
  static const std::array<const ApiInfo*, index_size> index = [] {
    std::array<const ApiInfo*, index_size> out{};
    for (size_t i = 0; i < detail::api_info_count; ++i) {
      const ApiInfo& info = detail::api_infos[i];
      SLUICE_ASSERT(info.api_key >= 0 && static_cast<size_t>(info.api_key) < index_size,
                    "API key outside the index");
      out[static_cast<size_t>(info.api_key)] = &info;
    }
    return out;
  }();
  return index;
}

}  // namespace

std::span<const ApiInfo> all_apis() { return {detail::api_infos, detail::api_info_count}; }

const ApiInfo* find_api(int16_t api_key) {
  if (api_key < 0 || static_cast<size_t>(api_key) >= index_size) return nullptr;
  return api_index()[static_cast<size_t>(api_key)];
}

int16_t request_header_version(int16_t api_key, int16_t api_version) {
  const ApiInfo* info = find_api(api_key);
  if (info == nullptr) return -1;
  if (api_key == controlled_shutdown_key && api_version == 0) return 0;
  return info->is_flexible(api_version) ? 2 : 1;
}

int16_t response_header_version(int16_t api_key, int16_t api_version) {
  const ApiInfo* info = find_api(api_key);
  if (info == nullptr) return -1;
  if (api_key == api_versions_key) return 0;
  return info->is_flexible(api_version) ? 1 : 0;
}

}  // namespace sluice::protocol
