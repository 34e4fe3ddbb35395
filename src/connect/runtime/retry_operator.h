#pragma once
// Kafka's RetryWithToleranceOperator (KIP-298), the retry half: an
// operation of a record's stage (conversion, transformation) that fails with
// a retriable_error (errors.h) is tried again, 300 ms after the first
// failure and twice as long after each next one; past
// errors.retry.delay.max.ms a delay is drawn uniformly below it (jitter
// against herds), and no wait ends after the deadline. errors.retry.timeout
// bounds the whole: 0 (the default) tries once, -1 retries until the task
// stops. What still fails goes to errors.tolerance (task_thread.h). Failed
// attempts and retries are counted in the task's metrics.

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <type_traits>
#include <utility>

#include "base/result.h"
#include "connect/errors.h"
#include "connect/runtime/task_metrics.h"

namespace sluice::connect {

constexpr int64_t kRetryDelayMinMs = 300;  // Kafka's RETRIES_DELAY_MIN_MS

struct RetrySettings {
  int64_t timeout_ms = 0;         // errors.retry.timeout: 0 no retry, -1 forever
  int64_t max_delay_ms = 60'000;  // errors.retry.delay.max.ms
};

// The wait before attempt `attempt + 1` after `attempt` failed (1-based):
// kRetryDelayMinMs << (attempt - 1), or `jitter` (uniform in [0, 1)) times
// max_delay_ms once that is larger, then cut to `until_deadline`.
std::chrono::milliseconds retry_delay(int attempt, int64_t max_delay_ms,
                                      std::chrono::milliseconds until_deadline, double jitter);

inline const Status& status_of(const Status& status) { return status; }
template <class T>
const Status& status_of(const Result<T>& result) {
  return result.status();
}

class RetryOperator {
 public:
  // Sleeps up to the given time; false when the task is stopping (the wait
  // is cut short and the operation is not tried again).
  using Wait = std::function<bool(std::chrono::milliseconds)>;

  RetryOperator(RetrySettings settings, TaskMetrics& metrics, Wait wait)
      : settings_(settings), metrics_(metrics), wait_(std::move(wait)) {}

  // Runs `operation` (answering a Status or a Result) until it succeeds,
  // fails with an error that is not retriable, or retriable failures outlast
  // errors.retry.timeout; answers its last outcome.
  template <class Operation>
  auto execute(Operation&& operation) -> std::invoke_result_t<Operation&> {
    auto outcome = operation();
    if (outcome.is_ok() || !is_retriable(status_of(outcome))) return outcome;
    return retry(operation, std::move(outcome));
  }

  const RetrySettings& settings() const { return settings_; }

 private:
  template <class Operation, class Outcome>
  Outcome retry(Operation& operation, Outcome outcome) {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    const bool forever = settings_.timeout_ms < 0;
    const auto deadline = start + std::chrono::milliseconds(forever ? 0 : settings_.timeout_ms);
    for (int attempt = 1;; ++attempt) {
      metrics_.total_record_failures.add();
      const auto now = Clock::now();
      if (!forever && now >= deadline) return outcome;
      // Rounded up: a wait that ends short of the deadline would be
      // followed by a burst of attempts with no wait.
      const auto left = forever ? std::chrono::milliseconds::max()
                                : std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
      if (!wait_(retry_delay(attempt, settings_.max_delay_ms, left, jitter_(random_)))) {
        return outcome;
      }
      metrics_.total_retries.add();
      outcome = operation();
      if (outcome.is_ok() || !is_retriable(status_of(outcome))) return outcome;
    }
  }

  RetrySettings settings_;
  TaskMetrics& metrics_;
  Wait wait_;
  std::mt19937_64 random_{std::random_device{}()};
  std::uniform_real_distribution<double> jitter_{0.0, 1.0};
};

}  // namespace sluice::connect
