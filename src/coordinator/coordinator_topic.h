#pragma once
// A coordinator's topic in the cluster (__consumer_offsets for groups,
// __transaction_state for transactions), the parts both coordinators share:
//   - creation when the coordinator is first used (Kafka creates them on the
//     first FindCoordinator): on the active controller's thread, or by
//     CreateTopics sent to it from another node; the replication factor
//     capped at the live brokers with a warning naming the setting;
//   - leadership following: the metadata image says which partitions this
//     broker leads in which leader epoch; a change calls `elect` or
//     `resign` (the coordinator's on_election / on_resignation).
//
// Threads: request() from any thread (reactors): never blocks. ensure()
// on the controller thread only (it blocks on the metadata log's fsync).
// follow_leadership() on the metadata loader thread (or at open).

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/strong_types.h"
#include "cluster/controller.h"
#include "cluster/replica_manager.h"

namespace sluice::coordinator {

struct CoordinatorTopicSpec {
  std::string name;
  int32_t partitions = 50;
  int16_t replication_factor = 3;
  std::string replication_factor_key;          // the setting, named in the cap's warning
  std::map<std::string, std::string> configs;  // cleanup.policy=compact, segment.bytes, ...
};

class CoordinatorTopic {
 public:
  using LeadershipChange = std::function<void(int32_t partition, LeaderEpoch leader_epoch)>;
  // `elect` and `resign` must not block (they post to strands).
  CoordinatorTopic(cluster::Controller& controller, cluster::ReplicaManager& replicas,
                   CoordinatorTopicSpec spec, BrokerId node_id, LeadershipChange elect,
                   LeadershipChange resign);

  const CoordinatorTopicSpec& spec() const { return spec_; }
  // The partition count the coordinator runs with (an existing topic's,
  // read from the image at open). Before the first follow_leadership.
  void set_partitions(int32_t partitions);
  // Hands the creation to the controller thread (or the active controller)
  // unless the topic exists or was asked for already. Never blocks.
  void request();
  // Creates the topic unless it exists. The controller thread only.
  Status ensure();
  bool exists() const { return exists_.load(std::memory_order_acquire); }
  // Elections and resignations of the partitions whose leadership here
  // changed in `image`; marks the topic existing once the image has it.
  void follow_leadership(const cluster::MetadataImage& image);

 private:
  void forward_creation();
  int16_t capped_replication_factor(const cluster::MetadataImage& image) const;

  struct Leadership {
    bool known = false;
    bool leads = false;
    int32_t leader_epoch = -1;
  };

  cluster::Controller& controller_;
  cluster::ReplicaManager& replicas_;
  CoordinatorTopicSpec spec_;
  const BrokerId node_id_;
  const LeadershipChange elect_;
  const LeadershipChange resign_;
  std::mutex create_mutex_;
  std::atomic<bool> exists_{false};
  std::atomic<bool> requested_{false};
  std::mutex leadership_mutex_;
  std::vector<Leadership> leadership_;  // per partition
  bool partition_count_warned_ = false;
};

}  // namespace sluice::coordinator
