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

// An in-memory log whose unflushed part a crash discards. Keeps a hash of
// every prefix so the invariants compare logs in O(1).
class MemoryLog final : public RaftLog {
 public:
  Offset end_offset() const override { return static_cast<Offset>(entries_.size()); }
  Epoch last_epoch() const override { return entries_.empty() ? 0 : entries_.back().epoch; }
  Epoch epoch_at(Offset offset) const override {
    return entries_.at(static_cast<size_t>(offset)).epoch;
  }
  std::vector<Entry> read(Offset from, size_t max_entries) const override;
  void append(const std::vector<Entry>& entries) override;
  void truncate_to(Offset end) override;
  void flush() override {
    durable_ = entries_;
    durable_hashes_ = hashes_;
  }

  void crash();
  // Hash of entries [0, end).
  uint64_t prefix_hash(Offset end) const { return hashes_.at(static_cast<size_t>(end)); }
  const std::vector<Entry>& durable() const { return durable_; }
  uint64_t durable_prefix_hash(Offset end) const {
    return durable_hashes_.at(static_cast<size_t>(end));
  }
  const Entry& at(Offset offset) const { return entries_.at(static_cast<size_t>(offset)); }

 private:
  void rehash();
  std::vector<Entry> entries_;
  std::vector<Entry> durable_;
  std::vector<uint64_t> hashes_{0};
  std::vector<uint64_t> durable_hashes_{0};
};

class MemoryQuorumStore final : public QuorumStateStore {
 public:
  QuorumState read() const override { return state_; }
  void write(const QuorumState& state) override { state_ = state; }

 private:
  QuorumState state_;
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
  int64_t partition_every_ms = 4'000;  // mean time between partitions (0: none)
  int64_t append_every_ms = 50;        // a client append to the leader
  size_t max_fetch_entries = 64;       // small: replication in many steps
  RaftOptions::Faults faults;          // Raft bugs put in on purpose
};

struct SimulationResult {
  bool ok = true;
  std::string violation;  // the invariant broken, with the state around it
  int64_t events = 0;
  Offset committed = 0;
  int elections = 0;
};

SimulationResult run_simulation(const SimulationOptions& options);

}  // namespace sluice::raft::sim
