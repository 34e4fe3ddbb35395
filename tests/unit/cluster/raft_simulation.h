#pragma once
// A deterministic simulation of a KRaft quorum (DESIGN.md "Consensus"): the
// real `raft::RaftReplica` of every node driven by one seeded event queue.
// Simulated: the clock; a network that drops, delays, duplicates, reorders
// and partitions; disks that lose what was not flushed when a node crashes;
// crashes and restarts. Invariants are checked after every event; the first
// violation stops the run and is reported with the seed that replays it.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cluster/raft/raft.h"

namespace sluice::raft::sim {

// Snapshots in memory: committed ones survive a crash, an unfinished write
// does not. In the simulation a snapshot's bytes start with the digest of
// the entries below its end (the chained hash MemoryLog keeps), so the
// invariants can check it against what was committed.
class MemorySnapshotStore final : public SnapshotStore {
 public:
  std::optional<SnapshotId> latest() const override;
  int64_t size(const SnapshotId& id) const override;
  std::string read(const SnapshotId& id, int64_t position, size_t max_bytes) const override;
  void begin_write(const SnapshotId& id) override { pending_ = {id, {}}; }
  void append(std::string_view chunk) override;
  void commit() override;
  void delete_before(const SnapshotId& id) override;

  void crash() { pending_.reset(); }
  // The digest a snapshot's bytes start with; nullopt without that snapshot.
  std::optional<uint64_t> digest(const SnapshotId& id) const;
  std::optional<std::set<NodeId>> voters(const SnapshotId& id) const override;
  static std::string encode(uint64_t digest, size_t padding_bytes);

 private:
  std::map<SnapshotId, std::string> committed_;
  std::optional<std::pair<SnapshotId, std::string>> pending_;
};

// An in-memory log whose unflushed part a crash discards. Keeps a hash of
// every prefix of whole entries (chained from the digest of what its
// snapshot holds when the prefix was dropped) and the entry covering each
// offset, so the invariants compare logs in O(1).
class MemoryLog final : public RaftLog {
 public:
  // `snapshots`: where reset_to finds the digest of what lies below.
  explicit MemoryLog(const MemorySnapshotStore* snapshots = nullptr) : snapshots_(snapshots) {}
  Offset start_offset() const override { return live_.start; }
  Offset end_offset() const override { return live_.end_offset(); }
  Epoch last_epoch() const override {
    return live_.entries.empty() ? 0 : live_.entries.back().epoch;
  }
  Epoch epoch_at(Offset offset) const override { return live_.entries.at(index_of(offset)).epoch; }
  std::vector<Entry> read(Offset from, size_t max_entries) const override;
  void append(const std::vector<Entry>& entries) override;
  void truncate_to(Offset end) override;
  void flush() override;
  void drop_prefix(Offset start) override;
  void reset_to(Offset start) override;

  void crash();
  // Hash of the entries below `end`; nullopt when `end` is not an entry
  // boundary of this log (or outside it).
  std::optional<uint64_t> prefix_hash(Offset end) const { return live_.hash_at(end); }
  std::optional<uint64_t> durable_prefix_hash(Offset end) const { return durable_.hash_at(end); }
  Offset durable_end_offset() const { return durable_.end_offset(); }
  const std::vector<Entry>& entries() const { return live_.entries; }
  // The index (in entries()) of the entry covering `offset`, and where an
  // entry ends.
  size_t index_of(Offset offset) const {
    return live_.entry_at.at(static_cast<size_t>(offset - live_.start));
  }
  Offset entry_end(size_t index) const { return live_.ends.at(index); }
  Offset entry_start(Offset offset) const {
    size_t index = index_of(offset);
    return index == 0 ? live_.start : live_.ends[index - 1];
  }
  // A read that started inside an entry: the protocol never asks for one.
  std::optional<Offset> misaligned_read() const { return misaligned_read_; }
  // Moves at every change of the (live) log: unchanged logs need no
  // pairwise re-check.
  uint64_t version() const { return version_; }

 private:
  struct Contents {
    Offset start = 0;
    std::vector<Entry> entries;
    std::vector<Offset> ends;         // ends[i]: the offset past entry i
    std::vector<uint64_t> hashes{0};  // hashes[i]: hash of everything below entry i
    std::vector<uint32_t> entry_at;   // entry_at[o - start]: the entry covering offset o
    Offset end_offset() const { return ends.empty() ? start : ends.back(); }
    std::optional<uint64_t> hash_at(Offset end) const;
    void push(const Entry& entry);
    void keep(size_t count);  // the first `count` entries
    // The entries from `first_kept` on, over a base at their start.
    void drop_front(size_t first_kept);
    void reset(Offset new_start, uint64_t base);
  };
  Contents live_;
  Contents durable_;
  size_t common_ = 0;  // the first entries of live_ that durable_ holds too
  const MemorySnapshotStore* snapshots_;
  mutable std::optional<Offset> misaligned_read_;
  uint64_t version_ = 0;
};

class MemoryQuorumStore final : public QuorumStateStore {
 public:
  QuorumState read() const override { return state_; }
  void write(const QuorumState& state) override { state_ = state; }

 private:
  QuorumState state_;
};

// One node of a simulated cluster: its disk survives a crash, its replica
// does not.
struct Node {
  NodeId id = 0;
  bool voter = true;
  MemorySnapshotStore snapshots;
  MemoryLog log{&snapshots};
  MemoryQuorumStore store;
  std::unique_ptr<RaftReplica> replica;  // null while crashed
  Offset last_high_watermark = -1;
  int group = 0;  // partition side; nodes talk only within their side
};
using Nodes = std::map<NodeId, std::unique_ptr<Node>>;

// The invariants, checked after every event of a run (random or scripted):
// one leader per epoch; logs that share an epoch at an offset agree up to
// it; what a node calls committed agrees with what was committed before and
// is durable on a majority of the voter set in effect when it was
// committed; a leader of the committing epoch or
// later holds every committed entry; high watermarks never go back, never
// pass their log and sit on entry boundaries; no read inside an entry.
class Checker {
 public:
  Checker(const Nodes& nodes, std::set<NodeId> voters)
      : nodes_(nodes), bootstrap_voters_(voters), committed_voters_(std::move(voters)) {}
  // The first invariant broken, or nullopt.
  std::optional<std::string> check();
  // After the faults stop: one leader, every log and high watermark equal to
  // it, and entries committed past `committed_before`.
  std::optional<std::string> check_converged(Offset committed_before) const;
  std::string describe() const;
  Offset committed_end() const { return committed_ends_.back(); }
  int elections() const { return elections_; }

 private:
  std::optional<std::string> check_node(Node& node);
  std::optional<std::string> agrees_with_committed(const Node& node, Offset hw);
  std::optional<std::string> check_committed_on_majority() const;
  std::optional<std::string> check_log_matching();
  std::optional<std::string> check_snapshot(const Node& node);
  std::set<NodeId> committing_voters(const Node& node) const;
  uint64_t committed_hash() const { return committed_hashes_.back(); }

  const Nodes& nodes_;
  std::set<NodeId> bootstrap_voters_;
  // The voter set in effect (on the committing leader) when the committed
  // end last moved: a majority of it must hold the committed entries.
  std::set<NodeId> committed_voters_;
  std::map<NodeId, SnapshotId> checked_snapshots_;  // content already checked
  std::vector<uint64_t> matched_versions_;          // [id]: its log at the last log matching check
  std::map<Epoch, NodeId> leaders_;
  int elections_ = 0;
  std::vector<Entry> committed_;
  std::vector<Offset> committed_ends_{0};  // [i]: the offset past the first i entries
  std::vector<uint64_t> committed_hashes_{0};
};

// A cluster driven by hand for directed scenarios: nothing happens unless
// the test says so (which node ticks, which messages arrive, who crashes),
// and the invariants are checked after every step.
class ScriptedCluster {
 public:
  // Nodes 1..voters bootstrap as voters, the next `observers` as observers.
  ScriptedCluster(int voters, RaftOptions options, int observers = 0);
  void advance(int64_t ms) { now_ += ms; }
  int64_t now() const { return now_; }
  void tick(NodeId id);
  // Delivers the pending messages from `from` to `to` once (their answers
  // become pending).
  void deliver(NodeId from, NodeId to);
  // Delivers messages between members of `group` until none is left; any
  // other message is lost.
  void deliver_within(const std::set<NodeId>& group);
  void drop_pending() { pending_.clear(); }
  // Ticks `id` every 100 ms (no one else) with the messages flowing within
  // `group` until it leads; whether it does.
  bool elect(NodeId id, const std::set<NodeId>& group);
  // `follower` fetches from `leader` until it has everything.
  void catch_up(NodeId leader, NodeId follower);
  void crash(NodeId id);
  void restart(NodeId id);
  RaftReplica& replica(NodeId id) { return *nodes_.at(id)->replica; }
  const MemoryLog& log(NodeId id) const { return nodes_.at(id)->log; }
  MemorySnapshotStore& snapshots(NodeId id) { return nodes_.at(id)->snapshots; }
  // The first invariant broken so far, or nullopt.
  const std::optional<std::string>& violation() const { return violation_; }
  // One leader, every log and high watermark equal to its log, or why not.
  std::optional<std::string> converged() const { return checker_.check_converged(-1); }

 private:
  void receive(const Envelope& envelope);
  void check();
  RaftOptions options_;
  Nodes nodes_;
  Checker checker_;
  std::vector<Envelope> pending_;
  int64_t now_ = 0;
  std::optional<std::string> violation_;
};

struct SimulationOptions {
  uint64_t seed = 1;
  int voters = 3;
  int observers = 0;
  int64_t fault_phase_ms = 20'000;  // faults happen during this much simulated time
  int64_t calm_phase_ms = 20'000;   // then no faults: the quorum must converge
  double drop_rate = 0.05;
  double duplicate_rate = 0.02;
  int64_t max_delay_ms = 40;
  int64_t crash_every_ms = 3'000;    // mean time between crashes (0: none)
  int64_t restart_after_ms = 1'500;  // mean time a crashed node stays down
  // Chance that a node crashes right after handling a message (having sent
  // its answers): the narrow windows between a state change and the next.
  double crash_after_message_rate = 0.001;
  int64_t partition_every_ms = 4'000;     // mean time between partitions (0: none)
  int64_t append_every_ms = 50;           // a client append to the leader
  int64_t snapshot_every_ms = 1'500;      // a node snapshots a committed prefix (0: never)
  int32_t max_snapshot_chunk_bytes = 16;  // small: a download takes several chunks
  // The leader is asked to add an observer or remove a voter (0: never);
  // the observers are the pool new voters come from.
  int64_t reconfigure_every_ms = 0;
  size_t max_fetch_entries = 64;  // small: replication in many steps
  // Long poll (RaftOptions::fetch_max_wait_ms; 0: off): the simulator then
  // parks a leader's answer that has nothing new for the fetcher, as the
  // broker's RaftManager does, and sends it once the leader's log or high
  // watermark moves, it stops leading, or the wait ends.
  int64_t fetch_max_wait_ms = 0;
  RaftOptions::Faults faults;  // Raft bugs put in on purpose
};

struct SimulationResult {
  bool ok = true;
  std::string violation;  // the invariant broken, with the state around it
  int64_t events = 0;
  Offset committed = 0;
  int elections = 0;
  int64_t snapshots = 0;        // taken by the nodes
  int64_t snapshot_chunks = 0;  // FetchSnapshot answers delivered
  int64_t voter_changes = 0;    // additions and removals the leader accepted
};

SimulationResult run_simulation(const SimulationOptions& options);

}  // namespace sluice::raft::sim
