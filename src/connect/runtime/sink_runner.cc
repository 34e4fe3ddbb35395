// The sink side of task_runner.h (Kafka's WorkerSinkTask).

#include <map>
#include <optional>
#include <utility>

#include "connect/runtime/kafka_admin.h"
#include "connect/runtime/kafka_clients.h"
#include "connect/runtime/task_thread.h"

namespace sluice::connect {
namespace {

constexpr int kMaxPollRecords = 500;  // Kafka's max.poll.records default

std::optional<std::string> bytes_of(const void* data, size_t size) {
  if (data == nullptr) return std::nullopt;
  return std::string(static_cast<const char*>(data), size);
}

class SinkRunner final : public TaskThread {
 public:
  SinkRunner(RunnerSettings settings, std::unique_ptr<SinkTask> task, StateListener listener)
      : TaskThread(std::move(settings), std::move(listener)), task_(std::move(task)) {}
  ~SinkRunner() override { stop(); }

 private:
  using TopicPartition = std::pair<std::string, int32_t>;

  void run() override {
    if (!set_up()) return;
    if (Status started = task_->start(settings_.task.task_config); !started) {
      fail("the task did not start: " + started.message());
      close_consumer();
      return;
    }
    report(initial_state());
    auto last_commit = std::chrono::steady_clock::now();
    bool failed = false;
    while (!failed) {
      const Controls now = controls();
      if (now.stop) break;
      if (now.paused != partitions_paused_) set_paused(now.paused);
      std::vector<ConnectRecord> batch;
      if (!consume(batch)) {
        failed = true;
        break;
      }
      if (!batch.empty()) {
        if (Status put = task_->put(std::move(batch)); !put) {
          fail("the task's put failed: " + put.message());
          failed = true;
          break;
        }
      }
      for (const auto& [partition, offset] : consumed_) positions_[partition] = offset;
      consumed_.clear();
      if (std::chrono::steady_clock::now() - last_commit >= settings_.offset_flush_interval) {
        if (!flush_and_commit()) {
          failed = true;
          break;
        }
        last_commit = std::chrono::steady_clock::now();
      }
    }
    if (!failed) flush_and_commit();
    task_->stop();
    close_consumer();
  }

  bool set_up() {
    if (!set_up_records(chain_, converters_)) return false;
    const std::string& name = settings_.task.connector;
    const Properties base = {
        {"group.id", "connect-" + name},
        {"client.id", "connector-consumer-" + name + "-" + std::to_string(settings_.task.task)},
        {"enable.auto.commit", "false"},
        {"auto.offset.reset", "earliest"},
    };
    consumer_ = make_task_client(ClientKind::consumer, base, [](rd_kafka_conf_t* conf) {
      rd_kafka_conf_set_rebalance_cb(conf, &SinkRunner::on_rebalance);
    });
    if (!consumer_) return false;
    rd_kafka_poll_set_consumer(consumer_.get());
    RdPartitionList topics(rd_kafka_topic_partition_list_new(1));
    if (!settings_.task.topics_regex.empty()) {
      // librdkafka reads a subscription starting with ^ as a regex.
      const std::string& regex = settings_.task.topics_regex;
      rd_kafka_topic_partition_list_add(
          topics.get(), (regex[0] == '^' ? regex : "^" + regex).c_str(), RD_KAFKA_PARTITION_UA);
    } else {
      for (const std::string& topic : settings_.task.topics) {
        rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
      }
    }
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get())) {
      fail("subscribing to the connector's topics: " + rd_error_text(err));
      return false;
    }
    if (!settings_.task.dead_letter_topic.empty() && !set_up_dead_letters()) return false;
    return true;
  }

  // Kafka's worker creates the dead-letter topic before the task runs; a
  // record it cannot take must fail the task, not vanish (delivery reports).
  bool set_up_dead_letters() {
    const std::string& topic = settings_.task.dead_letter_topic;
    if (Status created =
            ensure_topic(client_settings(settings_.worker, settings_.task.connector_config,
                                         ClientKind::admin, {}),
                         topic, settings_.task.dead_letter_replication_factor);
        !created) {
      fail("the dead-letter topic " + topic + " could not be created: " + created.message());
      return false;
    }
    const Properties base = {
        {"client.id", "connector-dlq-producer-" + settings_.task.connector + "-" +
                          std::to_string(settings_.task.task)},
        {"acks", "all"},
        {"enable.idempotence", "true"},
    };
    dead_letters_ = make_task_client(ClientKind::producer, base, [](rd_kafka_conf_t* conf) {
      rd_kafka_conf_set_dr_msg_cb(conf, &SinkRunner::on_dead_letter_delivery);
    });
    return dead_letters_ != nullptr;
  }

  static void on_dead_letter_delivery(rd_kafka_t*, const rd_kafka_message_t* message,
                                      void* opaque) {
    auto* self = static_cast<SinkRunner*>(static_cast<TaskThread*>(opaque));
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR && self->dead_letter_error_.empty()) {
      self->dead_letter_error_ = rd_error_text(message->err);
    }
  }

  // Eager rebalancing: what is revoked is flushed and committed first, so the
  // next owner starts where this task's writes end.
  static void on_rebalance(rd_kafka_t* consumer, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* self = static_cast<SinkRunner*>(static_cast<TaskThread*>(opaque));
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      rd_kafka_assign(consumer, partitions);
      if (self->partitions_paused_) rd_kafka_pause_partitions(consumer, partitions);
      return;
    }
    if (!self->task_failed_) self->flush_and_commit();
    for (int i = 0; i < partitions->cnt; ++i) {
      self->positions_.erase({partitions->elems[i].topic, partitions->elems[i].partition});
      self->committed_.erase({partitions->elems[i].topic, partitions->elems[i].partition});
    }
    rd_kafka_assign(consumer, nullptr);
  }

  void set_paused(bool paused) {
    rd_kafka_topic_partition_list_t* assignment = nullptr;
    if (rd_kafka_assignment(consumer_.get(), &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      RdPartitionList owned(assignment);
      if (paused) {
        rd_kafka_pause_partitions(consumer_.get(), owned.get());
      } else {
        rd_kafka_resume_partitions(consumer_.get(), owned.get());
      }
    }
    partitions_paused_ = paused;
  }

  // Up to max.poll.records records, waiting at most ~0.5 s for the first.
  bool consume(std::vector<ConnectRecord>& batch) {
    int timeout_ms = 500;
    while (static_cast<int>(batch.size()) < kMaxPollRecords) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), timeout_ms);
      if (message == nullptr) break;
      timeout_ms = 0;
      const bool ok = handle(message, batch);
      rd_kafka_message_destroy(message);
      if (!ok) return false;
    }
    return true;
  }

  bool handle(rd_kafka_message_t* message, std::vector<ConnectRecord>& batch) {
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return true;
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Errors of the group or a topic: librdkafka keeps trying; a topic that
      // does not exist (yet) is not the task's failure.
      spdlog::warn("connect: task {}-{} consumer: {}", settings_.task.connector,
                   settings_.task.task, rd_kafka_message_errstr(message));
      return true;
    }
    const std::string topic = rd_kafka_topic_name(message->rkt);
    consumed_[{topic, message->partition}] = message->offset + 1;
    const RecordBytes key = bytes_of(message->key, message->key_len);
    const RecordBytes value = bytes_of(message->payload, message->len);
    auto key_data = converters_.key->to_connect_data(topic, key);
    if (!key_data.is_ok()) return reject(message, Stage::key_converter, key_data.status());
    auto value_data = converters_.value->to_connect_data(topic, value);
    if (!value_data.is_ok()) return reject(message, Stage::value_converter, value_data.status());
    rd_kafka_timestamp_type_t timestamp_type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const int64_t timestamp = rd_kafka_message_timestamp(message, &timestamp_type);
    ConnectRecord record = make_sink_record(
        topic, message->partition, key_data->schema, key_data->value, value_data->schema,
        value_data->value, message->offset,
        timestamp_type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? std::nullopt
                                                           : std::optional<int64_t>(timestamp),
        timestamp_type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? TimestampType::log_append_time
                                                             : TimestampType::create_time);
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* data = nullptr;
      size_t size = 0;
      for (size_t i = 0;
           rd_kafka_header_get_all(headers, i, &name, &data, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
           ++i) {
        auto header = converters_.header->to_connect_header(topic, name, bytes_of(data, size));
        if (!header.is_ok()) return reject(message, Stage::header_converter, header.status());
        record.headers.push_back(Header{name, header->schema, header->value});
      }
    }
    auto transformed = chain_.apply(std::move(record));
    if (!transformed.is_ok()) return reject(message, Stage::transformation, transformed.status());
    if (transformed->has_value()) batch.push_back(std::move(**transformed));
    return true;
  }

  // A record that failed a stage: skipped and sent to the dead-letter topic
  // when errors.tolerance=all, the task's failure otherwise.
  bool reject(rd_kafka_message_t* message, Stage stage, const Status& error) {
    const std::string topic = rd_kafka_topic_name(message->rkt);
    const std::string where =
        topic + "-" + std::to_string(message->partition) + "@" + std::to_string(message->offset);
    if (!tolerate(stage, error, "the record at " + where)) {
      task_failed_ = true;
      return false;
    }
    if (dead_letters_) send_to_dead_letters(message, stage, error);
    return true;
  }

  void send_to_dead_letters(rd_kafka_message_t* message, Stage stage, const Status& error) {
    rd_kafka_headers_t* headers = nullptr;
    rd_kafka_headers_t* original = nullptr;
    if (rd_kafka_message_headers(message, &original) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      headers = rd_kafka_headers_copy(original);
    } else {
      headers = rd_kafka_headers_new(10);
    }
    if (settings_.task.dead_letter_context_headers) {
      // Kafka's DeadLetterQueueReporter headers.
      auto add = [&](const char* key, const std::string& text) {
        rd_kafka_header_add(headers, key, -1, text.data(), static_cast<ssize_t>(text.size()));
      };
      add("__connect.errors.topic", rd_kafka_topic_name(message->rkt));
      add("__connect.errors.partition", std::to_string(message->partition));
      add("__connect.errors.offset", std::to_string(message->offset));
      add("__connect.errors.connector.name", settings_.task.connector);
      add("__connect.errors.task.id", std::to_string(settings_.task.task));
      add("__connect.errors.stage", stage_name(stage));
      add("__connect.errors.class.name", executing_class(stage));
      add("__connect.errors.exception.class.name", "org.apache.kafka.connect.errors.DataException");
      add("__connect.errors.exception.message", error.message());
      // No Java stack here: the exception's first line, as a trace starts.
      add("__connect.errors.exception.stacktrace",
          "org.apache.kafka.connect.errors.DataException: " + error.message());
    }
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        dead_letters_.get(), RD_KAFKA_V_TOPIC(settings_.task.dead_letter_topic.c_str()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(message->key, message->key_len),
        RD_KAFKA_V_VALUE(message->payload, message->len), RD_KAFKA_V_HEADERS(headers),
        RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(headers);
      if (dead_letter_error_.empty()) dead_letter_error_ = rd_error_text(err);
    }
    rd_kafka_poll(dead_letters_.get(), 0);
  }

  // The class that was running when a record failed (Kafka's executing class).
  std::string executing_class(Stage stage) const {
    switch (stage) {
      case Stage::key_converter:
        return converters_.key_class;
      case Stage::value_converter:
        return converters_.value_class;
      case Stage::header_converter:
        return converters_.header_class;
      case Stage::transformation:
        return chain_.failed_class();
      default:
        return "";
    }
  }

  // Offsets are committed only past records the dead-letter topic has: one
  // it refused fails the task; ones not yet acknowledged wait for the next
  // round (nullopt: commit nothing now).
  std::optional<bool> dead_letters_delivered() {
    if (!dead_letters_) return true;
    const rd_kafka_resp_err_t flushed =
        rd_kafka_flush(dead_letters_.get(), static_cast<int>(settings_.shutdown_timeout.count()));
    if (!dead_letter_error_.empty()) {
      task_failed_ = true;
      fail("records could not be sent to the dead-letter topic " +
           settings_.task.dead_letter_topic + ": " + dead_letter_error_);
      return false;
    }
    if (flushed != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn(
          "connect: task {}-{}: the dead-letter topic has not acknowledged every record "
          "yet; offsets are committed at the next round",
          settings_.task.connector, settings_.task.task);
      return std::nullopt;
    }
    return true;
  }

  // The task's flush, then the consumed positions committed: a record is
  // committed only after the task said it is durable where it went.
  bool flush_and_commit() {
    std::vector<std::pair<TopicPartition, int64_t>> changed;
    for (const auto& [partition, offset] : positions_) {
      auto it = committed_.find(partition);
      if (it == committed_.end() || it->second != offset) changed.emplace_back(partition, offset);
    }
    if (changed.empty()) return true;
    const std::optional<bool> delivered = dead_letters_delivered();
    if (!delivered) return true;
    if (!*delivered) return false;
    if (Status flushed = task_->flush(); !flushed) {
      task_failed_ = true;
      fail("the task's flush failed: " + flushed.message());
      return false;
    }
    RdPartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(changed.size())));
    for (const auto& [partition, offset] : changed) {
      rd_kafka_topic_partition_list_add(offsets.get(), partition.first.c_str(), partition.second)
          ->offset = offset;
    }
    if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), offsets.get(), 0)) {
      // Kept for the next round (Kafka logs and retries as well).
      spdlog::warn("connect: task {}-{} could not commit offsets: {}", settings_.task.connector,
                   settings_.task.task, rd_error_text(err));
      return true;
    }
    for (const auto& [partition, offset] : changed) committed_[partition] = offset;
    return true;
  }

  void close_consumer() {
    if (consumer_) rd_kafka_consumer_close(consumer_.get());
    if (dead_letters_) rd_kafka_flush(dead_letters_.get(), 5'000);
  }

  std::unique_ptr<SinkTask> task_;
  TransformationChain chain_;
  TaskConverters converters_;
  RdKafka consumer_;
  RdKafka dead_letters_;
  std::string dead_letter_error_;  // set by the delivery callback (this thread)
  bool partitions_paused_ = false;
  bool task_failed_ = false;
  std::map<TopicPartition, int64_t> consumed_;   // this batch: next offset per partition
  std::map<TopicPartition, int64_t> positions_;  // handed to the task (put)
  std::map<TopicPartition, int64_t> committed_;
};

}  // namespace

std::unique_ptr<TaskRunner> make_sink_runner(RunnerSettings settings,
                                             std::unique_ptr<SinkTask> task,
                                             StateListener listener) {
  return std::make_unique<SinkRunner>(std::move(settings), std::move(task), std::move(listener));
}

}  // namespace sluice::connect
