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
  options.drop_rate = (seed % 3) * 0.05;
  options.max_fetch_entries = seed % 5 == 0 ? 64 : seed % 5 + 1;
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
  int64_t events = 0, elections = 0;
  for (uint64_t seed = 1; seed <= seeds && Clock::now() - start < budget; ++seed, ++ran) {
    SimulationResult result = run_simulation(options_for(seed));
    events += result.events;
    elections += result.elections;
    ASSERT_TRUE(result.ok) << result.violation << "\nreplay: " << replay_command(seed);
  }
  std::printf("%llu seeds, %lld events, %lld elections in %.1f s\n",
              static_cast<unsigned long long>(ran), static_cast<long long>(events),
              static_cast<long long>(elections),
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
    SimulationResult result = run_simulation(options);
    if (!result.ok) {
      violation = result.violation;
      return seed;
    }
  }
  return 0;
}

void expect_caught(RaftOptions::Faults faults) {
  std::string violation;
  uint64_t seed = first_failing_seed(faults, violation);
  ASSERT_NE(seed, 0u) << "no seed caught the bug";
  std::printf("caught at seed %llu: %s\n", static_cast<unsigned long long>(seed),
              violation.substr(0, violation.find('\n')).c_str());
}

TEST(RaftSimulation, CatchesAVoteGrantedWithoutTheLogCheck) {
  expect_caught({.grant_vote_without_log_check = true});
}

TEST(RaftSimulation, CatchesALeaderCountingEntriesNotYetFlushed) {
  expect_caught({.leader_counts_unflushed_entries = true});
}

TEST(RaftSimulation, CatchesAFollowerKeepingADivergentTail) {
  expect_caught({.follower_keeps_divergent_tail = true});
}

}  // namespace
}  // namespace sluice::raft::sim
