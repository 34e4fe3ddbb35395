#pragma once
// Kafka's PartitionChangeBuilder (without eligible leader replicas and
// directory assignments): from a partition's state and what should change
// (the ISR, the replicas, the kind of election), the PartitionChangeRecord
// that makes the change, or nothing when nothing changes. Every path that
// moves leadership or the ISR goes through it (fencing, unfencing,
// controlled shutdown, AlterPartition, ElectLeaders, leader balancing), so
// they elect by the same rules.

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "base/uuid.h"
#include "cluster/metadata_image.h"
#include "protocol/metadata_records.h"

namespace sluice::cluster {

// Whether a replica list (replicas, ISR, adding or removing) names `id`.
bool contains(const std::vector<int32_t>& replicas, int32_t id);

// Kafka's LeaderRecoveryState: after an unclean election the new leader
// "recovers" (its ISR is itself alone until it says it is done).
inline constexpr int8_t leader_recovered = 0;
inline constexpr int8_t leader_recovering = 1;

enum class Election : uint8_t {
  // Keep a valid leader; else the first valid replica in replica order.
  online,
  // The first replica if valid; else as online.
  preferred,
  // As online; else any acceptable replica, even outside the ISR (data may
  // be lost: the ISR becomes that replica alone, recovering).
  unclean,
};

struct PartitionChange {
  Uuid topic_id;
  std::string_view topic_name;  // for the log
  const PartitionImage* partition = nullptr;
  // Alive and not shutting down (Kafka's isAcceptableLeader).
  std::function<bool(int32_t broker)> acceptable_leader;
  Election election = Election::online;
  std::optional<std::vector<int32_t>> target_isr;       // unset: unchanged
  std::optional<std::vector<int32_t>> target_replicas;  // unset: unchanged
  std::optional<int8_t> target_leader_recovery_state;   // unset: unchanged
  // A reassignment's replicas being added and removed (unset: the
  // partition's). Whatever else changes, a reassignment whose added
  // replicas are all in the target ISR completes in the same record
  // (Kafka's completeReassignmentIfNeeded): the removed replicas leave the
  // replicas and the ISR, both lists are cleared, and a leader removed
  // hands over to the first remaining ISR member.
  std::optional<std::vector<int32_t>> target_adding;
  std::optional<std::vector<int32_t>> target_removing;
};

// Kafka's PartitionReassignmentReplicas: moving from `current` replicas to
// `target`: the replicas to add and to remove (each sorted), and the
// replicas during the move (the target, then those being removed).
struct ReassignmentPlan {
  std::vector<int32_t> adding;
  std::vector<int32_t> removing;
  std::vector<int32_t> replicas;
};
ReassignmentPlan plan_reassignment(const std::vector<int32_t>& current,
                                   const std::vector<int32_t>& target);

// Kafka's PartitionReassignmentRevert: cancelling the reassignment of
// `partition`: the original replicas (the added ones taken out) and the
// ISR without the added ones. `unclean` when that ISR would be empty: then
// it is the first original replica, which only an unclean election allows.
struct ReassignmentRevert {
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  bool unclean = false;
};
ReassignmentRevert revert_reassignment(const PartitionImage& partition);

// The record, or nullopt when it would change nothing. An ISR is never
// emptied (without eligible leader replicas Kafka keeps the last member,
// which leads again once it is back).
std::optional<protocol::metadata::PartitionChangeRecord> build_partition_change(
    const PartitionChange& change);

// The leader `change` would elect (-1: none), without building the record.
int32_t elect_leader(const PartitionChange& change);

}  // namespace sluice::cluster
