// Consumer throughput from the beginning of a topic.

#include <thread>

#include "cli/bench/consumer.h"
#include "cli/bench/runners.h"

namespace sluice::cli::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kBatchMessages = 4096;

}  // namespace

struct ConsumerFleet::Consumer {
  KafkaHandle client;
  KafkaTopic topic;
  KafkaQueue queue;
  std::vector<int32_t> partitions;
  BenchResult result;
  Clock::time_point last = Clock::time_point::min();
  std::atomic<bool> caught_up{false};
};

std::unique_ptr<ConsumerFleet> ConsumerFleet::create(const BenchOptions& options,
                                                     const Target& target, std::string* error) {
  std::unique_ptr<ConsumerFleet> fleet(new ConsumerFleet());
  for (int i = 0; i < options.consumers; ++i) {
    auto consumer = std::make_unique<Consumer>();
    KafkaConf conf = make_conf(options, target.bootstrap, ClientRole::kConsumer, error);
    if (!conf) return nullptr;
    consumer->client = make_client(std::move(conf), ClientRole::kConsumer, error);
    if (!consumer->client) return nullptr;
    fleet->consumers_.push_back(std::move(consumer));
  }
  int partitions = partition_count(fleet->consumers_.front()->client.get(), options.topic, 10000);
  if (partitions <= 0) {
    *error = "consumer: no metadata for topic " + options.topic + " at " + target.bootstrap;
    return nullptr;
  }
  for (int p = 0; p < partitions; ++p) {
    fleet->consumers_[p % fleet->consumers_.size()]->partitions.push_back(p);
  }
  // Fetching begins with consume_start, so the clock starts here (the
  // connection is already up from the metadata request): timing from the
  // first record would miss the first fetch and, for a topic read in one
  // batch, measure almost nothing.
  fleet->started_ = Clock::now();
  for (auto& consumer : fleet->consumers_) {
    rd_kafka_t* client = consumer->client.get();
    consumer->topic.reset(rd_kafka_topic_new(client, options.topic.c_str(), nullptr));
    consumer->queue.reset(rd_kafka_queue_new(client));
    for (int32_t partition : consumer->partitions) {
      if (rd_kafka_consume_start_queue(consumer->topic.get(), partition,
                                       0, consumer->queue.get()) == -1) {
        *error = std::string("consume_start: ") + rd_kafka_err2str(rd_kafka_last_error());
        return nullptr;
      }
    }
    if (consumer->partitions.empty()) consumer->caught_up = true;
  }
  return fleet;
}

ConsumerFleet::~ConsumerFleet() {
  stop_ = true;
  for (std::thread& thread : threads_) thread.join();
  for (auto& consumer : consumers_) {
    for (int32_t partition : consumer->partitions) {
      rd_kafka_consume_stop(consumer->topic.get(), partition);
    }
  }
}

void ConsumerFleet::start(ConsumeSpec spec) {
  spec_ = std::move(spec);
  count_ = spec_.count;
  for (auto& consumer : consumers_) {
    Consumer* raw = consumer.get();
    threads_.emplace_back([this, raw] { consume_thread(*raw); });
  }
}

bool ConsumerFleet::caught_up() const {
  for (const auto& consumer : consumers_) {
    if (!consumer->caught_up) return false;
  }
  return true;
}

void ConsumerFleet::consume_thread(Consumer& consumer) {
  std::vector<rd_kafka_message_t*> batch(kBatchMessages);
  std::vector<bool> at_end(consumer.partitions.size(), false);
  size_t ends_seen = 0;
  Clock::time_point last_data = Clock::now();
  auto idle = std::chrono::duration<double>(spec_.idle_timeout_sec);
  while (!stop_ && consumed_.load(std::memory_order_relaxed) < count_.load()) {
    // A batch call with a timeout waits for a full batch; take what is
    // there, and block only for the first message, so a record is seen as
    // soon as it arrives (e2e latency) without losing batching (throughput).
    ssize_t got = rd_kafka_consume_batch_queue(consumer.queue.get(), 0, batch.data(), batch.size());
    if (got == 0) {
      batch[0] = rd_kafka_consume_queue(consumer.queue.get(), 100);
      got = batch[0] != nullptr ? 1 : 0;
    }
    Clock::time_point now = Clock::now();
    for (ssize_t i = 0; i < got; ++i) {
      rd_kafka_message_t* message = batch[i];
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        size_t slot = static_cast<size_t>(message->partition) / consumers_.size();
        if (slot < at_end.size() && !at_end[slot]) {
          at_end[slot] = true;
          ++ends_seen;
        }
      } else if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (consumer.result.errors++ == 0) consumer.result.first_error = rd_kafka_message_errstr(message);
      } else if (!spec_.on_message || spec_.on_message(*message, consumer.result)) {
        ++consumer.result.records;
        consumer.result.bytes += message->len;
        consumer.last = now;
        consumed_.fetch_add(1, std::memory_order_relaxed);
      }
      rd_kafka_message_destroy(message);
    }
    if (got > 0) last_data = now;
    if (ends_seen == at_end.size()) {
      consumer.caught_up = true;
      if (spec_.stop_at_end) break;
    }
    if (now >= spec_.deadline || now - last_data > idle) break;
  }
}

BenchResult ConsumerFleet::finish() {
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  BenchResult total;
  Clock::time_point last = Clock::time_point::min();
  for (const auto& consumer : consumers_) {
    total.records += consumer->result.records;
    total.bytes += consumer->result.bytes;
    total.errors += consumer->result.errors;
    if (total.first_error.empty()) total.first_error = consumer->result.first_error;
    total.latency_ns.merge(consumer->result.latency_ns);
    last = std::max(last, consumer->last);
  }
  if (total.records > 0) total.seconds = std::chrono::duration<double>(last - started_).count();
  return total;
}

BenchResult run_consume(const BenchOptions& options, const Target& target, uint64_t count) {
  std::string error;
  std::unique_ptr<ConsumerFleet> fleet = ConsumerFleet::create(options, target, &error);
  if (!fleet) {
    BenchResult failed;
    failed.errors = 1;
    failed.first_error = error;
    return failed;
  }
  ConsumeSpec spec;
  spec.count = count;
  // The records to read are already there: the end of every partition ends
  // the run, even before `count`.
  spec.stop_at_end = true;
  spec.idle_timeout_sec = options.idle_timeout_sec;
  if (options.duration_sec > 0) {
    spec.deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(options.duration_sec));
  }
  ProgressLine line("consume " + target.label, fleet->consumed(), options.progress);
  fleet->start(std::move(spec));
  BenchResult result = fleet->finish();
  if (count != UINT64_MAX && result.records < count) {
    if (result.errors == 0) {
      result.first_error = "the topic ended after " + std::to_string(result.records) + " records";
    }
    result.errors += count - result.records;
  }
  return result;
}

}  // namespace sluice::cli::bench
