// One replicated partition under the deterministic simulation
// (partition_simulation.h): many seeds within a time budget, one seed
// replayed on demand, and proof that the invariants catch broken rules.
//
//   PARTITION_SEED=<n>      replay one seed (its whole schedule of faults is fixed by it)
//   PARTITION_SEEDS=<n>     seeds of the sweep (default 100000, cut by the budget)
//   PARTITION_FIRST_SEED=<n>  where the sweep starts (default 1)
//   PARTITION_BUDGET_S=<s>  the sweep's time budget (default 20; `make soak-partitions`
//                           raises both)
//   PARTITION_SIM_TRACE=1   print every traced event of the run to stderr
#include "partition_simulation.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

namespace sluice::cluster::psim {
namespace {

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::strtoull(text, nullptr, 10) : fallback;
}

// Cluster shape and fault mix vary with the seed.
Options options_for(uint64_t seed) {
  Options options;
  options.seed = seed;
  const int shapes[][3] = {{3, 3, 2}, {3, 3, 2}, {4, 3, 2}, {3, 3, 1}, {5, 3, 2}, {3, 2, 1}};
  const auto& shape = shapes[seed % 6];
  options.brokers = shape[0];
  options.replication_factor = shape[1];
  options.min_insync_replicas = shape[2];
  options.drop_rate = static_cast<double>(seed % 3) * 0.05;
  options.fetch_max_bytes = seed % 4 == 0 ? 1 << 20 : 200 + 100 * (seed % 4);
  // A quarter of the seeds lose power now and then (the logs then fsync
  // every append: flush.messages=1).
  options.power_loss_rate = seed % 4 == 1 ? 0.3 : 0.0;
  return options;
}

std::string replay_command(uint64_t seed) {
  return "PARTITION_SEED=" + std::to_string(seed) +
         " build/tests/unit/cluster/cluster_partition_sim_test"
         " --gtest_filter=PartitionSimulation.Seeds";
}

class PartitionSimulation : public ::testing::Test {
 protected:
  void SetUp() override { spdlog::set_level(spdlog::level::off); }
  void TearDown() override { spdlog::set_level(spdlog::level::info); }
};

TEST_F(PartitionSimulation, Seeds) {
  using Clock = std::chrono::steady_clock;
  if (uint64_t seed = env_or("PARTITION_SEED", 0); seed != 0) {
    Result result = run(options_for(seed));
    EXPECT_TRUE(result.ok) << result.violation;
    std::printf(
        "seed %llu: %lld events, %lld acknowledged, committed %lld, %lld leader changes, %lld "
        "ISR changes, %lld truncations, %lld crashes (%lld power losses)\n",
        static_cast<unsigned long long>(seed), static_cast<long long>(result.events),
        static_cast<long long>(result.acknowledged), static_cast<long long>(result.committed),
        static_cast<long long>(result.leader_changes), static_cast<long long>(result.isr_changes),
        static_cast<long long>(result.truncations), static_cast<long long>(result.crashes),
        static_cast<long long>(result.power_losses));
    return;
  }
  const uint64_t first = env_or("PARTITION_FIRST_SEED", 1);
  const uint64_t seeds = env_or("PARTITION_SEEDS", 100'000);
  const auto budget = std::chrono::seconds(env_or("PARTITION_BUDGET_S", 20));
  const auto start = Clock::now();
  // At least this many seeds whatever the budget: a slow or loaded machine
  // (ASan under a parallel ctest) runs longer rather than checking less.
  const uint64_t floor = std::min<uint64_t>(seeds, 20);
  uint64_t ran = 0;
  Result total;
  for (uint64_t seed = first;
       seed < first + seeds && (ran < floor || Clock::now() - start < budget); ++seed, ++ran) {
    Result result = run(options_for(seed));
    total.events += result.events;
    total.acknowledged += result.acknowledged;
    total.leader_changes += result.leader_changes;
    total.isr_changes += result.isr_changes;
    total.truncations += result.truncations;
    total.crashes += result.crashes;
    total.power_losses += result.power_losses;
    ASSERT_TRUE(result.ok) << result.violation << "\nreplay: " << replay_command(seed);
  }
  std::printf(
      "%llu seeds, %lld events, %lld batches acknowledged, %lld leader changes, %lld ISR "
      "changes, %lld truncations, %lld crashes (%lld power losses) in %.1f s\n",
      static_cast<unsigned long long>(ran), static_cast<long long>(total.events),
      static_cast<long long>(total.acknowledged), static_cast<long long>(total.leader_changes),
      static_cast<long long>(total.isr_changes), static_cast<long long>(total.truncations),
      static_cast<long long>(total.crashes), static_cast<long long>(total.power_losses),
      std::chrono::duration<double>(Clock::now() - start).count());
}

// The simulator's teeth: with a rule broken, some seed breaks an invariant.
uint64_t first_failing_seed(Faults faults, std::string& violation) {
  for (uint64_t seed = 1; seed <= 500; ++seed) {
    Options options = options_for(seed);
    options.faults = faults;
    Result result = run(options);
    if (!result.ok && result.violation.find("converge") == std::string::npos) {
      violation = result.violation;
      return seed;
    }
  }
  return 0;
}

void expect_caught(Faults faults) {
  std::string violation;
  uint64_t seed = first_failing_seed(faults, violation);
  EXPECT_NE(seed, 0u) << "no seed caught the broken rule";
  std::printf("caught at seed %llu: %s\n", static_cast<unsigned long long>(seed),
              violation.substr(0, violation.find('\n')).c_str());
}

TEST_F(PartitionSimulation, CatchesAHighWatermarkIgnoringAnIsrMember) {
  expect_caught({.high_watermark_ignores_a_follower = true});
}

TEST_F(PartitionSimulation, CatchesUncleanElectionsLosingCommittedRecords) {
  expect_caught({.unclean_election = true});
}

}  // namespace
}  // namespace sluice::cluster::psim
