#include "streams/kafka_streams.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include "streams/checkpoint.h"
#include "streams/copartition.h"
#include "streams/global_thread.h"
#include "streams/rdkafka_client.h"
#include "streams/state_directory.h"
#include "streams/stream_thread_membership.h"
#include "streams/task.h"

namespace sluice::streams {

using namespace rdkafka;  // NOLINT(google-build-using-namespace): this file's handles

namespace {

// The Kafka Streams version whose behaviour this library follows.
constexpr const char* kStreamsVersion = "3.9.0";
using Clock = std::chrono::steady_clock;

// The latest offset of each partition (ListOffsets; the last stable
// offset for a read_committed client); partitions without an answer are
// left out.
std::map<TopicPartition, int64_t> end_offsets(rd_kafka_t* client,
                                              const std::vector<TopicPartition>& partitions) {
  RdPartitions list(rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const TopicPartition& partition : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), partition.topic.c_str(), partition.partition)
        ->offset = RD_KAFKA_OFFSET_END;  // the timestamp -1: latest
  }
  std::map<TopicPartition, int64_t> ends;
  if (rd_kafka_offsets_for_times(client, list.get(), kAdminTimeoutMs) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ends;
  }
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& entry = list->elems[i];
    if (entry.err == RD_KAFKA_RESP_ERR_NO_ERROR && entry.offset >= 0)
      ends[{entry.topic, entry.partition}] = entry.offset;
  }
  return ends;
}

Uuid random_process_id() {
  std::random_device random;
  Uuid id;
  for (uint8_t& byte : id.bytes) byte = static_cast<uint8_t>(random());
  id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
  id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);
  return id;
}

// A UUID's text (8-4-4-4-12 hex digits, as the state directory keeps it).
Uuid uuid_from_text(const std::string& text) {
  Uuid id;
  size_t byte = 0;
  for (size_t i = 0; i + 1 < text.size() && byte < id.bytes.size(); ++i) {
    if (text[i] == '-') continue;
    id.bytes[byte++] = static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16));
    ++i;
  }
  return id;
}

// "1_3" -> TaskId{1, 3}; nullopt for a name that is not a task's.
std::optional<TaskId> task_of_directory(const std::string& name) {
  size_t separator = name.find('_');
  if (separator == std::string::npos) return std::nullopt;
  try {
    return TaskId{std::stoi(name.substr(0, separator)), std::stoi(name.substr(separator + 1))};
  } catch (const std::exception&) {
    return std::nullopt;  // out of range
  }
}

}  // namespace

// What every thread shares: the sub-topologies and their topics.
struct KafkaStreams::Plan {
  std::vector<std::vector<std::string>> subtopologies;
  std::map<std::string, int> subtopology_of_topic;  // resolved source topic -> sub-topology
  std::set<std::string> source_topics;
  std::map<std::string, int> internal_partitions;  // internal topic -> partitions
  std::set<std::string> changelog_topics;
  TaskLayout layout;  // what the group's assignment hands out
  // This instance in the group's subscriptions: kept in the state
  // directory when there is one (a restart is the same client), else new.
  Uuid process_id;
  // `<state.dir>/<application.id>`, locked; null without persistent stores.
  std::shared_ptr<StateDirectory> state_directory;
  std::shared_ptr<LocalStores> local_stores;  // what interactive queries read
  // Where the stores live across instances, from each assignment's host maps.
  std::shared_ptr<StreamsMetadataState> metadata_state;
  std::map<std::string, StateStore*> global_stores;  // kept by the global thread
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

// The source topics feeding each store of the tasks (Kafka's
// stateStoreNameToSourceTopics): those of the sources upstream of every
// processor connected to the store. Global stores are not among them.
std::map<std::string, std::set<std::string>> store_source_topics(
    const Topology& topology, const std::vector<std::vector<std::string>>& subtopologies,
    const std::string& application_id) {
  std::map<std::string, std::set<std::string>> sources_of_store;
  for (const std::vector<std::string>& subtopology : subtopologies) {
    if (topology.is_global(subtopology)) continue;
    for (const std::string& name : subtopology) {
      const NodeSpec& spec = *topology.find(name);
      if (spec.stores.empty()) continue;
      std::set<std::string> topics;
      std::set<std::string> seen;
      std::vector<const NodeSpec*> upstream = {&spec};
      while (!upstream.empty()) {
        const NodeSpec* node = upstream.back();
        upstream.pop_back();
        if (!seen.insert(node->name).second) continue;
        if (node->kind == NodeKind::source) {
          for (const std::string& topic : node->topics) {
            topics.insert(Topology::resolve_topic(topic, node->internal_topics, application_id));
          }
        }
        for (const std::string& parent : node->parents) upstream.push_back(topology.find(parent));
      }
      for (const std::string& store : spec.stores)
        sources_of_store[store].insert(topics.begin(), topics.end());
    }
  }
  return sources_of_store;
}

// Kafka creates the state directory only for a topology with a persistent store.
bool has_persistent_stores(const Topology& topology) {
  for (const auto& [name, builder] : topology.stores()) {
    if (builder.build()->persistent()) return true;  // not opened: no files made
  }
  return false;
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
        cache_(config.cache_max_bytes / config.num_stream_threads),
        membership_(membership_settings(config_, client_id(), plan_->process_id), plan_->layout,
                    [this](const std::vector<TopicPartition>& partitions) {
                      return end_offsets(restorer_.get(), partitions);
                    }) {}
  ~Thread() override { stop(); }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    running_ = false;
    membership_.cancel_waits();  // a JoinGroup waiting for the group
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
      drop_tasks();
      state_ = State::error;
    }
  }

  std::string client_id() const {
    return config_.application_id + "-StreamThread-" + std::to_string(index_ + 1);
  }

  void set_up() {
    std::string client_id = this->client_id();
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
        {"isolation.level", exactly_once() ? "read_committed" : "read_uncommitted"}};
    // The group's membership is membership_'s; this consumer only fetches
    // the partitions assigned to it (and their committed offsets).
    consumer_ = make_client(RD_KAFKA_CONSUMER, config_, consumer_defaults, config_.consumer);
    rd_kafka_poll_set_consumer(consumer_.get());
    restorer_ = make_client(RD_KAFKA_CONSUMER, config_,
                            {{"client.id", client_id + "-restore-consumer"},
                             {"group.id", config_.application_id + "-restore"},
                             {"enable.auto.commit", "false"},
                             {"enable.partition.eof", "true"},
                             {"isolation.level", "read_committed"}},
                            config_.consumer);
    state_ = State::rebalancing;
    last_commit_ = Clock::now();
  }

  // Two clock readings a record (after the poll, after processing) time
  // the poll, the processing and the commit interval; punctuations time
  // themselves (Task), only when they run.
  void loop() {
    Clock::time_point now = Clock::now();
    while (running_) {
      if (membership_.rejoin_needed()) {
        rebalance();
        continue;
      }
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), 100);
      Clock::time_point polled = Clock::now();
      metrics_->poll.record(nanoseconds(polled - now));
      now = polled;
      if (message != nullptr) {
        now = handle(message, polled);
        rd_kafka_message_destroy(message);
      }
      throw_if_failed();
      update_standbys();
      maybe_probe_early();
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
    close_standbys();
    membership_.leave("the stream thread is shutting down");
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
    SerializedRecord record = record_of(message);
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

  // RecordCollector: a sink's StreamPartitioner needs the count; read from
  // the cluster's metadata at most every metadata.max.age.ms (Kafka's
  // producer default), as a Java producer's partitionsFor() would.
  int32_t partition_count(const std::string& topic) override {
    static constexpr std::chrono::minutes kMetadataMaxAge{5};
    Clock::time_point now = Clock::now();
    auto known = partition_counts_.find(topic);
    if (known != partition_counts_.end() && now - known->second.read_at < kMetadataMaxAge) {
      return known->second.count;
    }
    std::string task = current_task_ != nullptr ? current_task_->id() : "";
    int count = -1;
    try {
      count = rdkafka::partition_counts(producer_.get(), {topic}).at(topic);
    } catch (const std::runtime_error& e) {
      throw StreamsError("Could not determine the number of partitions for topic '" + topic +
                         "' for task " + task + " due to " + e.what());
    }
    if (count <= 0) {
      throw StreamsError("Could not get partition information for topic " + topic + " for task " +
                         task + ". This can happen if the topic does not exist.");
    }
    partition_counts_[topic] = KnownPartitionCount{count, now};
    return count;
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
    auto* self = static_cast<Thread*>(opaque);
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->note_changelog_offset(message);
      return;
    }
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
    checkpoint_standbys();  // committed records only: any time
    struct Timed {
      ThreadMetrics& metrics;
      Clock::time_point started;
      ~Timed() { metrics.commit.record(nanoseconds(Clock::now() - started)); }
    } timed{*metrics_, started};
    if (exactly_once()) {
      commit_transaction();
    } else if (!commit_offsets()) {
      return;
    }
    processed_.clear();
  }

  // at_least_once: what was sent reaches the broker, then the offsets are
  // committed and the tasks checkpointed; false when the commit failed.
  bool commit_offsets() {
    rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), kAdminTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw StreamsError(std::string("flush: ") + rd_kafka_err2str(err));
    throw_if_failed();
    if (!processed_.empty()) {
      // With the member's generation: a member the group moved on from is
      // refused (its tasks run elsewhere now).
      const ErrorCode error = membership_.commit(processed_);
      if (task_migrated(error)) {
        lose_tasks(std::string("the offset commit was refused (") + error_name(error) + ")");
        return false;
      }
      if (error != ErrorCode::NONE) {
        spdlog::warn("{}: cannot commit offsets ({}); retrying at the next commit", log_prefix(),
                     error_name(error));
        return false;
      }
    }
    // The stores (flushed above) hold what the changelogs acknowledged; a
    // restart restores from here.
    checkpoint_tasks();
    return true;
  }

  // The offset of every changelog record the broker acknowledged (the
  // checkpoint's offsets).
  void note_changelog_offset(const rd_kafka_message_t* message) {
    std::string topic = rd_kafka_topic_name(message->rkt);
    if (plan_->changelog_topics.count(topic) == 0) return;
    int64_t& offset = changelog_written_[{topic, message->partition}];
    offset = std::max(offset, static_cast<int64_t>(message->offset));
    checkpoint_due_ = true;
  }

  void checkpoint_tasks() {
    if (!checkpoint_due_) return;
    for (auto& [id, task] : tasks_) task->checkpoint(changelog_written_);
    checkpoint_due_ = false;
  }

  static bool task_migrated(ErrorCode error) {
    return error == ErrorCode::ILLEGAL_GENERATION || error == ErrorCode::UNKNOWN_MEMBER_ID ||
           error == ErrorCode::REBALANCE_IN_PROGRESS || error == ErrorCode::FENCED_INSTANCE_ID;
  }

  std::string log_prefix() const { return "stream-thread [" + client_id() + "]"; }

  void commit_transaction() {
    if (!in_transaction_ && processed_.empty()) return;
    if (!in_transaction_) {
      RdError error(rd_kafka_begin_transaction(producer_.get()));
      if (error) throw StreamsError("cannot begin a transaction: " + error_text(error.get()));
      in_transaction_ = true;
    }
    if (!processed_.empty()) {
      RdPartitions offsets = processed_offsets();
      // The member's generation and id go with the offsets (KIP-447): the
      // coordinator refuses them from a member the group moved on from.
      std::unique_ptr<rd_kafka_consumer_group_metadata_t, RdDeleter> group(
          rd_kafka_consumer_group_metadata_new_with_genid(
              config_.application_id.c_str(), membership_.generation(),
              membership_.member_id().c_str(), nullptr));
      RdError error(rd_kafka_send_offsets_to_transaction(producer_.get(), offsets.get(),
                                                         group.get(), kAdminTimeoutMs));
      if (error && rd_kafka_error_txn_requires_abort(error.get())) {
        lose_tasks("the transaction's offsets were refused: " + error_text(error.get()));
        return;
      }
      if (error)
        throw StreamsError("cannot add offsets to the transaction: " + error_text(error.get()));
    }
    RdError error(rd_kafka_commit_transaction(producer_.get(), kAdminTimeoutMs));
    if (error && rd_kafka_error_txn_requires_abort(error.get())) {
      lose_tasks("the transaction failed: " + error_text(error.get()));
      return;
    }
    if (error) throw StreamsError("cannot commit the transaction: " + error_text(error.get()));
    in_transaction_ = false;
    throw_if_failed();
  }

  void abort_quietly() {
    if (!exactly_once() || !in_transaction_ || !producer_) return;
    RdError error(rd_kafka_abort_transaction(producer_.get(), 10'000));
    in_transaction_ = false;
  }

  // A rebalance (eager, as the consumer protocol's classic group): commit
  // what was processed, join with what this thread holds, then close what
  // moved away and open what came; kept tasks carry on with their state.
  struct Standby {
    std::unique_ptr<Task> task;
    std::map<std::string, int64_t> positions;  // changelog topic -> next offset (-1: start)
    int64_t checkpointed_sum = 0;              // offset_sum() at the last checkpoint

    int64_t offset_sum() const {
      int64_t sum = 0;
      for (const auto& [topic, position] : positions) sum += std::max<int64_t>(0, position);
      return sum;
    }
  };

  void rebalance() {
    state_ = State::rebalancing;
    commit();
    Result<ThreadAssignment> assignment = membership_.rebalance(owned_tasks());
    if (!assignment.is_ok()) {
      spdlog::warn("{}: joining the group failed ({}); trying again", log_prefix(),
                   assignment.status().to_string());
      // A pause before the next attempt (a coordinator moving or loading).
      for (int i = 0; i < 10 && running_; ++i) std::this_thread::sleep_for(kRejoinBackoff / 10);
      return;
    }
    // Queries learn the new owners before this thread restores its tasks
    // (Kafka's onAssignment does the same).
    plan_->metadata_state->on_change(assignment->partitions_by_host,
                                     assignment->standby_partitions_by_host);
    if (assignment->previous_tasks_lost && !tasks_.empty()) {
      close_tasks_dirty("a generation went by without this member");
    }
    apply(*assignment);
    state_ = State::running;
  }

  using TaskKey = std::pair<int, int32_t>;
  static TaskKey key_of(const TaskId& task) { return {task.subtopology, task.partition}; }
  static std::string task_name(const TaskKey& key) {
    return std::to_string(key.first) + "_" + std::to_string(key.second);
  }

  // What this thread tells the group it holds (Kafka's task offset sums):
  // its active tasks, its standbys' changelog positions, and the
  // checkpoints of the other task directories on disk no thread holds, so
  // an instance restarted on its state directory gets its tasks back.
  ThreadTasks owned_tasks() {
    ThreadTasks owned;
    for (const auto& [key, task] : tasks_) owned.active.insert(TaskId{key.first, key.second});
    for (const auto& [key, standby] : standbys_) {
      owned.standby_offset_sums[TaskId{key.first, key.second}] = standby.offset_sum();
    }
    if (!plan_->state_directory) return owned;
    std::set<TaskId> known = plan_->layout.stateful_tasks();
    for (const std::string& name : plan_->state_directory->task_directories()) {
      std::optional<TaskId> task = task_of_directory(name);
      if (!task || known.count(*task) == 0) continue;
      TaskKey key = key_of(*task);
      if (tasks_.count(key) != 0 || standbys_.count(key) != 0) continue;
      // Another thread's task (it reports it): not read here.
      if (!plan_->state_directory->lock_task(name, index_, std::chrono::milliseconds(0))) continue;
      std::optional<int64_t> sum = checkpointed_offset_sum(name);
      plan_->state_directory->unlock_task(name, index_);
      if (sum) owned.standby_offset_sums[*task] = *sum;
    }
    return owned;
  }

  // The next changelog offsets a task directory's checkpoint names, summed
  // (nullopt: no checkpoint, or one that cannot be read).
  std::optional<int64_t> checkpointed_offset_sum(const std::string& task) {
    OffsetCheckpoint file(plan_->state_directory->application_dir() + "/" + task + "/" +
                          OffsetCheckpoint::kFileName);
    if (!file.exists()) return std::nullopt;
    try {
      int64_t sum = 0;
      for (const auto& [partition, offset] : file.read()) sum += offset + 1;
      return sum;
    } catch (const std::exception& e) {
      spdlog::warn("{}: the checkpoint of task {} is unreadable ({}): not reported", log_prefix(),
                   task, e.what());
      return std::nullopt;
    }
  }

  void apply(const ThreadAssignment& assignment) {
    std::set<TaskKey> active;
    std::set<TaskKey> standby;
    for (const TaskId& task : assignment.active) active.insert(key_of(task));
    for (const TaskId& task : assignment.standby) standby.insert(key_of(task));
    // What moved away: closed clean (the commit before the rebalance made
    // their state durable), with their checkpoints.
    RdPartitions revoked(rd_kafka_topic_partition_list_new(4));
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (active.count(it->first) != 0) {
        ++it;
        continue;
      }
      add_input_partitions(revoked.get(), it->first, RD_KAFKA_OFFSET_INVALID);
      spdlog::info("{}: task {} closed (assigned elsewhere)", log_prefix(), it->second->id());
      close_task(it->first, *it->second, /*clean=*/true);
      it = tasks_.erase(it);
    }
    if (revoked->cnt > 0) rd_kafka_incremental_unassign(consumer_.get(), revoked.get());
    for (auto it = standbys_.begin(); it != standbys_.end();) {
      if (standby.count(it->first) != 0 || active.count(it->first) != 0) {
        ++it;
        continue;
      }
      close_standby(it->first, it->second, /*clean=*/true);
      it = standbys_.erase(it);
    }
    // What came: from a standby copy when there is one, else restored
    // (from the task directory's checkpoint when it has one).
    RdPartitions added(rd_kafka_topic_partition_list_new(4));
    for (const TaskKey& key : active) {
      if (tasks_.count(key) != 0) continue;
      std::unique_ptr<Task> task;
      auto copy = standbys_.find(key);
      if (copy != standbys_.end()) {
        task = std::move(copy->second.task);
        task->promote();
        int64_t caught_up = restore(*task, key.second, copy->second.positions);
        standbys_.erase(copy);
        spdlog::info(
            "{}: task {} running: promoted from a standby replica ({} changelog records to catch "
            "up)",
            log_prefix(), task->id(), caught_up);
      } else {
        task = make_task(key, /*standby=*/false);
        if (task->changelog_topics().empty()) {
          spdlog::info("{}: task {} running", log_prefix(), task->id());
        } else {
          bool checkpointed = has_checkpointed_offsets(*task);
          int64_t restored = restore(*task, key.second, {});
          spdlog::info("{}: task {} running: restored {} changelog records from {}", log_prefix(),
                       task->id(), restored, checkpointed ? "its checkpoint" : "the start");
        }
      }
      checkpoint_due_ = true;  // what was restored need not be again
      publish_stores(*task);
      add_input_partitions(added.get(), key, RD_KAFKA_OFFSET_INVALID);  // the committed offset
      tasks_.emplace(key, std::move(task));
    }
    if (added->cnt > 0) rd_kafka_incremental_assign(consumer_.get(), added.get());
    for (const TaskKey& key : standby) {
      if (standbys_.count(key) != 0 || active.count(key) != 0) continue;
      Standby copy;
      copy.task = make_task(key, /*standby=*/true);
      // From the checkpoint of its directory, else the changelog's start.
      for (const auto& [store, topic] : copy.task->changelog_topics()) {
        copy.positions[topic] = copy.task->restore_start_offset(store).value_or(-1);
      }
      copy.checkpointed_sum = copy.offset_sum();
      spdlog::info("{}: standby task {} created{}", log_prefix(), copy.task->id(),
                   copy.checkpointed_sum > 0 ? " from its checkpoint" : "");
      standbys_.emplace(key, std::move(copy));
    }
    follow_standby_changelogs();
    bool new_replicas = false;
    for (const TaskKey& key : standby) new_replicas |= previous_standbys_.count(key) == 0;
    // New replicas: one early probe allowed after a second. The same ones
    // again (the leader saw them still behind: the changelog moved while
    // the group rebalanced): a few more, each after twice the wait.
    early_probe_wait_ = new_replicas
                            ? kEarliestProbe
                            : std::min<Clock::duration>(early_probe_wait_ * 2, kLatestProbe);
    if (new_replicas) early_probes_left_ = kEarlyProbes;
    early_probe_armed_ = early_probes_left_ > 0;
    previous_standbys_ = standby;
    assigned_at_ = Clock::now();
  }

  static bool has_checkpointed_offsets(const Task& task) {
    for (const auto& [store, topic] : task.changelog_topics()) {
      if (task.restore_start_offset(store)) return true;
    }
    return false;
  }

  // An active task's stores become queryable (interactive queries see
  // active tasks only, as Kafka's default store query parameters do).
  void publish_stores(Task& task) {
    std::map<std::string, const StateStore*> queryable;
    for (const std::string& name : task.store_names()) queryable[name] = task.store(name);
    plan_->local_stores->add(task.id(), task.settings().partition, queryable);
  }

  void add_input_partitions(rd_kafka_topic_partition_list_t* list, const TaskKey& key,
                            int64_t offset) {
    for (const TopicPartition& partition :
         plan_->layout.input_partitions(TaskId{key.first, key.second})) {
      rd_kafka_topic_partition_list_add(list, partition.topic.c_str(), partition.partition)
          ->offset = offset;
    }
  }

  // A task (active or standby) in its directory of the state directory:
  // the directory locked for this thread, the stores opened from their
  // checkpoint, the local state wiped when the checkpoint does not fit
  // the changelog.
  std::unique_ptr<Task> make_task(const TaskKey& key, bool standby) {
    TaskSettings settings;
    settings.application_id = config_.application_id;
    settings.subtopology = key.first;
    settings.partition = key.second;
    settings.on_deserialization_error = config_.on_deserialization_error;
    settings.global_stores = plan_->global_stores;
    settings.timestamp_extractor = config_.timestamp_extractor;
    settings.processing_exception_handler = config_.processing_exception_handler;
    settings.cache = &cache_;
    settings.thread_metrics = metrics_;
    settings.recording_level = config_.metrics_recording_level;
    settings.exactly_once = exactly_once();
    settings.standby = standby;
    std::string name = task_name(key);
    if (plan_->state_directory) {
      if (!plan_->state_directory->lock_task(name, index_, kTaskLockTimeout))
        throw StreamsError("cannot lock the state directory of task " + name);
      settings.state_dir = plan_->state_directory->task_dir(name);
    }
    try {
      auto task = std::make_unique<Task>(topology_, plan_->subtopologies[key.first], settings,
                                         static_cast<RecordCollector&>(*this));
      if (!checkpoint_in_range(*task, key.second)) {
        // Kafka's TaskCorruptedException: the local state is of another
        // changelog history; start over from the changelog's beginning.
        task->close();
        StateDirectory::wipe_task_state(settings.state_dir);
        task = std::make_unique<Task>(topology_, plan_->subtopologies[key.first], settings,
                                      static_cast<RecordCollector&>(*this));
      }
      task_metrics_[task->id()] = task->metrics();  // alive while reports may name it
      return task;
    } catch (...) {
      if (plan_->state_directory) plan_->state_directory->unlock_task(name, index_);
      throw;
    }
  }

  // Whether each checkpointed offset lies within its changelog partition
  // (a changelog deleted and made again does not hold it).
  bool checkpoint_in_range(Task& task, int32_t partition) {
    for (const auto& [store, topic] : task.changelog_topics()) {
      std::optional<int64_t> start = task.restore_start_offset(store);
      if (!start) continue;
      auto [low, high] = watermarks(topic, partition);
      if (*start > high || *start < low) {
        spdlog::warn(
            "stream task {}: the checkpointed offset {} of changelog {}-{} is out of its range "
            "[{}, {}]: wiping the task's local state and restoring it from the beginning",
            task.id(), *start - 1, topic, partition, low, high);
        return false;
      }
    }
    return true;
  }

  std::pair<int64_t, int64_t> watermarks(const std::string& topic, int32_t partition) {
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        restorer_.get(), topic.c_str(), partition, &low, &high, kAdminTimeoutMs);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      throw StreamsError("cannot read the offsets of " + topic + ": " + rd_kafka_err2str(err));
    }
    return {low, high};
  }

  // Reads each of the task's changelog partitions from `from` (topic ->
  // next offset, a standby's position), else from the offset after its
  // checkpoint (persistent stores), else from the start, to its end
  // (committed records only) into its store; how many records that took.
  int64_t restore(Task& task, int32_t partition, const std::map<std::string, int64_t>& from) {
    int64_t total = 0;
    for (const auto& [store, topic] : task.changelog_topics()) {
      auto position = from.find(topic);
      std::optional<int64_t> start = position != from.end() && position->second >= 0
                                         ? std::optional<int64_t>(position->second)
                                         : task.restore_start_offset(store);
      auto began = Clock::now();
      auto [low, high] = watermarks(topic, partition);
      // Nothing after the checkpoint (an empty changelog, a caught-up
      // copy): no fetch waiting for records that will not come.
      bool nothing_to_read = (start ? *start : low) >= high;
      RdPartitions assignment(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), partition)->offset =
          start ? *start : RD_KAFKA_OFFSET_BEGINNING;
      if (!nothing_to_read) rd_kafka_assign(restorer_.get(), assignment.get());
      int64_t restored = 0;
      // A large store takes long: only a restore that stops moving fails.
      auto deadline = Clock::now() + std::chrono::minutes(5);
      bool done = nothing_to_read;
      while (!done) {
        if (Clock::now() > deadline) {
          throw StreamsError("restoring " + topic + " made no progress for 5 minutes");
        }
        rd_kafka_message_t* message = rd_kafka_consumer_poll(restorer_.get(), 200);
        if (message == nullptr) continue;
        deadline = Clock::now() + std::chrono::minutes(5);
        if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          done = true;
        } else if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          spdlog::warn("restoring {}: {}", topic, rd_kafka_message_errstr(message));
        } else {
          SerializedRecord record = record_of(message);
          if (record.key) task.restore(store, *record.key, record.value, record.offset);
          ++restored;
        }
        rd_kafka_message_destroy(message);
      }
      if (!nothing_to_read) rd_kafka_assign(restorer_.get(), nullptr);
      // Kafka's line; the count tells a restart from a checkpoint from a full restore.
      spdlog::info(
          "stream-thread [{}-StreamThread-{}] Finished restoring changelog {}-{} to store {} with "
          "a total number of {} records (from offset {}) in {} ms",
          config_.application_id, index_ + 1, topic, partition, store, restored,
          start ? std::to_string(*start) : std::string("beginning"),
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began).count());
      total += restored;
    }
    return total;
  }

  // The restore consumer follows every standby's changelogs from where
  // each copy is.
  void follow_standby_changelogs() {
    standby_changelogs_.clear();
    RdPartitions assignment(rd_kafka_topic_partition_list_new(4));
    for (auto& [key, standby] : standbys_) {
      for (const auto& [store, topic] : standby.task->changelog_topics()) {
        standby_changelogs_[{topic, key.second}] = {key, store};
        int64_t position = standby.positions[topic];
        rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), key.second)->offset =
            position >= 0 ? position : RD_KAFKA_OFFSET_BEGINNING;
      }
    }
    rd_kafka_assign(restorer_.get(), assignment->cnt > 0 ? assignment.get() : nullptr);
  }

  // Applies what the standbys' changelogs have to their stores (never
  // processing: a standby only keeps state).
  void update_standbys() {
    if (standbys_.empty()) return;
    for (int i = 0; i < kStandbyRecordsPerLoop; ++i) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(restorer_.get(), 0);
      if (message == nullptr) return;
      apply_to_standby(message);
      rd_kafka_message_destroy(message);
    }
  }

  void apply_to_standby(rd_kafka_message_t* message) {
    if (message->rkt == nullptr) return;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR &&
        message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("{}: standby: {}", log_prefix(), rd_kafka_message_errstr(message));
      return;
    }
    std::string topic = rd_kafka_topic_name(message->rkt);
    auto changelog = standby_changelogs_.find({topic, message->partition});
    if (changelog == standby_changelogs_.end()) return;
    Standby& standby = standbys_.at(changelog->second.first);
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      standby.positions[topic] = message->offset;  // the end (past transaction markers)
      return;
    }
    SerializedRecord record = record_of(message);
    if (record.key) {
      standby.task->restore(changelog->second.second, *record.key, record.value, record.offset);
    }
    standby.positions[topic] = message->offset + 1;
  }

  // Standbys write their checkpoints as Kafka's do: at a commit once their
  // changelog positions moved more than 10,000 offsets, and when closed.
  void checkpoint_standbys() {
    for (auto& [key, standby] : standbys_) {
      int64_t sum = standby.offset_sum();
      if (sum - standby.checkpointed_sum <= kStandbyCheckpointDelta) continue;
      standby.task->checkpoint({});
      standby.checkpointed_sum = sum;
    }
  }

  // Kafka waits probing.rebalance.interval.ms before it checks warm-ups
  // again; a member given new replicas asks for that rebalance as soon as
  // they are all within acceptable.recovery.lag, so a task moves to it in
  // seconds. The leader measures the lag while the group rebalances, when
  // the copy is not read: with records still arriving it may find the
  // replicas behind again, so the same replicas get a few more early
  // probes, further apart; then a probe that changed nothing waits for
  // the scheduled time.
  void maybe_probe_early() {
    if (!early_probe_armed_ || standbys_.empty() || !membership_.probing_scheduled()) return;
    if (Clock::now() - assigned_at_ < early_probe_wait_) return;
    if (Clock::now() < next_probe_check_) return;
    next_probe_check_ = Clock::now() + std::chrono::milliseconds(500);
    for (auto& [key, standby] : standbys_) {
      for (const auto& [topic, position] : standby.positions) {
        int64_t low = 0;
        int64_t high = -1;
        rd_kafka_get_watermark_offsets(restorer_.get(), topic.c_str(), key.second, &low, &high);
        if (high < 0 || position < 0 || high - position > config_.acceptable_recovery_lag) return;
      }
    }
    spdlog::info("{}: standby and warm-up tasks caught up; asking for the probing rebalance",
                 log_prefix());
    early_probe_armed_ = false;
    --early_probes_left_;
    membership_.request_rejoin();
  }

  // Tasks that may run elsewhere now (the group moved on without this
  // member): closed without a commit; the next rebalance hands out anew.
  void lose_tasks(const std::string& why) {
    close_tasks_dirty(why);
    membership_.request_rejoin();
  }

  // Kafka's dirty close of lost tasks: no commit and no checkpoint (under
  // exactly_once_v2 the next start wipes their stores, under
  // at_least_once it restores from the last checkpoint).
  void close_tasks_dirty(const std::string& why) {
    spdlog::warn("{}: {}: closing {} active tasks without committing", log_prefix(), why,
                 tasks_.size());
    abort_quietly();
    for (auto& [key, task] : tasks_) close_task(key, *task, /*clean=*/false);
    tasks_.clear();
    rd_kafka_assign(consumer_.get(), nullptr);
    processed_.clear();
  }

  // A clean close (after a commit): tasks leave the queryable stores,
  // checkpoint (both guarantees) and close.
  void close_tasks() {
    for (auto& [key, task] : tasks_) {
      current_task_ = task.get();  // what its caches send is the task's
      close_task(key, *task, /*clean=*/true);
    }
    current_task_ = nullptr;
    tasks_.clear();
  }

  void close_standbys() {
    for (auto& [key, standby] : standbys_) close_standby(key, standby, /*clean=*/true);
    standbys_.clear();
  }

  // A failed thread's tasks and standbys: closed without a checkpoint.
  void drop_tasks() {
    for (auto& [key, task] : tasks_) close_task(key, *task, /*clean=*/false);
    tasks_.clear();
    for (auto& [key, standby] : standbys_) close_standby(key, standby, /*clean=*/false);
    standbys_.clear();
  }

  void close_task(const TaskKey& key, Task& task, bool clean) {
    plan_->local_stores->remove(task.id());
    close_in_directory(key, task, clean ? &changelog_written_ : nullptr);
  }

  void close_standby(const TaskKey& key, Standby& standby, bool clean) {
    static const std::map<TopicPartition, int64_t> kNothingWritten;
    close_in_directory(key, *standby.task, clean ? &kNothingWritten : nullptr);
  }

  // Closes a task, with a checkpoint of `written` (a clean close) or none
  // (dirty: its errors are only logged, the thread is failing or the task
  // lost already), and lets its directory go.
  void close_in_directory(const TaskKey& key, Task& task,
                          const std::map<TopicPartition, int64_t>* written) {
    try {
      if (written != nullptr) task.checkpoint(*written);
      task.close();
    } catch (const std::exception& e) {
      if (written == nullptr) {
        spdlog::warn("{}: closing task {}: {}", log_prefix(), task.id(), e.what());
      } else {
        release_task_directory(key);
        throw;
      }
    }
    release_task_directory(key);
  }

  void release_task_directory(const TaskKey& key) {
    if (plan_->state_directory) plan_->state_directory->unlock_task(task_name(key), index_);
  }

  static constexpr auto kRejoinBackoff = std::chrono::milliseconds(500);
  static constexpr auto kEarliestProbe = std::chrono::seconds(1);
  static constexpr auto kLatestProbe = std::chrono::seconds(30);
  static constexpr int kEarlyProbes = 4;  // after 1, 2, 4 and 8 s
  static constexpr auto kTaskLockTimeout = std::chrono::seconds(30);
  static constexpr int kStandbyRecordsPerLoop = 1000;
  static constexpr int64_t kStandbyCheckpointDelta =
      10'000;  // Kafka's OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT

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
  struct KnownPartitionCount {
    int32_t count = 0;
    Clock::time_point read_at;
  };
  std::map<std::string, KnownPartitionCount> partition_counts_;  // partition_count()'s
  std::thread thread_;
  std::atomic<bool> running_{true};
  std::atomic<State> state_{State::created};
  mutable std::mutex error_mutex_;
  std::string error_;
  std::string send_error_;
  RdKafka producer_;
  RdKafka consumer_;
  RdKafka restorer_;
  StreamThreadMembership membership_;
  std::map<std::pair<int, int32_t>, std::unique_ptr<Task>> tasks_;
  std::map<TaskKey, Standby> standbys_;
  // changelog partition -> its standby and store
  std::map<std::pair<std::string, int32_t>, std::pair<TaskKey, std::string>> standby_changelogs_;
  std::set<TaskKey> previous_standbys_;
  bool early_probe_armed_ = false;
  int early_probes_left_ = 0;
  Clock::duration early_probe_wait_ = kEarliestProbe;
  Clock::time_point assigned_at_;
  Clock::time_point next_probe_check_;
  std::map<std::pair<std::string, int32_t>, int64_t> processed_;  // next offset to consume
  std::map<TopicPartition, int64_t> changelog_written_;  // last acknowledged changelog offsets
  bool checkpoint_due_ = false;
  bool in_transaction_ = false;
  Clock::time_point last_commit_;
};

KafkaStreams::KafkaStreams(const Topology& topology, StreamsConfig config)
    : topology_(topology), config_(std::move(config)) {}

KafkaStreams::~KafkaStreams() { close(); }

void KafkaStreams::start() {
  if (started_) throw std::logic_error("KafkaStreams can only be started once");
  started_ = true;
  // Checked before anything starts (from_properties checked it already).
  const std::optional<HostInfo> this_host = host_info_from_endpoint(config_.application_server);
  auto plan = std::make_shared<Plan>();
  plan->subtopologies = topology_.subtopologies();
  TopicGraph graph = topic_graph(topology_, plan->subtopologies, config_.application_id);
  std::set<std::string> internal;
  for (const auto& sinks : graph.internal_sinks) internal.insert(sinks.begin(), sinks.end());
  std::vector<std::string> global_nodes;  // global stores' sub-topologies: no tasks
  for (size_t id = 0; id < graph.sources.size(); ++id) {
    if (topology_.is_global(plan->subtopologies[id])) {
      global_nodes.insert(global_nodes.end(), plan->subtopologies[id].begin(),
                          plan->subtopologies[id].end());
      continue;
    }
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
  // Tasks per sub-topology: its user topics' largest partition count, else
  // (it reads internal topics only) the largest of the sub-topologies
  // writing what it reads. An internal topic has its reader's task count,
  // so the sides of a join are co-partitioned (Kafka's copartition groups:
  // a foreign-key join's registration topic with the other table's source,
  // its response topic with this table's).
  std::vector<int> tasks(plan->subtopologies.size(), 0);
  std::map<std::string, int> written;  // internal topic -> its writers' largest task count
  for (size_t round = 0; round <= plan->subtopologies.size(); ++round) {
    for (size_t id = 0; id < tasks.size(); ++id) {
      int from_user_topics = 0;
      int from_writers = 0;
      for (const std::string& topic : graph.sources[id]) {
        auto known = counts.find(topic);
        if (internal.count(topic) != 0) {
          from_writers = std::max(from_writers, written[topic]);
        } else if (known != counts.end()) {
          from_user_topics = std::max(from_user_topics, known->second);
        }
      }
      tasks[id] = from_user_topics > 0 ? from_user_topics : std::max(tasks[id], from_writers);
      for (const std::string& topic : graph.internal_sinks[id]) {
        if (tasks[id] > 0) written[topic] = std::max(written[topic], tasks[id]);
      }
    }
  }
  for (const std::string& topic : internal) counts[topic] = written[topic];
  for (size_t id = 0; id < tasks.size(); ++id) {
    for (const std::string& topic : graph.sources[id]) {
      if (internal.count(topic) != 0 && tasks[id] > 0) counts[topic] = tasks[id];
    }
  }
  // A join's inputs: equal partition counts, repartition topics coerced
  // (copartition.h); each sub-topology then has as many tasks as its
  // sources have partitions.
  enforce_copartitioning(copartition_topic_groups(topology_, config_.application_id), internal,
                         counts);
  for (size_t id = 0; id < tasks.size(); ++id) {
    if (topology_.is_global(plan->subtopologies[id])) continue;
    tasks[id] = 0;
    for (const std::string& topic : graph.sources[id])
      tasks[id] = std::max(tasks[id], counts[topic]);
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
  // What the group's assignment hands out: a task per sub-topology and
  // partition, reading partition p of each of its sources.
  plan->layout.subtopologies.resize(plan->subtopologies.size());
  for (size_t id = 0; id < plan->subtopologies.size(); ++id) {
    SubtopologyLayout& layout = plan->layout.subtopologies[id];
    if (topology_.is_global(plan->subtopologies[id])) continue;  // no tasks
    layout.source_topics.assign(graph.sources[id].begin(), graph.sources[id].end());
    layout.tasks = tasks[id];
    for (const std::string& topic : graph.sources[id]) {
      plan->layout.topic_partitions[topic] = std::max(1, counts[topic]);
    }
    for (const std::string& store : graph.stores[id]) {
      std::string topic = config_.application_id + "-" + store + "-changelog";
      if (plan->changelog_topics.count(topic) != 0) layout.changelog_topics.push_back(topic);
    }
  }
  if (has_persistent_stores(topology_)) {
    plan->state_directory =
        std::make_shared<StateDirectory>(config_.state_dir, config_.application_id);
    plan->process_id = uuid_from_text(plan->state_directory->process_id());
  } else {
    plan->process_id = random_process_id();  // Kafka's too: nothing to find again
  }
  plan->local_stores = local_stores_;
  if (!global_nodes.empty()) {
    // Kafka's GlobalStreamThread: its stores are whole before any task runs.
    global_ = std::make_unique<GlobalStreamThread>(topology_, config_, global_nodes);
    global_->start();
    plan->global_stores = global_->stores();
  }
  std::set<std::string> global_store_names;
  for (const auto& [name, store] : plan->global_stores) global_store_names.insert(name);
  metadata_state_ = std::make_shared<StreamsMetadataState>(
      store_source_topics(topology_, plan->subtopologies, config_.application_id),
      std::move(global_store_names), this_host);
  plan->metadata_state = metadata_state_;
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
  if (global_) global_->stop();
  // Every task is closed (or dropped by a failed thread): let the directory go.
  if (plan_) plan_->state_directory.reset();
}

void KafkaStreams::clean_up() {
  if (started_ && !closed_) throw std::logic_error("Cannot clean up while running.");
  StateDirectory::remove_application_dir(config_.state_dir, config_.application_id);
}

std::shared_ptr<const LocalStores> KafkaStreams::queryable_stores(const std::string& store) const {
  State now = state();
  if (now == State::created) {
    throw StreamsNotStartedException(
        "KafkaStreams has not been started, you can retry after calling start()");
  }
  if (now != State::running && now != State::rebalancing) {
    throw InvalidStateStoreException(std::string("KafkaStreams is not running. State is ") +
                                     state_name(now) + ".");
  }
  if (topology_.stores().count(store) == 0) {
    throw UnknownStateStoreException("Cannot get state store " + store +
                                     " because no such store is registered in the topology.");
  }
  return local_stores_;
}

void KafkaStreams::validate_is_running_or_rebalancing() const {
  State now = state();
  if (now == State::created) {
    throw StreamsNotStartedException(
        "KafkaStreams has not been started, you can retry after calling start()");
  }
  if (now != State::running && now != State::rebalancing) {
    throw std::logic_error(std::string("KafkaStreams is not running. State is ") + state_name(now) +
                           ".");
  }
}

std::vector<StreamsMetadata> KafkaStreams::metadata_for_all_stream_clients() const {
  validate_is_running_or_rebalancing();
  return metadata_state_->all_metadata();
}

std::vector<StreamsMetadata> KafkaStreams::streams_metadata_for_store(
    const std::string& store) const {
  validate_is_running_or_rebalancing();
  return metadata_state_->all_metadata_for_store(store);
}

std::optional<KeyQueryMetadata> KafkaStreams::key_query_metadata(
    const std::string& store, const KeyPartitions& partitions) const {
  validate_is_running_or_rebalancing();
  return metadata_state_->key_query_metadata(store, partitions);
}

KafkaStreams::State KafkaStreams::state() const {
  if (!started_) return State::created;
  if (closed_) return State::not_running;
  if (global_ && global_->failed()) return State::error;
  bool all_running = true;
  for (const auto& thread : threads_) {
    State state = thread->state();
    if (state == State::error) return State::error;
    if (state != State::running) all_running = false;
  }
  return all_running ? State::running : State::rebalancing;
}

std::string KafkaStreams::error() const {
  if (global_ && global_->failed()) return global_->error();
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
