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
};

// The record, or nullopt when it would change nothing. An ISR is never
// emptied (without eligible leader replicas Kafka keeps the last member,
// which leads again once it is back).
std::optional<protocol::metadata::PartitionChangeRecord> build_partition_change(
    const PartitionChange& change);

// The leader `change` would elect (-1: none), without building the record.
int32_t elect_leader(const PartitionChange& change);

}  // namespace sluice::cluster
