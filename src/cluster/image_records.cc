#include "cluster/image_records.h"

#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

// The versions the controller writes (cluster/README.md, "Records written").
md::RegisterBrokerRecord register_record(const BrokerImage& broker) {
  md::RegisterBrokerRecord record;
  record.broker_id = broker.node_id;
  record.incarnation_id = broker.incarnation_id;
  record.broker_epoch = broker.epoch;
  for (const BrokerEndpoint& endpoint : broker.endpoints)
    record.end_points.push_back(
        {endpoint.listener_name, endpoint.host, endpoint.port, endpoint.security_protocol, {}});
  for (const BrokerFeatureRange& feature : broker.features)
    record.features.push_back({feature.name, feature.min_version, feature.max_version, {}});
  record.rack = broker.rack;
  record.fenced = broker.fenced;
  record.in_controlled_shutdown = broker.in_controlled_shutdown;
  return record;
}

std::vector<uint8_t> config_record(int8_t resource_type, const std::string& resource,
                                   const std::string& name, const std::string& value) {
  md::ConfigRecord record;
  record.resource_type = resource_type;
  record.resource_name = resource;
  record.name = name;
  record.value = value;
  return md::encode_framed(record, 0);
}

void topic_records(const TopicImage& topic, std::vector<std::vector<uint8_t>>& out) {
  md::TopicRecord created;
  created.name = topic.name;
  created.topic_id = topic.id;
  out.push_back(md::encode_framed(created, 0));
  for (const PartitionImage& partition : topic.partitions) {
    md::PartitionRecord record;
    record.partition_id = partition.partition;
    record.topic_id = topic.id;
    record.replicas = partition.replicas;
    record.isr = partition.isr;
    record.leader = partition.leader;
    record.leader_epoch = partition.leader_epoch;
    record.partition_epoch = partition.partition_epoch;
    record.leader_recovery_state = partition.leader_recovery_state;
    record.adding_replicas = partition.adding_replicas;
    record.removing_replicas = partition.removing_replicas;
    out.push_back(md::encode_framed(record, 0));
  }
  for (const auto& [name, value] : topic.configs)
    out.push_back(config_record(config_resource_topic, topic.name, name, value));
}

}  // namespace

std::vector<std::vector<uint8_t>> image_records(const MetadataImage& image) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& [name, level] : image.features) {
    md::FeatureLevelRecord record;
    record.name = name;
    record.feature_level = level;
    out.push_back(md::encode_framed(record, 0));
  }
  for (const auto& [id, broker] : image.brokers)
    out.push_back(md::encode_framed(register_record(broker)));
  for (const auto& [resource, configs] : image.broker_configs)
    for (const auto& [name, value] : configs)
      out.push_back(config_record(config_resource_broker, resource, name, value));
  for (const auto& [name, topic] : image.topics) topic_records(*topic, out);
  for (const auto& [user, mechanisms] : image.scram_credentials)
    for (const auto& [mechanism, credential] : mechanisms) {
      md::UserScramCredentialRecord record;
      record.name = user;
      record.mechanism = mechanism;
      record.salt = credential.salt;
      record.stored_key = credential.stored_key;
      record.server_key = credential.server_key;
      record.iterations = credential.iterations;
      out.push_back(md::encode_framed(record, 0));
    }
  for (const auto& [id, binding] : image.acls)
    out.push_back(md::encode_framed(acl_record(id, binding), 0));
  for (const auto& [entity, values] : image.client_quotas)
    for (const auto& [key, value] : values)
      out.push_back(md::encode_framed(client_quota_record(entity, key, value), 0));
  if (image.next_producer_id >= 0) {  // Kafka's ProducerIdsImage.write
    md::ProducerIdsRecord record;
    record.broker_id = -1;  // who asked is not part of the image
    record.next_producer_id = image.next_producer_id;
    out.push_back(md::encode_framed(record, 0));
  }
  return out;
}

Result<MetadataImagePtr> image_from_records(const std::vector<std::vector<uint8_t>>& records,
                                            const std::string& cluster_id, int32_t controller_id,
                                            int64_t offset) {
  auto empty = std::make_shared<MetadataImage>();
  empty->cluster_id = cluster_id;
  empty->controller_id = controller_id;
  MetadataDelta delta(std::move(empty));
  for (const auto& record : records)
    if (Status s = delta.replay(Bytes(record), offset); !s) return s;
  auto image = std::make_shared<MetadataImage>(*delta.apply());  // topics: pointers only
  image->offset = offset;  // also when the snapshot holds no record
  return MetadataImagePtr(std::move(image));
}

security::AclBinding acl_binding_of(const md::AccessControlEntryRecord& record) {
  security::AclBinding binding;
  binding.resource_type = security::resource_type_from_code(record.resource_type);
  binding.resource_name = record.resource_name;
  binding.pattern_type = security::pattern_type_from_code(record.pattern_type);
  binding.principal = record.principal;
  binding.host = record.host;
  binding.operation = security::acl_operation_from_code(record.operation);
  binding.permission = security::acl_permission_type_from_code(record.permission_type);
  return binding;
}

md::AccessControlEntryRecord acl_record(const Uuid& id, const security::AclBinding& binding) {
  md::AccessControlEntryRecord record;
  record.id = id;
  record.resource_type = security::to_code(binding.resource_type);
  record.resource_name = binding.resource_name;
  record.pattern_type = security::to_code(binding.pattern_type);
  record.principal = binding.principal;
  record.host = binding.host;
  record.operation = security::to_code(binding.operation);
  record.permission_type = security::to_code(binding.permission);
  return record;
}

md::ClientQuotaRecord client_quota_record(const ClientQuotaEntity& entity, const std::string& key,
                                          double value, bool remove) {
  md::ClientQuotaRecord record;
  for (const auto& [type, name] : entity) {
    auto& part = record.entity.emplace_back();
    part.entity_type = type;
    part.entity_name = name;
  }
  record.key = key;
  record.value = remove ? 0.0 : value;
  record.remove = remove;
  return record;
}

}  // namespace sluice::cluster
