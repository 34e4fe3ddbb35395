#pragma once
// Options of `sluice bench produce | consume | e2e`, their CLI11 binding and
// validation. Kept apart from the runners so they can be unit tested.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace sluice::cli::bench {

enum class BenchMode { kProduce, kConsume, kEndToEnd };

struct BenchOptions {
  BenchMode mode = BenchMode::kProduce;
  std::string bootstrap_servers = "127.0.0.1:9092";
  bool bootstrap_given = false;  // -b appeared on the command line
  std::string topic = "sluice-bench";
  uint64_t count = 0;            // 0: mode default (see effective_count)
  double duration_sec = 0;       // > 0: run for this long instead of `count`
  uint32_t size_bytes = 100;
  std::string acks = "1";        // 0, 1 or all (-1)
  std::string compression = "none";
  int32_t partitions = 1;
  int producers = 1;
  int consumers = 1;
  double rate_per_sec = 0;       // 0: as fast as possible
  // -1 until parsed: then 5 (throughput) or, for e2e, 1: a 5 ms linger was
  // most of the latency, and 0 turns 20,000 msg/s into as many one-record
  // requests, which saturates 2 cores and gives random queueing stalls
  // (bench/RESULTS.md).
  int linger_ms = -1;
  int batch_size_bytes = 1 << 20;
  uint64_t keys = 0;             // 0: null keys; N: keys drawn from N values
  std::map<std::string, std::string> client_settings;  // -X key=value
  bool json = false;
  bool against_mock = false;     // run against librdkafka's mock cluster
  bool compare_mock = false;     // run the broker and the mock, report the ratio
  int rounds = 1;                // runs of each target, alternated; the median round is reported
  bool progress = true;          // --no-progress turns the live line off
  double idle_timeout_sec = 10;  // consume: give up after this long without data
};

// Registers produce, consume and e2e under `bench`; each writes into
// `options` (its mode included) when parsed. `raw_settings` receives the -X
// arguments, to be checked by finish_options.
CLI::App* add_bench_subcommand(CLI::App& app, BenchOptions& options,
                               std::vector<std::string>& raw_settings);

// Parses -X settings into options.client_settings and checks the
// combination. Returns an error message, empty when the options are usable.
std::string finish_options(BenchOptions& options, const std::vector<std::string>& raw_settings);

// The number of messages a run sends: --count, else unbounded with
// --duration, else the mode's default.
uint64_t effective_count(const BenchOptions& options);

// acks as librdkafka's request.required.acks wants it ("all" -> "-1").
std::string acks_setting(const std::string& acks);

const char* mode_name(BenchMode mode);

}  // namespace sluice::cli::bench
