// End-to-end latency: producers send values stamped with their intended
// send time at the target rate; consumers in the same process record
// consume time minus that stamp.

#include <random>
#include <vector>
#include <thread>

#include "cli/bench/consumer.h"
#include "cli/bench/payload.h"
#include "cli/bench/runners.h"

namespace sluice::cli::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Which partitions have delivered a warm-up value of this run: once all
// have, the consumers have read past any older data (a partition is read in
// order) and connections and fetch sessions exist, so the clock can start.
// A partition's end (EOF) is no signal here: a broker that long-polls never
// answers empty while warm-up values keep coming.
class WarmupTracker {
 public:
  explicit WarmupTracker(int partitions) : seen_(static_cast<size_t>(partitions)) {}
  void saw(int32_t partition) {
    auto index = static_cast<size_t>(partition);
    if (index < seen_.size() && !seen_[index].exchange(true)) seen_count_.fetch_add(1);
  }
  bool complete() const { return seen_count_.load() == seen_.size(); }

 private:
  std::vector<std::atomic<bool>> seen_;
  std::atomic<size_t> seen_count_{0};
};

bool warm_up(ProducerFleet& producers, uint64_t run_id, const WarmupTracker& tracker) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    producers.send_warmup(run_id);
    for (int i = 0; i < 20 && !tracker.complete(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (tracker.complete()) return true;
  }
  return false;
}

}  // namespace

BenchResult run_e2e(const BenchOptions& options, const Target& target, uint64_t count) {
  std::string error;
  std::unique_ptr<ProducerFleet> producers = ProducerFleet::create(options, target, &error);
  if (!producers) return BenchResult::failure(error);
  std::unique_ptr<ConsumerFleet> consumers = ConsumerFleet::create(options, target, &error);
  if (!consumers) return BenchResult::failure(error);

  uint64_t run_id = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  WarmupTracker warmup(producers->partitions());
  ConsumeSpec spec;
  spec.idle_timeout_sec = 3600;  // the producers bound the run
  spec.on_message = [run_id, &warmup](const rd_kafka_message_t& message, BenchResult& result) {
    std::optional<PayloadHeader> header = read_payload_header(message.payload, message.len);
    if (!header || header->run_id != run_id) return false;
    if (header->sequence == kWarmupSequence) {
      warmup.saw(message.partition);
      return false;
    }
    int64_t latency_ns = steady_now_ns() - header->intended_send_ns;
    result.latency_ns.record(latency_ns > 0 ? static_cast<uint64_t>(latency_ns) : 0);
    return true;
  };
  consumers->start(std::move(spec));
  if (!warm_up(*producers, run_id, warmup)) {
    consumers->stop();
    consumers->finish();
    return BenchResult::failure("e2e warm-up: no message of this run came back within 30 s");
  }

  ProduceSpec produce;
  produce.count = count;
  produce.rate_per_sec = options.rate_per_sec;
  produce.duration_sec = options.duration_sec;
  produce.embed_header = true;
  produce.run_id = run_id;
  std::atomic<uint64_t> delivered{0};
  BenchResult sent;
  {
    ProgressLine line("e2e " + target.label, consumers->consumed(), options.progress);
    sent = producers->run(produce, delivered);
    consumers->set_count(sent.records);
    // Whatever was delivered should arrive soon; bound the wait.
    Clock::time_point give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(options.idle_timeout_sec));
    while (consumers->consumed() < sent.records && Clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    consumers->stop();
    BenchResult received = consumers->finish();
    received.has_latency = true;
    received.errors += sent.errors + (sent.records - std::min(sent.records, received.records));
    if (received.first_error.empty()) received.first_error = sent.first_error;
    return received;
  }
}

}  // namespace sluice::cli::bench
