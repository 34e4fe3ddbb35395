#include "connect/runtime/retry_operator.h"

#include <algorithm>

namespace sluice::connect {

std::chrono::milliseconds retry_delay(int attempt, int64_t max_delay_ms,
                                      std::chrono::milliseconds until_deadline, double jitter) {
  // 300 << 40 already exceeds any LONG delay anyone sets; no overflow past it.
  const int shift = std::clamp(attempt - 1, 0, 40);
  int64_t delay = kRetryDelayMinMs << shift;
  if (delay > max_delay_ms)
    delay = static_cast<int64_t>(jitter * static_cast<double>(max_delay_ms));
  delay = std::min(delay, static_cast<int64_t>(until_deadline.count()));
  return std::chrono::milliseconds(std::max<int64_t>(delay, 0));
}

}  // namespace sluice::connect
