#include "cluster/metadata_image.h"

#include "cluster/image_records.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {

namespace md = protocol::metadata;

void MetadataImage::put_topic(TopicImagePtr topic) {
  topic_names[topic->id] = topic->name;
  topics[topic->name] = std::move(topic);
}

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

// Applies each record type to a delta (a friend: it reaches the delta's
// copy-on-write accessors).
struct DeltaApplier {
  MetadataDelta& delta;
  int64_t offset;

  static Status unknown_topic(const char* record) {
    return Status(Errc::invalid_value, std::string(record) + " names a topic id not in the image");
  }

  Status operator()(const md::TopicRecord& record) const {
    if (delta.topic(record.name) != nullptr || delta.topic(record.topic_id) != nullptr)
      return Status(Errc::invalid_value, "TopicRecord for existing topic " + record.name);
    // A name deleted earlier in this delta may be created again: its old
    // id stays in deleted_topics_, the new topic is a created one.
    TopicDelta& change = delta.changed_topics_[record.name];
    change.created = true;
    change.writable_ = std::make_shared<TopicImage>();
    change.writable_->name = record.name;
    change.writable_->id = record.topic_id;
    change.image = change.writable_;
    delta.changed_names_[record.topic_id] = record.name;
    return Status::ok();
  }

  Status operator()(const md::PartitionRecord& record) const {
    if (delta.topic(record.topic_id) == nullptr) return unknown_topic("PartitionRecord");
    if (record.partition_id < 0 || record.partition_id >= partitions_per_topic_max)
      return Status(Errc::invalid_value, "PartitionRecord with partition id out of range");
    TopicImage* topic = nullptr;
    TopicDelta* change = delta.writable_topic(record.topic_id, topic);
    auto index = static_cast<size_t>(record.partition_id);
    // Only the new slots get their ids: renumbering every partition per
    // record made creating a topic quadratic in its partitions.
    for (size_t i = topic->partitions.size(); i <= index; ++i)
      topic->partitions.emplace_back().partition = static_cast<int32_t>(i);
    PartitionImage& partition = topic->partitions[index];
    partition.replicas = record.replicas;
    partition.isr = record.isr;
    partition.leader = record.leader;
    partition.leader_epoch = record.leader_epoch;
    partition.partition_epoch = record.partition_epoch;
    partition.leader_recovery_state = record.leader_recovery_state;
    partition.adding_replicas = record.adding_replicas;
    partition.removing_replicas = record.removing_replicas;
    if (!change->created) change->changed_partitions.insert(record.partition_id);
    return Status::ok();
  }

  Status operator()(const md::PartitionChangeRecord& record) const {
    const TopicImage* current = delta.topic(record.topic_id);
    if (current == nullptr) return unknown_topic("PartitionChangeRecord");
    if (record.partition_id < 0 ||
        static_cast<size_t>(record.partition_id) >= current->partitions.size())
      return Status(Errc::invalid_value, "PartitionChangeRecord for unknown partition");
    TopicImage* topic = nullptr;
    TopicDelta* change = delta.writable_topic(record.topic_id, topic);
    PartitionImage& partition = topic->partitions[static_cast<size_t>(record.partition_id)];
    if (record.isr) partition.isr = *record.isr;
    if (record.replicas) partition.replicas = *record.replicas;
    if (record.adding_replicas) partition.adding_replicas = *record.adding_replicas;
    if (record.removing_replicas) partition.removing_replicas = *record.removing_replicas;
    // Leader -2 means "unchanged"; any other value is a leader change,
    // which starts a new leader epoch (Kafka's rule).
    if (record.leader != -2) {
      partition.leader = record.leader;
      ++partition.leader_epoch;
    }
    // -1: unchanged.
    if (record.leader_recovery_state >= 0)
      partition.leader_recovery_state = record.leader_recovery_state;
    ++partition.partition_epoch;
    if (!change->created) change->changed_partitions.insert(record.partition_id);
    return Status::ok();
  }

  Status operator()(const md::RemoveTopicRecord& record) const {
    const TopicImage* topic = delta.topic(record.topic_id);
    if (topic == nullptr) return unknown_topic("RemoveTopicRecord");
    const std::string name = topic->name;
    delta.changed_topics_.erase(name);
    delta.changed_names_.erase(record.topic_id);
    if (delta.base_->topic(record.topic_id) != nullptr)
      delta.deleted_topics_[record.topic_id] = name;
    return Status::ok();
  }

  Status operator()(const md::ConfigRecord& record) const {
    std::map<std::string, std::string>* configs = nullptr;
    if (record.resource_type == config_resource_topic) {
      TopicImage* topic = nullptr;
      TopicDelta* change = delta.topic(record.resource_name) == nullptr
                               ? nullptr
                               : delta.writable_topic(record.resource_name, topic);
      if (change == nullptr)
        return Status(Errc::invalid_value,
                      "ConfigRecord for unknown topic " + record.resource_name);
      change->configs_changed = true;
      configs = &topic->configs;
    } else if (record.resource_type == config_resource_broker) {
      configs = &delta.writable_broker_configs()[record.resource_name];
    } else {
      return Status::ok();  // other resource types (groups, client metrics) are not tracked yet
    }
    if (record.value)
      (*configs)[record.name] = *record.value;
    else
      configs->erase(record.name);
    if (record.resource_type == config_resource_broker && configs->empty())
      delta.writable_broker_configs().erase(record.resource_name);
    return Status::ok();
  }

  Status operator()(const md::RegisterBrokerRecord& record) const {
    BrokerImage broker;
    broker.node_id = record.broker_id;
    broker.epoch = record.broker_epoch >= 0 ? record.broker_epoch : offset;
    broker.registration_offset = offset;
    broker.incarnation_id = record.incarnation_id;
    broker.rack = record.rack;
    broker.fenced = record.fenced;
    broker.in_controlled_shutdown = record.in_controlled_shutdown;
    for (const auto& endpoint : record.end_points)
      broker.endpoints.push_back(
          {endpoint.name, endpoint.host, endpoint.port, endpoint.security_protocol});
    for (const auto& feature : record.features)
      broker.features.push_back(
          {feature.name, feature.min_supported_version, feature.max_supported_version});
    delta.writable_brokers()[record.broker_id] = std::move(broker);
    return Status::ok();
  }

  // The registration a record about broker `id` at `epoch` changes: records
  // naming an unknown broker or another incarnation's epoch are refused, as
  // Kafka's ClusterControlManager refuses to replay them.
  Status registration(const char* record, int32_t id, int64_t epoch, BrokerImage*& out) const {
    auto found = delta.brokers().find(id);
    if (found == delta.brokers().end())
      return Status(Errc::invalid_value,
                    std::string(record) + " for unregistered broker " + std::to_string(id));
    if (found->second.epoch != epoch)
      return Status(Errc::invalid_value, std::string(record) + " for broker " + std::to_string(id) +
                                             " at epoch " + std::to_string(epoch) +
                                             ", registered at epoch " +
                                             std::to_string(found->second.epoch));
    out = &delta.writable_brokers()[id];
    return Status::ok();
  }

  Status operator()(const md::UnregisterBrokerRecord& record) const {
    BrokerImage* broker = nullptr;
    if (Status s =
            registration("UnregisterBrokerRecord", record.broker_id, record.broker_epoch, broker);
        !s)
      return s;
    delta.writable_brokers().erase(record.broker_id);
    return Status::ok();
  }

  Status operator()(const md::FenceBrokerRecord& record) const {
    BrokerImage* broker = nullptr;
    if (Status s = registration("FenceBrokerRecord", record.id, record.epoch, broker); !s) return s;
    broker->fenced = true;
    return Status::ok();
  }
  Status operator()(const md::UnfenceBrokerRecord& record) const {
    BrokerImage* broker = nullptr;
    if (Status s = registration("UnfenceBrokerRecord", record.id, record.epoch, broker); !s)
      return s;
    broker->fenced = false;
    return Status::ok();
  }

  // Fenced: -1 unfenced, 0 no change, 1 fenced; InControlledShutdown: 0 no
  // change, 1 entered (Kafka's BrokerRegistrationFencingChange and
  // BrokerRegistrationInControlledShutdownChange; other values are refused).
  Status operator()(const md::BrokerRegistrationChangeRecord& record) const {
    if (record.fenced < -1 || record.fenced > 1 || record.in_controlled_shutdown < 0 ||
        record.in_controlled_shutdown > 1)
      return Status(Errc::invalid_value, "BrokerRegistrationChangeRecord with an unknown change");
    BrokerImage* broker = nullptr;
    if (Status s = registration("BrokerRegistrationChangeRecord", record.broker_id,
                                record.broker_epoch, broker);
        !s)
      return s;
    if (record.fenced != 0) broker->fenced = record.fenced == 1;
    if (record.in_controlled_shutdown == 1) broker->in_controlled_shutdown = true;
    return Status::ok();
  }

  Status operator()(const md::FeatureLevelRecord& record) const {
    if (record.feature_level == 0)
      delta.writable_features().erase(record.name);
    else
      delta.writable_features()[record.name] = record.feature_level;
    return Status::ok();
  }

  // Kafka's ProducerIdControlManager.replay: the next block only moves
  // forward (a record going back would hand out ids twice).
  Status operator()(const md::ProducerIdsRecord& record) const {
    const int64_t current = delta.next_producer_id();
    if (current >= 0 && record.next_producer_id <= current)
      return Status(Errc::invalid_value, "ProducerIdsRecord with next producer id " +
                                             std::to_string(record.next_producer_id) +
                                             ", not past the current " + std::to_string(current));
    if (record.next_producer_id < 0)
      return Status(Errc::invalid_value, "ProducerIdsRecord with a negative next producer id");
    delta.next_producer_id_ = record.next_producer_id;
    return Status::ok();
  }

  Status operator()(const md::UserScramCredentialRecord& record) const {
    delta.writable_scram_credentials()[record.name][record.mechanism] = {
        record.salt, record.stored_key, record.server_key, record.iterations};
    return Status::ok();
  }
  // Kafka's ScramControlManager refuses to remove what is not there.
  Status operator()(const md::RemoveUserScramCredentialRecord& record) const {
    ScramCredentials& credentials = delta.writable_scram_credentials();
    auto user = credentials.find(record.name);
    if (user == credentials.end() || user->second.erase(record.mechanism) == 0)
      return Status(Errc::invalid_value,
                    "RemoveUserScramCredentialRecord for a credential that does not exist");
    if (user->second.empty()) credentials.erase(user);
    return Status::ok();
  }

  // Kafka's AclControlManager refuses an ACL it would not create, and a
  // removal of an id it does not hold.
  Status operator()(const md::AccessControlEntryRecord& record) const {
    security::AclBinding binding = acl_binding_of(record);
    if (security::AclError error = security::validate_new_acl(binding); !error.ok())
      return Status(Errc::invalid_value,
                    "AccessControlEntryRecord of an invalid ACL: " + error.message);
    delta.writable_acls()[record.id] = std::move(binding);
    return Status::ok();
  }
  Status operator()(const md::RemoveAccessControlEntryRecord& record) const {
    if (delta.writable_acls().erase(record.id) == 0)
      return Status(Errc::invalid_value,
                    "RemoveAccessControlEntryRecord for an ACL that does not exist");
    return Status::ok();
  }

  // Kafka's ClientQuotaControlManager.replay: a removal of a key not set
  // is harmless; an entity left without values is dropped.
  Status operator()(const md::ClientQuotaRecord& record) const {
    ClientQuotaEntity entity;
    for (const auto& part : record.entity) entity[part.entity_type] = part.entity_name;
    if (entity.empty()) return Status(Errc::invalid_value, "ClientQuotaRecord without an entity");
    ClientQuotas& quotas = delta.writable_client_quotas();
    if (!record.remove) {
      quotas[entity][record.key] = record.value;
      return Status::ok();
    }
    auto found = quotas.find(entity);
    if (found == quotas.end()) return Status::ok();
    found->second.erase(record.key);
    if (found->second.empty()) quotas.erase(found);
    return Status::ok();
  }

  // Records the image does not track yet.
  template <class Record>
  Status operator()(const Record&) const {
    return Status::ok();
  }
};

MetadataDelta::MetadataDelta(MetadataImagePtr base)
    : base_(std::move(base)), offset_(base_->offset) {}

const TopicImage* MetadataDelta::topic(const std::string& name) const {
  if (auto changed = changed_topics_.find(name); changed != changed_topics_.end())
    return changed->second.image.get();
  const TopicImage* topic = base_->topic(name);
  return topic == nullptr || deleted_topics_.count(topic->id) ? nullptr : topic;
}

const TopicImage* MetadataDelta::topic(const Uuid& id) const {
  if (auto changed = changed_names_.find(id); changed != changed_names_.end())
    return topic(changed->second);
  if (deleted_topics_.count(id)) return nullptr;
  return base_->topic(id);
}

TopicDelta* MetadataDelta::writable_topic(const Uuid& id, TopicImage*& topic) {
  const TopicImage* current = this->topic(id);
  return current == nullptr ? nullptr : writable_topic(current->name, topic);
}

TopicDelta* MetadataDelta::writable_topic(const std::string& name, TopicImage*& topic) {
  auto changed = changed_topics_.find(name);
  if (changed == changed_topics_.end()) {
    const TopicImage* base_topic = this->topic(name);  // not changed yet: the base's
    if (base_topic == nullptr) return nullptr;
    changed = changed_topics_.emplace(name, TopicDelta{}).first;
    changed->second.image = base_->shared_topic(name);
    changed_names_[base_topic->id] = name;
  }
  TopicDelta& change = changed->second;
  if (!change.writable_) {
    change.writable_ = std::make_shared<TopicImage>(*change.image);
    change.image = change.writable_;
  }
  topic = change.writable_.get();
  return &change;
}

std::map<int32_t, BrokerImage>& MetadataDelta::writable_brokers() {
  if (!brokers_) brokers_ = base_->brokers;
  return *brokers_;
}

std::map<std::string, std::map<std::string, std::string>>&
MetadataDelta::writable_broker_configs() {
  if (!broker_configs_) broker_configs_ = base_->broker_configs;
  return *broker_configs_;
}

std::map<std::string, int16_t>& MetadataDelta::writable_features() {
  if (!features_) features_ = base_->features;
  return *features_;
}

AclBindings& MetadataDelta::writable_acls() {
  if (!acls_) acls_ = base_->acls;
  return *acls_;
}

ClientQuotas& MetadataDelta::writable_client_quotas() {
  if (!client_quotas_) client_quotas_ = base_->client_quotas;
  return *client_quotas_;
}

ScramCredentials& MetadataDelta::writable_scram_credentials() {
  if (!scram_credentials_) scram_credentials_ = base_->scram_credentials;
  return *scram_credentials_;
}

Status MetadataDelta::replay(Bytes framed_value, int64_t offset) {
  Status applied = Status::ok();
  Status decoded = md::decode_framed(framed_value, [&](const auto& record, int16_t) {
    applied = DeltaApplier{*this, offset}(record);
  });
  if (!decoded) return decoded;
  if (!applied) return applied;
  offset_ = offset;
  return Status::ok();
}

MetadataImagePtr MetadataDelta::apply() {
  auto next = std::make_shared<MetadataImage>(*base_);  // topics: pointers only
  next->offset = offset_;
  for (const auto& [id, name] : deleted_topics_) {
    next->topic_names.erase(id);
    // The name may belong to a topic created again in this delta: put_topic
    // below replaces it.
    next->topics.erase(name);
  }
  for (auto& [name, change] : changed_topics_) {
    next->put_topic(change.image);
    change.writable_.reset();  // now shared with `next`: copy before changing again
  }
  if (brokers_) next->brokers = *brokers_;
  if (broker_configs_) next->broker_configs = *broker_configs_;
  if (features_) next->features = *features_;
  if (next_producer_id_) next->next_producer_id = *next_producer_id_;
  if (scram_credentials_) next->scram_credentials = *scram_credentials_;
  if (acls_) next->acls = *acls_;
  if (client_quotas_) next->client_quotas = *client_quotas_;
  return next;
}

MetadataDelta MetadataDelta::between(MetadataImagePtr before, const MetadataImage& after) {
  MetadataDelta delta(std::move(before));
  const MetadataImage& base = *delta.base_;
  delta.offset_ = after.offset;
  for (const auto& [name, topic] : base.topics) {
    const TopicImage* now = after.topic(name);
    if (now == nullptr || now->id != topic->id) delta.deleted_topics_[topic->id] = name;
  }
  for (const auto& [name, topic] : after.topics) {
    TopicImagePtr old = base.shared_topic(name);
    if (old == topic) continue;
    TopicDelta change;
    change.image = topic;
    change.created = old == nullptr || old->id != topic->id;
    if (!change.created) {
      change.configs_changed = old->configs != topic->configs;
      for (const PartitionImage& partition : topic->partitions) {
        const PartitionImage* was = old->partition(partition.partition);
        if (was == nullptr || *was != partition)
          change.changed_partitions.insert(partition.partition);
      }
    }
    delta.changed_names_[topic->id] = name;
    delta.changed_topics_.emplace(name, std::move(change));
  }
  if (after.brokers != base.brokers) delta.brokers_ = after.brokers;
  if (after.broker_configs != base.broker_configs) delta.broker_configs_ = after.broker_configs;
  if (after.features != base.features) delta.features_ = after.features;
  if (after.next_producer_id != base.next_producer_id)
    delta.next_producer_id_ = after.next_producer_id;
  if (after.scram_credentials != base.scram_credentials)
    delta.scram_credentials_ = after.scram_credentials;
  if (after.acls != base.acls) delta.acls_ = after.acls;
  if (after.client_quotas != base.client_quotas) delta.client_quotas_ = after.client_quotas;
  return delta;
}

Status apply_record(MetadataImage& image, Bytes framed_value, int64_t offset) {
  MetadataDelta delta(std::make_shared<const MetadataImage>(image));
  if (Status s = delta.replay(framed_value, offset); !s) return s;
  image = *delta.apply();
  return Status::ok();
}

}  // namespace sluice::cluster
