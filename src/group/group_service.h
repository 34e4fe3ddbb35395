#pragma once
// The edge of the group coordinator in the broker: creates __consumer_offsets
// (compacted), replays it into the GroupCoordinator at start, appends the
// coordinator's records to it (answered once the group-commit flusher made
// them durable: a commit survives kill -9), and ticks the coordinator from
// its own thread.
//
// Threads: open()/stop() from the broker's controlling thread; coordinator()
// from any thread (reactors). Append callbacks run on the flusher thread.

#include <condition_variable>
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
  int64_t tick_interval_ms = 100;
  const Clock* clock = &system_clock();
};

class OffsetsTopicLog final : public CoordinatorLog {
 public:
  explicit OffsetsTopicLog(cluster::ReplicaManager& replicas, const Clock& clock)
      : replicas_(replicas), clock_(clock) {}
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override;
  // Feeds every record of `partition` (log start to high watermark) to
  // `coordinator.replay`. Returns the number of records.
  Result<size_t> replay(int32_t partition, GroupCoordinator& coordinator) const;

 private:
  cluster::ReplicaManager& replicas_;
  const Clock& clock_;
};

class GroupService {
 public:
  static Result<std::unique_ptr<GroupService>> open(cluster::Controller& controller,
                                                    cluster::ReplicaManager& replicas,
                                                    GroupServiceOptions options);
  ~GroupService();
  GroupCoordinator& coordinator() { return *coordinator_; }
  // Stops the ticker. Idempotent.
  void stop();

 private:
  GroupService(cluster::ReplicaManager& replicas, GroupServiceOptions options);
  void run_ticker();

  GroupServiceOptions options_;
  std::unique_ptr<OffsetsTopicLog> log_;
  std::unique_ptr<GroupCoordinator> coordinator_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread ticker_;
};

}  // namespace sluice::group
