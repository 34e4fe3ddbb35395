// The KRaft state machine (src/cluster/raft/) under the deterministic
// simulation: many seeds within a time budget, one seed replayed on demand,
// and proof that the invariants catch classic Raft bugs put in on purpose.
//
//   RAFT_SEED=<n>       replay one seed (its whole trace of faults is fixed by it)
//   RAFT_SEEDS=<n>      seeds of the sweep (default 100000, cut by the budget)
//   RAFT_BUDGET_S=<s>   the sweep's time budget (default 20; `make soak-raft` raises both)
#include "raft_simulation.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

namespace sluice::raft::sim {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

// Cluster shape and fault mix vary with the seed.
SimulationOptions options_for(uint64_t seed) {
  SimulationOptions options;
  options.seed = seed;
  const int shapes[] = {3, 3, 5, 1, 3, 5};
  options.voters = shapes[seed % 6];
  options.observers = seed % 4 == 0 ? 1 : 0;
  // A third of the seeds change voters, from a pool of two more nodes.
  if (seed % 3 == 1) {
    options.observers += 2;
    options.reconfigure_every_ms = 1'000;
  }
  options.drop_rate = (seed % 3) * 0.05;
  options.max_fetch_entries = seed % 5 == 0 ? 64 : seed % 5 + 1;
  // Half the seeds long-poll as the broker does (Kafka's 500 ms), half poll.
  options.fetch_max_wait_ms = seed % 2 == 0 ? 500 : 0;
  options.max_snapshot_chunk_bytes = static_cast<int32_t>(8 << (seed % 4));
  options.fault_phase_ms = 10'000;
  options.calm_phase_ms = 12'000;
  return options;
}

std::string replay_command(uint64_t seed) {
  return "RAFT_SEED=" + std::to_string(seed) +
         " build/tests/unit/cluster/cluster_raft_test --gtest_filter=RaftSimulation.Seeds";
}

TEST(RaftSimulation, Seeds) {
  using Clock = std::chrono::steady_clock;
  if (uint64_t seed = env_or("RAFT_SEED", 0); seed != 0) {
    SimulationResult result = run_simulation(options_for(seed));
    EXPECT_TRUE(result.ok) << result.violation;
    std::printf("seed %llu: %lld events, %d elections, %lld committed\n",
                static_cast<unsigned long long>(seed), static_cast<long long>(result.events),
                result.elections, static_cast<long long>(result.committed));
    return;
  }
  const uint64_t seeds = env_or("RAFT_SEEDS", 100'000);
  const auto budget = std::chrono::seconds(env_or("RAFT_BUDGET_S", 20));
  const auto start = Clock::now();
  uint64_t ran = 0;
  int64_t events = 0, elections = 0, snapshots = 0, chunks = 0, voter_changes = 0;
  for (uint64_t seed = 1; seed <= seeds && Clock::now() - start < budget; ++seed, ++ran) {
    SimulationResult result = run_simulation(options_for(seed));
    events += result.events;
    elections += result.elections;
    snapshots += result.snapshots;
    chunks += result.snapshot_chunks;
    voter_changes += result.voter_changes;
    ASSERT_TRUE(result.ok) << result.violation << "\nreplay: " << replay_command(seed);
  }
  std::printf(
      "%llu seeds, %lld events, %lld elections, %lld snapshots, %lld snapshot chunks "
      "fetched, %lld voter changes in %.1f s\n",
      static_cast<unsigned long long>(ran), static_cast<long long>(events),
      static_cast<long long>(elections), static_cast<long long>(snapshots),
      static_cast<long long>(chunks), static_cast<long long>(voter_changes),
      std::chrono::duration<double>(Clock::now() - start).count());
  EXPECT_GE(ran, 50u);
}

// The simulator's teeth: with a bug put in, some seed breaks an invariant.
uint64_t first_failing_seed(RaftOptions::Faults faults, std::string& violation) {
  for (uint64_t seed = 1; seed <= 5000; ++seed) {
    SimulationOptions options = options_for(seed);
    options.faults = faults;
    // More crashes: the bugs need a leader to die at the wrong moment.
    options.crash_every_ms = 400;
    options.restart_after_ms = 300;
    options.crash_after_message_rate = 0.01;
    if (faults.voter_changes_without_waiting) {
      options.observers += options.reconfigure_every_ms > 0 ? 0 : 2;
      options.reconfigure_every_ms = 300;
    }
    SimulationResult result = run_simulation(options);
    // A safety invariant, that is: a run that merely failed to converge
    // (a bug can stall a quorum too) does not count.
    const bool liveness_only = result.violation.find("converge") != std::string::npos ||
                               result.violation.find("no single leader") != std::string::npos ||
                               result.violation.find("nothing was committed") != std::string::npos;
    if (!result.ok && !liveness_only) {
      violation = result.violation;
      return seed;
    }
  }
  return 0;
}

// Some seed breaks a safety invariant with `faults` on.
void expect_caught(RaftOptions::Faults faults) {
  std::string violation;
  uint64_t seed = first_failing_seed(faults, violation);
  EXPECT_NE(seed, 0u) << "no seed caught the bug";
  std::printf("caught at seed %llu: %s\n", static_cast<unsigned long long>(seed),
              violation.substr(0, violation.find('\n')).c_str());
}

TEST(RaftSimulation, CatchesAVoteGrantedWithoutTheLogCheck) {
  expect_caught({.grant_vote_without_log_check = true});
}

TEST(RaftSimulation, CatchesALeaderCountingEntriesNotYetFlushed) {
  expect_caught({.leader_counts_unflushed_entries = true});
}

// Changes every 300 ms (a second one right behind the first half the
// time): the broken safety is that a committed entry is not on a majority of
// the voters it was committed with. (The same settings without the bug kept
// every invariant and converged over 3,000 seeds.)
TEST(RaftSimulation, CatchesVoterChangesNotWaitingForTheLastOne) {
  expect_caught({.voter_changes_without_waiting = true});
}

TEST(RaftSimulation, CatchesAFollowerKeepingADivergentTail) {
  expect_caught({.follower_keeps_divergent_tail = true});
}

// --- Raft paper's Figure 8, scripted ---
//
// Five voters. (a) 1 leads epoch 1 and writes x at offset 1, which reaches 2
// only. (b) 1 crashes; 5 leads epoch 2 with the votes of 3 and 4 and writes
// its epoch marker at offset 1, which reaches nobody. (c) 5 crashes; 1
// restarts and leads epoch 3 (2 and 3 voting), and x reaches 3: x is on a
// majority, but 1's own epoch 3 entry is not. (d) 1 crashes; 5 restarts and
// leads epoch 4 with the votes of 3 and 4 (its last epoch 2 beats their 1),
// and would overwrite x everywhere. Committing x in (c) by counting replicas
// is the bug: the invariants see a leader without a committed entry.

#define ASSERT_OR_RETURN(condition)                               \
  do {                                                            \
    if (!(condition)) return "scenario went astray: " #condition; \
  } while (false)

// Plays (a) to (d); the first violation of an invariant, if any.
std::optional<std::string> play_figure_8(RaftOptions::Faults faults) {
  RaftOptions options;
  options.faults = faults;
  options.max_fetch_entries = 1;  // replication in single steps
  ScriptedCluster cluster(5, options);
  const std::set<NodeId> all{1, 2, 3, 4, 5};

  // (a)
  cluster.advance(2000);  // past every election timeout, but only 1 ticks
  ASSERT_OR_RETURN(cluster.elect(1, all));
  for (NodeId follower : {2, 3, 4, 5}) cluster.catch_up(1, follower);
  EXPECT_EQ(cluster.replica(1).high_watermark(), 1);  // its epoch marker
  EXPECT_EQ(cluster.replica(1).append({Entry{0, "x", 1}}), 1);
  cluster.catch_up(1, 2);
  EXPECT_EQ(cluster.log(2).end_offset(), 2);

  // (b)
  cluster.crash(1);
  cluster.advance(2500);  // the followers' fetch timeout
  ASSERT_OR_RETURN(cluster.elect(5, {3, 4, 5}));
  EXPECT_EQ(cluster.replica(5).epoch(), 2);
  EXPECT_EQ(cluster.log(5).epoch_at(1), 2);  // its marker where 1 and 2 hold x

  // (c)
  cluster.crash(5);
  cluster.restart(1);
  cluster.advance(2500);
  ASSERT_OR_RETURN(cluster.elect(1, {1, 2, 3}));
  EXPECT_EQ(cluster.replica(1).epoch(), 3);
  cluster.catch_up(1, 2);  // 2 takes 1's epoch 3 marker at offset 2
  cluster.advance(100);
  cluster.tick(3);        // 3 fetches from offset 1 ...
  cluster.deliver(3, 1);  // ... gets x ...
  cluster.deliver(1, 3);
  cluster.deliver(3, 1);   // ... and fetches past it: x is on 1, 2 and 3
  cluster.drop_pending();  // but 1's epoch marker never reaches 3
  EXPECT_EQ(cluster.log(3).end_offset(), 2);
  const bool x_committed = cluster.replica(1).high_watermark() >= 2;
  EXPECT_EQ(x_committed, faults.leader_commits_older_epoch_by_counting);
  if (cluster.violation()) return cluster.violation();

  // (d)
  cluster.crash(1);
  cluster.restart(5);
  cluster.advance(2500);
  ASSERT_OR_RETURN(cluster.elect(5, {3, 4, 5}));
  EXPECT_EQ(cluster.replica(5).epoch(), 4);
  if (cluster.violation()) return cluster.violation();

  // Everyone back: the quorum settles on 5's log.
  cluster.restart(1);
  for (int round = 0; round < 100; ++round) {
    cluster.advance(50);
    for (NodeId id : all) cluster.tick(id);
    cluster.deliver_within(all);
  }
  if (cluster.violation()) return cluster.violation();
  return cluster.converged();
}

TEST(RaftFigure8, CorrectRaftKeepsItsInvariants) {
  std::optional<std::string> violation = play_figure_8({});
  EXPECT_FALSE(violation) << *violation;
}

TEST(RaftFigure8, CatchesALeaderCommittingAnOlderEpochByCounting) {
  std::optional<std::string> violation =
      play_figure_8({.leader_commits_older_epoch_by_counting = true});
  ASSERT_TRUE(violation) << "the scenario played out without breaking an invariant";
  EXPECT_NE(violation->find("leader 5 lacks committed entries"), std::string::npos) << *violation;
  std::printf("caught: %s\n", violation->substr(0, violation->find('\n')).c_str());
}

}  // namespace
}  // namespace sluice::raft::sim
