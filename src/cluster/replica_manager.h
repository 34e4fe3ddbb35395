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
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/strong_types.h"
#include "cluster/metadata_image.h"
#include "cluster/partition.h"
#include "cluster/partition_table.h"
#include "storage/log_manager.h"

namespace sluice::cluster {

struct ReplicaManagerOptions {
  BrokerId node_id{1};
  storage::LogManager* log_manager = nullptr;  // outlives the ReplicaManager
  // The append policy of a topic in an image: its overrides over the
  // broker's (dynamic, then static) defaults.
  std::function<AppendPolicy(const TopicImage&, const MetadataImage&)> append_policy_for =
      [](const TopicImage&, const MetadataImage&) { return AppendPolicy{}; };
  // The LogConfig of a topic (applied to its logs when the image changes).
  std::function<storage::LogConfig(const TopicImage&, const MetadataImage&)> log_config_for =
      [](const TopicImage&, const MetadataImage&) { return storage::LogConfig{}; };
  storage::Logger logger = storage::log_to_stderr;
  // The monotonic clock of the hosted Partitions (the partition simulation
  // passes its own; outlives the ReplicaManager).
  const Clock* clock = &system_clock();
};

class ReplicaManager {
 public:
  explicit ReplicaManager(ReplicaManagerOptions options);
  ReplicaManager(const ReplicaManager&) = delete;
  ReplicaManager& operator=(const ReplicaManager&) = delete;

  // Makes the hosted partitions match `image`, the result of `delta`
  // (normally over the image applied last): only the partitions of the
  // topics the delta names are created, deleted or updated (every topic
  // when the broker's dynamic configs changed: topic settings derive from
  // them). A delta over another image than the last applied one is
  // replaced by the difference of the two. A log that cannot be created is
  // reported and skipped (its dir is then offline); the rest proceeds.
  // Returns the first failure.
  Status apply_delta(const MetadataDelta& delta, MetadataImagePtr image);
  // Makes the hosted partitions match `image` whatever the last one was:
  // every partition is checked and updated (the settings functions may
  // answer differently than last time). For tests and a full resync.
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
  BrokerId node_id() const { return options_.node_id; }

 private:
  using Key = storage::TopicPartition;
  using PartitionMap = std::map<Key, std::shared_ptr<Partition>>;
  // `every_topic`: follow every topic and partition of `image`, not only
  // those the delta names.
  Status apply_locked(const MetadataDelta& delta, MetadataImagePtr image, bool every_topic);
  void delete_log(const Key& key);
  void delete_unassigned(const MetadataImage& image, PartitionMap& hosted);
  void delete_topic(const std::string& name, const Uuid& id, PartitionMap& hosted);
  // Creates, updates or deletes (moved away) the partitions `ids` of `topic`
  // (all of them when `ids` is null).
  void follow_topic(const TopicImage& topic, const std::set<int32_t>* ids,
                    const MetadataImage& image, PartitionMap& hosted, Status& first_failure,
                    size_t& skipped);
  void report_strays(const MetadataImage& image, const PartitionMap& hosted);

  ReplicaManagerOptions options_;
  std::mutex apply_mutex_;  // one apply_image at a time
  std::atomic<PartitionTablePtr> table_;
  bool reported_strays_ = false;
  std::atomic<bool> stop_creating_logs_{false};
};

}  // namespace sluice::cluster
