#include "cli/bench/bench_command.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "cli/bench/kafka_client.h"
#include "cli/bench/runners.h"

namespace sluice::cli::bench {
namespace {

constexpr uint64_t kMockConsumeFillDefault = 1'000'000;

BenchResult run_mode(const BenchOptions& options, const Target& target, uint64_t count) {
  switch (options.mode) {
    case BenchMode::kProduce: return run_produce(options, target, count);
    case BenchMode::kConsume: return run_consume(options, target, count);
    case BenchMode::kEndToEnd: return run_e2e(options, target, count);
  }
  return {};
}

BenchResult run_on_broker(const BenchOptions& options, uint64_t count) {
  std::string error;
  if (ensure_topic(options, options.bootstrap_servers, &error) < 0)
    return BenchResult::failure(error);
  return run_mode(options, Target{options.bootstrap_servers, "broker"}, count);
}

// The mock keeps about 5 MB per partition and drops older batches, so a
// consume run that fills it must spread the data over enough partitions to
// keep it all.
int mock_partitions(const BenchOptions& options, uint64_t fill_count) {
  if (options.mode != BenchMode::kConsume) return options.partitions;
  constexpr double kRecordOverheadBytes = 80;  // record and batch framing, generously
  constexpr double kKeptPerPartitionBytes = 3e6;  // margin for uneven spread
  double bytes = static_cast<double>(fill_count) * (options.size_bytes + kRecordOverheadBytes);
  auto needed = static_cast<int>(bytes / kKeptPerPartitionBytes) + 1;
  return std::max(options.partitions, needed);
}

// The mock cluster starts empty, so a consume run first fills it with
// `fill_count` records (not measured).
BenchResult run_on_mock(const BenchOptions& broker_options, uint64_t count, uint64_t fill_count) {
  BenchOptions options = broker_options;
  options.partitions = mock_partitions(options, fill_count);
  if (options.partitions != broker_options.partitions) {
    std::printf("%s mock: %d partitions (the mock keeps ~5 MB per partition)\n",
                mode_name(options.mode), options.partitions);
  }
  // The mock answers an empty Fetch only after fetch.wait.max.ms, without
  // waking when data arrives (a broker wakes): a short wait keeps the mock's
  // e2e latency about the client, not that timer.
  if (options.mode == BenchMode::kEndToEnd) options.client_settings.try_emplace("fetch.wait.max.ms", "5");
  // With linger.ms=0 the mock turns 20,000 msg/s into as many one-record
  // batches, falls behind, and its ~5 MB per partition drops them before its
  // consumer reads them (offset out of range): it runs e2e with 1 ms.
  if (options.mode == BenchMode::kEndToEnd && options.linger_ms == 0) options.linger_ms = 1;
  std::string error;
  std::unique_ptr<MockCluster> mock = MockCluster::start(&error);
  if (!mock || !mock->create_topic(options.topic, options.partitions, &error)) {
    return BenchResult::failure(error);
  }
  Target target{mock->bootstraps(), "mock"};
  if (options.mode == BenchMode::kConsume) {
    BenchOptions fill = options;
    fill.mode = BenchMode::kProduce;
    fill.rate_per_sec = 0;
    fill.duration_sec = 0;
    // Per-message random partitions spread the fill evenly, so no partition
    // outgrows what the mock keeps.
    fill.client_settings["sticky.partitioning.linger.ms"] = "0";
    BenchResult filled = run_produce(fill, target, fill_count);
    if (filled.errors > 0) return BenchResult::failure("mock fill: " + filled.first_error);
    if (count == UINT64_MAX) count = filled.records;
  }
  return run_mode(options, target, count);
}

bool failed(const BenchResult& result) { return result.errors > 0 || result.records == 0; }

double ratio(const BenchResult& broker, const BenchResult& mock) {
  return mock.records_per_sec() > 0 ? broker.records_per_sec() / mock.records_per_sec() : 0;
}

// One round: the broker run, then the mock run, adjacent in time.
struct Round {
  std::optional<BenchResult> broker;
  std::optional<BenchResult> mock;
  std::optional<double> ratio;  // broker / mock records/s, when both ran
};

Round run_round(const BenchOptions& options, uint64_t count, bool on_broker, bool on_mock,
                const std::string& label) {
  Round round;
  if (on_broker) {
    round.broker = run_on_broker(options, count);
    std::printf("%s", format_summary(label + " broker", *round.broker).c_str());
    std::fflush(stdout);
  }
  if (on_mock) {
    uint64_t fill_count = count != UINT64_MAX ? count
                          : on_broker         ? round.broker->records
                                              : kMockConsumeFillDefault;
    round.mock = run_on_mock(options, count, fill_count);
    std::printf("%s", format_summary(label + " mock", *round.mock).c_str());
  }
  if (round.broker && round.mock) {
    round.ratio = ratio(*round.broker, *round.mock);
    std::printf("%s: broker/mock records/s ratio %.3f\n", label.c_str(), *round.ratio);
  }
  return round;
}

// The median round, carrying every round's errors so a failure anywhere fails the run.
BenchResult median_with_errors(const std::vector<BenchResult>& rounds, RoundRank rank) {
  BenchResult median = median_round(rounds, rank);
  median.errors = 0;
  median.first_error.clear();
  for (const BenchResult& round : rounds) {
    if (median.first_error.empty()) median.first_error = round.first_error;
    // A round that measured nothing without an error of its own still failed.
    median.errors += round.errors > 0 ? round.errors : round.records == 0 ? 1 : 0;
  }
  return median;
}

}  // namespace

int run_bench(const BenchOptions& options) {
  uint64_t count = effective_count(options);
  bool on_broker = !options.against_mock || options.compare_mock;
  bool on_mock = options.against_mock || options.compare_mock;
  Report report;
  report.mode = mode_name(options.mode);
  report.target = on_broker ? options.bootstrap_servers : "mock";
  report.rounds = options.rounds;
  std::vector<BenchResult> broker_rounds, mock_rounds;
  std::vector<double> ratios;
  for (int r = 1; r <= options.rounds; ++r) {
    std::string label = report.mode;
    if (options.rounds > 1) label += " round " + std::to_string(r) + "/" + std::to_string(options.rounds);
    Round round = run_round(options, count, on_broker, on_mock, label);
    if (round.broker) broker_rounds.push_back(std::move(*round.broker));
    if (round.mock) mock_rounds.push_back(std::move(*round.mock));
    if (round.ratio) ratios.push_back(*round.ratio);
  }
  RoundRank rank = options.rate_per_sec > 0 ? RoundRank::kLatency : RoundRank::kThroughput;
  if (on_broker) {
    report.result = median_with_errors(broker_rounds, rank);
    if (on_mock) report.mock = median_with_errors(mock_rounds, rank);
  } else {
    report.result = median_with_errors(mock_rounds, rank);
  }
  if (!ratios.empty()) report.ratio_to_mock = median_of(ratios);
  if (options.json) std::printf("%s\n", format_json(report).c_str());
  std::fflush(stdout);
  bool any_failed = failed(report.result) || (report.mock && failed(*report.mock));
  return any_failed ? 1 : 0;
}

}  // namespace sluice::cli::bench
