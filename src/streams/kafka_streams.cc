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

#include "streams/state_directory.h"
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
  // `<state.dir>/<application.id>`, locked; null without persistent stores.
  std::shared_ptr<StateDirectory> state_directory;
  std::shared_ptr<LocalStores> local_stores;  // what interactive queries read
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
         int index)
      : topology_(topology), config_(config), plan_(std::move(plan)), index_(index) {}
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
      drop_tasks();
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

  void loop() {
    while (running_) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), 100);
      if (message != nullptr) {
        handle(message);
        rd_kafka_message_destroy(message);
      }
      throw_if_failed();
      for (auto& [id, task] : tasks_) task->maybe_punctuate_system_time();
      if (Clock::now() - last_commit_ >= config_.commit_interval) commit();
    }
  }

  void shut_down() {
    state_ = State::pending_shutdown;
    commit();
    close_tasks();
    rd_kafka_consumer_close(consumer_.get());
    throw_if_failed();
  }

  void handle(rd_kafka_message_t* message) {
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("stream-thread [{}]: consumer: {}", index_ + 1,
                   rd_kafka_message_errstr(message));
      return;
    }
    SerializedRecord record = to_record(message);
    auto sub = plan_->subtopology_of_topic.find(record.topic);
    if (sub == plan_->subtopology_of_topic.end()) return;
    auto task = tasks_.find({sub->second, record.partition});
    if (task == tasks_.end()) {
      spdlog::warn("stream-thread [{}]: a record of {}-{} without a task", index_ + 1, record.topic,
                   record.partition);
      return;
    }
    task->second->process(record);
    processed_[{record.topic, record.partition}] = record.offset + 1;
    task->second->maybe_punctuate_stream_time();
  }

  static SerializedRecord to_record(rd_kafka_message_t* message) {
    SerializedRecord record;
    record.topic = rd_kafka_topic_name(message->rkt);
    record.partition = message->partition;
    record.offset = message->offset;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    record.timestamp = std::max<int64_t>(0, rd_kafka_message_timestamp(message, &type));
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
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(record.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_size),
          RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_TIMESTAMP(record.timestamp),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer_.get(), 50);
        continue;
      }
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_headers_destroy(headers);
        throw StreamsError("Error encountered sending record to topic " + record.topic + ": " +
                           rd_kafka_err2str(err));
      }
      break;
    }
    rd_kafka_poll(producer_.get(), 0);
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<Thread*>(opaque);
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->note_changelog_offset(message);
      return;
    }
    std::lock_guard lock(self->error_mutex_);
    if (self->send_error_.empty()) {
      self->send_error_ = std::string("Error encountered sending record to topic ") +
                          rd_kafka_topic_name(message->rkt) + ": " + rd_kafka_err2str(message->err);
    }
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
    last_commit_ = Clock::now();
    for (auto& [id, task] : tasks_) task->flush();
    if (exactly_once()) {
      commit_transaction();
    } else {
      rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), kAdminTimeoutMs);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        throw StreamsError(std::string("flush: ") + rd_kafka_err2str(err));
      throw_if_failed();
      if (!processed_.empty()) {
        RdPartitions offsets = processed_offsets();
        if (rd_kafka_resp_err_t commit_err = rd_kafka_commit(consumer_.get(), offsets.get(), 0)) {
          throw StreamsError(std::string("cannot commit offsets: ") + rd_kafka_err2str(commit_err));
        }
      }
      // at_least_once: the stores (flushed above) hold what the changelogs
      // acknowledged; a restart restores from here.
      checkpoint_tasks();
    }
    processed_.clear();
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
      settings.exactly_once = exactly_once();
      std::string task_id = std::to_string(sub) + "_" + std::to_string(partition);
      if (plan_->state_directory) {
        if (!plan_->state_directory->lock_task(task_id, index_, std::chrono::seconds(30)))
          throw StreamsError("cannot lock the state directory of task " + task_id);
        settings.state_dir = plan_->state_directory->task_dir(task_id);
      }
      auto task = std::make_unique<Task>(topology_, plan_->subtopologies[sub], settings,
                                         static_cast<RecordCollector&>(*this));
      if (!checkpoint_in_range(*task, partition)) {
        // Kafka's TaskCorruptedException: the local state is of another
        // changelog history; start over from the changelog's beginning.
        task->close();
        StateDirectory::wipe_task_state(settings.state_dir);
        task = std::make_unique<Task>(topology_, plan_->subtopologies[sub], settings,
                                      static_cast<RecordCollector&>(*this));
      }
      restore(*task, partition);
      checkpoint_due_ = true;  // what was restored need not be again
      std::map<std::string, const StateStore*> queryable;
      for (const std::string& name : task->store_names()) queryable[name] = task->store(name);
      plan_->local_stores->add(task->id(), partition, queryable);
      spdlog::info("stream-thread [{}-StreamThread-{}] task {} running", config_.application_id,
                   index_ + 1, task->id());
      tasks_.emplace(std::make_pair(sub, partition), std::move(task));
    }
  }

  // Whether each checkpointed offset lies within its changelog partition
  // (a changelog deleted and made again does not hold it).
  bool checkpoint_in_range(Task& task, int32_t partition) {
    for (const auto& [store, topic] : task.changelog_topics()) {
      std::optional<int64_t> start = task.restore_start_offset(store);
      if (!start) continue;
      int64_t low = 0;
      int64_t high = 0;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
          restorer_.get(), topic.c_str(), partition, &low, &high, kAdminTimeoutMs);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw StreamsError("cannot read the offsets of " + topic + ": " + rd_kafka_err2str(err));
      }
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

  // Reads each of the task's changelog partitions, from its checkpointed
  // offset (persistent stores) or the start, to its end (committed records
  // only) into its store.
  void restore(Task& task, int32_t partition) {
    for (const auto& [store, topic] : task.changelog_topics()) {
      std::optional<int64_t> start = task.restore_start_offset(store);
      auto began = Clock::now();
      int64_t low = 0;
      int64_t high = 0;
      rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
          restorer_.get(), topic.c_str(), partition, &low, &high, kAdminTimeoutMs);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        throw StreamsError("cannot read the offsets of " + topic + ": " + rd_kafka_err2str(err));
      }
      // Nothing after the checkpoint (or an empty changelog): no fetch
      // waiting for records that will not come.
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
          SerializedRecord record = to_record(message);
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
    }
  }

  // A clean close (after a commit): tasks leave the queryable stores,
  // checkpoint (both guarantees) and close.
  void close_tasks() {
    for (auto& [id, task] : tasks_) {
      plan_->local_stores->remove(task->id());
      task->checkpoint(changelog_written_);
      task->close();
      if (plan_->state_directory) plan_->state_directory->unlock_task(task->id(), index_);
    }
    tasks_.clear();
  }

  // A failed thread's tasks: closed without a checkpoint.
  void drop_tasks() {
    for (auto& [id, task] : tasks_) {
      plan_->local_stores->remove(task->id());
      task.reset();
      if (plan_->state_directory) {
        plan_->state_directory->unlock_task(
            std::to_string(id.first) + "_" + std::to_string(id.second), index_);
      }
    }
    tasks_.clear();
  }

  const Topology& topology_;
  const StreamsConfig& config_;
  std::shared_ptr<const Plan> plan_;
  int index_;
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
  if (has_persistent_stores(topology_)) {
    plan->state_directory =
        std::make_shared<StateDirectory>(config_.state_dir, config_.application_id);
  }
  plan->local_stores = local_stores_;
  plan_ = plan;
  for (int i = 0; i < config_.num_stream_threads; ++i) {
    threads_.push_back(std::make_unique<Thread>(topology_, config_, plan_, i));
  }
  for (auto& thread : threads_) thread->start();
}

void KafkaStreams::close() {
  if (closed_) return;
  closed_ = true;
  for (auto& thread : threads_) thread->stop();
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
