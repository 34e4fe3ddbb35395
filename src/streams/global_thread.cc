#include "streams/global_thread.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <set>
#include <stdexcept>

namespace sluice::streams {

using namespace rdkafka;  // NOLINT(google-build-using-namespace): this file's handles

namespace {

constexpr auto kBootstrapTimeout = std::chrono::minutes(5);

}  // namespace

GlobalStreamThread::GlobalStreamThread(const Topology& topology, const StreamsConfig& config,
                                       std::vector<std::string> nodes)
    : topology_(topology), config_(config) {
  TaskSettings settings;
  settings.application_id = config_.application_id;
  settings.on_deserialization_error = config_.on_deserialization_error;
  task_ = std::make_unique<Task>(topology_, std::move(nodes), std::move(settings),
                                 static_cast<RecordCollector&>(*this));
}

GlobalStreamThread::~GlobalStreamThread() { stop(); }

void GlobalStreamThread::send(SerializedRecord record) {
  throw StreamsError("a global store's processor cannot write records (to " + record.topic + ")");
}

int32_t GlobalStreamThread::partition_count(const std::string& topic) {
  throw StreamsError("a global store's processor cannot write records (to " + topic + ")");
}

std::map<std::string, StateStore*> GlobalStreamThread::stores() const {
  std::map<std::string, StateStore*> stores;
  for (const std::string& name : topology_.global_stores()) {
    if (StateStore* store = task_->store(name)) stores[name] = store;
  }
  return stores;
}

std::string GlobalStreamThread::error() const {
  std::lock_guard lock(error_mutex_);
  return error_;
}

void GlobalStreamThread::assign_all_partitions() {
  std::string client_id = config_.application_id + "-GlobalStreamThread";
  bool exactly_once = config_.processing_guarantee == ProcessingGuarantee::exactly_once_v2;
  // No group: the partitions are assigned, never subscribed, never committed.
  consumer_ =
      make_client(RD_KAFKA_CONSUMER, config_,
                  {{"client.id", client_id + "-global-consumer"},
                   {"group.id", config_.application_id + "-global"},
                   {"enable.auto.commit", "false"},
                   {"enable.partition.eof", "true"},
                   {"isolation.level", exactly_once ? "read_committed" : "read_uncommitted"}},
                  config_.consumer);
  std::map<std::string, int> counts = partition_counts(consumer_.get(), task_->input_topics());
  RdPartitions assignment(rd_kafka_topic_partition_list_new(0));
  for (const auto& [topic, count] : counts) {
    if (count < 0) throw std::runtime_error("global source topic " + topic + " does not exist");
    for (int32_t partition = 0; partition < count; ++partition) {
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  partition_count_ = static_cast<size_t>(assignment->cnt);
  if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer_.get(), assignment.get())) {
    throw std::runtime_error(std::string("global consumer: cannot assign: ") +
                             rd_kafka_err2str(err));
  }
}

bool GlobalStreamThread::poll_once(int timeout_ms,
                                   std::set<std::pair<std::string, int32_t>>* at_end) {
  rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), timeout_ms);
  if (message == nullptr) return false;
  std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> owned(
      message, rd_kafka_message_destroy);
  if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (at_end != nullptr) at_end->insert({rd_kafka_topic_name(message->rkt), message->partition});
    return true;
  }
  if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    spdlog::warn("global consumer: {}", rd_kafka_message_errstr(message));
    return true;
  }
  task_->process(record_of(message));
  return true;
}

void GlobalStreamThread::bootstrap() {
  std::set<std::pair<std::string, int32_t>> at_end;
  auto deadline = std::chrono::steady_clock::now() + kBootstrapTimeout;
  while (at_end.size() < partition_count_) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("global stores: the source topics were not read to their end in " +
                               std::to_string(kBootstrapTimeout.count()) + " minutes");
    }
    poll_once(200, &at_end);
  }
  spdlog::info("global stores of {} bootstrapped from {} partitions", config_.application_id,
               partition_count_);
}

void GlobalStreamThread::start() {
  assign_all_partitions();
  bootstrap();
  thread_ = std::thread([this] { run(); });
}

void GlobalStreamThread::run() {
  try {
    while (running_) poll_once(100, nullptr);
  } catch (const std::exception& e) {
    {
      std::lock_guard lock(error_mutex_);
      error_ = e.what();
    }
    spdlog::error("global thread of {} failed: {}", config_.application_id, e.what());
    failed_ = true;
  }
}

void GlobalStreamThread::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  if (consumer_) {
    rd_kafka_consumer_close(consumer_.get());
    consumer_.reset();
  }
}

}  // namespace sluice::streams
