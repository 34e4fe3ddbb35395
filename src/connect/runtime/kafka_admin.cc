#include "connect/runtime/kafka_admin.h"

#include "connect/runtime/kafka_clients.h"

namespace sluice::connect {
namespace {

constexpr int kAdminTimeoutMs = 30'000;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
  void operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
};
using Queue = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using Event = std::unique_ptr<rd_kafka_event_t, QueueDeleter>;

Result<RdKafka> admin_client(const Properties& settings) {
  auto conf = make_client_conf(settings);
  if (!conf.is_ok()) return conf.status();
  return make_client(std::move(*conf), ClientKind::admin);
}

// Waits for the one result of an Admin call on `queue`.
Result<Event> wait_result(rd_kafka_queue_t* queue, const char* what) {
  Event event(rd_kafka_queue_poll(queue, kAdminTimeoutMs + 5'000));
  if (!event) return Status(Errc::io_error, std::string(what) + ": no answer in time");
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status(Errc::io_error,
                  std::string(what) + ": " + rd_kafka_event_error_string(event.get()));
  }
  return event;
}

std::string partition_error(const rd_kafka_topic_partition_list_t* partitions) {
  for (int i = 0; partitions != nullptr && i < partitions->cnt; ++i) {
    if (partitions->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return std::string(partitions->elems[i].topic) + "-" +
             std::to_string(partitions->elems[i].partition) + ": " +
             rd_error_text(partitions->elems[i].err);
    }
  }
  return "";
}

const Value* entry(const Map& map, std::string_view key) { return map_find(map, key); }

std::optional<int64_t> integral(const Value* value) {
  if (value == nullptr) return std::nullopt;
  if (value->is<int64_t>()) return value->as<int64_t>();
  if (value->is<int32_t>()) return value->as<int32_t>();
  if (value->is<int16_t>()) return value->as<int16_t>();
  if (value->is<int8_t>()) return value->as<int8_t>();
  return std::nullopt;
}

}  // namespace

std::string sink_group_id(const std::string& connector) { return "connect-" + connector; }

Result<std::pair<std::string, int32_t>> sink_partition_of(const Map& partition) {
  const Value* topic = entry(partition, "kafka_topic");
  if (topic == nullptr || !topic->is<std::string>()) {
    return Status(Errc::invalid_value,
                  "Kafka topic names must be valid strings and may not be null");
  }
  auto number = integral(entry(partition, "kafka_partition"));
  if (!number || *number < 0 || *number > INT32_MAX) {
    return Status(Errc::invalid_value,
                  "Kafka partitions must be valid numbers and may not be null");
  }
  return std::make_pair(topic->as<std::string>(), static_cast<int32_t>(*number));
}

Result<int64_t> sink_offset_of(const Map& offset) {
  auto number = integral(entry(offset, "kafka_offset"));
  if (!number || *number < 0) {
    return Status(Errc::invalid_value, "Kafka offsets must be valid numbers and may not be null");
  }
  return *number;
}

Result<std::vector<ConnectorOffset>> list_group_offsets(const Properties& settings,
                                                        const std::string& group) {
  auto admin = admin_client(settings);
  if (!admin.is_ok()) return admin.status();
  Queue queue(rd_kafka_queue_new(admin->get()));
  rd_kafka_ListConsumerGroupOffsets_t* request =
      rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr);
  rd_kafka_ListConsumerGroupOffsets(admin->get(), &request, 1, nullptr, queue.get());
  rd_kafka_ListConsumerGroupOffsets_destroy(request);
  auto event = wait_result(queue.get(), "listing the consumer group's offsets");
  if (!event.is_ok()) return event.status();
  const auto* result = rd_kafka_event_ListConsumerGroupOffsets_result(event->get());
  size_t count = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count);
  std::vector<ConnectorOffset> offsets;
  if (count == 0) return offsets;
  if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[0])) {
    return Status(Errc::io_error, std::string("listing the consumer group's offsets: ") +
                                      rd_kafka_error_string(error));
  }
  const rd_kafka_topic_partition_list_t* partitions = rd_kafka_group_result_partitions(groups[0]);
  for (int i = 0; partitions != nullptr && i < partitions->cnt; ++i) {
    const rd_kafka_topic_partition_t& p = partitions->elems[i];
    if (p.offset < 0) continue;  // nothing committed
    ConnectorOffset offset;
    map_put(offset.partition, Value("kafka_topic"), Value(std::string(p.topic)));
    map_put(offset.partition, Value("kafka_partition"), Value(static_cast<int32_t>(p.partition)));
    Map value;
    map_put(value, Value("kafka_offset"), Value(static_cast<int64_t>(p.offset)));
    offset.offset = std::move(value);
    offsets.push_back(std::move(offset));
  }
  return offsets;
}

Status alter_group_offsets(const Properties& settings, const std::string& group,
                           const std::vector<ConnectorOffset>& offsets) {
  RdPartitionList altered(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  RdPartitionList removed(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const ConnectorOffset& offset : offsets) {
    auto partition = sink_partition_of(offset.partition);
    if (!partition.is_ok()) return partition.status();
    if (!offset.offset) {
      rd_kafka_topic_partition_list_add(removed.get(), partition->first.c_str(), partition->second);
      continue;
    }
    auto position = sink_offset_of(*offset.offset);
    if (!position.is_ok()) return position.status();
    rd_kafka_topic_partition_list_add(altered.get(), partition->first.c_str(), partition->second)
        ->offset = *position;
  }
  auto admin = admin_client(settings);
  if (!admin.is_ok()) return admin.status();
  Queue queue(rd_kafka_queue_new(admin->get()));
  if (altered->cnt > 0) {
    rd_kafka_AlterConsumerGroupOffsets_t* request =
        rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), altered.get());
    rd_kafka_AlterConsumerGroupOffsets(admin->get(), &request, 1, nullptr, queue.get());
    rd_kafka_AlterConsumerGroupOffsets_destroy(request);
    auto event = wait_result(queue.get(), "altering the consumer group's offsets");
    if (!event.is_ok()) return event.status();
    size_t count = 0;
    const rd_kafka_group_result_t** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
        rd_kafka_event_AlterConsumerGroupOffsets_result(event->get()), &count);
    if (count > 0) {
      if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[0])) {
        return Status(Errc::io_error, std::string("altering the consumer group's offsets: ") +
                                          rd_kafka_error_string(error));
      }
      if (std::string failed = partition_error(rd_kafka_group_result_partitions(groups[0]));
          !failed.empty()) {
        return Status(Errc::io_error, "altering the consumer group's offsets: " + failed);
      }
    }
  }
  if (removed->cnt > 0) {
    rd_kafka_DeleteConsumerGroupOffsets_t* request =
        rd_kafka_DeleteConsumerGroupOffsets_new(group.c_str(), removed.get());
    rd_kafka_DeleteConsumerGroupOffsets(admin->get(), &request, 1, nullptr, queue.get());
    rd_kafka_DeleteConsumerGroupOffsets_destroy(request);
    auto event = wait_result(queue.get(), "deleting the consumer group's offsets");
    if (!event.is_ok()) return event.status();
  }
  return Status::ok();
}

Status ensure_topic(const Properties& settings, const std::string& topic, int replication_factor,
                    int partitions, const Properties& configs) {
  auto admin = admin_client(settings);
  if (!admin.is_ok()) return admin.status();
  Queue queue(rd_kafka_queue_new(admin->get()));
  char message[512];
  rd_kafka_NewTopic_t* request =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, message, sizeof message);
  if (request == nullptr) {
    return Status(Errc::invalid_value, "creating the topic " + topic + ": " + message);
  }
  for (const auto& [name, value] : configs) {
    rd_kafka_NewTopic_set_config(request, name.c_str(), value.c_str());
  }
  rd_kafka_CreateTopics(admin->get(), &request, 1, nullptr, queue.get());
  rd_kafka_NewTopic_destroy(request);
  auto event = wait_result(queue.get(), "creating the topic");
  if (!event.is_ok()) return event.status();
  size_t count = 0;
  const rd_kafka_topic_result_t** topics =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event->get()), &count);
  for (size_t i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(topics[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
      continue;
    const char* reason = rd_kafka_topic_result_error_string(topics[i]);
    return Status(Errc::io_error, "creating the topic " + topic + ": " + rd_error_text(err) +
                                      (reason ? std::string(" (") + reason + ")" : ""));
  }
  return Status::ok();
}

std::string cluster_id(const Properties& settings) {
  auto admin = admin_client(settings);
  if (!admin.is_ok()) return "";
  char* id = rd_kafka_clusterid(admin->get(), 5'000);
  std::string text = id ? id : "";
  if (id) rd_kafka_mem_free(admin->get(), id);
  return text;
}

Status reset_group_offsets(const Properties& settings, const std::string& group) {
  auto admin = admin_client(settings);
  if (!admin.is_ok()) return admin.status();
  Queue queue(rd_kafka_queue_new(admin->get()));
  rd_kafka_DeleteGroup_t* request = rd_kafka_DeleteGroup_new(group.c_str());
  rd_kafka_DeleteGroups(admin->get(), &request, 1, nullptr, queue.get());
  rd_kafka_DeleteGroup_destroy(request);
  auto event = wait_result(queue.get(), "deleting the consumer group");
  if (!event.is_ok()) return event.status();
  size_t count = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(event->get()), &count);
  if (count > 0) {
    if (const rd_kafka_error_t* error = rd_kafka_group_result_error(groups[0])) {
      if (rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND) {
        return Status(Errc::io_error,
                      std::string("deleting the consumer group: ") + rd_kafka_error_string(error));
      }
    }
  }
  return Status::ok();
}

}  // namespace sluice::connect
