#pragma once
// The three workloads. Each runs against one target (a broker, or the mock
// cluster through its bootstraps) and returns what it measured; none prints
// anything but errors and the progress line.

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cli/bench/bench_options.h"
#include "cli/bench/kafka_client.h"
#include "cli/bench/report.h"

namespace sluice::cli::bench {

struct Target {
  std::string bootstrap;
  std::string label;  // for progress and summaries
};

// What one set of producer threads sends.
struct ProduceSpec {
  uint64_t count = 0;                // over all producers; UINT64_MAX with a deadline
  double rate_per_sec = 0;           // over all producers; 0 = unpaced
  double duration_sec = 0;           // > 0: stop sending after this long
  bool embed_header = false;         // e2e: values carry a PayloadHeader
  uint64_t run_id = 0;
};

// --producers clients, connected before any timing starts. Latency of a
// record: its delivery report time minus its intended send time.
class ProducerFleet {
 public:
  static std::unique_ptr<ProducerFleet> create(const BenchOptions& options, const Target& target,
                                               std::string* error);
  ~ProducerFleet();

  // Sends one warm-up value (header with kWarmupSequence) to every
  // partition from the first producer and waits for its delivery reports;
  // not measured.
  void send_warmup(uint64_t run_id);
  int partitions() const { return partitions_; }
  // Runs every producer on its own thread, flushes, merges. `progress`
  // counts deliveries as they come.
  BenchResult run(const ProduceSpec& spec, std::atomic<uint64_t>& progress);

  // One client and its measurements; defined in producer_bench.cc, public
  // only so librdkafka's delivery callback there can reach it.
  struct Producer;

 private:
  ProducerFleet() = default;
  const BenchOptions* options_ = nullptr;
  std::vector<std::unique_ptr<Producer>> producers_;
  std::string pool_;
  int partitions_ = 0;
};

BenchResult run_produce(const BenchOptions& options, const Target& target, uint64_t count);
// Reads from the beginning until `count` records, the end of every
// partition (count UINT64_MAX), --duration, or --idle-timeout.
BenchResult run_consume(const BenchOptions& options, const Target& target, uint64_t count);
BenchResult run_e2e(const BenchOptions& options, const Target& target, uint64_t count);

}  // namespace sluice::cli::bench
