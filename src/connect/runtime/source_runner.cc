// The source side of task_runner.h (Kafka's WorkerSourceTask).

#include <deque>
#include <map>
#include <optional>

#include "connect/runtime/kafka_clients.h"
#include "connect/runtime/task_thread.h"

namespace sluice::connect {
namespace {

class StoreOffsetReader final : public OffsetReader {
 public:
  StoreOffsetReader(std::string connector, OffsetStore& store)
      : connector_(std::move(connector)), store_(store) {}
  std::optional<Map> offset(const Map& source_partition) override {
    auto value = store_.get(offset_key(connector_, source_partition));
    if (!value) return std::nullopt;
    return parse_offset_value(*value);
  }

 private:
  std::string connector_;
  OffsetStore& store_;
};

// A record handed to the producer, until Kafka acknowledges it. The offsets
// of one source partition are committed in the order the task gave them, up
// to the first record not yet acknowledged (Kafka's SubmittedRecords).
struct Submitted {
  std::string offset_value;
  bool acknowledged = false;
  // For a task that wants record_committed: the record's origin.
  std::optional<SourceOrigin> origin;
};

class SourceRunner final : public TaskThread {
 public:
  SourceRunner(RunnerSettings settings, std::unique_ptr<SourceTask> task, OffsetStore& offsets,
               StateListener listener)
      : TaskThread(std::move(settings), std::move(listener), ConnectorType::source),
        task_(std::move(task)),
        offsets_(offsets) {}
  ~SourceRunner() override { stop(); }

 private:
  void run() override {
    if (!set_up()) return;
    StoreOffsetReader reader(settings_.task.connector, offsets_);
    if (Status started = task_->start(settings_.task.task_config, reader); !started) {
      fail("the task did not start: " + started.message());
      return;
    }
    wants_record_commits_ = task_->wants_record_commits();
    report(initial_state());
    auto last_commit = std::chrono::steady_clock::now();
    bool failed = false;
    while (!failed) {
      const Controls now = controls();
      if (now.stop) break;
      rd_kafka_poll(producer_.get(), 0);
      if (!delivery_error_.empty()) {
        fail("the producer could not deliver a record: " + delivery_error_);
        failed = true;
        break;
      }
      if (!transactional() &&
          std::chrono::steady_clock::now() - last_commit >= settings_.offset_flush_interval) {
        commit_offsets();
        last_commit = std::chrono::steady_clock::now();
      }
      if (now.paused) {
        idle(std::chrono::milliseconds(200));
        continue;
      }
      const auto poll_start = std::chrono::steady_clock::now();
      auto polled = task_->poll(std::chrono::milliseconds(500));
      if (!polled.is_ok()) {
        if (is_retriable(polled.status())) {
          // Kafka's WorkerSourceTask logs a RetriableException from poll and
          // polls again.
          spdlog::warn("connect: task {}-{}: retriable error from poll: {}",
                       settings_.task.connector, settings_.task.task, polled.status().message());
          continue;
        }
        fail("the task's poll failed: " + polled.status().message());
        failed = true;
        break;
      }
      if (!polled->empty()) {
        TaskMetrics& counts = metrics_.get();
        counts.poll_batch_time_ms.record(elapsed_ms(poll_start));
        counts.batch_size.record(static_cast<int64_t>(polled->size()));
        counts.source_record_poll.add(static_cast<int64_t>(polled->size()));
      }
      if (transactional()) {
        if (!polled->empty() && !send_transaction(std::move(*polled))) failed = true;
        continue;
      }
      for (ConnectRecord& record : *polled) {
        if (!send(std::move(record))) {
          failed = true;
          break;
        }
      }
    }
    task_->stop();
    if (transactional()) return;  // every poll's records were committed or aborted
    // Whatever Kafka acknowledges within the shutdown timeout is committed.
    rd_kafka_flush(producer_.get(), static_cast<int>(settings_.shutdown_timeout.count()));
    commit_offsets();
  }

  bool transactional() const { return settings_.transactional_id.has_value(); }

  // KIP-618 with transaction.boundary=poll: one poll's records and their
  // source offsets in one transaction; a failed commit fails the task (its
  // records are aborted, its offsets never count).
  bool send_transaction(std::vector<ConnectRecord> records) {
    std::map<std::string, std::string> offsets;  // the last offset of each source partition
    for (const ConnectRecord& record : records) {
      const auto* origin = std::get_if<SourceOrigin>(&record.origin);
      if (origin == nullptr || (origin->source_partition.empty() && origin->source_offset.empty()))
        continue;
      offsets[offset_key(settings_.task.connector, origin->source_partition)] =
          offset_value(origin->source_offset);
    }
    if (!transaction_step(rd_kafka_begin_transaction(producer_.get()), "begin")) return false;
    for (ConnectRecord& record : records) {
      if (!send(std::move(record))) {
        (void)rd_kafka_abort_transaction(producer_.get(), 30'000);
        return false;
      }
    }
    for (const auto& [key, value] : offsets) {
      const rd_kafka_resp_err_t err =
          rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(settings_.offsets_topic.c_str()),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
                            RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                            RD_KAFKA_V_OPAQUE(nullptr), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        (void)rd_kafka_abort_transaction(producer_.get(), 30'000);
        fail("writing offsets to " + settings_.offsets_topic + ": " + rd_error_text(err));
        return false;
      }
    }
    if (!transaction_step(rd_kafka_commit_transaction(producer_.get(), 60'000), "commit")) {
      return false;
    }
    submitted_.clear();  // committed: every delivery report came before
    if (!delivery_error_.empty()) {
      fail("the producer could not deliver a record: " + delivery_error_);
      return false;
    }
    task_->committed();
    return true;
  }

  bool transaction_step(rd_kafka_error_t* error, const char* step) {
    if (error == nullptr) return true;
    const std::string text = rd_kafka_error_string(error);
    if (rd_kafka_error_txn_requires_abort(error)) {
      (void)rd_kafka_abort_transaction(producer_.get(), 30'000);
    }
    rd_kafka_error_destroy(error);
    fail(std::string("the transaction's ") + step + " failed: " + text);
    return false;
  }

  bool set_up() {
    if (!set_up_records(chain_, converters_)) return false;
    // Kafka Connect's producer defaults: nothing is dropped or reordered.
    const Properties base = {
        {"client.id", "connector-producer-" + settings_.task.connector + "-" +
                          std::to_string(settings_.task.task)},
        {"acks", "all"},
        {"enable.idempotence", "true"},
        {"message.timeout.ms", "0"},
    };
    Properties settings = base;
    if (transactional()) {
      settings["transactional.id"] = *settings_.transactional_id;
      // A transaction bounds how long a record may wait; Java's partitioner
      // puts the offsets where the offsets store's own writer would.
      settings["message.timeout.ms"] = "60000";
      settings["transaction.timeout.ms"] = "60000";
      settings["partitioner"] = "murmur2_random";
    }
    producer_ = make_task_client(ClientKind::producer, settings, [](rd_kafka_conf_t* conf) {
      rd_kafka_conf_set_dr_msg_cb(conf, &SourceRunner::on_delivery);
    });
    if (producer_ == nullptr) return false;
    // Fences the task's previous instance (a moved or restarted task): its
    // open transaction is aborted before this one reads the offsets.
    if (transactional()) {
      if (rd_kafka_error_t* error = rd_kafka_init_transactions(producer_.get(), 60'000)) {
        fail(std::string("initializing the transactional producer failed: ") +
             rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return false;
      }
    }
    return true;
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<SourceRunner*>(static_cast<TaskThread*>(opaque));
    auto* submitted = static_cast<Submitted*>(message->_private);
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (self->delivery_error_.empty()) self->delivery_error_ = rd_error_text(message->err);
      return;
    }
    self->metrics_.get().source_record_write.add();
    if (submitted == nullptr) return;
    submitted->acknowledged = true;
    if (submitted->origin) {
      self->task_->record_committed(submitted->origin->source_partition,
                                    submitted->origin->source_offset, message->partition,
                                    message->offset);
      submitted->origin.reset();
    }
  }

  // Transforms, converts and produces one record; false when the task fails.
  bool send(ConnectRecord record) {
    Submitted* submitted = track(record);
    // Each attempt transforms its own copy; without retries none is made.
    auto transformed = retry_.settings().timeout_ms == 0
                           ? chain_.apply(std::move(record))
                           : retry_.execute([&] { return chain_.apply(record); });
    if (!transformed.is_ok()) {
      return skip(submitted, Stage::transformation, transformed.status());
    }
    if (!transformed->has_value()) return skip(submitted);  // dropped by a filter
    const ConnectRecord& out = **transformed;
    auto key = retry_.execute(
        [&] { return converters_.key->from_connect_data(out.topic, out.key_schema, out.key); });
    if (!key.is_ok()) return skip(submitted, Stage::key_converter, key.status());
    auto value = retry_.execute([&] {
      return converters_.value->from_connect_data(out.topic, out.value_schema, out.value);
    });
    if (!value.is_ok()) return skip(submitted, Stage::value_converter, value.status());
    rd_kafka_headers_t* headers = rd_kafka_headers_new(out.headers.size());
    for (const Header& header : out.headers) {
      auto bytes = retry_.execute([&] {
        return converters_.header->from_connect_header(out.topic, header.key, header.schema,
                                                       header.value);
      });
      if (!bytes.is_ok()) {
        rd_kafka_headers_destroy(headers);
        return skip(submitted, Stage::header_converter, bytes.status());
      }
      rd_kafka_header_add(headers, header.key.data(), static_cast<ssize_t>(header.key.size()),
                          bytes->has_value() ? (*bytes)->data() : nullptr,
                          bytes->has_value() ? static_cast<ssize_t>((*bytes)->size()) : 0);
    }
    return produce(out, *key, *value, headers, submitted);
  }

  bool produce(const ConnectRecord& out, const RecordBytes& key, const RecordBytes& value,
               rd_kafka_headers_t* headers, Submitted* submitted) {
    // librdkafka copies both (RD_KAFKA_MSG_F_COPY); null stays null.
    const void* key_data = key ? key->data() : nullptr;
    const size_t key_size = key ? key->size() : 0;
    void* value_data = value ? const_cast<char*>(value->data()) : nullptr;
    const size_t value_size = value ? value->size() : 0;
    std::optional<std::chrono::steady_clock::time_point> unknown_since;
    while (true) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_TOPIC(out.topic.c_str()),
          RD_KAFKA_V_PARTITION(out.kafka_partition.value_or(RD_KAFKA_PARTITION_UA)),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key_data, key_size),
          RD_KAFKA_V_VALUE(value_data, value_size), RD_KAFKA_V_TIMESTAMP(out.timestamp.value_or(0)),
          RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(submitted), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;  // the headers are the producer's now
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && !stopping()) {
        rd_kafka_poll(producer_.get(), 100);
        continue;
      }
      if (err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION && !stopping() &&
          learn_partitions(out.topic, unknown_since)) {
        continue;
      }
      rd_kafka_headers_destroy(headers);
      return skip(submitted, Stage::kafka_produce,
                  Status(Errc::io_error, "producing to " + out.topic + ": " + rd_error_text(err)));
    }
  }

  // A record for a partition the producer does not know: one added to the
  // topic since the producer last read its metadata (the mirror connector
  // grows its target topics), which librdkafka would otherwise learn of only
  // at topic.metadata.refresh.interval.ms. A metadata request for the topic
  // updates the producer's view; false once kUnknownPartitionWait has passed
  // (the partition does not exist).
  bool learn_partitions(const std::string& topic,
                        std::optional<std::chrono::steady_clock::time_point>& since) {
    constexpr std::chrono::seconds kUnknownPartitionWait{30};
    const auto now = std::chrono::steady_clock::now();
    if (!since) since = now;
    if (now - *since > kUnknownPartitionWait) return false;
    rd_kafka_topic_t* handle = rd_kafka_topic_new(producer_.get(), topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    if (rd_kafka_metadata(producer_.get(), 0, handle, &metadata, 5000) ==
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(metadata);
    }
    rd_kafka_topic_destroy(handle);
    rd_kafka_poll(producer_.get(), 100);
    return true;
  }

  // A record that will not reach Kafka: its offset counts as done when the
  // error is tolerated (or it was filtered out).
  bool skip(Submitted* submitted, Stage stage, const Status& error) {
    if (!tolerate(stage, error, "a record of " + settings_.task.connector)) return false;
    return skip(submitted);
  }
  bool skip(Submitted* submitted) {
    if (submitted != nullptr) submitted->acknowledged = true;
    return true;
  }

  Submitted* track(const ConnectRecord& record) {
    const auto* origin = std::get_if<SourceOrigin>(&record.origin);
    if (origin == nullptr || (origin->source_partition.empty() && origin->source_offset.empty())) {
      return nullptr;
    }
    auto& queue = submitted_[offset_key(settings_.task.connector, origin->source_partition)];
    queue.push_back(std::make_unique<Submitted>());
    queue.back()->offset_value = offset_value(origin->source_offset);
    if (wants_record_commits_) queue.back()->origin = *origin;
    return queue.back().get();
  }

  // Moves every source partition's acknowledged prefix into the store.
  void commit_offsets() {
    for (auto& [key, queue] : submitted_) {
      while (!queue.empty() && queue.front()->acknowledged) {
        committable_[key] = std::move(queue.front()->offset_value);
        queue.pop_front();
      }
    }
    if (committable_.empty()) return;
    const auto commit_start = std::chrono::steady_clock::now();
    std::vector<std::pair<std::string, std::optional<std::string>>> batch(committable_.begin(),
                                                                          committable_.end());
    if (Status stored = offsets_.put(batch); !stored) {
      spdlog::error("connect: task {}-{} could not commit its offsets (kept for the next try): {}",
                    settings_.task.connector, settings_.task.task, stored.message());
      metrics_.get().offset_commit_failure.add();
      return;
    }
    metrics_.get().offset_commit_time_ms.record(elapsed_ms(commit_start));
    metrics_.get().offset_commit_success.add();
    committable_.clear();
    task_->committed();
  }

  std::unique_ptr<SourceTask> task_;
  OffsetStore& offsets_;
  TransformationChain chain_;
  TaskConverters converters_;
  RdKafka producer_;
  std::string delivery_error_;  // set by the delivery callback (this thread)
  bool wants_record_commits_ = false;
  std::map<std::string, std::deque<std::unique_ptr<Submitted>>> submitted_;
  std::map<std::string, std::string> committable_;
};

}  // namespace

std::unique_ptr<TaskRunner> make_source_runner(RunnerSettings settings,
                                               std::unique_ptr<SourceTask> task,
                                               OffsetStore& offsets, StateListener listener) {
  return std::make_unique<SourceRunner>(std::move(settings), std::move(task), offsets,
                                        std::move(listener));
}

}  // namespace sluice::connect
