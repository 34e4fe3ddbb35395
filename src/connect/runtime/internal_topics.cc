#include "connect/runtime/internal_topics.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <thread>

namespace sluice::connect {
namespace {

struct WriteDelivery {
  std::atomic<bool> done{false};
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  int64_t offset = -1;
};

void on_write_delivered(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* /*opaque*/) {
  auto* delivery = static_cast<WriteDelivery*>(message->_private);
  if (delivery == nullptr) {
    if (message->err) spdlog::warn("connect: status write failed: {}", rd_error_text(message->err));
    return;
  }
  delivery->error = message->err;
  delivery->offset = message->offset;
  delivery->done.store(true, std::memory_order_release);
}

using ReadClock = std::chrono::steady_clock;

Result<int> topic_partitions_once(rd_kafka_t* client, const std::string& topic);

}  // namespace

// A topic just created may not have its leaders yet: asked again for up to
// 30 s.
Result<int> topic_partitions(rd_kafka_t* client, const std::string& topic) {
  const auto deadline = ReadClock::now() + std::chrono::seconds(30);
  while (true) {
    auto partitions = topic_partitions_once(client, topic);
    if (partitions.is_ok() || ReadClock::now() > deadline) return partitions;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

namespace {
Result<int> topic_partitions_once(rd_kafka_t* client, const std::string& topic) {
  rd_kafka_topic_t* handle = rd_kafka_topic_new(client, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(client, 0, handle, &metadata, 10'000);
  rd_kafka_topic_destroy(handle);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status(Errc::io_error, "reading the metadata of " + topic + ": " + rd_error_text(err));
  }
  int partitions = 0;
  rd_kafka_resp_err_t topic_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (metadata->topic_cnt == 1) {
    partitions = metadata->topics[0].partition_cnt;
    topic_err = metadata->topics[0].err;
  }
  rd_kafka_metadata_destroy(metadata);
  if (topic_err != RD_KAFKA_RESP_ERR_NO_ERROR || partitions <= 0) {
    return Status(Errc::io_error,
                  "the topic " + topic + " is not available: " + rd_error_text(topic_err));
  }
  return partitions;
}
}  // namespace

Result<std::unique_ptr<TopicReader>> TopicReader::open(const Properties& base,
                                                       const std::string& topic) {
  Properties settings = base;
  // Never joins or commits: the group id only satisfies librdkafka.
  settings["group.id"] = "connect-internal-reader";
  settings["enable.auto.commit"] = "false";
  settings["enable.auto.offset.store"] = "false";
  settings["auto.offset.reset"] = "earliest";
  settings["enable.partition.eof"] = "false";
  // Offsets an exactly-once task wrote in an aborted transaction never count.
  settings["isolation.level"] = "read_committed";
  auto conf = make_client_conf(settings);
  if (!conf.is_ok()) return conf.status();
  auto consumer = make_client(std::move(*conf), ClientKind::consumer);
  if (!consumer.is_ok()) return consumer.status();
  auto partitions = topic_partitions(consumer->get(), topic);
  if (!partitions.is_ok()) return partitions.status();
  RdPartitionList list(rd_kafka_topic_partition_list_new(*partitions));
  for (int p = 0; p < *partitions; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer->get(), list.get()); err) {
    return Status(Errc::io_error, "reading " + topic + ": " + rd_error_text(err));
  }
  return std::unique_ptr<TopicReader>(new TopicReader(std::move(*consumer), topic, *partitions));
}

Status TopicReader::poll(std::chrono::milliseconds max_wait, const Sink& sink) {
  auto wait = static_cast<int>(max_wait.count());
  while (true) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer_.get(), wait);
    if (message == nullptr) return Status::ok();
    wait = 0;
    if (const rd_kafka_resp_err_t err = message->err; err) {
      rd_kafka_message_destroy(message);
      if (err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        spdlog::warn("connect: reading {}: {}", topic_, rd_error_text(err));
      }
      continue;
    }
    std::string key(static_cast<const char*>(message->key), message->key_len);
    std::optional<std::string> value;
    if (message->payload != nullptr) {
      value.emplace(static_cast<const char*>(message->payload), message->len);
    }
    const int64_t offset = message->offset;
    rd_kafka_message_destroy(message);
    sink(offset, key, value);
  }
}

Status TopicReader::read_to_end(const Sink& sink, std::chrono::milliseconds timeout) {
  std::vector<int64_t> ends(static_cast<size_t>(partitions_), 0);
  std::vector<int64_t> starts(static_cast<size_t>(partitions_), 0);
  const auto deadline = ReadClock::now() + timeout;
  for (int p = 0; p < partitions_; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    // A partition without a leader yet (a new topic, a broker restarting)
    // is asked again until the deadline.
    while (rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
               consumer_.get(), topic_.c_str(), p, &low, &high, 10'000)) {
      if (ReadClock::now() > deadline) {
        return Status(Errc::io_error, "reading the end of " + topic_ + ": " + rd_error_text(err));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ends[static_cast<size_t>(p)] = high;
    starts[static_cast<size_t>(p)] = low;
  }
  RdPartitionList list(rd_kafka_topic_partition_list_new(partitions_));
  for (int p = 0; p < partitions_; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic_.c_str(), p);
  }
  while (true) {
    rd_kafka_position(consumer_.get(), list.get());
    bool done = true;
    for (int p = 0; p < partitions_; ++p) {
      const int64_t position = list->elems[p].offset;
      const int64_t end = ends[static_cast<size_t>(p)];
      if (end > starts[static_cast<size_t>(p)] && (position < 0 || position < end)) done = false;
    }
    if (done) return Status::ok();
    if (ReadClock::now() > deadline) {
      return Status(Errc::io_error, "reading " + topic_ + " to its end timed out");
    }
    if (Status polled = poll(std::chrono::milliseconds(100), sink); !polled) return polled;
  }
}

Result<std::unique_ptr<TopicWriter>> TopicWriter::open(const Properties& base) {
  Properties settings = base;
  settings["enable.idempotence"] = "true";
  settings["acks"] = "all";
  settings["linger.ms"] = "0";
  settings["message.timeout.ms"] = "30000";
  // Java's partitioner (murmur2 of the key), so a key lands where Kafka
  // Connect's own workers put it.
  settings["partitioner"] = "murmur2_random";
  auto conf = make_client_conf(settings);
  if (!conf.is_ok()) return conf.status();
  rd_kafka_conf_set_dr_msg_cb(conf->get(), on_write_delivered);
  auto producer = make_client(std::move(*conf), ClientKind::producer);
  if (!producer.is_ok()) return producer.status();
  return std::unique_ptr<TopicWriter>(new TopicWriter(std::move(*producer)));
}

TopicWriter::~TopicWriter() {
  if (producer_) rd_kafka_flush(producer_.get(), 5'000);
}

Result<int64_t> TopicWriter::write(
    const std::string& topic,
    const std::vector<std::pair<std::string, std::optional<std::string>>>& records) {
  std::vector<std::unique_ptr<WriteDelivery>> deliveries;
  for (const auto& [key, value] : records) {
    auto delivery = std::make_unique<WriteDelivery>();
    void* payload = value ? const_cast<char*>(value->data()) : nullptr;
    const size_t length = value ? value->size() : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(payload, length), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(delivery.get()), RD_KAFKA_V_END);
    if (err) {
      // Those already queued must be waited for: their WriteDelivery lives here.
      rd_kafka_flush(producer_.get(), 30'000);
      for (auto& d : deliveries) {
        while (!d->done.load(std::memory_order_acquire)) rd_kafka_poll(producer_.get(), 50);
      }
      return Status(Errc::io_error, "writing to " + topic + ": " + rd_error_text(err));
    }
    deliveries.push_back(std::move(delivery));
  }
  int64_t offset = -1;
  std::string failure;
  for (auto& delivery : deliveries) {
    while (!delivery->done.load(std::memory_order_acquire)) rd_kafka_poll(producer_.get(), 20);
    if (delivery->error && failure.empty()) failure = rd_error_text(delivery->error);
    offset = delivery->offset;
  }
  if (!failure.empty()) return Status(Errc::io_error, "writing to " + topic + ": " + failure);
  return offset;
}

void TopicWriter::send(const std::string& topic, const std::string& key,
                       const std::optional<std::string>& value) {
  void* payload = value ? const_cast<char*>(value->data()) : nullptr;
  const size_t length = value ? value->size() : 0;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()), RD_KAFKA_V_VALUE(payload, length),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(nullptr), RD_KAFKA_V_END);
  if (err) spdlog::warn("connect: writing {} to {}: {}", key, topic, rd_error_text(err));
  rd_kafka_poll(producer_.get(), 0);
}

Status KafkaOffsetStore::read_locked() {
  return reader_->read_to_end(
      [this](int64_t, const std::string& key, const std::optional<std::string>& value) {
        if (value) {
          entries_[key] = *value;
        } else {
          entries_.erase(key);
        }
      },
      std::chrono::seconds(30));
}

Status KafkaOffsetStore::read_to_end() {
  std::lock_guard lock(mutex_);
  return read_locked();
}

std::optional<std::string> KafkaOffsetStore::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  if (Status read = read_locked(); !read) spdlog::warn("connect: {}", read.message());
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::pair<std::string, std::string>> KafkaOffsetStore::entries_of(
    const std::string& connector) {
  std::lock_guard lock(mutex_);
  if (Status read = read_locked(); !read) spdlog::warn("connect: {}", read.message());
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& [key, value] : entries_) {
    auto parsed = parse_offset_key(key);
    if (parsed && parsed->connector == connector) entries.emplace_back(key, value);
  }
  return entries;
}

Status KafkaOffsetStore::put(
    const std::vector<std::pair<std::string, std::optional<std::string>>>& batch) {
  if (batch.empty()) return Status::ok();
  auto written = writer_->write(topic_, batch);
  if (!written.is_ok()) return written.status();
  std::lock_guard lock(mutex_);
  for (const auto& [key, value] : batch) {
    if (value) {
      entries_[key] = *value;
    } else {
      entries_.erase(key);
    }
  }
  return Status::ok();
}

}  // namespace sluice::connect
