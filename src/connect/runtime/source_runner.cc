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
      : TaskThread(std::move(settings), std::move(listener)),
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
      if (std::chrono::steady_clock::now() - last_commit >= settings_.offset_flush_interval) {
        commit_offsets();
        last_commit = std::chrono::steady_clock::now();
      }
      if (now.paused) {
        idle(std::chrono::milliseconds(200));
        continue;
      }
      auto polled = task_->poll(std::chrono::milliseconds(500));
      if (!polled.is_ok()) {
        fail("the task's poll failed: " + polled.status().message());
        failed = true;
        break;
      }
      for (ConnectRecord& record : *polled) {
        if (!send(std::move(record))) {
          failed = true;
          break;
        }
      }
    }
    task_->stop();
    // Whatever Kafka acknowledges within the shutdown timeout is committed.
    rd_kafka_flush(producer_.get(), static_cast<int>(settings_.shutdown_timeout.count()));
    commit_offsets();
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
    producer_ = make_task_client(ClientKind::producer, base, [](rd_kafka_conf_t* conf) {
      rd_kafka_conf_set_dr_msg_cb(conf, &SourceRunner::on_delivery);
    });
    return producer_ != nullptr;
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<SourceRunner*>(static_cast<TaskThread*>(opaque));
    auto* submitted = static_cast<Submitted*>(message->_private);
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (self->delivery_error_.empty()) self->delivery_error_ = rd_error_text(message->err);
      return;
    }
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
    auto transformed = chain_.apply(std::move(record));
    if (!transformed.is_ok()) {
      return skip(submitted, Stage::transformation, transformed.status());
    }
    if (!transformed->has_value()) return skip(submitted);  // dropped by a filter
    const ConnectRecord& out = **transformed;
    auto key = converters_.key->from_connect_data(out.topic, out.key_schema, out.key);
    if (!key.is_ok()) return skip(submitted, Stage::key_converter, key.status());
    auto value = converters_.value->from_connect_data(out.topic, out.value_schema, out.value);
    if (!value.is_ok()) return skip(submitted, Stage::value_converter, value.status());
    rd_kafka_headers_t* headers = rd_kafka_headers_new(out.headers.size());
    for (const Header& header : out.headers) {
      auto bytes = converters_.header->from_connect_header(out.topic, header.key, header.schema,
                                                           header.value);
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
    std::vector<std::pair<std::string, std::optional<std::string>>> batch(committable_.begin(),
                                                                          committable_.end());
    if (Status stored = offsets_.put(batch); !stored) {
      spdlog::error("connect: task {}-{} could not commit its offsets (kept for the next try): {}",
                    settings_.task.connector, settings_.task.task, stored.message());
      return;
    }
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
