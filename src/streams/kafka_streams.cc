#include "streams/kafka_streams.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "streams/task.h"

namespace sluice::streams {
namespace rdkafka {

struct RdDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
  void operator()(rd_kafka_consumer_group_metadata_t* metadata) const {
    rd_kafka_consumer_group_metadata_destroy(metadata);
  }
  void operator()(rd_kafka_error_t* error) const { rd_kafka_error_destroy(error); }
};
using RdKafka = std::unique_ptr<rd_kafka_t, RdDeleter>;
using RdConf = std::unique_ptr<rd_kafka_conf_t, RdDeleter>;
using RdPartitions = std::unique_ptr<rd_kafka_topic_partition_list_t, RdDeleter>;
using RdError = std::unique_ptr<rd_kafka_error_t, RdDeleter>;

}  // namespace rdkafka

using namespace rdkafka;  // NOLINT(google-build-using-namespace): this file's handles

namespace {

// The Kafka Streams version whose behaviour this library follows.
constexpr const char* kStreamsVersion = "3.9.0";
using Clock = std::chrono::steady_clock;
constexpr int kAdminTimeoutMs = 30'000;

void set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char message[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), message, sizeof message) !=
      RD_KAFKA_CONF_OK) {
    throw std::invalid_argument("client setting " + name + "=" + value + ": " + message);
  }
}

// A client with `defaults` (the runtime's), then the user's settings.
RdKafka make_client(rd_kafka_type_t type, const StreamsConfig& config,
                    const std::map<std::string, std::string>& defaults,
                    const std::map<std::string, std::string>& user,
                    void (*configure)(rd_kafka_conf_t*, void*) = nullptr, void* opaque = nullptr) {
  RdConf conf(rd_kafka_conf_new());
  set(conf.get(), "bootstrap.servers", config.bootstrap_servers);
  for (const auto& [name, value] : defaults) set(conf.get(), name, value);
  for (const auto& [name, value] : user) set(conf.get(), name, value);
  if (configure != nullptr) configure(conf.get(), opaque);
  char message[512];
  rd_kafka_t* handle = rd_kafka_new(type, conf.get(), message, sizeof message);
  if (handle == nullptr) {
    throw std::runtime_error(std::string("cannot make a Kafka client: ") + message);
  }
  (void)conf.release();  // rd_kafka_new took it
  return RdKafka(handle);
}

std::string error_text(rd_kafka_error_t* error) {
  return error == nullptr ? "" : rd_kafka_error_string(error);
}

}  // namespace

// What every thread shares: the sub-topologies and their topics.
struct KafkaStreams::Plan {
  std::vector<std::vector<std::string>> subtopologies;
  std::map<std::string, int> subtopology_of_topic;  // resolved source topic -> sub-topology
  std::set<std::string> source_topics;
  std::map<std::string, int> internal_partitions;  // internal topic -> partitions
  std::set<std::string> changelog_topics;
};

namespace {

// The source topics of each sub-topology, and the internal topics each
// writes (resolved names).
struct TopicGraph {
  std::vector<std::set<std::string>> sources;
  std::vector<std::set<std::string>> internal_sinks;
  std::vector<std::set<std::string>> stores;
};

TopicGraph topic_graph(const Topology& topology,
                       const std::vector<std::vector<std::string>>& groups,
                       const std::string& application_id) {
  TopicGraph graph;
  graph.sources.resize(groups.size());
  graph.internal_sinks.resize(groups.size());
  graph.stores.resize(groups.size());
  for (size_t id = 0; id < groups.size(); ++id) {
    for (const std::string& name : groups[id]) {
      const NodeSpec& spec = *topology.find(name);
      for (const std::string& topic : spec.topics) {
        std::string resolved = Topology::resolve_topic(topic, spec.internal_topics, application_id);
        if (spec.kind == NodeKind::source) graph.sources[id].insert(resolved);
        if (spec.kind == NodeKind::sink && spec.internal_topics)
          graph.internal_sinks[id].insert(resolved);
      }
      graph.stores[id].insert(spec.stores.begin(), spec.stores.end());
    }
  }
  return graph;
}

// Partitions of each existing topic named in `topics` (-1: absent).
std::map<std::string, int> partition_counts(rd_kafka_t* admin,
                                            const std::set<std::string>& topics) {
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(admin, 1, nullptr, &metadata, kAdminTimeoutMs);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    throw std::runtime_error(std::string("cannot read the cluster's metadata: ") +
                             rd_kafka_err2str(err));
  }
  std::map<std::string, int> counts;
  for (const std::string& topic : topics) counts[topic] = -1;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& topic = metadata->topics[i];
    if (topic.err == RD_KAFKA_RESP_ERR_NO_ERROR && counts.count(topic.topic) != 0) {
      counts[topic.topic] = topic.partition_cnt;
    }
  }
  rd_kafka_metadata_destroy(metadata);
  return counts;
}

void create_topics(rd_kafka_t* admin, const std::map<std::string, int>& partitions,
                   const std::set<std::string>& compacted, int replication_factor) {
  if (partitions.empty()) return;
  std::vector<rd_kafka_NewTopic_t*> topics;
  char message[512];
  for (const auto& [name, count] : partitions) {
    rd_kafka_NewTopic_t* topic =
        rd_kafka_NewTopic_new(name.c_str(), count, replication_factor, message, sizeof message);
    if (topic == nullptr)
      throw std::runtime_error("cannot describe topic " + name + ": " + message);
    rd_kafka_NewTopic_set_config(topic, "cleanup.policy",
                                 compacted.count(name) != 0 ? "compact" : "delete");
    topics.push_back(topic);
  }
  rd_kafka_queue_t* queue = rd_kafka_queue_new(admin);
  rd_kafka_CreateTopics(admin, topics.data(), topics.size(), nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, kAdminTimeoutMs + 5000);
  std::string failure;
  if (event == nullptr) {
    failure = "no answer to CreateTopics";
  } else if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_event_error_string(event);
  } else {
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count; ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        failure += std::string(rd_kafka_topic_result_name(results[i])) + ": " +
                   rd_kafka_topic_result_error_string(results[i]) + "; ";
      }
    }
  }
  if (event != nullptr) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy_array(topics.data(), topics.size());
  if (!failure.empty()) throw std::runtime_error("cannot create internal topics: " + failure);
}

}  // namespace

class KafkaStreams::Thread final : private RecordCollector {
 public:
  Thread(const Topology& topology, const StreamsConfig& config, std::shared_ptr<const Plan> plan,
         int index, std::shared_ptr<ThreadMetrics> metrics)
      : topology_(topology),
        config_(config),
        plan_(std::move(plan)),
        index_(index),
        metrics_(std::move(metrics)),
        // Kafka divides the cache among the threads.
        cache_(config.cache_max_bytes / config.num_stream_threads) {}
  ~Thread() override { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }
  State state() const { return state_; }
  std::string error() const {
    std::lock_guard lock(error_mutex_);
    return error_;
  }

 private:
  bool exactly_once() const {
    return config_.processing_guarantee == ProcessingGuarantee::exactly_once_v2;
  }

  void run() {
    try {
      set_up();
      loop();
      shut_down();
      state_ = State::not_running;
    } catch (const std::exception& e) {
      {
        std::lock_guard lock(error_mutex_);
        error_ = e.what();
      }
      spdlog::error("stream-thread [{}-StreamThread-{}] failed: {}", config_.application_id,
                    index_ + 1, e.what());
      abort_quietly();
      state_ = State::error;
    }
  }

  void set_up() {
    std::string client_id = config_.application_id + "-StreamThread-" + std::to_string(index_ + 1);
    std::map<std::string, std::string> producer_defaults = {
        {"client.id", client_id + "-producer"},
        {"acks", "all"},
        {"enable.idempotence", "true"},
        // Java's partitioner: keys land where Kafka's clients put them.
        {"partitioner", "murmur2_random"},
        {"linger.ms", "100"}};
    if (exactly_once()) {
      // Kafka Streams' default under EOS: a dead instance's open transaction
      // (its transactional id dies with it) blocks read_committed readers
      // for this long at most.
      producer_defaults["transaction.timeout.ms"] = "10000";
      producer_defaults["transactional.id"] =
          config_.application_id + "-" + std::to_string(index_ + 1) + "-" +
          std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
    }
    producer_ = make_client(
        RD_KAFKA_PRODUCER, config_, producer_defaults, config_.producer,
        [](rd_kafka_conf_t* conf, void* self) {
          rd_kafka_conf_set_opaque(conf, self);
          rd_kafka_conf_set_dr_msg_cb(conf, &Thread::on_delivery);
        },
        this);
    if (exactly_once()) {
      RdError error(rd_kafka_init_transactions(producer_.get(), kAdminTimeoutMs));
      if (error)
        throw std::runtime_error("cannot initialize transactions: " + error_text(error.get()));
    }
    std::map<std::string, std::string> consumer_defaults = {
        {"client.id", client_id + "-consumer"},
        {"group.id", config_.application_id},
        {"enable.auto.commit", "false"},
        {"auto.offset.reset", "earliest"},
        {"partition.assignment.strategy", "range"},
        {"isolation.level", exactly_once() ? "read_committed" : "read_uncommitted"}};
    consumer_ = make_client(
        RD_KAFKA_CONSUMER, config_, consumer_defaults, config_.consumer,
        [](rd_kafka_conf_t* conf, void* self) {
          rd_kafka_conf_set_opaque(conf, self);
          rd_kafka_conf_set_rebalance_cb(conf, &Thread::on_rebalance);
        },
        this);
    rd_kafka_poll_set_consumer(consumer_.get());
    restorer_ = make_client(RD_KAFKA_CONSUMER, config_,
                            {{"client.id", client_id + "-restore-consumer"},
                             {"group.id", config_.application_id + "-restore"},
                             {"enable.auto.commit", "false"},
                             {"enable.partition.eof", "true"},
                             {"isolation.level", "read_committed"}},
                            config_.consumer);
    RdPartitions topics(
        rd_kafka_topic_partition_list_new(static_cast<int>(plan_->source_topics.size())));
    for (const std::string& topic : plan_->source_topics) {
      rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    }
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get())) {
      throw std::runtime_error(std::string("cannot subscribe: ") + rd_kafka_err2str(err));
    }
    state_ = State::rebalancing;
    last_commit_ = Clock::now();
  }

  // Two clock readings a record (after the poll, after processing) time
  // the poll, the processing and the commit interval; punctuations time
  // themselves (Task), only when they run.
  void loop() {
    Clock::time_point now = Clock::now();
    while (running_) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), 100);
      Clock::time_point polled = Clock::now();
      metrics_->poll.record(nanoseconds(polled - now));
      now = polled;
      if (message != nullptr) {
        now = handle(message, polled);
        rd_kafka_message_destroy(message);
      }
      throw_if_failed();
      for (auto& [id, task] : tasks_) {
        current_task_ = task.get();
        task->maybe_punctuate_system_time();
      }
      current_task_ = nullptr;
      if (now - last_commit_ >= config_.commit_interval) {
        commit();
        now = Clock::now();
      }
    }
  }

  static int64_t nanoseconds(Clock::duration duration) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count();
  }

  void shut_down() {
    state_ = State::pending_shutdown;
    commit();
    close_tasks();
    rd_kafka_consumer_close(consumer_.get());
    throw_if_failed();
  }

  // Processes one polled message; returns the time after it.
  Clock::time_point handle(rd_kafka_message_t* message, Clock::time_point started) {
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return started;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("stream-thread [{}]: consumer: {}", index_ + 1,
                   rd_kafka_message_errstr(message));
      return started;
    }
    SerializedRecord record = to_record(message);
    auto sub = plan_->subtopology_of_topic.find(record.topic);
    if (sub == plan_->subtopology_of_topic.end()) return started;
    auto task = tasks_.find({sub->second, record.partition});
    if (task == tasks_.end()) {
      spdlog::warn("stream-thread [{}]: a record of {}-{} without a task", index_ + 1, record.topic,
                   record.partition);
      return started;
    }
    current_task_ = task->second.get();
    task->second->process(record);
    processed_[{record.topic, record.partition}] = record.offset + 1;
    task->second->maybe_punctuate_stream_time();
    current_task_ = nullptr;
    Clock::time_point processed = Clock::now();
    metrics_->process.add();
    metrics_->process_latency.record(nanoseconds(processed - started));
    return processed;
  }

  static SerializedRecord to_record(rd_kafka_message_t* message) {
    SerializedRecord record;
    record.topic = rd_kafka_topic_name(message->rkt);
    record.partition = message->partition;
    record.offset = message->offset;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    // -1 when the record has none: the timestamp extractor decides.
    record.timestamp = rd_kafka_message_timestamp(message, &type);
    if (message->key != nullptr)
      record.key = std::string(static_cast<const char*>(message->key), message->key_len);
    if (message->payload != nullptr) {
      record.value = std::string(static_cast<const char*>(message->payload), message->len);
    }
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* data = nullptr;
      size_t size = 0;
      for (size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &data, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        Header header{name, std::nullopt};
        if (data != nullptr) header.value = std::string(static_cast<const char*>(data), size);
        record.headers.push_back(std::move(header));
      }
    }
    return record;
  }

  // RecordCollector: every record a task writes.
  void send(SerializedRecord record) override {
    if (exactly_once() && !in_transaction_) {
      RdError error(rd_kafka_begin_transaction(producer_.get()));
      if (error) throw StreamsError("cannot begin a transaction: " + error_text(error.get()));
      in_transaction_ = true;
    }
    rd_kafka_headers_t* headers = rd_kafka_headers_new(record.headers.size());
    for (const Header& header : record.headers) {
      rd_kafka_header_add(headers, header.key.c_str(), -1,
                          header.value ? header.value->data() : nullptr,
                          header.value ? static_cast<ssize_t>(header.value->size()) : 0);
    }
    // librdkafka's argument macros cast without parentheses: plain values only.
    const void* key = record.key ? record.key->data() : nullptr;
    size_t key_size = record.key ? record.key->size() : 0;
    void* value = record.value ? record.value->data() : nullptr;
    size_t value_size = record.value ? record.value->size() : 0;
    int32_t partition = record.partition < 0 ? RD_KAFKA_PARTITION_UA : record.partition;
    // The delivery report names the task (its dropped-records metric).
    TaskMetrics* task = current_task_ != nullptr ? current_task_->metrics().get() : nullptr;
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_size),
          RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_TIMESTAMP(record.timestamp),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(task), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer_.get(), 50);
        continue;
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(headers);
        // Refused at once (a record too large for message.max.bytes): the
        // handler decides, as for a failed delivery.
        send_failed(task, record, err);
      }
      break;
    }
    rd_kafka_poll(producer_.get(), 0);
  }

  // The production exception handler's say on a failed send; a failure
  // stops the thread at its next check.
  void send_failed(TaskMetrics* task, const SerializedRecord& record, rd_kafka_resp_err_t err) {
    ErrorHandlerContext context;
    context.task_id = task != nullptr ? task->task_id : "";
    context.topic = record.topic;
    context.partition = record.partition;
    context.timestamp = record.timestamp;
    ProductionError error{static_cast<int>(err), rd_kafka_err2name(err), rd_kafka_err2str(err)};
    std::optional<std::string> failure =
        on_send_error(*config_.production_exception_handler, context, record, error);
    if (!failure) {
      if (task != nullptr) task->dropped.add();
      return;
    }
    std::lock_guard lock(error_mutex_);
    if (send_error_.empty()) send_error_ = *failure;
  }

  // Runs on this thread (inside rd_kafka_poll or rd_kafka_flush).
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    auto* self = static_cast<Thread*>(opaque);
    SerializedRecord record;
    record.topic = rd_kafka_topic_name(message->rkt);
    record.partition = message->partition;
    if (message->key != nullptr)
      record.key = std::string(static_cast<const char*>(message->key), message->key_len);
    if (message->payload != nullptr)
      record.value = std::string(static_cast<const char*>(message->payload), message->len);
    self->send_failed(static_cast<TaskMetrics*>(message->_private), record, message->err);
  }

  void throw_if_failed() {
    std::lock_guard lock(error_mutex_);
    if (!send_error_.empty()) throw StreamsError(send_error_);
  }

  RdPartitions processed_offsets() const {
    RdPartitions offsets(rd_kafka_topic_partition_list_new(static_cast<int>(processed_.size())));
    for (const auto& [partition, offset] : processed_) {
      rd_kafka_topic_partition_list_add(offsets.get(), partition.first.c_str(), partition.second)
          ->offset = offset;
    }
    return offsets;
  }

  // Makes everything processed so far durable, then marks it consumed.
  void commit() {
    Clock::time_point started = Clock::now();
    last_commit_ = started;
    for (auto& [id, task] : tasks_) {
      current_task_ = task.get();  // what its caches send is the task's
      task->flush();
    }
    current_task_ = nullptr;
    struct Timed {
      ThreadMetrics& metrics;
      Clock::time_point started;
      ~Timed() { metrics.commit.record(nanoseconds(Clock::now() - started)); }
    } timed{*metrics_, started};
    if (exactly_once()) {
      commit_transaction();
    } else {
      rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), kAdminTimeoutMs);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw StreamsError(std::string("flush: ") + rd_kafka_err2str(err));
      throw_if_failed();
      if (processed_.empty()) return;
      RdPartitions offsets = processed_offsets();
      if (rd_kafka_resp_err_t commit_err = rd_kafka_commit(consumer_.get(), offsets.get(), 0)) {
        throw StreamsError(std::string("cannot commit offsets: ") + rd_kafka_err2str(commit_err));
      }
    }
    processed_.clear();
  }

  void commit_transaction() {
    if (!in_transaction_ && processed_.empty()) return;
    if (!in_transaction_) {
      RdError error(rd_kafka_begin_transaction(producer_.get()));
      if (error) throw StreamsError("cannot begin a transaction: " + error_text(error.get()));
      in_transaction_ = true;
    }
    if (!processed_.empty()) {
      RdPartitions offsets = processed_offsets();
      std::unique_ptr<rd_kafka_consumer_group_metadata_t, RdDeleter> group(
          rd_kafka_consumer_group_metadata(consumer_.get()));
      RdError error(rd_kafka_send_offsets_to_transaction(producer_.get(), offsets.get(),
                                                         group.get(), kAdminTimeoutMs));
      if (error)
        throw StreamsError("cannot add offsets to the transaction: " + error_text(error.get()));
    }
    RdError error(rd_kafka_commit_transaction(producer_.get(), kAdminTimeoutMs));
    if (error) throw StreamsError("cannot commit the transaction: " + error_text(error.get()));
    in_transaction_ = false;
    throw_if_failed();
  }

  void abort_quietly() {
    if (!exactly_once() || !in_transaction_ || !producer_) return;
    RdError error(rd_kafka_abort_transaction(producer_.get(), 10'000));
    in_transaction_ = false;
  }

  static void on_rebalance(rd_kafka_t* consumer, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<Thread*>(opaque);
    try {
      if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_assign(consumer, partitions);
        self->make_tasks(partitions);
        self->state_ = State::running;
      } else {
        // Eager protocol: everything is revoked; commit before letting go.
        self->state_ = State::rebalancing;
        self->commit();
        self->close_tasks();
        rd_kafka_assign(consumer, nullptr);
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(self->error_mutex_);
      if (self->send_error_.empty()) self->send_error_ = std::string("rebalance: ") + e.what();
    }
  }

  void make_tasks(rd_kafka_topic_partition_list_t* partitions) {
    std::set<std::pair<int, int32_t>> wanted;
    for (int i = 0; i < partitions->cnt; ++i) {
      auto sub = plan_->subtopology_of_topic.find(partitions->elems[i].topic);
      if (sub != plan_->subtopology_of_topic.end())
        wanted.insert({sub->second, partitions->elems[i].partition});
    }
    for (const auto& [sub, partition] : wanted) {
      if (tasks_.count({sub, partition}) != 0) continue;
      TaskSettings settings;
      settings.application_id = config_.application_id;
      settings.subtopology = sub;
      settings.partition = partition;
      settings.on_deserialization_error = config_.on_deserialization_error;
      settings.timestamp_extractor = config_.timestamp_extractor;
      settings.processing_exception_handler = config_.processing_exception_handler;
      settings.cache = &cache_;
      settings.thread_metrics = metrics_;
      settings.recording_level = config_.metrics_recording_level;
      auto task = std::make_unique<Task>(topology_, plan_->subtopologies[sub], std::move(settings),
                                         static_cast<RecordCollector&>(*this));
      task_metrics_[task->id()] = task->metrics();  // alive while reports may name it
      restore(*task, partition);
      spdlog::info("stream-thread [{}-StreamThread-{}] task {} running", config_.application_id,
                   index_ + 1, task->id());
      tasks_.emplace(std::make_pair(sub, partition), std::move(task));
    }
  }

  // Reads each of the task's changelog partitions from the start to its end
  // (committed records only) into its store.
  void restore(Task& task, int32_t partition) {
    for (const auto& [store, topic] : task.changelog_topics()) {
      RdPartitions assignment(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset =
          RD_KAFKA_OFFSET_BEGINNING;
      rd_kafka_assign(restorer_.get(), assignment.get());
      int64_t restored = 0;
      auto deadline = Clock::now() + std::chrono::minutes(5);
      bool done = false;
      while (!done) {
        if (Clock::now() > deadline) throw StreamsError("restoring " + topic + " took too long");
        rd_kafka_message_t* message = rd_kafka_consumer_poll(restorer_.get(), 200);
        if (message == nullptr) continue;
        if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          done = true;
        } else if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          spdlog::warn("restoring {}: {}", topic, rd_kafka_message_errstr(message));
        } else {
          SerializedRecord record = to_record(message);
          if (record.key) task.restore(store, *record.key, record.value);
          ++restored;
        }
        rd_kafka_message_destroy(message);
      }
      rd_kafka_assign(restorer_.get(), nullptr);
      if (restored > 0) spdlog::info("restored {} records of {} into {}", restored, topic, store);
    }
  }

  void close_tasks() {
    for (auto& [id, task] : tasks_) {
      current_task_ = task.get();
      task->close();
    }
    current_task_ = nullptr;
    tasks_.clear();
  }

  const Topology& topology_;
  const StreamsConfig& config_;
  std::shared_ptr<const Plan> plan_;
  int index_;
  std::shared_ptr<ThreadMetrics> metrics_;
  ThreadCache cache_;  // before the tasks: their caching stores use it
  // Every task's metrics this thread made, by task id: delivery reports
  // point at them, so they outlive the producer.
  std::map<std::string, std::shared_ptr<TaskMetrics>> task_metrics_;
  Task* current_task_ = nullptr;  // the task whose records send() is given
  std::thread thread_;
  std::atomic<bool> running_{true};
  std::atomic<State> state_{State::created};
  mutable std::mutex error_mutex_;
  std::string error_;
  std::string send_error_;
  RdKafka producer_;
  RdKafka consumer_;
  RdKafka restorer_;
  std::map<std::pair<int, int32_t>, std::unique_ptr<Task>> tasks_;
  std::map<std::pair<std::string, int32_t>, int64_t> processed_;  // next offset to consume
  bool in_transaction_ = false;
  Clock::time_point last_commit_;
};

KafkaStreams::KafkaStreams(const Topology& topology, StreamsConfig config)
    : topology_(topology), config_(std::move(config)) {}

KafkaStreams::~KafkaStreams() { close(); }

void KafkaStreams::start() {
  if (started_) throw std::logic_error("KafkaStreams can only be started once");
  started_ = true;
  auto plan = std::make_shared<Plan>();
  plan->subtopologies = topology_.subtopologies();
  TopicGraph graph = topic_graph(topology_, plan->subtopologies, config_.application_id);
  std::set<std::string> internal;
  for (const auto& sinks : graph.internal_sinks) internal.insert(sinks.begin(), sinks.end());
  for (size_t id = 0; id < graph.sources.size(); ++id) {
    for (const std::string& topic : graph.sources[id]) {
      plan->subtopology_of_topic[topic] = static_cast<int>(id);
      plan->source_topics.insert(topic);
    }
  }
  RdKafka admin = make_client(RD_KAFKA_PRODUCER, config_, {}, config_.admin);
  std::set<std::string> user_topics;
  for (const std::string& topic : plan->source_topics) {
    if (internal.count(topic) == 0) user_topics.insert(topic);
  }
  std::map<std::string, int> counts = partition_counts(admin.get(), user_topics);
  for (const auto& [topic, count] : counts) {
    if (count < 0) throw std::runtime_error("source topic " + topic + " does not exist");
  }
  // Tasks per sub-topology: its sources' largest partition count; a
  // repartition topic takes the count of the sub-topology writing it.
  std::vector<int> tasks(plan->subtopologies.size(), 0);
  for (size_t round = 0; round <= plan->subtopologies.size(); ++round) {
    for (size_t id = 0; id < tasks.size(); ++id) {
      for (const std::string& topic : graph.sources[id]) {
        auto known = counts.find(topic);
        if (known != counts.end()) tasks[id] = std::max(tasks[id], known->second);
      }
      for (const std::string& topic : graph.internal_sinks[id]) {
        if (tasks[id] > 0) counts[topic] = std::max(counts[topic], tasks[id]);
      }
    }
  }
  std::set<std::string> compacted;
  for (const std::string& topic : internal)
    plan->internal_partitions[topic] = std::max(1, counts[topic]);
  for (size_t id = 0; id < tasks.size(); ++id) {
    for (const std::string& store : graph.stores[id]) {
      auto builder = topology_.stores().find(store);
      if (builder == topology_.stores().end() || !builder->second.logging_enabled) continue;
      std::string topic = config_.application_id + "-" + store + "-changelog";
      plan->internal_partitions[topic] = std::max(1, tasks[id]);
      plan->changelog_topics.insert(topic);
      compacted.insert(topic);
    }
  }
  create_topics(admin.get(), plan->internal_partitions, compacted, config_.replication_factor);
  plan_ = plan;
  client_id_ = config_.client_id.empty() ? config_.application_id : config_.client_id;
  for (int i = 0; i < config_.num_stream_threads; ++i) {
    auto metrics =
        std::make_shared<ThreadMetrics>(client_id_ + "-StreamThread-" + std::to_string(i + 1));
    thread_metrics_.push_back(metrics);
    threads_.push_back(std::make_unique<Thread>(topology_, config_, plan_, i, metrics));
  }
  if (!config_.prometheus_listener.empty()) {
    metrics_http_ = std::make_unique<MetricsHttpServer>(
        config_.prometheus_listener, [this] { return prometheus_text(metrics()); });
    spdlog::info("stream-client [{}]: Prometheus metrics on http://{}:{}/metrics", client_id_,
                 metrics_http_->host(), metrics_http_->port());
  }
  for (auto& thread : threads_) thread->start();
}

std::vector<Metric> KafkaStreams::metrics() const {
  std::vector<Metric> out;
  std::map<std::string, std::string> tags = {{"client-id", client_id_}};
  const char* group = "stream-metrics";
  out.push_back({"version", group, "The version of the Kafka Streams client", tags, 0,
                 std::string(kStreamsVersion)});
  out.push_back({"application-id", group, "The application ID of the Kafka Streams client", tags, 0,
                 config_.application_id});
  out.push_back({"state", group, "The state of the Kafka Streams client", tags, 0,
                 std::string(state_name(state()))});
  int alive = 0;
  int failed = 0;
  for (const auto& thread : threads_) {
    State thread_state = thread->state();
    if (thread_state == State::error) {
      ++failed;
    } else if (thread_state != State::not_running) {
      ++alive;
    }
  }
  out.push_back({"alive-stream-threads", group, "The current number of alive stream threads", tags,
                 static_cast<double>(alive), std::nullopt});
  out.push_back({"failed-stream-threads", group,
                 "The number of failed stream threads since the start of the Kafka Streams "
                 "client",
                 tags, static_cast<double>(failed), std::nullopt});
  for (const auto& thread : thread_metrics_) add_thread_metrics(*thread, out);
  return out;
}

void KafkaStreams::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& thread : threads_) thread->stop();
}

KafkaStreams::State KafkaStreams::state() const {
  if (!started_) return State::created;
  if (closed_) return State::not_running;
  bool all_running = true;
  for (const auto& thread : threads_) {
    State state = thread->state();
    if (state == State::error) return State::error;
    if (state != State::running) all_running = false;
  }
  return all_running ? State::running : State::rebalancing;
}

std::string KafkaStreams::error() const {
  for (const auto& thread : threads_) {
    std::string error = thread->error();
    if (!error.empty()) return error;
  }
  return "";
}

const char* state_name(KafkaStreams::State state) {
  switch (state) {
    case KafkaStreams::State::created:
      return "CREATED";
    case KafkaStreams::State::rebalancing:
      return "REBALANCING";
    case KafkaStreams::State::running:
      return "RUNNING";
    case KafkaStreams::State::pending_shutdown:
      return "PENDING_SHUTDOWN";
    case KafkaStreams::State::not_running:
      return "NOT_RUNNING";
    case KafkaStreams::State::error:
      return "ERROR";
  }
  return "UNKNOWN";
}

}  // namespace sluice::streams
