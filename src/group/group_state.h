#pragma once
// The coordinator's in-memory state of one group (private to src/group/):
// members with their parked JoinGroup/SyncGroup answers, the generation,
// and the committed offsets. Touched only on the strand of the group's
// __consumer_offsets partition.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "group/group_coordinator.h"

namespace sluice::group {

struct GroupCoordinator::Member {
  std::string member_id;
  std::optional<std::string> instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  // (name, metadata) in the member's order of preference.
  std::vector<std::pair<std::string, std::vector<uint8_t>>> protocols;
  std::vector<uint8_t> assignment;
  std::chrono::nanoseconds session_deadline{0};

  Reply<protocol::JoinGroupResponse> awaiting_join;
  int16_t join_version = 0;
  Reply<protocol::SyncGroupResponse> awaiting_sync;
  int16_t sync_version = 0;

  bool supports(const std::string& protocol) const {
    for (const auto& [name, metadata] : protocols)
      if (name == protocol) return true;
    return false;
  }
  const std::vector<uint8_t>* metadata_for(const std::string& protocol) const {
    for (const auto& entry : protocols)
      if (entry.first == protocol) return &entry.second;
    return nullptr;
  }
};

struct GroupCoordinator::Group {
  std::string id;
  GroupState state = GroupState::empty;
  int32_t generation = 0;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol;  // the selected protocol of this generation
  std::string leader;
  std::map<std::string, Member> members;
  std::map<std::string, std::string> static_members;  // instance id -> member id
  // KIP-394: member ids handed out with MEMBER_ID_REQUIRED, until they
  // join with them (or their session timeout passes).
  std::map<std::string, std::chrono::nanoseconds> pending_members;
  std::chrono::nanoseconds rebalance_deadline{0};
  // group.initial.rebalance.delay.ms: the first rebalance of an empty group
  // waits while members keep arriving.
  bool initial_delay = false;
  std::chrono::nanoseconds initial_delay_end{0};
  int64_t state_timestamp_ms = -1;
  // The generation whose assignment the leader's SyncGroup is storing (or
  // stored): a retried SyncGroup does not store it twice.
  int32_t assignment_stored_generation = -1;
  std::map<std::pair<std::string, int32_t>, CommittedOffset> offsets;

  bool has(const std::string& member_id) const { return members.count(member_id) != 0; }
  bool all_members_joined() const {
    if (!pending_members.empty()) return false;
    for (const auto& [id, member] : members)
      if (!member.awaiting_join) return false;
    return true;
  }
  int32_t max_rebalance_timeout_ms() const {
    int32_t timeout_ms = 0;
    for (const auto& [id, member] : members) timeout_ms = std::max(timeout_ms, member.rebalance_timeout_ms);
    return timeout_ms;
  }
};

}  // namespace sluice::group
