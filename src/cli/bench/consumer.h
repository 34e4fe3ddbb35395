#pragma once
// The consumer side shared by `consume` and `e2e`: --consumers clients on
// their own threads, partitions dealt round-robin, each reading with
// librdkafka's simple (group-free) consumer from offset 0, so a broker needs
// only Metadata and Fetch to be measured (auto.offset.reset=earliest covers
// a log that no longer starts at 0).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli/bench/runners.h"

namespace sluice::cli::bench {

struct ConsumeSpec {
  uint64_t count = UINT64_MAX;  // stop once this many (over all threads) were seen
  bool stop_at_end = false;     // stop a thread once each of its partitions hit the end
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  double idle_timeout_sec = 10;
  // e2e: decides whether a message counts and records its latency.
  // Returns false for messages to ignore (other runs, warm-ups).
  std::function<bool(const rd_kafka_message_t&, BenchResult&)> on_message;
};

class ConsumerFleet {
 public:
  static std::unique_ptr<ConsumerFleet> create(const BenchOptions& options, const Target& target,
                                               std::string* error);
  ~ConsumerFleet();

  // Starts the threads (they read until `spec` says stop).
  void start(ConsumeSpec spec);
  // Joins them and merges: seconds span the start of fetching (create) to
  // the last counted record.
  BenchResult finish();
  // Every thread saw the end of each of its partitions at least once.
  bool caught_up() const;
  // Raises the count while running (e2e learns it when producing ends).
  void set_count(uint64_t count) { count_.store(count); }
  void stop() { stop_.store(true); }
  std::atomic<uint64_t>& consumed() { return consumed_; }

 private:
  struct Consumer;
  ConsumerFleet() = default;
  void consume_thread(Consumer& consumer);

  ConsumeSpec spec_;
  std::vector<std::unique_ptr<Consumer>> consumers_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> count_{UINT64_MAX};
  std::atomic<bool> stop_{false};
  std::chrono::steady_clock::time_point started_;
};

}  // namespace sluice::cli::bench
