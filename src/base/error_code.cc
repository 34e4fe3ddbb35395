#include "base/error_code.h"

#include <cstddef>

namespace sluice {
namespace {

constexpr int16_t lowest_code = -1;

constexpr ErrorInfo error_infos[] = {
#define SLUICE_ERROR_INFO(name, code, retriable) {code, #name, retriable},
    SLUICE_KAFKA_ERROR_CODES(SLUICE_ERROR_INFO)
#undef SLUICE_ERROR_INFO
};
constexpr size_t error_count = sizeof(error_infos) / sizeof(error_infos[0]);

// The codes are contiguous from -1: index = code + 1. Checked at compile time
// so that a gap added to the list cannot silently misplace entries.
constexpr bool codes_are_contiguous() {
  for (size_t i = 0; i < error_count; ++i)
    if (error_infos[i].code != static_cast<int16_t>(lowest_code + static_cast<int>(i))) return false;
  return true;
}
static_assert(codes_are_contiguous(), "error codes must be listed in order without gaps");

}  // namespace

const ErrorInfo* error_info(int16_t code) {
  int index = code - lowest_code;
  if (index < 0 || static_cast<size_t>(index) >= error_count) return nullptr;
  return &error_infos[index];
}

const ErrorInfo* error_info(ErrorCode code) { return error_info(static_cast<int16_t>(code)); }

const char* error_name(ErrorCode code) {
  const ErrorInfo* info = error_info(code);
  return info ? info->name : "UNKNOWN_ERROR_CODE";
}

bool is_retriable(ErrorCode code) {
  const ErrorInfo* info = error_info(code);
  return info != nullptr && info->retriable;
}

}  // namespace sluice
