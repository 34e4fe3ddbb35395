// Producer throughput and ack latency: N producer clients on N threads,
// each with its share of the messages and of the target rate.

#include <sys/prctl.h>

#include <cstring>
#include <random>
#include <thread>

#include "cli/bench/pacer.h"
#include "cli/bench/payload.h"
#include "cli/bench/runners.h"

namespace sluice::cli::bench {
namespace {

constexpr size_t kPoolSpread = 4096;
using Clock = std::chrono::steady_clock;

}  // namespace

// One client and what its delivery reports measured. The delivery report
// callback runs inside rd_kafka_poll/flush on the producer's own thread, so
// the fields need no lock; only `progress` is shared.
struct ProducerFleet::Producer {
  KafkaHandle client;
  KafkaTopic topic;
  BenchResult result;
  std::atomic<uint64_t>* progress = nullptr;
  Clock::time_point finished;
};

namespace {

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* producer = static_cast<ProducerFleet::Producer*>(opaque);
  BenchResult& result = producer->result;
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (result.errors++ == 0) result.first_error = rd_kafka_err2str(message->err);
    return;
  }
  auto intended_ns = reinterpret_cast<intptr_t>(message->_private);
  int64_t latency_ns = steady_now_ns() - intended_ns;
  result.latency_ns.record(latency_ns > 0 ? static_cast<uint64_t>(latency_ns) : 0);
  ++result.records;
  result.bytes += message->len;
  if (producer->progress != nullptr) producer->progress->fetch_add(1, std::memory_order_relaxed);
}

// Waits for `due` while serving delivery reports. A sleeping thread wakes
// up to timer slack late; the slack is lowered for paced threads.
void wait_until(rd_kafka_t* client, Clock::time_point due) {
  rd_kafka_poll(client, 0);
  std::this_thread::sleep_until(due);
}

// Sends one value; on a full local queue, serves delivery reports and
// retries (back pressure, not an error). False on a real error.
bool send(ProducerFleet::Producer& producer, const char* value, size_t size, const char* key,
          size_t key_size, int64_t intended_ns, int32_t partition = RD_KAFKA_PARTITION_UA) {
  while (rd_kafka_produce(producer.topic.get(), partition, RD_KAFKA_MSG_F_COPY,
                          const_cast<char*>(value), size, key, key_size,
                          reinterpret_cast<void*>(static_cast<intptr_t>(intended_ns))) == -1) {
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      if (producer.result.errors++ == 0) producer.result.first_error = rd_kafka_err2str(err);
      return false;
    }
    rd_kafka_poll(producer.client.get(), 1);
  }
  return true;
}

struct ThreadPlan {
  uint64_t count;
  Pacer pacer;
  Clock::time_point deadline;  // Clock::time_point::max() without --duration
  uint64_t seed;
};

void produce_thread(ProducerFleet::Producer& producer, const BenchOptions& options,
                    const ProduceSpec& spec, const std::string& pool, ThreadPlan plan) {
  if (plan.pacer.paced()) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::mt19937_64 random(plan.seed);
  std::string value(options.size_bytes, '\0');
  char key[32];
  for (uint64_t i = 0; i < plan.count; ++i) {
    Clock::time_point intended = plan.pacer.paced() ? plan.pacer.due(i) : Clock::now();
    if (plan.pacer.paced() && intended > Clock::now()) wait_until(producer.client.get(), intended);
    if ((plan.pacer.paced() || (i & 1023) == 0) && intended >= plan.deadline) break;
    const char* bytes = pool.data() + random() % kPoolSpread;
    if (spec.embed_header) {
      std::memcpy(value.data(), bytes, value.size());
      write_payload_header({spec.run_id, i, to_ns(intended)}, value.data());
      bytes = value.data();
    }
    int key_size = options.keys == 0
                       ? 0
                       : std::snprintf(key, sizeof key, "key-%llu",
                                       static_cast<unsigned long long>(random() % options.keys));
    if (!send(producer, bytes, options.size_bytes, key_size > 0 ? key : nullptr,
              static_cast<size_t>(key_size), to_ns(intended))) {
      break;
    }
    if ((i & 255) == 0) rd_kafka_poll(producer.client.get(), 0);
  }
  rd_kafka_flush(producer.client.get(), 120000);
  uint64_t undelivered = static_cast<uint64_t>(rd_kafka_outq_len(producer.client.get()));
  if (undelivered > 0 && producer.result.errors == 0) producer.result.first_error = "flush timed out";
  producer.result.errors += undelivered;
  producer.finished = Clock::now();
}

}  // namespace

std::unique_ptr<ProducerFleet> ProducerFleet::create(const BenchOptions& options,
                                                     const Target& target, std::string* error) {
  std::unique_ptr<ProducerFleet> fleet(new ProducerFleet());
  fleet->options_ = &options;
  fleet->pool_ = make_payload_pool(options.size_bytes, kPoolSpread, 42);
  for (int i = 0; i < options.producers; ++i) {
    auto producer = std::make_unique<Producer>();
    KafkaConf conf = make_conf(options, target.bootstrap, ClientRole::kProducer, error);
    if (!conf) return nullptr;
    rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
    rd_kafka_conf_set_opaque(conf.get(), producer.get());
    producer->client = make_client(std::move(conf), ClientRole::kProducer, error);
    if (!producer->client) return nullptr;
    producer->topic.reset(rd_kafka_topic_new(producer->client.get(), options.topic.c_str(), nullptr));
    // Connect and learn the partitions now, outside the timed run.
    fleet->partitions_ = partition_count(producer->client.get(), options.topic, 10000);
    if (fleet->partitions_ <= 0) {
      *error = "producer: no metadata for topic " + options.topic + " at " + target.bootstrap;
      return nullptr;
    }
    fleet->producers_.push_back(std::move(producer));
  }
  return fleet;
}

ProducerFleet::~ProducerFleet() = default;

void ProducerFleet::send_warmup(uint64_t run_id) {
  Producer& producer = *producers_.front();
  std::string value = pool_.substr(0, options_->size_bytes);
  write_payload_header({run_id, kWarmupSequence, steady_now_ns()}, value.data());
  for (int32_t partition = 0; partition < partitions_; ++partition) {
    send(producer, value.data(), value.size(), nullptr, 0, steady_now_ns(), partition);
  }
  rd_kafka_flush(producer.client.get(), 5000);
  producer.result = BenchResult();  // warm-up deliveries are not measured
}

BenchResult ProducerFleet::run(const ProduceSpec& spec, std::atomic<uint64_t>& progress) {
  size_t threads = producers_.size();
  // Starts a little ahead so every thread is waiting when the clock starts.
  Clock::time_point start = Clock::now() + std::chrono::milliseconds(5);
  Clock::time_point deadline =
      spec.duration_sec > 0
          ? start + std::chrono::duration_cast<Clock::duration>(
                        std::chrono::duration<double>(spec.duration_sec))
          : Clock::time_point::max();
  double thread_rate = spec.rate_per_sec / static_cast<double>(threads);
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    Producer& producer = *producers_[t];
    producer.result = BenchResult();
    producer.progress = &progress;
    uint64_t count = spec.count == UINT64_MAX
                         ? UINT64_MAX
                         : spec.count / threads + (t < spec.count % threads ? 1 : 0);
    // Thread t's timetable is offset by t messages of the overall rate, so
    // together the threads send at evenly spaced instants.
    Clock::time_point thread_start =
        spec.rate_per_sec > 0
            ? start + std::chrono::nanoseconds(static_cast<int64_t>(t * 1e9 / spec.rate_per_sec))
            : start;
    ThreadPlan plan{count, Pacer(thread_rate, thread_start), deadline, 1000 + t};
    workers.emplace_back([&producer, this, &spec, plan, start] {
      std::this_thread::sleep_until(start);
      produce_thread(producer, *options_, spec, pool_, plan);
    });
  }
  for (std::thread& worker : workers) worker.join();
  BenchResult total;
  total.has_latency = true;
  Clock::time_point finished = start;
  for (const auto& producer : producers_) {
    total.records += producer->result.records;
    total.bytes += producer->result.bytes;
    total.errors += producer->result.errors;
    if (total.first_error.empty()) total.first_error = producer->result.first_error;
    total.latency_ns.merge(producer->result.latency_ns);
    finished = std::max(finished, producer->finished);
    producer->progress = nullptr;
  }
  total.seconds = std::chrono::duration<double>(finished - start).count();
  return total;
}

BenchResult run_produce(const BenchOptions& options, const Target& target, uint64_t count) {
  std::string error;
  std::unique_ptr<ProducerFleet> fleet = ProducerFleet::create(options, target, &error);
  BenchResult failed;
  if (!fleet) {
    failed.errors = 1;
    failed.first_error = error;
    return failed;
  }
  ProduceSpec spec;
  spec.count = count;
  spec.rate_per_sec = options.rate_per_sec;
  spec.duration_sec = options.duration_sec;
  std::atomic<uint64_t> progress{0};
  ProgressLine line("produce " + target.label, progress, options.progress);
  return fleet->run(spec, progress);
}

}  // namespace sluice::cli::bench
