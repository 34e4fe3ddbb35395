#include "cluster/replica_manager.h"

#include <algorithm>
#include <set>

namespace sluice::cluster {

ReplicaManager::ReplicaManager(ReplicaManagerOptions options)
    : options_(std::move(options)), table_(std::make_shared<const PartitionTable>()) {
  SLUICE_ASSERT(options_.log_manager != nullptr, "a ReplicaManager needs a LogManager");
}

static bool hosted_here(const PartitionImage& partition, int32_t node_id) {
  return std::find(partition.replicas.begin(), partition.replicas.end(), node_id) !=
         partition.replicas.end();
}

Status ReplicaManager::apply_image(MetadataImagePtr image) {
  SLUICE_ASSERT(image != nullptr, "apply_image of a null image");
  std::lock_guard apply_lock(apply_mutex_);
  std::map<Key, std::shared_ptr<Partition>> previous;
  for (const auto& partition : table()->partitions())
    previous[partition->topic_partition()] = partition;
  // Deletions first: a topic recreated under its old name needs its old
  // log gone before the new one is created.
  delete_partitions(*image, previous);
  std::map<Key, std::shared_ptr<Partition>> next;
  Status status = create_partitions(*image, previous, next);
  report_strays(*image, next);
  std::vector<std::shared_ptr<Partition>> hosted;
  hosted.reserve(next.size());
  for (auto& [key, partition] : next) hosted.push_back(std::move(partition));
  table_.store(std::make_shared<const PartitionTable>(std::move(image), std::move(hosted)),
               std::memory_order_release);
  return status;
}

// The partition of `key` in `image` if it is hosted here under `topic_id`.
const PartitionImage* ReplicaManager::hosted(const MetadataImage& image, const Key& key,
                                             const Uuid& topic_id) const {
  const TopicImage* topic = image.topic(key.topic);
  if (topic == nullptr || topic->id != topic_id) return nullptr;
  const PartitionImage* partition = topic->partition(key.partition);
  return partition && hosted_here(*partition, options_.node_id) ? partition : nullptr;
}

// Deletes the logs of partitions hosted under the previous image and not
// under this one (topic deleted, partition moved away, topic recreated).
void ReplicaManager::delete_partitions(const MetadataImage& image,
                                       const std::map<Key, std::shared_ptr<Partition>>& previous) {
  for (const auto& [key, partition] : previous) {
    if (hosted(image, key, partition->topic_id())) continue;
    if (Status status = options_.log_manager->delete_log(key); !status)
      options_.logger("cannot delete the log of " + key.dir_name() + ": " + status.message());
  }
}

// Builds the partition map of `image`: existing Partition objects are kept
// (waiters, high watermark); new ones get their log created or reopened.
Status ReplicaManager::create_partitions(const MetadataImage& image,
                                         const std::map<Key, std::shared_ptr<Partition>>& previous,
                                         std::map<Key, std::shared_ptr<Partition>>& next) {
  Status first_failure;
  size_t skipped = 0;
  for (const auto& [name, topic] : image.topics) {
    AppendPolicy policy = options_.append_policy_for(topic, image);
    storage::LogConfig config = options_.log_config_for(topic, image);
    for (const PartitionImage& partition_image : topic.partitions) {
      if (!hosted_here(partition_image, options_.node_id)) continue;
      Key key{name, partition_image.partition};
      std::shared_ptr<Partition> partition;
      if (auto found = previous.find(key); found != previous.end() && found->second->topic_id() == topic.id)
        partition = found->second;
      if (!partition && stop_creating_logs_.load(std::memory_order_relaxed)) {
        ++skipped;
        continue;
      }
      if (!partition) {
        auto log = options_.log_manager->create_log(key, topic.id);
        if (!log) {
          options_.logger("cannot create the log of " + key.dir_name() + ": " + log.status().message());
          if (first_failure.is_ok()) first_failure = log.status();
          continue;
        }
        partition = std::make_shared<Partition>(key, topic.id, *log, options_.node_id);
      }
      // Through the LogManager: it wakes the cleaner when a topic becomes compacted.
      if (Status status = options_.log_manager->update_config(key, config); !status)
        options_.logger("cannot apply the config of " + key.dir_name() + ": " + status.message());
      partition->update(partition_image, policy);
      next[key] = std::move(partition);
    }
  }
  if (skipped > 0)
    options_.logger("shutting down: the logs of " + std::to_string(skipped) +
                    " new partition(s) were not created; the next start creates them");
  return first_failure;
}

void ReplicaManager::report_strays(const MetadataImage& image,
                                   const std::map<Key, std::shared_ptr<Partition>>& next) {
  if (reported_strays_ || image.topics.empty()) return;
  reported_strays_ = true;
  for (const auto& log : options_.log_manager->logs())
    if (!next.contains(log->topic_partition()))
      options_.logger("stray log " + log->topic_partition().dir_name() +
                      " belongs to no topic of the metadata image; left in place");
}

}  // namespace sluice::cluster
