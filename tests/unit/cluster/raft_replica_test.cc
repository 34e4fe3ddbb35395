// Directed tests of the KRaft state machine (src/cluster/raft/): one replica
// or a few driven by hand, message by message, where the simulation's random
// sweep (raft_simulation_test.cc) would reach a case only by luck.
#include <gtest/gtest.h>

#include "raft_simulation.h"

namespace sluice::raft {
namespace {

using sim::MemoryLog;
using sim::MemoryQuorumStore;

RaftOptions options_for(NodeId id, std::set<NodeId> voters) {
  RaftOptions options;
  options.node_id = id;
  options.voters = std::move(voters);
  return options;
}

TEST(RaftReplica, ASoleVoterLeadsOnConstruction) {
  MemoryLog log;
  MemoryQuorumStore store;
  RaftReplica replica(options_for(1, {1}), log, store, 0);
  EXPECT_EQ(replica.role(), Role::leader);
  EXPECT_EQ(replica.epoch(), 1);  // a new epoch, as an election would give
  EXPECT_EQ(replica.leader(), 1);
  EXPECT_EQ(store.read().epoch, 1);
  // Its epoch marker is committed at once: it is its own majority.
  EXPECT_EQ(log.end_offset(), 1);
  EXPECT_EQ(replica.high_watermark(), 1);
  EXPECT_EQ(replica.append({Entry{0, "a", 3}}), 1);
  EXPECT_EQ(replica.high_watermark(), 4);
  EXPECT_TRUE(replica.tick(1).empty());
}

TEST(RaftReplica, ASoleVoterLeadsAgainAfterARestartInANewEpoch) {
  MemoryLog log;
  MemoryQuorumStore store;
  {
    RaftReplica replica(options_for(1, {1}), log, store, 0);
    replica.append({Entry{0, "a", 2}});
  }
  RaftReplica restarted(options_for(1, {1}), log, store, 10);
  EXPECT_EQ(restarted.role(), Role::leader);
  EXPECT_EQ(restarted.epoch(), 2);
  EXPECT_EQ(log.end_offset(), 4);  // marker, batch of 2, new marker
  EXPECT_EQ(restarted.high_watermark(), 4);
}

TEST(RaftReplica, OneOfSeveralVotersWaitsForAnElection) {
  MemoryLog log;
  MemoryQuorumStore store;
  RaftReplica replica(options_for(1, {1, 2, 3}), log, store, 0);
  EXPECT_EQ(replica.role(), Role::unattached);
  EXPECT_TRUE(replica.tick(1).empty());
  EXPECT_EQ(replica.epoch(), 0);
}

TEST(RaftReplica, AnObserverOfASoleVoterDoesNotLead) {
  MemoryLog log;
  MemoryQuorumStore store;
  RaftReplica replica(options_for(2, {1}), log, store, 0);
  EXPECT_NE(replica.role(), Role::leader);
}

}  // namespace
}  // namespace sluice::raft
