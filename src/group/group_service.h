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
// Threads: open()/stop() from the broker's controlling thread; coordinator()
// and request_offsets_topic() from any thread (reactors): neither blocks.
// Appends run on the coordinator's strands; their callbacks on the flusher
// thread (the runtime moves them back to the strand).

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/result.h"
#include "cluster/controller.h"
#include "cluster/replica_manager.h"
#include "group/group_coordinator.h"

namespace sluice::group {

inline constexpr const char* offsets_topic = "__consumer_offsets";

struct GroupServiceOptions {
  GroupConfig group;
  int16_t offsets_replication_factor = 3;  // offsets.topic.replication.factor (capped by the controller)
  int64_t offsets_segment_bytes = 104857600;  // offsets.topic.segment.bytes
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

class OffsetsTopicLog final : public CoordinatorLog {
 public:
  // `topic_missing` is told when an append finds no partition (a raw
  // request came before any FindCoordinator): it must not block.
  OffsetsTopicLog(cluster::ReplicaManager& replicas, const Clock& clock, std::function<void()> topic_missing)
      : replicas_(replicas), clock_(clock), topic_missing_(std::move(topic_missing)) {}
  // Appends as leader (the write, no sync, on the calling strand) and calls
  // `done` once the flusher synced it: NONE, or the partition's error
  // (UNKNOWN_TOPIC_OR_PARTITION, KAFKA_STORAGE_ERROR, ...).
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override;
  // Feeds every record of `partition` (log start to high watermark) to
  // `coordinator.replay` (replay_record_set). Fails only if the partition
  // cannot be read (GroupService::open then unloads it).
  Result<ReplayCounts> replay(int32_t partition, GroupCoordinator& coordinator) const;

 private:
  cluster::ReplicaManager& replicas_;
  const Clock& clock_;
  std::function<void()> topic_missing_;
};

class GroupService {
 public:
  static Result<std::unique_ptr<GroupService>> open(cluster::Controller& controller,
                                                    cluster::ReplicaManager& replicas,
                                                    GroupServiceOptions options);
  ~GroupService();
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

 private:
  GroupService(cluster::Controller& controller, cluster::ReplicaManager& replicas, GroupServiceOptions options);
  void run_ticker();

  cluster::Controller& controller_;
  GroupServiceOptions options_;
  std::mutex topic_mutex_;
  std::atomic<bool> topic_exists_{false};
  std::atomic<bool> topic_requested_{false};
  std::unique_ptr<OffsetsTopicLog> log_;
  std::unique_ptr<StrandPool> strands_;  // outlives coordinator_ (declared before)
  std::unique_ptr<GroupCoordinator> coordinator_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool deadline_moved_ = false;  // the coordinator's next deadline moved earlier
  std::thread ticker_;
};

}  // namespace sluice::group
