// End-to-end latency: producers send values stamped with their intended
// send time at the target rate; consumers in the same process record
// consume time minus that stamp.

#include <random>
#include <thread>

#include "cli/bench/consumer.h"
#include "cli/bench/payload.h"
#include "cli/bench/runners.h"

namespace sluice::cli::bench {
namespace {

using Clock = std::chrono::steady_clock;

BenchResult failure(const std::string& error) {
  BenchResult failed;
  failed.errors = 1;
  failed.first_error = error;
  return failed;
}

// Warm-up: the consumers have read past any older data in the topic and
// one warm-up value of this run went through, so connections and fetch
// sessions exist before the clock starts.
bool warm_up(ProducerFleet& producers, ConsumerFleet& consumers, uint64_t run_id,
             const std::atomic<bool>& warm_seen) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    producers.send_warmup(run_id);
    for (int i = 0; i < 20 && !(warm_seen && consumers.caught_up()); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (warm_seen && consumers.caught_up()) return true;
  }
  return false;
}

}  // namespace

BenchResult run_e2e(const BenchOptions& options, const Target& target, uint64_t count) {
  std::string error;
  std::unique_ptr<ProducerFleet> producers = ProducerFleet::create(options, target, &error);
  if (!producers) return failure(error);
  std::unique_ptr<ConsumerFleet> consumers = ConsumerFleet::create(options, target, &error);
  if (!consumers) return failure(error);

  uint64_t run_id = std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
  std::atomic<bool> warm_seen{false};
  ConsumeSpec spec;
  spec.idle_timeout_sec = 3600;  // the producers bound the run
  spec.on_message = [run_id, &warm_seen](const rd_kafka_message_t& message, BenchResult& result) {
    std::optional<PayloadHeader> header = read_payload_header(message.payload, message.len);
    if (!header || header->run_id != run_id) return false;
    if (header->sequence == kWarmupSequence) {
      warm_seen = true;
      return false;
    }
    int64_t latency_ns = steady_now_ns() - header->intended_send_ns;
    result.latency_ns.record(latency_ns > 0 ? static_cast<uint64_t>(latency_ns) : 0);
    return true;
  };
  consumers->start(std::move(spec));
  if (!warm_up(*producers, *consumers, run_id, warm_seen)) {
    consumers->stop();
    consumers->finish();
    return failure("e2e warm-up: no message of this run came back within 30 s");
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
