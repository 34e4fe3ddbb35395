#pragma once
// The group leader's assignment of connectors and tasks to workers: Kafka's
// incremental cooperative assignor (KIP-415) in a simplified form, as plain
// logic (no I/O, time given). Each round:
//   - members keep what they hold; what no longer exists (a deleted
//     connector, a task beyond the connector's count) is revoked, and so is
//     an item two members claim (the second one loses it);
//   - the work of a member that left since the previous round is "lost": it
//     waits scheduled.rebalance.max.delay.ms (members are told the delay
//     and rejoin when it ends) in case the member comes back, then goes to
//     the least loaded members; with a delay of 0 it moves at once;
//   - unassigned connectors and tasks go one by one to the least loaded
//     member (connectors and tasks counted apart, ties to the lower id);
//   - when no delay is pending, members holding more than one above the
//     least loaded give up their surplus (revoked now, assigned in the
//     follow-up round, which the revoked members start by rejoining).
// What differs from Kafka's: no "candidate workers" for lost work (it goes
// to the least loaded), a returning worker is a new member (its old work is
// not given back to it as such), and balance is counted per member not per
// connector.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "connect/runtime/connect_protocol.h"

namespace sluice::connect {

struct AssignorMember {
  std::string id;
  Allocation held;  // from its JoinGroup metadata
};

// What the leader remembers between rounds.
struct AssignorMemory {
  std::map<std::string, Allocation> previous;  // member -> what it was left with
  std::optional<int64_t> lost_deadline_ms;     // lost work moves at this time
};

struct AssignorResult {
  std::map<std::string, Allocation> assigned;  // new for each member
  std::map<std::string, Allocation> revoked;
  int32_t delay_ms = 0;  // until lost work moves (0: none pending)
};

// `configured`: every connector and task that exists now.
AssignorResult assign(const std::vector<AssignorMember>& members, const Allocation& configured,
                      AssignorMemory& memory, int64_t now_ms, int64_t max_delay_ms);

}  // namespace sluice::connect
