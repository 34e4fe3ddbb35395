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

// Node 1 of voters {1, 2, 3} elected with node 2's votes; returns the time.
int64_t elect(RaftReplica& replica) {
  const int64_t now = 2000;  // past any election timeout (1000 to 2000 ms)
  replica.tick(now);
  EXPECT_EQ(replica.role(), Role::prospective);
  replica.receive({2, 1, VoteResponse{replica.epoch(), std::nullopt, true, true}}, now);
  EXPECT_EQ(replica.role(), Role::candidate);
  replica.receive({2, 1, VoteResponse{replica.epoch(), std::nullopt, true, false}}, now);
  EXPECT_EQ(replica.role(), Role::leader);
  return now;
}

FetchRequest fetch(const RaftReplica& leader, NodeId from, Offset offset, Epoch last_epoch) {
  return FetchRequest{leader.epoch(), from, offset, last_epoch};
}

TEST(RaftReplica, QuorumInfoReportsEachReplicasFetchesAsKafkaDoes) {
  MemoryLog log;
  MemoryQuorumStore store;
  RaftReplica leader(options_for(1, {1, 2, 3}), log, store, 0);
  const int64_t t = elect(leader);
  leader.append({Entry{0, "a", 2}});  // [0] marker, [1, 3) a
  EXPECT_EQ(log.end_offset(), 3);

  leader.receive({2, 1, fetch(leader, 2, 0, 0)}, t + 100);
  QuorumInfo info = leader.quorum_info(t + 100);
  ASSERT_EQ(info.voters.size(), 3u);
  EXPECT_EQ(info.voters[1], (ReplicaInfo{2, 0, t + 100, -1}));  // behind: not caught up

  leader.append({Entry{0, "b", 1}});  // [3, 4) b
  // Reaches the end the leader had at its previous fetch (3): caught up as
  // of that fetch.
  leader.receive({2, 1, fetch(leader, 2, 3, 1)}, t + 200);
  info = leader.quorum_info(t + 200);
  EXPECT_EQ(info.voters[1], (ReplicaInfo{2, 3, t + 200, t + 100}));
  EXPECT_EQ(info.high_watermark, 3);

  leader.receive({2, 1, fetch(leader, 2, 4, 1)}, t + 300);
  leader.receive({9, 1, fetch(leader, 9, 4, 1)}, t + 300);  // an observer
  info = leader.quorum_info(t + 400);
  EXPECT_EQ(info.error, RaftError::none);
  EXPECT_EQ(info.leader_id, 1);
  EXPECT_EQ(info.leader_epoch, leader.epoch());
  EXPECT_EQ(info.high_watermark, 4);
  EXPECT_EQ(info.voters[0], (ReplicaInfo{1, 4, t + 400, t + 400}));  // the leader: "now"
  EXPECT_EQ(info.voters[1], (ReplicaInfo{2, 4, t + 300, t + 300}));
  EXPECT_EQ(info.voters[2], (ReplicaInfo{3, -1, -1, -1}));  // never fetched
  ASSERT_EQ(info.observers.size(), 1u);
  EXPECT_EQ(info.observers[0], (ReplicaInfo{9, 4, t + 300, t + 300}));
  // Kafka forgets an observer silent for five minutes.
  EXPECT_TRUE(leader.quorum_info(t + 300 + 300'000).observers.empty());
}

TEST(RaftReplica, QuorumInfoOnAFollowerIsNotLeader) {
  MemoryLog log;
  MemoryQuorumStore store;
  RaftReplica follower(options_for(2, {1, 2, 3}), log, store, 0);
  follower.receive({1, 2, BeginQuorumEpochRequest{1, 1}}, 10);
  QuorumInfo info = follower.quorum_info(10);
  EXPECT_EQ(info.error, RaftError::not_leader);
  EXPECT_EQ(info.leader_id, 1);
  EXPECT_EQ(to_error_code(info.error), ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

}  // namespace
}  // namespace sluice::raft
