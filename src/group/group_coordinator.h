#pragma once
// The group coordinator of Kafka's classic group protocol, as a plain state
// machine per __consumer_offsets partition, run on a CoordinatorRuntime
// (coordinator_runtime.h): requests (the generated protocol structs) and
// tick() go in, responses and coordinator records come out. No sockets;
// time comes from a Clock, records go to a CoordinatorLog (the edge decides
// where: __consumer_offsets in the broker, a vector in tests).
//
// Threads: every request runs on the strand of its group's partition
// (partition_for_group), so the groups of one partition are touched by one
// thread at a time and no lock is shared by all groups; requests naming
// groups of several partitions (DescribeGroups, OffsetFetch v8+,
// DeleteGroups, ListGroups) run on each and are answered when all have. The
// asynchronous methods never block (reactors call them); the blocking
// wrappers (returning a response) wait for the strand: tests, admin threads,
// never a reactor or a strand.
//
// Answers: every Reply is called exactly once, on a strand (or at once on
// the caller's thread with the InlineExecutor).
//   - JoinGroup and SyncGroup may park: the Reply is called later, by
//     another request (the last member joining, the leader's SyncGroup) or
//     by tick() (rebalance timeout, initial delay).
//   - OffsetCommit, DeleteGroups, OffsetDelete, and the leader's SyncGroup
//     answer once their records are durable.
//
// Durability before visibility: records are generated from the state, then
// appended, and only once the append is durable are they applied (offsets
// and tombstones by replay(), the path loading takes) or the state they
// describe entered (the group Stable with its assignment after SyncGroup).
// Until then a commit is pending: OffsetFetch does not see it, expiry skips
// it; a group being deleted answers COORDINATOR_NOT_AVAILABLE. A failed
// append reverts what was pending and answers Kafka's error for it
// (coordinator_error). Membership (joins, heartbeats, session deadlines) is
// in memory only, as in Kafka's classic groups; the group's stored
// generation, members and assignments come back by replay(): reloaded groups
// with members are Stable and their members must heartbeat within their
// session timeout.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/error_code.h"
#include "base/random.h"
#include "base/result.h"
#include "base/strong_types.h"
#include "coordinator/coordinator_keys.h"
#include "coordinator/coordinator_runtime.h"
#include "protocol/protocol.h"

namespace sluice::group {

// The runtime is shared with the transaction coordinator (src/coordinator/).
using coordinator::BatchSink;
using coordinator::CoordinatorExecutor;
using coordinator::CoordinatorLog;
using coordinator::CoordinatorRecord;
using coordinator::CoordinatorRuntime;
using coordinator::InlineExecutor;
using coordinator::LoadedBatch;
using coordinator::LoadStep;
using coordinator::RecordSink;
using coordinator::StrandPool;
using coordinator::TransactionalProducer;
using coordinator::WriteBatch;

// The broker settings the coordinator follows (Kafka's names).
struct GroupConfig {
  int32_t min_session_timeout_ms = 6000;                  // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1800000;               // group.max.session.timeout.ms
  int32_t initial_rebalance_delay_ms = 3000;              // group.initial.rebalance.delay.ms
  int32_t max_size = INT32_MAX;                           // group.max.size
  int32_t offset_metadata_max_bytes = 4096;               // offset.metadata.max.bytes
  int64_t offsets_retention_ms = 7LL * 24 * 3600 * 1000;  // offsets.retention.minutes
  int64_t offsets_retention_check_interval_ms = 600000;   // offsets.retention.check.interval.ms
  int32_t offsets_topic_partitions = 50;                  // offsets.topic.num.partitions
};

// What a client sees when the append of a coordinator's records failed with
// `append_error` (Kafka's GroupCoordinatorService.normalizeException): the
// partition missing or too few replicas -> COORDINATOR_NOT_AVAILABLE, a lost
// leadership or a storage failure -> NOT_COORDINATOR (clients look the
// coordinator up again), records too large -> UNKNOWN_SERVER_ERROR.
ErrorCode coordinator_error(ErrorCode append_error);

// Kafka's Utils.abs(groupId.hashCode()) % partitions, with Java's
// String.hashCode over the UTF-16 code units of `group_id`
// (coordinator_keys.h, shared with the transaction coordinator).
using coordinator::java_string_hash;
int32_t partition_for_group(const std::string& group_id, int32_t partitions);

enum class GroupState { empty, preparing_rebalance, completing_rebalance, stable, dead };
const char* group_state_name(GroupState state);

// The producer of a record not written in a transactional batch (Kafka's
// RecordBatch.NO_PRODUCER_ID): replay() applies it at once.
inline constexpr ProducerId non_transactional{-1};

// A committed offset (kept per group; pending per producer for
// transactional commits).
struct CommittedOffset {
  Offset offset{-1};
  LeaderEpoch leader_epoch{-1};
  std::string metadata;
  int64_t commit_timestamp_ms = 0;
  // Set by an OffsetCommit v2-4 with a retention time: the offset expires
  // then (Kafka's OffsetAndMetadata.expireTimestamp), written as
  // OffsetCommitValue v1, the only version that carries it.
  std::optional<int64_t> expire_timestamp_ms;
  // Where its record is in the partition's log (Shard::record_order at
  // replay): the later of two records wins.
  uint64_t record_order = 0;
};

// Who sent a request (for member ids and DescribeGroups).
struct ClientInfo {
  std::string client_id;
  std::string client_host;
};

template <class Response>
using Reply = std::function<void(Response)>;

class GroupCoordinator {
 public:
  // `executor` runs the partitions' strands (the broker's StrandPool);
  // null: an InlineExecutor owned by the coordinator (tests). `random`
  // makes the member ids.
  GroupCoordinator(GroupConfig config, const Clock& clock, RandomSource& random,
                   CoordinatorLog& log, CoordinatorExecutor* executor = nullptr);
  ~GroupCoordinator();
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // The leader epoch in which the broker's current metadata image elects
  // this broker to lead a partition of __consumer_offsets, or -1 (the
  // GroupService reads the image; any thread). The image is published
  // before its elections reach the strands, and FindCoordinator answers from
  // it: a partition not led here (yet) that the image elects here in a newer
  // epoch answers COORDINATOR_LOAD_IN_PROGRESS (clients retry) rather than
  // NOT_COORDINATOR until its election comes. Set before requests arrive;
  // without it such a partition answers NOT_COORDINATOR.
  void follow_image_elections(std::function<LeaderEpoch(int32_t partition)> elected_epoch) {
    image_elected_epoch_ = std::move(elected_epoch);
  }

  // Asynchronous: `reply` is called once, on the group's strand.
  void join_group(const protocol::JoinGroupRequest& request, int16_t version,
                  const ClientInfo& client, Reply<protocol::JoinGroupResponse> reply);
  void sync_group(const protocol::SyncGroupRequest& request, int16_t version,
                  Reply<protocol::SyncGroupResponse> reply);
  void heartbeat(const protocol::HeartbeatRequest& request, int16_t version,
                 Reply<protocol::HeartbeatResponse> reply);
  void leave_group(const protocol::LeaveGroupRequest& request, int16_t version,
                   Reply<protocol::LeaveGroupResponse> reply);
  void offset_commit(const protocol::OffsetCommitRequest& request, int16_t version,
                     Reply<protocol::OffsetCommitResponse> reply);
  void offset_fetch(const protocol::OffsetFetchRequest& request, int16_t version,
                    Reply<protocol::OffsetFetchResponse> reply);
  void describe_groups(const protocol::DescribeGroupsRequest& request, int16_t version,
                       Reply<protocol::DescribeGroupsResponse> reply);
  void list_groups(const protocol::ListGroupsRequest& request, int16_t version,
                   Reply<protocol::ListGroupsResponse> reply);
  void delete_groups(const protocol::DeleteGroupsRequest& request, int16_t version,
                     Reply<protocol::DeleteGroupsResponse> reply);
  void offset_delete(const protocol::OffsetDeleteRequest& request, int16_t version,
                     Reply<protocol::OffsetDeleteResponse> reply);
  // TxnOffsetCommit (KIP-98, KIP-447): the offsets are written as a
  // transactional batch of the request's producer and, once durable, kept
  // pending for that producer (invisible to OffsetFetch; require_stable
  // fetches answer UNSTABLE_OFFSET_COMMIT for them) until
  // complete_transaction (or, at load, the marker in the log) commits or
  // aborts them. Answered once durable. `verification`: KIP-890's guard,
  // when the transaction coordinator confirmed (or added) the partition.
  void txn_offset_commit(const protocol::TxnOffsetCommitRequest& request, int16_t version,
                         Reply<protocol::TxnOffsetCommitResponse> reply,
                         storage::AppendVerification verification = {});
  // The commit (or abort) marker of `producer_id`'s transaction is durable
  // in `partition` of __consumer_offsets (WriteTxnMarkers): its pending
  // offsets there become committed (unless a commit written after them
  // already replaced them) or are dropped. Posted to the partition's
  // strand: call it before answering WriteTxnMarkers, so the producer's next
  // transaction's commits come after it. A partition loading keeps it for
  // when the load ends; one not led here ignores it (its load reads the
  // marker).
  void complete_transaction(ProducerId producer_id, int32_t partition, bool commit);

  // Blocking wrappers (tests, admin threads; never a reactor or a strand).
  protocol::HeartbeatResponse heartbeat(const protocol::HeartbeatRequest& request, int16_t version);
  protocol::LeaveGroupResponse leave_group(const protocol::LeaveGroupRequest& request,
                                           int16_t version);
  protocol::OffsetFetchResponse offset_fetch(const protocol::OffsetFetchRequest& request,
                                             int16_t version);
  protocol::DescribeGroupsResponse describe_groups(const protocol::DescribeGroupsRequest& request,
                                                   int16_t version);
  protocol::ListGroupsResponse list_groups(const protocol::ListGroupsRequest& request,
                                           int16_t version);

  // Session and rebalance timeouts, the initial rebalance delay, pending
  // (KIP-394) member expiry, offset expiry, on every partition's strand.
  // Call at next_deadline() (so sessions end at their deadline, as Kafka's
  // DelayedHeartbeat timer ends them) and every ~100 ms for offset expiry.
  void tick();

  // The earliest deadline (the clock's monotonic time) the groups wait for:
  // a member's session, a rebalance timeout, the end of an initial delay, a
  // pending member's expiry; max() when none. May be earlier than needed
  // (a heartbeat extended that session): a tick then finds nothing due and
  // works out the true one. Any thread.
  std::chrono::nanoseconds next_deadline() const {
    return std::chrono::nanoseconds(next_deadline_ns_.load(std::memory_order_acquire));
  }
  // Called, on a strand, whenever next_deadline() moves earlier, so the
  // driver of tick() can wait for the new one. Set before serving.
  void on_earlier_deadline(std::function<void()> wake) { earlier_deadline_ = std::move(wake); }

  // Applies one record of __consumer_offsets, in log order: at load (before
  // requests are served), and on the record's partition strand once an
  // append is durable.
  // `producer_id` (not non_transactional): the record came in a
  // transactional batch of that producer (kept pending until its marker).
  Status replay(Bytes key, std::optional<Bytes> value, ProducerId producer_id = non_transactional);
  // A control record (commit or abort marker, Kafka's ControlRecordType)
  // of `producer_id` in `partition`'s log, in log order; other control
  // records are ignored.
  Status replay_control(int32_t partition, ProducerId producer_id, Bytes key);
  // After replay: reloaded members' sessions start now. Before serving.
  void finish_loading();
  // A partition of __consumer_offsets that could not be read at load: its
  // groups are dropped (a half-read group must neither answer nor expire
  // offsets), and every request for a group of it answers
  // COORDINATOR_LOAD_IN_PROGRESS, which clients retry, as Kafka answers while
  // a partition loads. ListGroups answers it too while any partition is.
  // Before serving.
  void unload_partition(int32_t partition);

  // Leadership (Kafka's GroupCoordinator onElection/onResignation, driven
  // by the metadata image). A coordinator starts owning every partition
  // (epoch -1: a lone node, tests, or no __consumer_offsets yet). Any
  // thread; both are posted to the partition's strand, in call order.
  //   - on_election(p, e), e newer than the partition's epoch: an inactive
  //     (or failed) partition loads from the log (CoordinatorLog::load),
  //     a bounded step at a time, its groups answering
  //     COORDINATOR_LOAD_IN_PROGRESS until it reached the log end it was
  //     elected at and that is committed; then active. An active or loading
  //     one keeps going with the new epoch (Kafka's rule), except one
  //     active from before the topic existed (-1): it keeps its state only
  //     for epoch 0 (nobody else ever led) with an empty log, else it
  //     reloads. (A broker starting with the topic resigns every partition
  //     first, then elects those it leads: all of them load.)
  //   - on_resignation(p, e), e not older: the partition's groups are
  //     dropped, parked JoinGroup/SyncGroup answered NOT_COORDINATOR, and
  //     every later request answers NOT_COORDINATOR; appends in flight
  //     finish with NOT_COORDINATOR and apply nothing.
  void on_election(int32_t partition, LeaderEpoch leader_epoch);
  void on_resignation(int32_t partition, LeaderEpoch leader_epoch);
  // Continues the loads in progress (the high watermark they wait for may
  // have moved). tick() does it too.
  void continue_loads();
  // Partitions loading now, and a count that grows as loads read (any
  // thread): the broker waits at start while loads make progress.
  size_t loading_partitions() const { return loading_partitions_.load(std::memory_order_acquire); }
  uint64_t load_progress() const { return load_progress_.load(std::memory_order_acquire); }
  // What a request for a group of `partition` would be refused with now
  // (NONE when active). Blocking, like state_of (tests).
  ErrorCode partition_error(int32_t partition);

  // For tests and metrics (blocking, like the wrappers above).
  std::optional<GroupState> state_of(const GroupId& group_id);
  int32_t generation_of(const GroupId& group_id);
  size_t group_count();
  const GroupConfig& config() const { return config_; }

  struct Group;
  struct Member;

 private:
  using Completions = std::vector<std::function<void()>>;
  // Keys of offsets whose commit is appended but not yet durable.
  using PendingKey = std::tuple<std::string, std::string, int32_t>;  // group, topic, partition
  // The state of one __consumer_offsets partition: touched only on its strand.
  // active: serves; loading: COORDINATOR_LOAD_IN_PROGRESS until loaded;
  // failed: could not be read (COORDINATOR_LOAD_IN_PROGRESS until a new
  // election or restart); inactive: another broker leads (NOT_COORDINATOR).
  enum class ShardState { active, loading, failed, inactive };
  struct Shard {
    std::map<std::string, std::unique_ptr<Group>> groups;
    std::map<PendingKey, int> pending_commits;
    // Transactional offset commits durable but not completed (Kafka's
    // pendingTransactionalOffsets), per producer id; the producers with
    // some per group (openTransactionsByGroup); those appended, not yet
    // durable (require_stable fetches see them as pending too).
    std::map<ProducerId, std::map<PendingKey, CommittedOffset>> pending_txn_offsets;
    std::map<std::string, std::set<ProducerId>> open_txns_by_group;
    std::map<PendingKey, int> txn_commits_in_flight;
    // Counts offset records applied, in log order (Kafka compares record
    // offsets): a transactional commit is materialized only if newer than
    // the committed offset it would replace.
    uint64_t record_order = 0;
    // Loading: completions that came meanwhile (applied when loaded), and
    // the batch the records being loaded came in.
    std::vector<std::pair<ProducerId, bool>> completions_while_loading;
    coordinator::LoadedBatch load_batch;
    ShardState state = ShardState::active;
    LeaderEpoch epoch{-1};     // the leader epoch it was elected in
    uint64_t incarnation = 0;  // bumped at each load and unload: older appends apply nothing
    int64_t load_next = 0;     // loading: the next offset to read
    int64_t load_end = 0;      // loading: the log end at election
    LoadStep load_counts;      // loading: replayed and skipped so far
    std::chrono::nanoseconds next_offset_expiry{0};
    WriteBatch* batch = nullptr;  // the running operation's, while it runs
  };

  int32_t partition_of(const std::string& group_id) const;
  Shard& shard_of(const std::string& group_id) {
    return shards_[static_cast<size_t>(partition_of(group_id))];
  }
  // Runs `operation` on `partition`'s strand with its WriteBatch installed;
  // the completions it collects run after it (answers, outside the state).
  void run_on(int32_t partition, std::function<void(Completions&)> operation);
  // Wraps a `done` so that it too may write (and collect completions).
  std::function<void(ErrorCode)> on_strand(int32_t partition,
                                           std::function<void(ErrorCode, Completions&)> done);
  // The records of `partition` replayed into the state, on its strand.
  void apply(const std::vector<CoordinatorRecord>& records,
             ProducerId producer_id = non_transactional);
  // Transactions (group_transactions.cc), on the partition's strand.
  void txn_offset_commit_here(const protocol::TxnOffsetCommitRequest& request,
                              const storage::AppendVerification& verification,
                              Reply<protocol::TxnOffsetCommitResponse> reply, Completions& out);
  ErrorCode validate_txn_commit(const protocol::TxnOffsetCommitRequest& request,
                                const Group* group) const;
  // A pending (durable or in flight) transactional offset of any producer.
  static bool has_pending_txn_offset(const Shard& shard, const PendingKey& key);
  void end_transaction(Shard& shard, ProducerId producer_id, bool commit);
  static void clear_transactions(Shard& shard);
  void expire_offsets(Shard& shard);
  void tick_partition(int32_t partition, Completions& out);

  Group* find_group(const std::string& group_id);
  const Group* find_group(const std::string& group_id) const;
  Group& get_or_create_group(const std::string& group_id);
  // NONE if `group_id`'s partition serves, else the error its requests
  // get (COORDINATOR_LOAD_IN_PROGRESS, NOT_COORDINATOR). On its strand.
  ErrorCode unavailable(const std::string& group_id) const;
  static ErrorCode shard_error(const Shard& shard);
  // shard_error, except for an election the image made and the strand has
  // not seen yet (follow_image_elections). On the partition's strand.
  ErrorCode partition_state_error(int32_t partition) const;
  // On the strand: drops the shard's groups, answering parked members `error`.
  void drop_groups(Shard& shard, ErrorCode error, Completions& out);
  void elect_here(int32_t partition, LeaderEpoch leader_epoch, Completions& out);
  void resign_here(int32_t partition, LeaderEpoch leader_epoch, Completions& out);
  // On the strand: a bounded amount of the load; done once loaded.
  void load_step(int32_t partition);
  void fail_load(int32_t partition, ErrorCode error);

  void join_group_here(const protocol::JoinGroupRequest& request, int16_t version,
                       const ClientInfo& client, Reply<protocol::JoinGroupResponse> reply,
                       Completions& out);
  void sync_group_here(const protocol::SyncGroupRequest& request,
                       Reply<protocol::SyncGroupResponse> reply, Completions& out);
  // The leader's SyncGroup: stores the assignment, then enters Stable.
  void store_assignment(Group& group, const protocol::SyncGroupRequest& request, Completions& out);
  void fail_assignment(Group& group, ErrorCode error, Completions& out);
  void revert_static_member(Group& group, const std::string& instance_id, const std::string& new_id,
                            const std::string& old_id);
  protocol::HeartbeatResponse heartbeat_here(const protocol::HeartbeatRequest& request);
  protocol::LeaveGroupResponse leave_group_here(const protocol::LeaveGroupRequest& request,
                                                int16_t version, Completions& out);
  void offset_commit_here(const protocol::OffsetCommitRequest& request,
                          Reply<protocol::OffsetCommitResponse> reply, Completions& out);
  protocol::OffsetFetchResponse::OffsetFetchResponseGroup fetch_group(
      const std::string& group_id,
      const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& topics,
      bool require_stable = false) const;
  protocol::DescribeGroupsResponse::DescribedGroup describe_group(
      const std::string& group_id) const;
  // DeleteGroups of the groups of one partition; `done` gets their results.
  void delete_groups_here(
      const std::vector<std::string>& group_ids,
      std::function<void(std::vector<protocol::DeleteGroupsResponse::DeletableGroupResult>)> done,
      Completions& out);
  void offset_delete_here(const protocol::OffsetDeleteRequest& request,
                          Reply<protocol::OffsetDeleteResponse> reply, Completions& out);
  ErrorCode validate_join(const protocol::JoinGroupRequest& request, Group* group) const;
  void join_new_member(Group& group, const protocol::JoinGroupRequest& request, int16_t version,
                       const ClientInfo& client, Reply<protocol::JoinGroupResponse> reply,
                       Completions& out);
  void join_static_member(Group& group, const protocol::JoinGroupRequest& request, int16_t version,
                          const ClientInfo& client, Reply<protocol::JoinGroupResponse> reply,
                          Completions& out);
  void join_known_member(Group& group, const protocol::JoinGroupRequest& request, int16_t version,
                         const ClientInfo& client, Reply<protocol::JoinGroupResponse> reply,
                         Completions& out);
  Member& add_member(Group& group, const std::string& member_id,
                     const protocol::JoinGroupRequest& request, int16_t version,
                     const ClientInfo& client);
  void prepare_rebalance(Group& group, Completions& out);
  void maybe_complete_join(Group& group, Completions& out);
  void complete_join(Group& group, Completions& out);
  void remove_member(Group& group, const std::string& member_id, Completions& out);
  void expire_sessions(Group& group, std::chrono::nanoseconds now, Completions& out);
  protocol::JoinGroupResponse join_response(const Group& group, const Member& member,
                                            int16_t version) const;
  // The group's GroupMetadata record (stored generation, members,
  // assignments, or `assignments` in their place when given).
  CoordinatorRecord group_record(
      const Group& group,
      const std::map<std::string, std::vector<uint8_t>>* assignments = nullptr) const;
  void store_group(Group& group, std::function<void(ErrorCode, Completions&)> done);
  // Adds records to the running operation's batch; `done` runs on the
  // strand once they are durable (NONE) or failed (coordinator_error).
  void append(const std::string& group_id, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode, Completions&)> done,
              std::optional<TransactionalProducer> producer = std::nullopt);
  ErrorCode validate_member(const Group& group, const std::string& member_id,
                            const std::optional<std::string>& instance_id,
                            int32_t generation) const;
  std::set<std::string> subscribed_topics(const Group& group) const;
  std::chrono::nanoseconds now() const { return clock_.monotonic(); }
  // now() + timeout_ms, noted as a deadline tick() must come for.
  std::chrono::nanoseconds deadline_after(int64_t timeout_ms);
  void note_deadline(std::chrono::nanoseconds at);
  // The earliest deadline of `group` expire_sessions acts on.
  static std::chrono::nanoseconds earliest_deadline(const Group& group);

  const GroupConfig config_;
  const Clock& clock_;
  RandomSource& random_;
  std::unique_ptr<InlineExecutor> inline_executor_;  // when none was given
  std::vector<Shard> shards_;
  CoordinatorLog& log_;
  CoordinatorRuntime runtime_;
  std::atomic<int64_t> next_deadline_ns_{std::numeric_limits<int64_t>::max()};
  std::function<void()> earlier_deadline_ = [] {};
  std::function<LeaderEpoch(int32_t)> image_elected_epoch_;  // follow_image_elections
  std::atomic<size_t> loading_partitions_{0};
  std::atomic<uint64_t> load_progress_{0};
};

}  // namespace sluice::group
