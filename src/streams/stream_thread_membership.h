#pragma once
// What a stream thread needs from its group (Kafka's StreamsPartitionAssignor
// around a consumer): it joins with what it runs (active tasks) and keeps
// (standby copies, with their changelog offsets), and gets back the tasks
// to run and to keep. The member chosen as leader computes everyone's
// assignment: the clients (process ids) from the subscriptions, each
// client's lag on every stateful task from its reported offset sums and
// the changelogs' end offsets, then streams_assignor.h's rules; it
// schedules a probing rebalance for the members warming a task up.
// A member whose scheduled probing rebalance is due (or whose warm-ups
// caught up, as the thread decides) asks for the rebalance itself.
// Members send their instance's `application.server` (user_endpoint); the
// leader tells everyone which input partitions each such host runs and
// keeps standby (partitions_by_host, standby_partitions_by_host), what
// interactive queries across instances read (streams_metadata.h).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/uuid.h"
#include "net/group_member.h"
#include "streams/streams_assignor.h"
#include "streams/streams_config.h"
#include "streams/streams_protocol.h"

namespace sluice::streams {

// Which tasks exist and what each reads and writes back.
struct SubtopologyLayout {
  std::vector<std::string> source_topics;     // resolved names
  int tasks = 0;                              // its sources' largest partition count
  std::vector<std::string> changelog_topics;  // of its logged stores
};

struct TaskLayout {
  std::vector<SubtopologyLayout> subtopologies;
  std::map<std::string, int> topic_partitions;  // source topic -> partitions

  std::set<TaskId> all_tasks() const;
  std::set<TaskId> stateful_tasks() const;  // those with a changelogged store
  // Partition p of each source topic that has it (co-partitioned topics
  // of a sub-topology land together on the task).
  std::vector<TopicPartition> input_partitions(const TaskId& task) const;
  std::vector<TopicPartition> changelog_partitions(const TaskId& task) const;
  std::vector<std::string> source_topics() const;
};

// What a thread holds when it joins.
struct ThreadTasks {
  std::set<TaskId> active;
  std::map<TaskId, int64_t> standby_offset_sums;  // changelog offsets summed
};

struct ThreadAssignment {
  int32_t generation = -1;
  std::set<TaskId> active;
  std::set<TaskId> standby;                  // standbys and warm-ups
  std::vector<TopicPartition> partitions;    // the active tasks' input
  int64_t next_rebalance_ms = kNoRebalance;  // wall clock
  // A generation went by without this member: its active tasks may have
  // run elsewhere since, so what it holds of them is stale (Kafka's "lost"
  // tasks: closed without a commit).
  bool previous_tasks_lost = false;
  // The group's hosts (clients with an application.server) and the input
  // partitions of the tasks each runs and keeps standby.
  std::map<HostInfo, std::vector<TopicPartition>> partitions_by_host;
  std::map<HostInfo, std::vector<TopicPartition>> standby_partitions_by_host;
};

// Kafka's populatePartitionsByHostMaps: for each client (process id) with
// a host, the input partitions of the tasks its members run (active) and
// keep a copy of (standby, warm-ups included); a client with a host and
// no task is there with none. Clients without a host are left out, so
// both maps are empty when no client has one.
struct HostPartitions {
  std::map<HostInfo, std::vector<TopicPartition>> active;
  std::map<HostInfo, std::vector<TopicPartition>> standby;
};
HostPartitions partitions_by_host(const std::map<std::string, HostInfo>& host_of_client,
                                  const AssignorInput& input, const AssignorOutput& output,
                                  const TaskLayout& layout);

struct MembershipSettings {
  net::GroupMember::Options group;
  AssignorConfig assignor;
  Uuid process_id;
  std::chrono::milliseconds probing_rebalance_interval{600'000};
  std::string user_endpoint;  // application.server ("host:port"; empty: none)
  std::string log_prefix;     // "stream-thread [app-StreamThread-1]"
};

// A thread's settings from the application's: the group's timeouts from
// the consumer settings Kafka's consumer reads (`session.timeout.ms`
// 45000, `heartbeat.interval.ms` 3000, `max.poll.interval.ms` 300000 as
// the rebalance timeout), the assignor's from StreamsConfig.
MembershipSettings membership_settings(const StreamsConfig& config, const std::string& client_id,
                                       const Uuid& process_id);

// The changelogs' end offsets (partitions unknown to it are left out).
using EndOffsets =
    std::function<std::map<TopicPartition, int64_t>(const std::vector<TopicPartition>&)>;

class StreamThreadMembership {
 public:
  StreamThreadMembership(MembershipSettings settings, TaskLayout layout, EndOffsets end_offsets);

  // Whether the thread must (re)join now: never joined, the group is
  // rebalancing or dropped us, a scheduled probing rebalance is due, or
  // request_rejoin() was called.
  bool rejoin_needed() const;
  void request_rejoin() { rejoin_requested_ = true; }
  bool probing_scheduled() const { return next_rebalance_ms_ != kNoRebalance; }
  // One rebalance; an error leaves the thread outside the group (try again).
  Result<ThreadAssignment> rebalance(const ThreadTasks& owned);
  // OffsetCommit with this generation (Kafka's error code).
  ErrorCode commit(const net::GroupMember::Offsets& offsets) { return member_.commit(offsets); }
  void leave(const std::string& reason) { member_.leave(reason); }
  void cancel_waits() { member_.cancel_waits(); }
  int32_t generation() const { return member_.generation(); }
  const std::string& member_id() const { return member_.member_id(); }
  const TaskLayout& layout() const { return layout_; }

  // The leader's work, public for tests: every member's assignment bytes
  // from their subscriptions.
  std::map<std::string, std::vector<uint8_t>> assign(
      const std::vector<net::GroupMember::JoinedMember>& members, int64_t now_ms);

 private:
  std::vector<uint8_t> subscription(const ThreadTasks& owned) const;

  MembershipSettings settings_;
  TaskLayout layout_;
  EndOffsets end_offsets_;
  net::GroupMember member_;
  int32_t last_generation_ = -1;
  bool joined_ = false;
  bool rejoin_requested_ = false;
  int64_t next_rebalance_ms_ = kNoRebalance;
};

}  // namespace sluice::streams
