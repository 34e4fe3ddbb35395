#include "cluster/replica_manager.h"

#include <algorithm>

namespace sluice::cluster {

ReplicaManager::ReplicaManager(ReplicaManagerOptions options)
    : options_(std::move(options)), table_(std::make_shared<const PartitionTable>()) {
  SLUICE_ASSERT(options_.log_manager != nullptr, "a ReplicaManager needs a LogManager");
}

static bool hosted_here(const PartitionImage& partition, BrokerId node_id) {
  return std::find(partition.replicas.begin(), partition.replicas.end(), node_id.value()) !=
         partition.replicas.end();
}

Status ReplicaManager::apply_image(MetadataImagePtr image) {
  SLUICE_ASSERT(image != nullptr, "apply_image of a null image");
  std::lock_guard apply_lock(apply_mutex_);
  MetadataDelta delta = MetadataDelta::between(table()->image(), *image);
  return apply_locked(delta, std::move(image), true);
}

Status ReplicaManager::apply_delta(const MetadataDelta& delta, MetadataImagePtr image) {
  SLUICE_ASSERT(image != nullptr, "apply_delta of a null image");
  std::lock_guard apply_lock(apply_mutex_);
  MetadataImagePtr applied = table()->image();
  if (delta.base_ptr() != applied && !applied->topics.empty()) {
    MetadataDelta difference = MetadataDelta::between(applied, *image);
    return apply_locked(difference, std::move(image), false);
  }
  return apply_locked(delta, std::move(image), false);
}

Status ReplicaManager::apply_locked(const MetadataDelta& delta, MetadataImagePtr image,
                                    bool every_topic) {
  PartitionMap hosted;
  for (const auto& partition : table()->partitions())  // sorted: each insert is at the end
    hosted.emplace_hint(hosted.end(), partition->topic_partition(), partition);
  // Deletions first: a topic recreated under its old name needs its old
  // log gone before the new one is created.
  for (const auto& [id, name] : delta.deleted_topics()) delete_topic(name, id, hosted);
  if (every_topic) delete_unassigned(*image, hosted);
  Status first_failure;
  size_t skipped = 0;
  // A broker default (log.retention.ms, ...) may change every topic's settings.
  if (every_topic || delta.broker_configs_changed()) {
    for (const auto& [name, topic] : image->topics)
      follow_topic(*topic, nullptr, *image, hosted, first_failure, skipped);
  } else {
    for (const auto& [name, change] : delta.changed_topics()) {
      const bool every_partition = change.created || change.configs_changed;
      follow_topic(*change.image, every_partition ? nullptr : &change.changed_partitions, *image,
                   hosted, first_failure, skipped);
    }
  }
  if (skipped > 0)
    options_.logger("shutting down: the logs of " + std::to_string(skipped) +
                    " new partition(s) were not created; the next start creates them");
  report_strays(*image, hosted);
  std::vector<std::shared_ptr<Partition>> partitions;
  partitions.reserve(hosted.size());
  for (auto& [key, partition] : hosted) partitions.push_back(std::move(partition));
  table_.store(std::make_shared<const PartitionTable>(std::move(image), std::move(partitions)),
               std::memory_order_release);
  return first_failure;
}

void ReplicaManager::delete_log(const Key& key) {
  if (Status status = options_.log_manager->delete_log(key); !status)
    options_.logger("cannot delete the log of " + key.dir_name() + ": " + status.message());
}

// Deletes the logs of a topic gone from the image (deleted, or recreated
// under the same name with another id).
void ReplicaManager::delete_topic(const std::string& name, const Uuid& id, PartitionMap& hosted) {
  auto at = hosted.lower_bound(Key{name, 0});
  while (at != hosted.end() && at->first.topic == name) {
    if (at->second->topic_id() != id) {
      ++at;
      continue;
    }
    delete_log(at->first);
    at = hosted.erase(at);
  }
}

// Deletes the logs of hosted partitions the image does not assign here
// (whatever the delta says: the full resync of apply_image).
void ReplicaManager::delete_unassigned(const MetadataImage& image, PartitionMap& hosted) {
  for (auto at = hosted.begin(); at != hosted.end();) {
    const TopicImage* topic = image.topic(at->first.topic);
    const PartitionImage* partition = topic == nullptr || topic->id != at->second->topic_id()
                                          ? nullptr
                                          : topic->partition(at->first.partition);
    if (partition != nullptr && hosted_here(*partition, options_.node_id)) {
      ++at;
      continue;
    }
    // Moved away (a reassignment): its last state first, as follow_topic does.
    if (partition != nullptr)
      at->second->update(*partition, options_.append_policy_for(*topic, image));
    delete_log(at->first);
    at = hosted.erase(at);
  }
}

// Existing Partition objects are kept (waiters, high watermark); new ones
// get their log created or reopened; those no longer assigned here have
// their log deleted.
void ReplicaManager::follow_topic(const TopicImage& topic, const std::set<int32_t>* ids,
                                  const MetadataImage& image, PartitionMap& hosted,
                                  Status& first_failure, size_t& skipped) {
  const AppendPolicy policy = options_.append_policy_for(topic, image);
  const storage::LogConfig config = options_.log_config_for(topic, image);
  auto follow = [&](const PartitionImage& partition_image) {
    Key key{topic.name, partition_image.partition};
    auto found = hosted.find(key);
    std::shared_ptr<Partition> partition;
    if (found != hosted.end() && found->second->topic_id() == topic.id) partition = found->second;
    if (!hosted_here(partition_image, options_.node_id)) {
      if (partition) {
        // Removed from this broker (a reassignment): the last state first,
        // so requests waiting on it as leader are answered now.
        partition->update(partition_image, policy);
        delete_log(key);
        hosted.erase(found);
      }
      return;
    }
    if (!partition && stop_creating_logs_.load(std::memory_order_relaxed)) {
      ++skipped;
      return;
    }
    if (!partition) {
      auto log = options_.log_manager->create_log(key, topic.id);
      if (!log) {
        options_.logger("cannot create the log of " + key.dir_name() + ": " +
                        log.status().message());
        if (first_failure.is_ok()) first_failure = log.status();
        return;
      }
      partition = std::make_shared<Partition>(key, topic.id, *log, options_.node_id.value(),
                                              *options_.clock);
    }
    // Through the LogManager: it wakes the cleaner when a topic becomes compacted.
    if (Status status = options_.log_manager->update_config(key, config); !status)
      options_.logger("cannot apply the config of " + key.dir_name() + ": " + status.message());
    partition->update(partition_image, policy);
    hosted[key] = std::move(partition);
  };
  if (ids == nullptr) {
    for (const PartitionImage& partition_image : topic.partitions) follow(partition_image);
    return;
  }
  for (int32_t id : *ids)
    if (const PartitionImage* partition_image = topic.partition(id)) follow(*partition_image);
}

void ReplicaManager::report_strays(const MetadataImage& image, const PartitionMap& hosted) {
  if (reported_strays_ || image.topics.empty()) return;
  reported_strays_ = true;
  for (const auto& log : options_.log_manager->logs())
    if (!hosted.contains(log->topic_partition()))
      options_.logger("stray log " + log->topic_partition().dir_name() +
                      " belongs to no topic of the metadata image; left in place");
}

}  // namespace sluice::cluster
