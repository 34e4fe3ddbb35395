#pragma once
// The partitions this broker hosts (Kafka's ReplicaManager): it follows the
// metadata image, creating the logs of partitions assigned to this node
// (through the LogManager), deleting those of deleted topics, and passing
// leadership, ISR and topic settings to each Partition. Handlers look
// partitions up here.
//
// Threads: apply_image() is called by one thread at a time (the metadata
// applier; it does file I/O, so not a reactor). Lookups (table(),
// partition(), image(), partitions()) may run on any thread concurrently
// with it and take no mutex: each image's partitions are an immutable
// PartitionTable swapped in atomically once the image is applied, so a
// request on any reactor finds a partition with one hash lookup, whatever
// the number of partitions or of threads looking.
//
// Stray logs (on disk, in no topic of the image) are reported, not deleted:
// only a topic seen in an applied image and then gone is deleted, so a lost
// or not-yet-replayed metadata log never destroys data.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/metadata_image.h"
#include "cluster/partition.h"
#include "cluster/partition_table.h"
#include "storage/log_manager.h"

namespace sluice::cluster {

struct ReplicaManagerOptions {
  int32_t node_id = 1;
  storage::LogManager* log_manager = nullptr;  // outlives the ReplicaManager
  // The append policy of a topic in an image: its overrides over the
  // broker's (dynamic, then static) defaults.
  std::function<AppendPolicy(const TopicImage&, const MetadataImage&)> append_policy_for =
      [](const TopicImage&, const MetadataImage&) { return AppendPolicy{}; };
  // The LogConfig of a topic (applied to its logs when the image changes).
  std::function<storage::LogConfig(const TopicImage&, const MetadataImage&)> log_config_for =
      [](const TopicImage&, const MetadataImage&) { return storage::LogConfig{}; };
  storage::Logger logger = storage::log_to_stderr;
};

class ReplicaManager {
 public:
  explicit ReplicaManager(ReplicaManagerOptions options);
  ReplicaManager(const ReplicaManager&) = delete;
  ReplicaManager& operator=(const ReplicaManager&) = delete;

  // Makes the hosted partitions match `image`. A log that cannot be created
  // is reported and skipped (its dir is then offline); the rest proceeds.
  // Returns the first failure.
  Status apply_image(MetadataImagePtr image);
  // From now on apply_image() creates no log (any thread; for shutdown).
  // Creating a log costs a few fsyncs (~5 ms), so an image with thousands of
  // new partitions would hold the controller, and shutdown, for tens of
  // seconds. The image is durable: the next start creates what was skipped.
  void stop_creating_logs() { stop_creating_logs_.store(true, std::memory_order_relaxed); }

  // The last image applied (never null: empty before the first).
  MetadataImagePtr image() const { return table()->image(); }
  // The current table (never null). A request that looks up several
  // partitions may load it once and use it throughout.
  PartitionTablePtr table() const { return table_.load(std::memory_order_acquire); }
  std::shared_ptr<Partition> partition(std::string_view topic, int32_t partition) const {
    return table()->find(topic, partition);
  }
  std::vector<std::shared_ptr<Partition>> partitions() const { return table()->partitions(); }
  storage::LogManager& log_manager() const { return *options_.log_manager; }
  int32_t node_id() const { return options_.node_id; }

 private:
  using Key = storage::TopicPartition;
  const PartitionImage* hosted(const MetadataImage& image, const Key& key, const Uuid& topic_id) const;
  void delete_partitions(const MetadataImage& image,
                         const std::map<Key, std::shared_ptr<Partition>>& previous);
  Status create_partitions(const MetadataImage& image,
                           const std::map<Key, std::shared_ptr<Partition>>& previous,
                           std::map<Key, std::shared_ptr<Partition>>& next);
  void report_strays(const MetadataImage& image, const std::map<Key, std::shared_ptr<Partition>>& next);

  ReplicaManagerOptions options_;
  std::mutex apply_mutex_;  // one apply_image at a time
  std::atomic<PartitionTablePtr> table_;
  bool reported_strays_ = false;
  std::atomic<bool> stop_creating_logs_{false};
};

}  // namespace sluice::cluster
