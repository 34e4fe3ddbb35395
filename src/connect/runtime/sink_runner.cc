// The sink side of task_runner.h (Kafka's WorkerSinkTask).

#include <algorithm>
#include <map>
#include <optional>
#include <random>
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

class SinkRunner final : public TaskThread, public ErrantRecordReporter {
 public:
  SinkRunner(RunnerSettings settings, std::unique_ptr<SinkTask> task, StateListener listener)
      : TaskThread(std::move(settings), std::move(listener), ConnectorType::sink),
        task_(std::move(task)) {}
  ~SinkRunner() override { stop(); }

  using TaskThread::report;  // the state reports, beside the errant records'

  // KIP-610: a record the task could not deliver (see connector.h).
  Status report(const ConnectRecord& record, const Status& error) override {
    const auto* origin = std::get_if<SinkOrigin>(&record.origin);
    const std::string where = record.topic + "-" +
                              std::to_string(record.kafka_partition.value_or(-1)) + "@" +
                              std::to_string(origin ? origin->kafka_offset : -1);
    if (!tolerate(Stage::task_put, error, "the record at " + where, /*fail_task=*/false)) {
      errant_failure_ =
          "Tolerance exceeded in error handler: " + std::string(stage_name(Stage::task_put)) +
          ": " + error.message();
      return Status(Errc::invalid_value, errant_failure_);
    }
    if (dead_letters_) send_reported_to_dead_letters(record, error);
    return Status::ok();
  }

 private:
  using TopicPartition = std::pair<std::string, int32_t>;

  void run() override {
    if (!set_up()) return;
    if (!settings_.task.dead_letter_topic.empty() || settings_.task.log_errors) {
      task_->set_errant_record_reporter(this);
    }
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
      if (redelivering_) {
        // Waiting to deliver a batch again: the partitions are paused, the
        // consumer is still polled (group membership); anything it had
        // fetched before the pause follows the batch.
        std::vector<ConnectRecord> fetched;
        if (!consume(fetched, redelivery_wait())) {
          failed = true;
          break;
        }
        if (!redelivering_) continue;  // a rebalance dropped the batch
        for (ConnectRecord& record : fetched) redelivery_.push_back(std::move(record));
        if (std::chrono::steady_clock::now() < redeliver_at_) continue;
        batch = std::move(redelivery_);
        redelivery_.clear();
        metrics_.get().total_retries.add();
      } else if (!consume(batch, std::chrono::milliseconds(500))) {
        failed = true;
        break;
      }
      if (!batch.empty() && !deliver(batch)) {
        failed = true;
        break;
      }
      if (redelivering_) continue;  // nothing of the batch is the task's yet
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

  // Puts `batch` into the task. A retriable error keeps the batch for
  // another put after a backoff (Kafka's WorkerSinkTask pauses the
  // partitions and redelivers); any other error fails the task, as does a
  // record reported with errors.tolerance=none. False: the task failed.
  bool deliver(std::vector<ConnectRecord>& batch) {
    TaskMetrics& counts = metrics_.get();
    const auto start = std::chrono::steady_clock::now();
    const auto size = static_cast<int64_t>(batch.size());
    // The task may keep or consume what it is given: a batch that may have
    // to be delivered again is copied first (a retriable put is rare, but
    // only known afterwards).
    Status put = task_->put(batch);
    if (!errant_failure_.empty()) {
      task_failed_ = true;
      fail(errant_failure_);
      return false;
    }
    if (!put && is_retriable(put)) {
      ++redelivery_attempt_;
      spdlog::error(
          "connect: task {}-{}: retriable error from put (batch of {} delivered again): {}",
          settings_.task.connector, settings_.task.task, batch.size(), put.message());
      redelivery_ = std::move(batch);
      redeliver_at_ = std::chrono::steady_clock::now() +
                      retry_delay(redelivery_attempt_, settings_.task.retry_max_delay_ms,
                                  std::chrono::milliseconds::max(), redelivery_jitter_(random_));
      if (!redelivering_) {
        redelivering_ = true;
        apply_pause();
      }
      return true;
    }
    if (!put) {
      task_failed_ = true;
      fail("the task's put failed: " + put.message());
      return false;
    }
    counts.put_batch_time_ms.record(elapsed_ms(start));
    counts.batch_size.record(size);
    counts.sink_record_send.add(size);
    if (redelivering_) {
      redelivering_ = false;
      redelivery_attempt_ = 0;
      apply_pause();
    }
    return true;
  }

  // How long the consumer is polled while a redelivery waits.
  std::chrono::milliseconds redelivery_wait() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        redeliver_at_ - std::chrono::steady_clock::now());
    return std::clamp(left, std::chrono::milliseconds(0), std::chrono::milliseconds(500));
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
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->metrics_.get().deadletterqueue_produce_failures.add();
      if (self->dead_letter_error_.empty()) self->dead_letter_error_ = rd_error_text(message->err);
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
    // A batch waiting for redelivery is dropped: nothing of it was
    // committed, so the partitions' next owner consumes it again.
    if (self->redelivering_) {
      self->redelivering_ = false;
      self->redelivery_attempt_ = 0;
      self->redelivery_.clear();
      self->consumed_.clear();
    }
    if (!self->task_failed_) self->flush_and_commit();
    for (int i = 0; i < partitions->cnt; ++i) {
      self->positions_.erase({partitions->elems[i].topic, partitions->elems[i].partition});
      self->committed_.erase({partitions->elems[i].topic, partitions->elems[i].partition});
    }
    rd_kafka_assign(consumer, nullptr);
  }

  void set_paused(bool paused) {
    partitions_paused_ = paused;
    apply_pause();
  }

  // The partitions are paused while the task is, or while a batch waits to
  // be delivered again.
  void apply_pause() {
    rd_kafka_topic_partition_list_t* assignment = nullptr;
    if (rd_kafka_assignment(consumer_.get(), &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      RdPartitionList owned(assignment);
      if (partitions_paused_ || redelivering_) {
        rd_kafka_pause_partitions(consumer_.get(), owned.get());
      } else {
        rd_kafka_resume_partitions(consumer_.get(), owned.get());
      }
    }
  }

  // Up to max.poll.records records, waiting at most `wait` for the first.
  bool consume(std::vector<ConnectRecord>& batch, std::chrono::milliseconds wait) {
    int timeout_ms = static_cast<int>(wait.count());
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
    metrics_.get().sink_record_read.add();
    const RecordBytes key = bytes_of(message->key, message->key_len);
    const RecordBytes value = bytes_of(message->payload, message->len);
    auto key_data = retry_.execute([&] { return converters_.key->to_connect_data(topic, key); });
    if (!key_data.is_ok()) return reject(message, Stage::key_converter, key_data.status());
    auto value_data =
        retry_.execute([&] { return converters_.value->to_connect_data(topic, value); });
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
        auto header = retry_.execute([&] {
          return converters_.header->to_connect_header(topic, name, bytes_of(data, size));
        });
        if (!header.is_ok()) return reject(message, Stage::header_converter, header.status());
        record.headers.push_back(Header{name, header->schema, header->value});
      }
    }
    // Each attempt transforms its own copy; without retries none is made.
    auto transformed = retry_.settings().timeout_ms == 0
                           ? chain_.apply(std::move(record))
                           : retry_.execute([&] { return chain_.apply(record); });
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

  // What one dead-letter record is made of: the consumed record's bytes
  // and where it came from, and why it failed.
  struct DeadLetter {
    std::string topic;
    int32_t partition = -1;
    int64_t offset = -1;
    RecordBytes key;
    RecordBytes value;
    rd_kafka_headers_t* headers = nullptr;  // handed over to the producer
    Stage stage = Stage::task_put;
    std::string executing_class;
    std::string exception_class;
    std::string message;
  };

  void send_to_dead_letters(rd_kafka_message_t* message, Stage stage, const Status& error) {
    DeadLetter letter;
    letter.topic = rd_kafka_topic_name(message->rkt);
    letter.partition = message->partition;
    letter.offset = message->offset;
    letter.key = bytes_of(message->key, message->key_len);
    letter.value = bytes_of(message->payload, message->len);
    rd_kafka_headers_t* original = nullptr;
    letter.headers = rd_kafka_message_headers(message, &original) == RD_KAFKA_RESP_ERR_NO_ERROR
                         ? rd_kafka_headers_copy(original)
                         : rd_kafka_headers_new(10);
    letter.stage = stage;
    letter.executing_class = executing_class(stage);
    letter.exception_class = "org.apache.kafka.connect.errors.DataException";
    letter.message = error.message();
    produce_dead_letter(std::move(letter));
  }

  // A record the task reported: Kafka's WorkerErrantRecordReporter sends the
  // record the task holds, converted back with the connector's converters
  // (the consumed bytes when the transforms left the record as it was).
  void send_reported_to_dead_letters(const ConnectRecord& record, const Status& error) {
    DeadLetter letter;
    letter.topic = record.topic;
    letter.partition = record.kafka_partition.value_or(-1);
    if (const auto* origin = std::get_if<SinkOrigin>(&record.origin)) {
      letter.offset = origin->kafka_offset;
    }
    auto key = converters_.key->from_connect_data(record.topic, record.key_schema, record.key);
    auto value =
        converters_.value->from_connect_data(record.topic, record.value_schema, record.value);
    if (key.is_ok()) letter.key = *key;
    if (value.is_ok()) letter.value = *value;
    letter.headers = rd_kafka_headers_new(record.headers.size() + 10);
    for (const Header& header : record.headers) {
      auto bytes = converters_.header->from_connect_header(record.topic, header.key, header.schema,
                                                           header.value);
      if (!bytes.is_ok()) continue;
      rd_kafka_header_add(letter.headers, header.key.data(),
                          static_cast<ssize_t>(header.key.size()),
                          bytes->has_value() ? (*bytes)->data() : nullptr,
                          bytes->has_value() ? static_cast<ssize_t>((*bytes)->size()) : 0);
    }
    letter.stage = Stage::task_put;
    letter.executing_class = "org.apache.kafka.connect.sink.SinkTask";
    letter.exception_class = "org.apache.kafka.connect.errors.ConnectException";
    letter.message = error.message();
    produce_dead_letter(std::move(letter));
  }

  void produce_dead_letter(DeadLetter letter) {
    if (settings_.task.dead_letter_context_headers) {
      // Kafka's DeadLetterQueueReporter headers.
      auto add = [&](const char* key, const std::string& text) {
        rd_kafka_header_add(letter.headers, key, -1, text.data(),
                            static_cast<ssize_t>(text.size()));
      };
      add("__connect.errors.topic", letter.topic);
      add("__connect.errors.partition", std::to_string(letter.partition));
      add("__connect.errors.offset", std::to_string(letter.offset));
      add("__connect.errors.connector.name", settings_.task.connector);
      add("__connect.errors.task.id", std::to_string(settings_.task.task));
      add("__connect.errors.stage", stage_name(letter.stage));
      add("__connect.errors.class.name", letter.executing_class);
      add("__connect.errors.exception.class.name", letter.exception_class);
      add("__connect.errors.exception.message", letter.message);
      // No Java stack here: the exception's first line, as a trace starts.
      add("__connect.errors.exception.stacktrace", letter.exception_class + ": " + letter.message);
    }
    metrics_.get().deadletterqueue_produce_requests.add();
    // librdkafka copies both (RD_KAFKA_MSG_F_COPY); null stays null.
    const void* key_data = letter.key ? letter.key->data() : nullptr;
    const size_t key_size = letter.key ? letter.key->size() : 0;
    void* value_data = letter.value ? letter.value->data() : nullptr;
    const size_t value_size = letter.value ? letter.value->size() : 0;
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        dead_letters_.get(), RD_KAFKA_V_TOPIC(settings_.task.dead_letter_topic.c_str()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_data, key_size),
        RD_KAFKA_V_VALUE(value_data, value_size), RD_KAFKA_V_HEADERS(letter.headers),
        RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(letter.headers);
      metrics_.get().deadletterqueue_produce_failures.add();
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
    const auto commit_start = std::chrono::steady_clock::now();
    if (Status flushed = task_->flush(); !flushed) {
      task_failed_ = true;
      fail("the task's flush failed: " + flushed.message());
      return false;
    }
    // After the flush: records the task reported while flushing are in the
    // dead-letter topic before their offsets are committed.
    const std::optional<bool> delivered = dead_letters_delivered();
    if (!delivered) return true;
    if (!*delivered) return false;
    RdPartitionList offsets(rd_kafka_topic_partition_list_new(static_cast<int>(changed.size())));
    for (const auto& [partition, offset] : changed) {
      rd_kafka_topic_partition_list_add(offsets.get(), partition.first.c_str(), partition.second)
          ->offset = offset;
    }
    if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), offsets.get(), 0)) {
      // Kept for the next round (Kafka logs and retries as well).
      spdlog::warn("connect: task {}-{} could not commit offsets: {}", settings_.task.connector,
                   settings_.task.task, rd_error_text(err));
      metrics_.get().offset_commit_failure.add();
      return true;
    }
    for (const auto& [partition, offset] : changed) committed_[partition] = offset;
    TaskMetrics& counts = metrics_.get();
    counts.offset_commit_time_ms.record(elapsed_ms(commit_start));
    counts.offset_commit_success.add();
    counts.offset_commit_completion.add();
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
  std::string errant_failure_;  // a record reported with errors.tolerance=none
  // A batch whose put answered a retriable error, delivered again at
  // redeliver_at_ (the partitions paused meanwhile).
  bool redelivering_ = false;
  std::vector<ConnectRecord> redelivery_;
  int redelivery_attempt_ = 0;
  std::chrono::steady_clock::time_point redeliver_at_;
  std::mt19937_64 random_{std::random_device{}()};
  std::uniform_real_distribution<double> redelivery_jitter_{0.0, 1.0};
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
