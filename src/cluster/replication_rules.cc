#include "cluster/replication_rules.h"

#include <mutex>

namespace sluice::cluster {

namespace {

// flush.messages / flush.ms on a follower: Kafka's follower append flushes
// in line when they say so (UnifiedLog.append), before its next fetch tells
// the leader it has the records. Only when a topic sets them (the default
// is never), so the fsync on the fetcher's thread costs nothing otherwise.
// Found by the partition simulation: with flush.messages=1 a power loss of
// the ISR lost acknowledged records the followers had not flushed.
// False if the flush failed (the log dir is then offline: check()).
bool flush_if_due(Partition& partition) {
  const auto& managed = partition.managed_log();
  std::lock_guard lock(managed->mutex());
  if (!managed->usable() || !managed->log().flush_due()) return true;
  return managed->check(managed->log().flush()).is_ok();
}

}  // namespace

FollowerApplied apply_fetched_partition(Partition& partition, LeaderEpoch fetched_in,
                                        const FetchedPartition& fetched) {
  // Kafka's follower: behind the leader's log start (retention ran while it
  // was away), it starts over there.
  if (fetched.error == ErrorCode::OFFSET_OUT_OF_RANGE &&
      fetched.log_start_offset > partition.follower_position().log_end_offset) {
    ErrorCode error =
        partition.restart_as_follower_at(fetched_in, Offset{fetched.log_start_offset});
    return {error == ErrorCode::NONE ? FollowerAction::restarted : FollowerAction::failed, error};
  }
  if (fetched.error != ErrorCode::NONE) return {FollowerAction::failed, fetched.error};
  if (fetched.diverging_epoch >= 0 || fetched.diverging_end_offset >= 0) {
    ErrorCode error = partition.truncate_on_divergence(fetched_in, fetched.diverging_epoch,
                                                       fetched.diverging_end_offset);
    return {error == ErrorCode::NONE ? FollowerAction::truncated : FollowerAction::failed, error};
  }
  ErrorCode error =
      partition.append_as_follower(fetched_in, fetched.records, Offset{fetched.high_watermark});
  if (error != ErrorCode::NONE) return {FollowerAction::failed, error};
  if (fetched.records.empty()) return {FollowerAction::up_to_date, error};
  if (!flush_if_due(partition)) return {FollowerAction::failed, ErrorCode::KAFKA_STORAGE_ERROR};
  return {FollowerAction::appended, error};
}

AckOutcome acks_all_outcome(const Partition& partition, int32_t leader_epoch, int64_t end_offset,
                            bool timed_out) {
  AckOutcome outcome;
  // Leadership first, under the partition's lock with the high watermark
  // (Partition::append_commit): a node that lost the leadership, even if
  // it leads again or follows with a high watermark past the batch, may no
  // longer have it (Kafka completes its DelayedProduce with
  // NOT_LEADER_OR_FOLLOWER when it becomes a follower). Found by the
  // partition simulation and the fault test: a deposed leader acknowledged
  // a batch the new leader's records had replaced.
  const AppendCommit state = partition.append_commit(leader_epoch, end_offset);
  outcome.settled = state != AppendCommit::waiting || timed_out;
  if (state == AppendCommit::not_leader) {
    outcome.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
  } else if (state == AppendCommit::committed) {
    if (static_cast<int64_t>(partition.isr().size()) <
        partition.append_policy().min_insync_replicas)
      outcome.error = ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND;
  } else if (timed_out) {
    outcome.error = ErrorCode::REQUEST_TIMED_OUT;
  }
  return outcome;
}

}  // namespace sluice::cluster
