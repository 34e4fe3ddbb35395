#pragma once
// Kafka's KRaft consensus as a plain state machine (DESIGN.md "Consensus",
// "Simulation-ready"): one `RaftReplica` per node, fed messages and ticks
// with the time, answering with messages to send. It owns no thread, socket
// or clock: the broker drives it from the network layer, the simulator
// (tests/unit/cluster/raft_simulation_test.cc) from a seeded event queue, and
// both run this same code.
//
// The protocol is KRaft's, pull-based: voters elect a leader with Vote
// (after a KIP-996 pre-vote), the leader announces itself with
// BeginQuorumEpoch, followers (and observers) replicate by Fetch from their
// fetch offset and last fetched epoch, and the leader answers a divergence
// with the end offset of the epoch they share, which the follower truncates
// to. The high watermark is the offset a majority of voters has fetched
// past, counted only once it covers an entry of the leader's own epoch (the
// leader appends one when elected). Durability: a voter persists its quorum
// state (epoch, vote, leader) before it acts on it, and a fetch offset
// stands for entries already flushed, so an acknowledged entry survives
// any crash of a minority.
//
// Entries are record batches at Kafka record offsets. Snapshots follow
// Kafka's model (a snapshot id is end offset and epoch; a fetch below the
// leader's log start is answered with it, and the follower downloads it
// with FetchSnapshot). The voter set lives in the log (KIP-853 voters
// entries, changed one voter at a time by the leader); the options' set
// only bootstraps it.

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/error_code.h"

namespace sluice::raft {

using NodeId = int32_t;
using Epoch = int32_t;
using Offset = int64_t;

// What an entry is, for the log adapter: the application's records, or one
// of Kafka's control batches.
enum class EntryKind : int8_t {
  data,
  leader_change,  // the leader's epoch marker: a LeaderChangeMessage control batch
  voters,         // the voter set from here on: a VotersRecord control batch (KIP-853)
};

// One record batch of the metadata log. Offsets are Kafka record offsets:
// the entry at offset o covers [o, o + record_count), and the next entry
// starts at o + record_count. The state machine never looks inside
// `payload`; the leader's epoch marker is a leader_change entry with an
// empty payload and one record.
struct Entry {
  Epoch epoch = 0;
  std::string payload;
  int32_t record_count = 1;
  EntryKind kind = EntryKind::data;
  std::set<NodeId> voters = {};  // kind voters: the whole voter set
  bool operator==(const Entry&) const = default;
};

// The replicated log of one node: whole entries covering offsets
// [0, end_offset()). `flush` makes what was appended durable; a crash loses
// what was not flushed.
//
// Entry boundaries: every offset the state machine passes in (a fetch
// offset, the high watermark, a truncation point it computed) is the start
// of an entry or the log end. Why that holds across nodes: within one epoch
// only that epoch's leader writes batches, at offsets that follow each
// other, and followers copy those batches as they are (never split or
// merged) after truncating to a point where both logs agree; so any two
// logs holding epoch E at an offset hold the very same batch there, and a
// follower's end (the end of one of E's batches) is a batch end in the
// leader's log too once the leader checked their shared epoch.
//
// Log start: entries below start_offset() may be gone, covered by the
// snapshot that ends there (SnapshotStore); offsets passed in are never
// below it.
class RaftLog {
 public:
  virtual ~RaftLog() = default;
  virtual Offset start_offset() const = 0;  // 0 until a snapshot let the log drop its prefix
  virtual Offset end_offset() const = 0;
  virtual Epoch last_epoch() const = 0;  // 0 when empty
  // The epoch of the entry covering `offset` (start_offset() <= offset < end_offset()).
  virtual Epoch epoch_at(Offset offset) const = 0;
  // Whole entries starting at `from` (an entry boundary, see above), at
  // most `max_entries` of them.
  virtual std::vector<Entry> read(Offset from, size_t max_entries) const = 0;
  virtual void append(const std::vector<Entry>& entries) = 0;
  // Removes every entry that does not end at or below `end`: an `end` inside
  // an entry removes that whole entry, so the log may end below `end`
  // afterwards (callers read end_offset() again).
  virtual void truncate_to(Offset end) = 0;
  virtual void flush() = 0;
  // Drops the entries below `start`, an entry boundary within the log
  // (a snapshot ends there). Durable on return.
  virtual void drop_prefix(Offset start) = 0;
  // Replaces the whole log with an empty one starting at `start` (a
  // snapshot fetched from the leader ends there; Kafka's
  // truncateFullyAndStartAt). Durable on return.
  virtual void reset_to(Offset start) = 0;
};

// Kafka's snapshot id (OffsetAndEpoch): the snapshot holds the state of
// every entry below `end_offset`; `epoch` is the epoch of the last of them.
struct SnapshotId {
  Offset end_offset = 0;
  Epoch epoch = 0;
  auto operator<=>(const SnapshotId&) const = default;
};

// Where a node keeps its snapshots (Kafka's `<end>-<epoch>.checkpoint`
// files). The bytes are opaque here: the application's state at the id.
// A snapshot's bytes as the store holds them: a header of the raft layer,
// the voter set in effect at its end (Kafka's snapshots begin with a
// VotersRecord control record for the same reason: the log that held it may
// be gone), then the application's bytes.
struct SnapshotContent {
  std::set<NodeId> voters;
  std::string application;
};
std::string encode_snapshot(const std::set<NodeId>& voters, std::string_view application);
// nullopt when `bytes` does not start with a whole header.
std::optional<SnapshotContent> decode_snapshot(std::string_view bytes);

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  virtual std::optional<SnapshotId> latest() const = 0;
  virtual int64_t size(const SnapshotId& id) const = 0;  // -1 when there is no such snapshot
  // Up to `max_bytes` from `position` (fewer at the end).
  virtual std::string read(const SnapshotId& id, int64_t position, size_t max_bytes) const = 0;
  // A new snapshot is written in chunks and becomes visible, durable and
  // the latest only at commit; a crash before that leaves the previous one.
  // begin_write drops any unfinished write.
  virtual void begin_write(const SnapshotId& id) = 0;
  virtual void append(std::string_view chunk) = 0;
  virtual void commit() = 0;
  virtual void delete_before(const SnapshotId& id) = 0;  // every snapshot older than `id`

  // How a snapshot's bytes are laid out is the store's: the default is
  // encode_snapshot/decode_snapshot above (the simulation's stores); the
  // broker's file store writes Kafka's checkpoint format instead (a
  // VotersRecord control record, then the application's batches).
  // The bytes of a new snapshot `id` holding `voters` and `application`.
  virtual std::string encode(const SnapshotId& id, const std::set<NodeId>& voters,
                             std::string_view application) const;
  // The voter set a stored snapshot carries; nullopt when it has none or
  // does not decode.
  virtual std::optional<std::set<NodeId>> voters(const SnapshotId& id) const;
};

// The `quorum-state` file: what a voter promised. Written (durably) before
// the replica acts on a change of it.
struct QuorumState {
  Epoch epoch = 0;
  std::optional<NodeId> leader;
  std::optional<NodeId> voted_for;
  bool operator==(const QuorumState&) const = default;
};

class QuorumStateStore {
 public:
  virtual ~QuorumStateStore() = default;
  virtual QuorumState read() const = 0;
  virtual void write(const QuorumState& state) = 0;
};

// --- messages (the fields of Kafka's RPCs that the protocol needs) ---

struct VoteRequest {
  Epoch epoch = 0;  // the candidate's epoch (for a pre-vote: the one it would take)
  NodeId candidate = -1;
  Epoch last_epoch = 0;
  Offset end_offset = 0;
  bool pre_vote = false;
};
struct VoteResponse {
  Epoch epoch = 0;  // the voter's epoch
  std::optional<NodeId> leader;
  bool granted = false;
  bool pre_vote = false;
};
struct BeginQuorumEpochRequest {
  Epoch epoch = 0;
  NodeId leader = -1;
};
struct BeginQuorumEpochResponse {
  Epoch epoch = 0;
};
// A leader stepping down asks the voters to elect another at once.
struct EndQuorumEpochRequest {
  Epoch epoch = 0;
  NodeId leader = -1;
};
struct FetchRequest {
  Epoch epoch = 0;  // the epoch the fetcher knows
  NodeId replica = -1;
  Offset fetch_offset = 0;
  Epoch last_fetched_epoch = 0;
};
// Kafka's FetchSnapshot (one partition): the follower downloads the
// leader's snapshot `snapshot_id` in chunks.
struct FetchSnapshotRequest {
  Epoch epoch = 0;  // CurrentLeaderEpoch
  NodeId replica = -1;
  SnapshotId snapshot_id;
  int64_t position = 0;
  int32_t max_bytes = 0;
};
struct FetchSnapshotResponse {
  enum class Error { none, fenced_epoch, not_leader, snapshot_not_found, position_out_of_range };
  Error error = Error::none;
  Epoch epoch = 0;  // CurrentLeader
  std::optional<NodeId> leader;
  SnapshotId snapshot_id;
  int64_t size = 0;      // of the whole snapshot
  int64_t position = 0;  // where `bytes` start
  std::string bytes;     // UnalignedRecords
};
struct FetchResponse {
  enum class Error { none, fenced_epoch, not_leader };
  Error error = Error::none;
  Epoch epoch = 0;  // the responder's epoch
  std::optional<NodeId> leader;
  Offset high_watermark = -1;
  // The request's position (fetch offset and last fetched epoch), so the
  // fetcher drops an answer to a fetch it made from another position.
  Offset base_offset = 0;  // where `entries` start
  Epoch base_epoch = 0;
  std::vector<Entry> entries;
  // Set when the fetcher's log diverges from the leader's: truncate to at
  // most `end_offset`, whose last entry has `epoch`, and fetch again.
  struct Diverging {
    Epoch epoch = 0;
    Offset end_offset = 0;
  };
  std::optional<Diverging> diverging;
  // Set when the fetch offset (or the divergence point) is below the
  // leader's log start: fetch this snapshot with FetchSnapshot instead.
  std::optional<SnapshotId> snapshot_id;
};

using Message = std::variant<VoteRequest, VoteResponse, BeginQuorumEpochRequest,
                             BeginQuorumEpochResponse, EndQuorumEpochRequest, FetchRequest,
                             FetchResponse, FetchSnapshotRequest, FetchSnapshotResponse>;

struct Envelope {
  NodeId from = -1;
  NodeId to = -1;
  Message message;
};

struct RaftOptions {
  NodeId node_id = 1;
  // The bootstrap voter set, in effect while neither the log nor a snapshot
  // holds a voters entry. A node not among the voters follows as an observer.
  std::set<NodeId> voters;
  // controller.quorum.bootstrap.servers as ids the driver maps to their
  // addresses (Kafka numbers them -2, -3, ...): an observer that knows no
  // leader fetches from one of these (which names the leader) rather than
  // from the voters.
  std::vector<NodeId> bootstrap_servers;
  int64_t election_timeout_ms = 1000;  // controller.quorum.election.timeout.ms
  int64_t fetch_timeout_ms = 2000;     // controller.quorum.fetch.timeout.ms
  int64_t fetch_interval_ms = 50;      // a follower's fetch when nothing is pending
  // Long poll (Kafka's KafkaRaftClient.MAX_FETCH_WAIT_MS, 500): the leader
  // may hold a fetch that finds nothing new up to this long, answering it
  // as soon as its log grows or its high watermark moves (the driver parks
  // it; this class answers at once). A follower then keeps one fetch in
  // flight: the next leaves as soon as an answer arrives, and one
  // unanswered for twice fetch_max_wait_ms + fetch_interval_ms is taken as
  // lost and sent again (the margin keeps a late answer under load from
  // doubling the fetches in flight); `fetch_failed` (the driver saw the
  // request fail) sends the next after fetch_interval_ms. 0: no long poll;
  // a follower whose fetch found nothing asks again after fetch_interval_ms.
  int64_t fetch_max_wait_ms = 0;
  int64_t retry_backoff_ms = 100;  // a vote request unanswered is sent again
  size_t max_fetch_entries = 64;
  int32_t max_snapshot_chunk_bytes = 8 << 20;  // a FetchSnapshot's MaxBytes
  uint64_t random_seed = 1;                    // election jitter; seeded, so runs replay exactly
  // Known Raft bugs, switched on only by the simulation's tests to prove its
  // invariants catch them. Never set in the broker.
  struct Faults {
    bool grant_vote_without_log_check = false;
    bool leader_counts_unflushed_entries = false;  // its own end before the flush
    bool follower_keeps_divergent_tail = false;    // lies about its last fetched epoch
    // Raft paper's Figure 8: the high watermark moves over older epochs'
    // entries once a majority holds them, before any entry of its own
    // epoch is on a majority.
    bool leader_commits_older_epoch_by_counting = false;
    // A voter change appended while the previous one is not committed: two
    // changes apart, old and new majorities need not overlap.
    bool voter_changes_without_waiting = false;
  } faults;
};

enum class Role { unattached, prospective, candidate, leader, follower };
const char* role_name(Role role);

// What a request to the replica can fail with; `to_error_code` maps each to
// the Kafka error the RPC answers with.
enum class RaftError {
  none,
  not_leader,       // NOT_LEADER_OR_FOLLOWER: ask the leader
  invalid_request,  // INVALID_REQUEST: the arguments cannot be honoured
  // REQUEST_TIMED_OUT (voter changes, as Kafka's Add/RemoveVoterHandler):
  // another change is not committed yet, the leader's epoch is not
  // committed yet, or the new voter is not caught up. Retriable.
  request_timed_out,
  duplicate_voter,  // DUPLICATE_VOTER: already a voter
  voter_not_found,  // VOTER_NOT_FOUND: not a voter, or the last one
};

// A voter change's answer: on success the offset of the voters entry, in
// effect at once and committed once the high watermark passes it.
struct VoterChange {
  RaftError error = RaftError::none;
  Offset offset = -1;
};
ErrorCode to_error_code(RaftError error);

// DescribeQuorum's data, as the leader sees it (Kafka's LeaderState).
struct ReplicaInfo {
  NodeId replica_id = -1;
  Offset log_end_offset = -1;  // the replica's last fetch offset; -1 before any
  int64_t last_fetch_timestamp_ms = -1;
  // The last time the replica's fetch offset reached the leader's end offset
  // as of a fetch: either this fetch reached the leader's end now, or it
  // reached the end the leader had at the replica's previous fetch (so the
  // replica was caught up as of that previous fetch's time).
  int64_t last_caught_up_timestamp_ms = -1;
  bool operator==(const ReplicaInfo&) const = default;
};
struct QuorumInfo {
  RaftError error = RaftError::none;
  NodeId leader_id = -1;
  Epoch leader_epoch = 0;
  Offset high_watermark = -1;
  std::vector<ReplicaInfo> voters;     // the leader first (its timestamps are "now")
  std::vector<ReplicaInfo> observers;  // those that fetched in the last 5 minutes
};

class RaftReplica {
 public:
  // Reads the quorum state; the log is what survived (flushed entries).
  // Starts from the latest snapshot plus the log (a log that does not
  // continue the snapshot is replaced by an empty one at its end).
  RaftReplica(RaftOptions options, RaftLog& log, QuorumStateStore& store, SnapshotStore& snapshots,
              int64_t now_ms);
  // Without snapshots (create_snapshot fails with invalid_request).
  RaftReplica(RaftOptions options, RaftLog& log, QuorumStateStore& store, int64_t now_ms);

  // Timers: elections, fetches, the leader's check that a majority still
  // fetches. Returns what to send.
  std::vector<Envelope> tick(int64_t now_ms);
  std::vector<Envelope> receive(const Envelope& envelope, int64_t now_ms);
  // On the leader: appends the batches, stamped with its epoch; the offset
  // of the first, or nullopt on any other node (the caller retries against
  // the leader) or when a batch has no record (record_count < 1) or is
  // not a data batch (control batches are this class's own).
  std::optional<Offset> append(std::vector<Entry> entries);
  // The driver's Fetch got no answer (a connection lost, a timeout): the
  // next one leaves after fetch_interval_ms, not after a long poll's wait.
  void fetch_failed(int64_t now_ms) { fetch_again_soon(now_ms); }
  // Kafka's graceful shutdown of a leader: it stops leading and tells the
  // other voters (EndQuorumEpoch), so they elect one of them at once
  // instead of waiting out the fetch timeout. Nothing on another role.
  std::vector<Envelope> step_down(int64_t now_ms);

  Role role() const { return role_; }
  Epoch epoch() const { return state_.epoch; }
  std::optional<NodeId> leader() const { return state_.leader; }
  NodeId id() const { return options_.node_id; }
  bool is_voter() const { return voters().count(options_.node_id) != 0; }
  // The voter set in effect: the latest voters entry in the log, committed
  // or not, else the snapshot's, else the bootstrap set.
  const std::set<NodeId>& voters() const { return voter_history_.rbegin()->second; }
  // KIP-853, on the leader, one change at a time and only once its epoch's
  // entry is committed: appends a voters entry. A new voter must be an
  // observer that fetched up to the leader's end within the fetch timeout.
  // A leader that removes itself leads on until the removal is committed,
  // then resigns. `payload`: the voters entry's batch as the driver encodes
  // it (with the voters' endpoints); empty, the log adapter writes the ids.
  VoterChange add_voter(NodeId id, int64_t now_ms, std::string payload = {});
  VoterChange remove_voter(NodeId id, std::string payload = {});
  // KIP-853's UpdateRaftVoter: a voters entry with the same voters, whose
  // `payload` carries a voter's new endpoints; the same checks as above
  // (voter_not_found for a non-voter).
  VoterChange update_voter(NodeId id, std::string payload);
  // The offset of the voters entry in effect; below the log start when the
  // set is the snapshot's (log start - 1) or the bootstrap set (-1).
  Offset voters_offset() const { return voter_history_.rbegin()->first; }
  // Entries below it are committed; -1 while unknown (after a start
  // without a snapshot).
  Offset high_watermark() const { return high_watermark_; }
  // The application's snapshot of the state below `end_offset` (an entry
  // boundary at or below the high watermark, past the latest snapshot):
  // written and committed to the SnapshotStore after this layer's header
  // (encode_snapshot: the voter set), then the log drops the entries below
  // it and older snapshots go. Any role.
  RaftError create_snapshot(Offset end_offset, std::string_view bytes);
  std::optional<SnapshotId> latest_snapshot() const { return latest_snapshot_; }
  const RaftLog& log() const { return log_; }
  // DescribeQuorum: on the leader, every voter's and every recent observer's
  // progress; error not_leader elsewhere.
  QuorumInfo quorum_info(int64_t now_ms) const;

 private:
  using Out = std::vector<Envelope>;

  void persist(QuorumState state);
  void become_unattached(Epoch epoch, std::optional<NodeId> voted_for, int64_t now_ms);
  void become_follower(Epoch epoch, NodeId leader, int64_t now_ms);
  void become_prospective(int64_t now_ms, Out& out);
  void become_candidate(int64_t now_ms, Out& out);
  void become_leader(int64_t now_ms, Out& out);
  // A message naming a higher epoch moves this node to it first.
  void observe_epoch(Epoch epoch, std::optional<NodeId> leader, int64_t now_ms);

  void on(const VoteRequest& request, NodeId from, int64_t now_ms, Out& out);
  void on(const VoteResponse& response, NodeId from, int64_t now_ms, Out& out);
  void on(const BeginQuorumEpochRequest& request, NodeId from, int64_t now_ms, Out& out);
  void on(const BeginQuorumEpochResponse& response, NodeId from, int64_t now_ms, Out& out);
  void on(const EndQuorumEpochRequest& request, NodeId from, int64_t now_ms, Out& out);
  void on(const FetchRequest& request, NodeId from, int64_t now_ms, Out& out);
  void on(const FetchResponse& response, NodeId from, int64_t now_ms, Out& out);
  void on(const FetchSnapshotRequest& request, NodeId from, int64_t now_ms, Out& out);
  void on(const FetchSnapshotResponse& response, NodeId from, int64_t now_ms, Out& out);
  // Kafka's validateOffsetAndEpoch: whether a fetch at this position reads
  // on, diverges (with where to truncate to) or needs the snapshot.
  void validate_fetch(const FetchRequest& request, FetchResponse& response) const;
  void start_from_snapshot();
  std::optional<std::set<NodeId>> read_snapshot_voters(const SnapshotId& id) const;
  void install_snapshot(int64_t now_ms, Out& out);
  // The epoch of the last entry, or of the snapshot below an empty log.
  Epoch last_epoch() const;
  Epoch last_epoch_below_start() const;
  void note_fetch(NodeId from, Offset fetch_offset, int64_t now_ms);

  bool log_is_up_to_date(Epoch last_epoch, Offset end_offset) const;
  // Kafka's endOffsetForEpoch: the largest epoch <= `epoch` in this log and
  // the end offset of its entries.
  FetchResponse::Diverging end_offset_for_epoch(Epoch epoch) const;
  // To every voter that has not granted yet.
  void send_vote_requests(bool pre_vote, int64_t now_ms, Out& out);
  void send_fetch(int64_t now_ms, Out& out);
  bool long_poll() const { return options_.fetch_max_wait_ms > 0; }
  // A fetch answered with an error: the next one soon, whether or not the
  // fetch was long-polled.
  void fetch_again_soon(int64_t now_ms);
  void maybe_advance_high_watermark();
  void send(NodeId to, Message message, Out& out) const;
  int64_t random_election_timeout();
  size_t majority() const { return voters().size() / 2 + 1; }
  bool sole_voter() const { return voters().size() == 1 && is_voter(); }
  size_t granted() const;  // the votes of voters in effect
  bool may_stand() const;  // starts elections when it hears from no leader
  // Every change to the log goes through these, which keep voter_history_.
  void append_to_log(const std::vector<Entry>& entries);
  void truncate_log(Offset end);
  void drop_log_prefix(Offset start);
  void reset_log(Offset start, std::set<NodeId> voters);
  void load_voter_history(std::optional<std::set<NodeId>> snapshot_voters);
  std::set<NodeId> voters_below(Offset end) const;
  // The leader's view of who votes, after the voter set changed.
  void sync_progress();
  void resign(int64_t now_ms, Out& out);
  VoterChange check_voter_change() const;
  VoterChange append_voters(std::set<NodeId> voters, std::string payload);

  RaftOptions options_;
  RaftLog& log_;
  QuorumStateStore& store_;
  SnapshotStore& snapshots_;
  std::optional<SnapshotId> latest_snapshot_;
  // The voter set from each voters entry's offset on; the first is the
  // bootstrap set (at -1) or the snapshot's (just below the log start).
  std::map<Offset, std::set<NodeId>> voter_history_;
  // Follower: the leader's snapshot being downloaded, and how far.
  struct SnapshotFetch {
    SnapshotId id;
    int64_t position = 0;
  };
  std::optional<SnapshotFetch> snapshot_fetch_;
  QuorumState state_;
  Role role_ = Role::unattached;
  std::mt19937_64 random_;
  Offset high_watermark_ = -1;

  int64_t election_deadline_ms_ = 0;  // unattached/prospective/candidate: start an election
  int64_t fetch_deadline_ms_ = 0;     // follower: no answer from the leader until then
  int64_t next_fetch_ms_ = 0;
  std::set<NodeId> votes_;  // granted to this prospective/candidate
  int64_t next_vote_retry_ms_ = 0;
  // The leader a prospective stopped hearing from: other voters that still
  // name it (they have not timed out yet) do not send this node back to it.
  std::optional<NodeId> lost_leader_;
  // Leader: what each voter (progress_) and observer (observers_) fetched,
  // and when (Kafka's LeaderState.ReplicaState).
  struct ReplicaProgress {
    Offset end_offset = -1;
    int64_t last_fetch_ms = -1;
    int64_t last_contact_ms = -1;       // a fetch or snapshot fetch: the check-quorum's evidence
    Offset last_fetch_leader_end = -1;  // the leader's end at that fetch
    int64_t last_caught_up_ms = -1;
    int64_t begin_epoch_sent_ms = -1;  // the last BeginQuorumEpoch re-sent to this voter
    void on_fetch(Offset fetch_offset, Offset leader_end, int64_t now_ms);
  };
  ReplicaInfo describe(NodeId id, const ReplicaProgress& progress) const;
  std::map<NodeId, ReplicaProgress> progress_;
  std::map<NodeId, ReplicaProgress> observers_;
  int64_t leader_since_ms_ = 0;
  Offset epoch_start_offset_ = 0;
  int64_t check_quorum_deadline_ms_ = 0;
};

}  // namespace sluice::raft
