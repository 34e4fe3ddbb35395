#pragma once
// The group coordinator of Kafka's classic group protocol, as a plain state
// machine: requests (the generated protocol structs) and tick() go in,
// responses and coordinator records come out. No threads, no sockets; time
// comes from a Clock, records go to a CoordinatorLog (the edge decides where:
// __consumer_offsets in the broker, a vector in tests).
//
// Answers:
//   - Heartbeat, LeaveGroup, OffsetFetch, DescribeGroups, ListGroups answer
//     at once (return value).
//   - JoinGroup and SyncGroup may park: the Reply is called later, by
//     another request (the last member joining, the leader's SyncGroup) or
//     by tick() (rebalance timeout, initial delay).
//   - OffsetCommit, DeleteGroups, OffsetDelete, and the leader's SyncGroup
//     answer once their records are durable (CoordinatorLog::append's done).
// Every Reply is called exactly once, never with the coordinator's lock
// held (except when a CoordinatorLog calls done synchronously inside
// append, which the broker's log never does).
//
// Thread-safety: every public method may be called from any thread; one
// mutex serializes them.
//
// State changes in memory happen when a request is handled; records follow
// (a commit is visible to OffsetFetch before it is acknowledged). Replay of
// the records (replay()) rebuilds offsets and each group's last stored
// generation, members and assignments: reloaded groups with members are
// Stable and their members must heartbeat within their session timeout.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/error_code.h"
#include "base/result.h"
#include "protocol/protocol.h"

namespace sluice::group {

// The broker settings the coordinator follows (Kafka's names).
struct GroupConfig {
  int32_t min_session_timeout_ms = 6000;       // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1800000;    // group.max.session.timeout.ms
  int32_t initial_rebalance_delay_ms = 3000;   // group.initial.rebalance.delay.ms
  int32_t max_size = INT32_MAX;                // group.max.size
  int32_t offset_metadata_max_bytes = 4096;    // offset.metadata.max.bytes
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;  // offsets.retention.minutes
  int64_t offsets_retention_check_interval_ms = 600000;   // offsets.retention.check.interval.ms
  int32_t offsets_topic_partitions = 50;       // offsets.topic.num.partitions
};

// One coordinator record: key and value each int16 version + body
// (protocol/record_framing.h); a null value is a tombstone.
struct CoordinatorRecord {
  std::vector<uint8_t> key;
  std::optional<std::vector<uint8_t>> value;
};

// Where records go. append() must call done exactly once, with NONE once
// the records are durable, or with the error a client should see.
class CoordinatorLog {
 public:
  virtual ~CoordinatorLog() = default;
  virtual void append(int32_t partition, std::vector<CoordinatorRecord> records,
                      std::function<void(ErrorCode)> done) = 0;
};

// Kafka's Utils.abs(groupId.hashCode()) % partitions, with Java's
// String.hashCode over the UTF-16 code units of `group_id`.
int32_t java_string_hash(const std::string& text);
int32_t partition_for_group(const std::string& group_id, int32_t partitions);

enum class GroupState { empty, preparing_rebalance, completing_rebalance, stable, dead };
const char* group_state_name(GroupState state);

// Who sent a request (for member ids and DescribeGroups).
struct ClientInfo {
  std::string client_id;
  std::string client_host;
};

template <class Response>
using Reply = std::function<void(Response)>;

class GroupCoordinator {
 public:
  GroupCoordinator(GroupConfig config, const Clock& clock, CoordinatorLog& log);
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  void join_group(const protocol::JoinGroupRequest& request, int16_t version, const ClientInfo& client,
                  Reply<protocol::JoinGroupResponse> reply);
  void sync_group(const protocol::SyncGroupRequest& request, int16_t version,
                  Reply<protocol::SyncGroupResponse> reply);
  protocol::HeartbeatResponse heartbeat(const protocol::HeartbeatRequest& request, int16_t version);
  protocol::LeaveGroupResponse leave_group(const protocol::LeaveGroupRequest& request, int16_t version);
  void offset_commit(const protocol::OffsetCommitRequest& request, int16_t version,
                     Reply<protocol::OffsetCommitResponse> reply);
  protocol::OffsetFetchResponse offset_fetch(const protocol::OffsetFetchRequest& request, int16_t version);
  protocol::DescribeGroupsResponse describe_groups(const protocol::DescribeGroupsRequest& request,
                                                   int16_t version);
  protocol::ListGroupsResponse list_groups(const protocol::ListGroupsRequest& request, int16_t version);
  void delete_groups(const protocol::DeleteGroupsRequest& request, int16_t version,
                     Reply<protocol::DeleteGroupsResponse> reply);
  void offset_delete(const protocol::OffsetDeleteRequest& request, int16_t version,
                     Reply<protocol::OffsetDeleteResponse> reply);

  // Session and rebalance timeouts, the initial rebalance delay, pending
  // (KIP-394) member expiry, offset expiry. Call every ~100 ms.
  void tick();

  // Applies one record of __consumer_offsets, in log order (at load).
  Status replay(Bytes key, std::optional<Bytes> value);
  // After replay: reloaded members' sessions start now.
  void finish_loading();
  // A partition of __consumer_offsets that could not be read at load: its
  // groups are dropped (a half-read group must neither answer nor expire
  // offsets), and every request for a group of it answers
  // COORDINATOR_LOAD_IN_PROGRESS, which clients retry, as Kafka answers while
  // a partition loads. ListGroups answers it too while any partition is.
  void unload_partition(int32_t partition);

  // For tests and metrics.
  std::optional<GroupState> state_of(const std::string& group_id) const;
  int32_t generation_of(const std::string& group_id) const;
  size_t group_count() const;
  const GroupConfig& config() const { return config_; }

  struct Group;
  struct Member;

 private:
  using Completions = std::vector<std::function<void()>>;
  // Runs the completions collected under the lock, after releasing it.
  class Unlocked;

  Group* find_group(const std::string& group_id);
  const Group* find_group(const std::string& group_id) const;
  Group& get_or_create_group(const std::string& group_id);
  // True if `group_id` lives in an unloaded partition. Caller holds mutex_.
  bool loading(const std::string& group_id) const;

  ErrorCode validate_join(const protocol::JoinGroupRequest& request, Group* group) const;
  void join_new_member(Group& group, const protocol::JoinGroupRequest& request, int16_t version,
                       const ClientInfo& client, Reply<protocol::JoinGroupResponse> reply, Completions& out);
  void join_static_member(Group& group, const protocol::JoinGroupRequest& request, int16_t version,
                          const ClientInfo& client, Reply<protocol::JoinGroupResponse> reply,
                          Completions& out);
  void join_known_member(Group& group, const protocol::JoinGroupRequest& request, int16_t version,
                         const ClientInfo& client, Reply<protocol::JoinGroupResponse> reply, Completions& out);
  Member& add_member(Group& group, const std::string& member_id, const protocol::JoinGroupRequest& request,
                     int16_t version, const ClientInfo& client);
  void prepare_rebalance(Group& group, Completions& out);
  void maybe_complete_join(Group& group, Completions& out);
  void complete_join(Group& group, Completions& out);
  void remove_member(Group& group, const std::string& member_id, Completions& out);
  void expire_sessions(Group& group, std::chrono::nanoseconds now, Completions& out);
  void expire_offsets(Completions& out);
  protocol::JoinGroupResponse join_response(const Group& group, const Member& member, int16_t version) const;
  void store_group(Group& group, std::function<void(ErrorCode)> done);
  void append(const std::string& group_id, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done);
  ErrorCode validate_member(const Group& group, const std::string& member_id,
                            const std::optional<std::string>& instance_id, int32_t generation) const;
  std::set<std::string> subscribed_topics(const Group& group) const;
  std::chrono::nanoseconds now() const { return clock_.monotonic(); }

  const GroupConfig config_;
  const Clock& clock_;
  CoordinatorLog& log_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
  std::chrono::nanoseconds next_offset_expiry_{0};
  std::set<int32_t> unloaded_partitions_;
};

}  // namespace sluice::group
