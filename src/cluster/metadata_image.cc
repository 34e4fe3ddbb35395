#include "cluster/metadata_image.h"

#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

Status unknown_topic(const Uuid& id, const char* record) {
  (void)id;
  return Status(Errc::invalid_value, std::string(record) + " names a topic id not in the image");
}

Status apply(MetadataImage& image, const md::TopicRecord& record, int64_t) {
  if (image.topics.count(record.name) || image.topic_names.count(record.topic_id))
    return Status(Errc::invalid_value, "TopicRecord for existing topic " + record.name);
  TopicImage& topic = image.topics[record.name];
  topic.name = record.name;
  topic.id = record.topic_id;
  image.topic_names[record.topic_id] = record.name;
  return Status::ok();
}

TopicImage* topic_by_id(MetadataImage& image, const Uuid& id) {
  auto name = image.topic_names.find(id);
  if (name == image.topic_names.end()) return nullptr;
  return &image.topics.at(name->second);
}

Status apply(MetadataImage& image, const md::PartitionRecord& record, int64_t) {
  TopicImage* topic = topic_by_id(image, record.topic_id);
  if (topic == nullptr) return unknown_topic(record.topic_id, "PartitionRecord");
  if (record.partition_id < 0 || record.partition_id >= partitions_per_topic_max)
    return Status(Errc::invalid_value, "PartitionRecord with partition id out of range");
  auto index = static_cast<size_t>(record.partition_id);
  // Only the new slots get their ids: renumbering every partition per record
  // made creating a topic quadratic in its partitions.
  for (size_t i = topic->partitions.size(); i <= index; ++i)
    topic->partitions.emplace_back().partition = static_cast<int32_t>(i);
  PartitionImage& partition = topic->partitions[index];
  partition.replicas = record.replicas;
  partition.isr = record.isr;
  partition.leader = record.leader;
  partition.leader_epoch = record.leader_epoch;
  partition.partition_epoch = record.partition_epoch;
  return Status::ok();
}

Status apply(MetadataImage& image, const md::PartitionChangeRecord& record, int64_t) {
  TopicImage* topic = topic_by_id(image, record.topic_id);
  if (topic == nullptr) return unknown_topic(record.topic_id, "PartitionChangeRecord");
  if (record.partition_id < 0 ||
      static_cast<size_t>(record.partition_id) >= topic->partitions.size())
    return Status(Errc::invalid_value, "PartitionChangeRecord for unknown partition");
  PartitionImage& partition = topic->partitions[static_cast<size_t>(record.partition_id)];
  if (record.isr) partition.isr = *record.isr;
  if (record.replicas) partition.replicas = *record.replicas;
  // Leader -2 means "unchanged"; any other value is a leader change, which
  // starts a new leader epoch (Kafka's rule).
  if (record.leader != -2) {
    partition.leader = record.leader;
    ++partition.leader_epoch;
  }
  ++partition.partition_epoch;
  return Status::ok();
}

Status apply(MetadataImage& image, const md::RemoveTopicRecord& record, int64_t) {
  auto name = image.topic_names.find(record.topic_id);
  if (name == image.topic_names.end()) return unknown_topic(record.topic_id, "RemoveTopicRecord");
  image.topics.erase(name->second);
  image.topic_names.erase(name);
  return Status::ok();
}

Status apply(MetadataImage& image, const md::ConfigRecord& record, int64_t) {
  std::map<std::string, std::string>* configs = nullptr;
  if (record.resource_type == config_resource_topic) {
    auto topic = image.topics.find(record.resource_name);
    if (topic == image.topics.end())
      return Status(Errc::invalid_value, "ConfigRecord for unknown topic " + record.resource_name);
    configs = &topic->second.configs;
  } else if (record.resource_type == config_resource_broker) {
    configs = &image.broker_configs[record.resource_name];
  } else {
    return Status::ok();  // other resource types (groups, client metrics) are not tracked yet
  }
  if (record.value)
    (*configs)[record.name] = *record.value;
  else
    configs->erase(record.name);
  if (record.resource_type == config_resource_broker && configs->empty())
    image.broker_configs.erase(record.resource_name);
  return Status::ok();
}

Status apply(MetadataImage& image, const md::RegisterBrokerRecord& record, int64_t offset) {
  BrokerImage broker;
  broker.node_id = record.broker_id;
  broker.epoch = record.broker_epoch >= 0 ? record.broker_epoch : offset;
  broker.rack = record.rack;
  broker.fenced = record.fenced;
  for (const auto& endpoint : record.end_points)
    broker.endpoints.push_back(
        {endpoint.name, endpoint.host, endpoint.port, endpoint.security_protocol});
  image.brokers[record.broker_id] = std::move(broker);
  return Status::ok();
}

Status apply(MetadataImage& image, const md::UnregisterBrokerRecord& record, int64_t) {
  image.brokers.erase(record.broker_id);
  return Status::ok();
}

Status apply(MetadataImage& image, const md::FenceBrokerRecord& record, int64_t) {
  if (auto found = image.brokers.find(record.id); found != image.brokers.end())
    found->second.fenced = true;
  return Status::ok();
}

Status apply(MetadataImage& image, const md::UnfenceBrokerRecord& record, int64_t) {
  if (auto found = image.brokers.find(record.id); found != image.brokers.end())
    found->second.fenced = false;
  return Status::ok();
}

Status apply(MetadataImage& image, const md::FeatureLevelRecord& record, int64_t) {
  if (record.feature_level == 0)
    image.features.erase(record.name);
  else
    image.features[record.name] = record.feature_level;
  return Status::ok();
}

// Records the image does not track yet.
template <class Record>
Status apply(MetadataImage&, const Record&, int64_t) {
  return Status::ok();
}

}  // namespace

std::optional<std::string> MetadataImage::dynamic_broker_config(int32_t node_id,
                                                                const std::string& name) const {
  for (const std::string& resource : {std::to_string(node_id), std::string()}) {
    auto configs = broker_configs.find(resource);
    if (configs == broker_configs.end()) continue;
    auto value = configs->second.find(name);
    if (value != configs->second.end()) return value->second;
  }
  return std::nullopt;
}

Status apply_record(MetadataImage& image, Bytes framed_value, int64_t offset) {
  Status applied = Status::ok();
  Status decoded = md::decode_framed(framed_value, [&](const auto& record, int16_t) {
    applied = apply(image, record, offset);
  });
  if (!decoded) return decoded;
  if (!applied) return applied;
  image.offset = offset;
  return Status::ok();
}

}  // namespace sluice::cluster
