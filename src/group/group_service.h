#pragma once
// The edge of the group coordinator in the broker: creates __consumer_offsets
// (compacted) when groups are first used, as Kafka does on the first
// FindCoordinator (a broker nobody consumes through in groups never pays for
// its 50 partitions, and start-up stays fast), replays it into the
// GroupCoordinator at start when it exists, appends the
// coordinator's records to it (done once the group-commit flusher made
// them durable: a commit survives kill -9), runs the coordinator's
// partitions on a StrandPool, and ticks the coordinator from its own thread.
//
// With replicas (issue 16) the coordinator follows the leadership of the
// __consumer_offsets partitions: the service listens to the metadata image
// (after the ReplicaManager applied it) and tells the coordinator which
// partitions this broker leads and in which leader epoch (on_election /
// on_resignation); an append is done once it is fsynced here and the
// partition's high watermark passed it (acks=all), or failed (lost
// leadership, too few in-sync replicas, offsets.commit.timeout.ms).
//
// Threads: open()/stop() from the broker's controlling thread; coordinator()
// and request_offsets_topic() from any thread (reactors): neither blocks.
// Appends run on the coordinator's strands; their callbacks on the flusher
// thread or the thread that moved the high watermark (the runtime moves
// them back to the strand). on_metadata_update on the metadata loader
// thread: it only posts.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "cluster/controller.h"
#include "cluster/replica_manager.h"
#include "coordinator/coordinator_topic.h"
#include "coordinator/coordinator_topic_log.h"
#include "group/group_coordinator.h"
#include "record/batch_builder.h"

namespace sluice::group {

inline constexpr const char* offsets_topic = "__consumer_offsets";

struct GroupServiceOptions {
  GroupConfig group;
  BrokerId node_id{1};  // this broker: the coordinator of the partitions it leads
  // A lone node (a quorum of one) serves its groups from memory before
  // __consumer_offsets exists (appends fail COORDINATOR_NOT_AVAILABLE and ask
  // for the topic). A node of a larger cluster coordinates nothing until the
  // image names it a partition's leader (NOT_COORDINATOR): at start its image
  // may not be loaded yet, and it must not answer for groups others lead.
  bool lone_node = true;
  int16_t offsets_replication_factor =
      3;  // offsets.topic.replication.factor (capped by the controller)
  int64_t offsets_segment_bytes = 104857600;  // offsets.topic.segment.bytes
  // offsets.commit.timeout.ms: an append not replicated by then fails
  // (REQUEST_TIMED_OUT, answered COORDINATOR_NOT_AVAILABLE).
  int64_t commit_timeout_ms = 5000;
  // The coordinator is ticked at its next deadline (sessions end then) and
  // at least this often (offset expiry checks).
  int64_t tick_interval_ms = 100;
  // Threads running the __consumer_offsets partitions' strands (Kafka's
  // group.coordinator.threads; capped by the partition count).
  size_t coordinator_threads = 2;
  const Clock* clock = &system_clock();
  RandomSource* random = &system_random();  // member ids
};

// The records of a __consumer_offsets record set into `coordinator`
// (coordinator::replay_record_set with the coordinator's replay as sink).
using coordinator::replay_record_set;
using coordinator::ReplayCounts;
int64_t replay_record_set(Bytes record_set, int64_t from_offset, GroupCoordinator& coordinator,
                          const std::string& where, ReplayCounts& counts);

// __consumer_offsets as the group coordinator's log: the generic
// coordinator topic log (coordinator/coordinator_topic_log.h: acks=all
// appends done once replicated and fsynced, committed loads).
class OffsetsTopicLog final : public coordinator::CoordinatorTopicLog {
 public:
  OffsetsTopicLog(cluster::ReplicaManager& replicas, const Clock& clock,
                  std::function<void()> topic_missing, int64_t commit_timeout_ms = 5000)
      : CoordinatorTopicLog(replicas, offsets_topic, clock, std::move(topic_missing),
                            commit_timeout_ms) {}
  // Feeds every record of `partition` (log start to high watermark) to
  // `coordinator.replay` (replay_record_set; transactional commits pending
  // until their producer's marker, markers to `replay_control`). Fails only
  // if the partition cannot be read.
  Result<ReplayCounts> replay(int32_t partition, GroupCoordinator& coordinator) const;
};

class GroupService final : public cluster::MetadataListener {
 public:
  static Result<std::unique_ptr<GroupService>> open(cluster::Controller& controller,
                                                    cluster::ReplicaManager& replicas,
                                                    GroupServiceOptions options);
  ~GroupService() override;
  GroupCoordinator& coordinator() { return *coordinator_; }
  // Hands the creation of __consumer_offsets to the controller thread unless
  // it exists or was asked for already. Never blocks (reactors call it):
  // until the topic exists, FindCoordinator answers COORDINATOR_NOT_AVAILABLE
  // and clients retry, as Kafka answers while it creates the topic.
  void request_offsets_topic();
  // Creates __consumer_offsets unless it exists. Blocks on the controller's
  // fsync: the controller thread only.
  Status ensure_offsets_topic();
  bool offsets_topic_exists() const { return topic_->exists(); }
  // Stops the ticker. Idempotent.
  void stop();
  // Called by WriteTxnMarkers once the marker of `producer_id`'s transaction
  // is durable in `offsets_partitions` of __consumer_offsets (Kafka's
  // scheduleHandleTxnCompletion): its pending transactional offset commits
  // become committed (commit) or are dropped (abort). Posts only.
  void handle_txn_completion(ProducerId producer_id, const std::vector<int32_t>& offsets_partitions,
                             bool commit);
  // The image after the ReplicaManager applied it (the broker subscribed
  // first): elections and resignations of the __consumer_offsets
  // partitions whose leadership here changed; appends waiting for a
  // partition no longer led here fail. Posts only.
  void on_metadata_update(const cluster::MetadataDelta& delta,
                          const cluster::MetadataImagePtr& new_image) override;

 private:
  GroupService(cluster::Controller& controller, cluster::ReplicaManager& replicas,
               GroupServiceOptions options);
  void run_ticker();
  void follow_leadership(const cluster::MetadataImage& image) { topic_->follow_leadership(image); }
  // At open: waits while the loads it started make progress (a lone node
  // serves only once loaded, as before replication).
  void wait_for_loads();

  cluster::Controller& controller_;
  cluster::ReplicaManager& replicas_;
  GroupServiceOptions options_;
  // Creation of __consumer_offsets and leadership following (generic).
  std::unique_ptr<coordinator::CoordinatorTopic> topic_;
  std::unique_ptr<OffsetsTopicLog> log_;
  std::unique_ptr<StrandPool> strands_;  // outlives coordinator_ (declared before)
  std::unique_ptr<GroupCoordinator> coordinator_;
  bool subscribed_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool deadline_moved_ = false;  // the coordinator's next deadline moved earlier
  std::thread ticker_;
};

}  // namespace sluice::group
