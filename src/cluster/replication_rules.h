#pragma once
// The decisions replication takes on each answer, as plain functions over a
// Partition, shared by the broker's threads (replica_fetcher.cc, the acks=all
// wait of broker/replication.cc) and the deterministic partition simulation
// (tests/unit/cluster/partition_simulation.h), so the simulation checks the
// code the broker runs rather than a copy of it.
//
// Threads: as the Partition calls they make (any thread; disk I/O for
// apply_fetched_partition, so never a reactor).

#include <cstdint>

#include "base/bytes.h"
#include "base/error_code.h"
#include "base/strong_types.h"
#include "cluster/partition.h"

namespace sluice::cluster {

// One partition of a leader's answer to a follower's Fetch, off the wire.
struct FetchedPartition {
  ErrorCode error = ErrorCode::NONE;
  int64_t high_watermark = -1;
  int64_t log_start_offset = -1;
  // DivergingEpoch (KIP-320/595): set (either >= 0) when the follower's
  // last fetched epoch ends earlier on the leader.
  int32_t diverging_epoch = -1;
  int64_t diverging_end_offset = -1;
  Bytes records;
};

enum class FollowerAction : uint8_t {
  appended,    // records appended (and the leader's high watermark taken)
  up_to_date,  // nothing new: the high watermark taken
  truncated,   // a divergent tail cut (DivergingEpoch)
  restarted,   // behind the leader's log start: the log starts over there
  failed,      // the answer's error, or the local call's (`error`)
};

struct FollowerApplied {
  FollowerAction action = FollowerAction::failed;
  ErrorCode error = ErrorCode::NONE;
};

// Kafka's follower on one partition of a Fetch answer sent while it followed
// in `fetched_in` (AbstractFetcherThread.processFetchRequest): a replica
// behind the leader's log start restarts there; an error does nothing; a
// DivergingEpoch truncates; else the records are appended with the leader's
// high watermark, and flushed at once when the topic's flush.messages /
// flush.ms say so (as Kafka's follower append does). A Partition whose
// leader epoch moved since answers FENCED_LEADER_EPOCH (failed, nothing
// done).
FollowerApplied apply_fetched_partition(Partition& partition, LeaderEpoch fetched_in,
                                        const FetchedPartition& fetched);

// An acks=all Produce waiting for its batch (Kafka's DelayedProduce, one
// partition): the batch ends at `end_offset` and was written by this node
// as leader in `leader_epoch`.
struct AckOutcome {
  bool settled = false;  // the answer is known (else wait on)
  ErrorCode error = ErrorCode::NONE;
};
AckOutcome acks_all_outcome(const Partition& partition, int32_t leader_epoch, int64_t end_offset,
                            bool timed_out);

}  // namespace sluice::cluster
