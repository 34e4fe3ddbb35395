#pragma once
// What a bench run measured, and how it is printed: a human summary, the
// one-line JSON object (`--json`, always the last line of stdout), and the
// live progress line (stderr, only when it is a terminal).

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/bench/histogram.h"

namespace sluice::cli::bench {

struct BenchResult {
  uint64_t records = 0;   // delivered (produce) or consumed (consume, e2e)
  uint64_t bytes = 0;     // value bytes of those records
  uint64_t errors = 0;    // failed deliveries
  double seconds = 0;
  bool has_latency = false;   // consume-only runs have no per-record latency
  LatencyHistogram latency_ns;
  std::string first_error;

  // A run that failed before it measured anything.
  static BenchResult failure(const std::string& error) {
    BenchResult failed;
    failed.errors = 1;
    failed.first_error = error;
    return failed;
  }

  double records_per_sec() const { return seconds > 0 ? records / seconds : 0; }
  double mb_per_sec() const { return seconds > 0 ? bytes / seconds / 1e6 : 0; }
};

struct Report {
  std::string mode;
  std::string target;  // the bootstrap server, or "mock"
  BenchResult result;
  std::optional<BenchResult> mock;  // the same workload on the mock cluster
  int rounds = 1;                   // --rounds: result and mock are the median rounds
  // The median of each round's broker/mock ratio (a round's two runs are
  // adjacent in time). Unset: result over mock.
  std::optional<double> ratio_to_mock;
};

// How rounds are ranked: by records/s, or by p99 latency for rate-limited
// runs (their records/s is the target rate whatever happened).
enum class RoundRank { kThroughput, kLatency };

// The median round by `rank` (the lower middle of an even count); `rounds`
// is not empty.
const BenchResult& median_round(const std::vector<BenchResult>& rounds,
                                RoundRank rank = RoundRank::kThroughput);
// The median of `values` (the mean of the two middle ones of an even count);
// 0 when empty.
double median_of(std::vector<double> values);

// "records/s, MB/s (10^6 bytes), latency percentiles" as lines of text.
std::string format_summary(const std::string& label, const BenchResult& result);
// One JSON object, no newline. Latency fields are null without latency.
std::string format_json(const Report& report);

// Prints "<label>: N records, R rec/s" on stderr every half second while
// alive, when stderr is a terminal and `enabled`; erases its line at the end.
class ProgressLine {
 public:
  ProgressLine(std::string label, const std::atomic<uint64_t>& records, bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

 private:
  void run();
  std::string label_;
  const std::atomic<uint64_t>& records_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sluice::cli::bench
