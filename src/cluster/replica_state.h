#pragma once
// The leader's view of its followers (Kafka's Replica/ReplicaState) and the
// ISR decisions made from it, as plain functions over plain values so that
// they are tested without logs or threads (replica_state_test.cc).
//
// Kafka's rules:
//   - a follower's log end offset is the offset it fetches from (it has
//     everything before it);
//   - it is caught up at a fetch whose offset reaches the leader's log end
//     then; a fetch that reaches the leader's log end of the follower's
//     previous fetch makes it caught up as of that previous fetch
//     (Replica.updateFetchStateOrThrow);
//   - the high watermark is the smallest log end offset over the ISR,
//     counting members of an ISR change in flight (Kafka's maximal ISR), and
//     it never moves back on the leader;
//   - an ISR member leaves when it has not been caught up for
//     replica.lag.time.max.ms (Partition.getOutOfSyncReplicas);
//   - a replica joins once its log end offset reaches the high watermark and
//     the start of the leader's epoch (Partition.isFollowerInSync).

#include <cstdint>
#include <map>
#include <vector>

namespace sluice::cluster {

struct BrokerImage;

struct FollowerState {
  int64_t broker_epoch = -1;           // from its Fetch's ReplicaState (v15+)
  int64_t log_end_offset = -1;         // -1: not fetched since this node leads
  int64_t last_caught_up_ms = 0;       // monotonic ms
  int64_t last_fetch_ms = -1;          // monotonic ms of its previous fetch
  int64_t last_fetch_leader_end = -1;  // the leader's log end at that fetch
};

using Followers = std::map<int32_t, FollowerState>;

// Records a follower's fetch at `fetch_offset` while the leader's log ends
// at `leader_end`.
void record_follower_fetch(FollowerState& state, int64_t fetch_offset, int64_t leader_end,
                           int64_t now_ms);

// The smallest log end offset over `isr` (this leader counts `leader_end`);
// a member not heard from since this node leads holds it at -1.
int64_t isr_low_end(const std::vector<int32_t>& isr, int32_t self, int64_t leader_end,
                    const Followers& followers);

// The members of `isr` other than `self` that have not been caught up for
// `lag_max_ms` (a follower at the leader's end is never out of sync).
std::vector<int32_t> out_of_sync_replicas(const std::vector<int32_t>& isr, int32_t self,
                                          int64_t leader_end, const Followers& followers,
                                          int64_t now_ms, int64_t lag_max_ms);

// Whether a follower outside the ISR may join it.
bool may_join_isr(const FollowerState& state, int64_t high_watermark,
                  int64_t leader_epoch_start_offset);

// Kafka's isReplicaIsrEligible (KRaft): the follower's broker, as the
// metadata image has it (`broker` null: not registered), is active (not
// fenced, not in controlled shutdown) and of the broker epoch its Fetch
// carried (-1: no epoch sent, not checked). The controller refuses others
// (INELIGIBLE_REPLICA); proposing them anyway made a leader send an
// AlterPartition for every fetch of a fenced follower.
bool isr_eligible(const BrokerImage* broker, int64_t fetch_broker_epoch);

// Kafka's follower truncation on a Fetch answer's DivergingEpoch
// (AbstractFetcherThread.getOffsetTruncationState): where the follower cuts
// its log, from the leader's (epoch, end offset), the follower's own end of
// that epoch (`local_epoch` -1 if it has none at or below it), its log end
// and high watermark. A local epoch below the leader's cuts to its own end
// of it and the next fetch says whether more must go.
int64_t follower_truncation_offset(int32_t leader_epoch, int64_t leader_end_offset,
                                   int32_t local_epoch, int64_t local_end_offset,
                                   int64_t log_end_offset, int64_t high_watermark);

// The same cut from an OffsetsForLeaderEpoch answer to `requested_epoch`
// when the follower's epoch cache has no entry for its tail (Kafka's
// Truncating state): the leader's end of that epoch, capped at the log end;
// UNDEFINED (-1) from the leader: the high watermark. A leader that knows
// only an older epoch gives the end of that one; when that cuts nothing the
// follower cannot tell where its tail diverges and keeps only what is
// committed (the high watermark).
int64_t epoch_end_truncation_offset(int32_t requested_epoch, int32_t leader_epoch,
                                    int64_t leader_end_offset, int64_t log_end_offset,
                                    int64_t high_watermark);

}  // namespace sluice::cluster
