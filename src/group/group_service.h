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
#include "group/group_coordinator.h"
#include "record/batch_builder.h"

namespace sluice::group {

inline constexpr const char* offsets_topic = "__consumer_offsets";

struct GroupServiceOptions {
  GroupConfig group;
  int32_t node_id = 1;  // this broker: the coordinator of the partitions it leads
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

struct ReplayCounts {
  size_t replayed = 0;
  size_t skipped = 0;  // records (or batches) that could not be read
};

// Feeds the records of `record_set` (whole batches, as read from the log)
// from `from_offset` on to `coordinator.replay`; returns the offset after the
// last batch. A record that does not decode (any client could write one
// before internal topics were closed to them; a future record version) or a
// batch whose records cannot be read is logged with `where` and its offset,
// counted and skipped, as Kafka's coordinator loader skips unknown records:
// one bad record must not stop the broker from starting.
int64_t replay_record_set(Bytes record_set, int64_t from_offset, GroupCoordinator& coordinator,
                          const std::string& where, ReplayCounts& counts);
// With `batch`, each batch is told to it before its records, and the
// records of control batches (transaction markers) go to `sink` too;
// without, control batches are skipped.
int64_t replay_record_set(Bytes record_set, int64_t from_offset, const RecordSink& sink,
                          const std::string& where, ReplayCounts& counts,
                          const BatchSink& batch = {});

class OffsetsTopicLog final : public CoordinatorLog {
 public:
  // `topic_missing` is told when an append finds no partition (a raw
  // request came before any FindCoordinator): it must not block.
  OffsetsTopicLog(cluster::ReplicaManager& replicas, const Clock& clock,
                  std::function<void()> topic_missing, int64_t commit_timeout_ms = 5000)
      : replicas_(replicas),
        clock_(clock),
        topic_missing_(std::move(topic_missing)),
        commit_timeout_ms_(commit_timeout_ms) {}
  ~OffsetsTopicLog() override;
  // Appends as leader with acks=all (min.insync.replicas checked; the
  // write, no sync, on the calling strand) and calls `done` once the
  // flusher synced it and the high watermark passed it: NONE, or the
  // error (UNKNOWN_TOPIC_OR_PARTITION, NOT_ENOUGH_REPLICAS(_AFTER_APPEND),
  // NOT_LEADER_OR_FOLLOWER, REQUEST_TIMED_OUT, KAFKA_STORAGE_ERROR, ...).
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override;
  // The same, as a transactional batch of `producer` (TxnOffsetCommit).
  void append_transactional(int32_t partition, const TransactionalProducer& producer,
                            std::vector<CoordinatorRecord> records,
                            std::function<void(ErrorCode)> done) override;
  // The partition's log end offset (-1: not hosted here).
  int64_t load_end_offset(int32_t partition) override;
  // Up to ~1 MiB of committed records from `from_offset` (the log start if
  // earlier) fed to `sink`; NONE with no progress while the high watermark
  // is at `from_offset`.
  LoadStep load(int32_t partition, int64_t from_offset, int64_t end_offset,
                const RecordSink& sink) override;
  // The same, telling `batch` of each batch (transactional offset commits,
  // markers) before its records.
  LoadStep load_with_batches(int32_t partition, int64_t from_offset, int64_t end_offset,
                             const RecordSink& sink, const BatchSink& batch) override;
  // Feeds every record of `partition` (log start to high watermark) to
  // `coordinator.replay` (replay_record_set; transactional commits pending
  // until their producer's marker, markers to `replay_control`). Fails only
  // if the partition cannot be read.
  Result<ReplayCounts> replay(int32_t partition, GroupCoordinator& coordinator) const;
  // Appends waiting for replication: those settled now (leadership lost:
  // the image changed) or past their timeout finish. Any thread.
  void check_waits();
  size_t waits_in_flight() const;

  class ReplicationWait;

 private:
  friend class ReplicationWait;
  void append_batch(int32_t partition, std::vector<CoordinatorRecord> records,
                    const record::BatchOptions& options, std::function<void(ErrorCode)> done);
  void finished(const std::shared_ptr<ReplicationWait>& wait);

  cluster::ReplicaManager& replicas_;
  const Clock& clock_;
  std::function<void()> topic_missing_;
  const int64_t commit_timeout_ms_;
  mutable std::mutex waits_mutex_;
  std::set<std::shared_ptr<ReplicationWait>> waits_;  // held here: partitions hold them weakly
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
  bool offsets_topic_exists() const { return topic_exists_.load(std::memory_order_acquire); }
  // Stops the ticker. Idempotent.
  void stop();
  // Called by WriteTxnMarkers once the marker of `producer_id`'s transaction
  // is durable in `offsets_partitions` of __consumer_offsets (Kafka's
  // scheduleHandleTxnCompletion): its pending transactional offset commits
  // become committed (commit) or are dropped (abort). Posts only.
  void handle_txn_completion(int64_t producer_id, const std::vector<int32_t>& offsets_partitions,
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
  void follow_leadership(const cluster::MetadataImage& image);
  // At open: waits while the loads it started make progress (a lone node
  // serves only once loaded, as before replication).
  void wait_for_loads();
  // A node that is not the active controller asks it with CreateTopics.
  void forward_topic_creation();
  int16_t capped_replication_factor(const cluster::MetadataImage& image) const;

  struct Leadership {
    bool known = false;
    bool leads = false;
    int32_t leader_epoch = -1;
  };

  cluster::Controller& controller_;
  cluster::ReplicaManager& replicas_;
  GroupServiceOptions options_;
  std::mutex topic_mutex_;
  std::atomic<bool> topic_exists_{false};
  std::atomic<bool> topic_requested_{false};
  std::unique_ptr<OffsetsTopicLog> log_;
  std::unique_ptr<StrandPool> strands_;  // outlives coordinator_ (declared before)
  std::unique_ptr<GroupCoordinator> coordinator_;
  std::mutex leadership_mutex_;
  std::vector<Leadership> leadership_;  // per __consumer_offsets partition
  bool subscribed_ = false;
  bool partition_count_warned_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool deadline_moved_ = false;  // the coordinator's next deadline moved earlier
  std::thread ticker_;
};

}  // namespace sluice::group
