#pragma once
// The group leader's task assignment (Kafka's HighAvailabilityTaskAssignor
// in spirit), as plain logic: who runs each task, who keeps a standby copy
// of its state, and who warms one up. Inputs are the clients (one per
// KafkaStreams instance, i.e. per process id) with their members (one per
// stream thread) and what each member ran before, and each client's lag
// on every stateful task; the output is each member's active and standby
// tasks. The rules:
// - Sticky: an active task stays with the client that ran it while that
//   client is within its share; the share of a client is the tasks times
//   its threads over all threads (the remainder going to the clients that
//   would otherwise give up most).
// - A task to place goes to the client whose state is freshest for it
//   (caught up first: lag <= acceptable.recovery.lag), then the least
//   loaded one.
// - Warm-up: when a task lands on a client that is not caught up while
//   another client is, it stays active on a caught-up client (its last
//   owner first, then a caught-up standby) and the intended client gets
//   a warm-up replica (at most max.warmup.replicas in all); a probing
//   rebalance is then needed, and once the warm-up is caught up the
//   normal placement moves the task.
// - Standbys: num.standby.replicas copies of each stateful task, never on
//   the client running it (nor on one warming it up), preferring clients
//   that hold its state already, balanced per thread.
// - Stateless tasks: sticky, then the least loaded client.
// - Within a client, tasks are spread over its threads, each staying on
//   the thread that had it when the balance allows.

#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "streams/streams_protocol.h"

namespace sluice::streams {

inline constexpr int64_t kUnknownLag = std::numeric_limits<int64_t>::max();

struct AssignorConfig {
  int num_standby_replicas = 0;              // num.standby.replicas
  int max_warmup_replicas = 2;               // max.warmup.replicas
  int64_t acceptable_recovery_lag = 10'000;  // acceptable.recovery.lag
};

struct AssignorMember {
  std::string member_id;
  std::set<TaskId> previous_active;
  std::set<TaskId> previous_standby;
};

struct AssignorClient {
  std::vector<AssignorMember> members;  // its threads; capacity = how many
  // Changelog records a stateful task's stores are behind on this client
  // (absent: no state, as far behind as the changelogs are long). A task
  // one of its members ran counts as lag 0.
  std::map<TaskId, int64_t> lags;
};

struct AssignorInput {
  std::set<TaskId> tasks;
  std::set<TaskId> stateful_tasks;  // a subset of tasks: those with changelogged stores
  std::map<std::string, AssignorClient> clients;  // by process id
};

struct MemberTasks {
  std::set<TaskId> active;
  std::set<TaskId> standby;  // standbys and warm-ups
  bool operator==(const MemberTasks&) const = default;
};

struct AssignorOutput {
  std::map<std::string, MemberTasks> members;                   // by member id
  std::map<std::string, std::set<TaskId>> warmups;              // by process id
  std::map<std::string, std::set<std::string>> warmup_members;  // process id -> members with one
  bool probing_rebalance_needed = false;
};

AssignorOutput assign_tasks(const AssignorInput& input, const AssignorConfig& config);

// A client's lag on a task from the offset sum it reported (kLatestOffset:
// it runs the task) and the task's changelog end offsets summed: Kafka's
// rule, a sum beyond the end (state from an older changelog) counts as no
// state.
int64_t task_lag(int64_t offset_sum, int64_t end_offset_sum);

}  // namespace sluice::streams
