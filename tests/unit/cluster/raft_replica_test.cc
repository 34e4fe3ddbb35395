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

size_t fetches_in(const std::vector<Envelope>& out) {
  size_t count = 0;
  for (const Envelope& envelope : out)
    count += std::holds_alternative<FetchRequest>(envelope.message);
  return count;
}

// Long poll: one fetch in flight; the next leaves on the answer, empty or
// not, or once the first is taken as lost (max wait + fetch interval).
TEST(RaftReplica, ALongPollingFollowerKeepsOneFetchInFlight) {
  MemoryLog log;
  MemoryQuorumStore store;
  RaftOptions options = options_for(2, {1, 2, 3});
  options.fetch_max_wait_ms = 500;
  RaftReplica follower(options, log, store, 0);
  follower.receive({1, 2, BeginQuorumEpochRequest{1, 1}}, 0);
  ASSERT_EQ(follower.role(), Role::follower);
  EXPECT_EQ(fetches_in(follower.tick(0)), 1u);
  for (int64_t now = 10; now < 1050; now += 10)
    EXPECT_EQ(fetches_in(follower.tick(now)), 0u) << now;
  // The leader held it and answers with nothing new: the next leaves at once.
  FetchResponse empty;
  empty.epoch = 1;
  empty.leader = 1;
  empty.high_watermark = 0;
  EXPECT_EQ(fetches_in(follower.receive({1, 2, empty}, 1045)), 1u);
  EXPECT_EQ(fetches_in(follower.tick(1050)), 0u);
  // Unanswered: sent again once twice max wait + fetch interval passed.
  EXPECT_EQ(fetches_in(follower.tick(1045 + 1040)), 0u);
  EXPECT_EQ(fetches_in(follower.tick(1045 + 1050)), 1u);
  // An error answer, or a failed request: the next one a fetch interval
  // later, not a max wait.
  FetchResponse refused = empty;
  refused.error = FetchResponse::Error::not_leader;
  EXPECT_TRUE(follower.receive({1, 2, refused}, 2100).empty());
  EXPECT_EQ(fetches_in(follower.tick(2150)), 1u);
  follower.fetch_failed(2200);
  EXPECT_EQ(fetches_in(follower.tick(2240)), 0u);
  EXPECT_EQ(fetches_in(follower.tick(2250)), 1u);
  EXPECT_EQ(follower.role(), Role::follower);
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

// Graceful shutdown of a leader: EndQuorumEpoch to the other voters, and
// it leads no more; on a follower nothing.
TEST(RaftReplica, ALeaderSteppingDownTellsTheOtherVoters) {
  MemoryLog log;
  MemoryQuorumStore store;
  RaftReplica replica(options_for(1, {1, 2, 3}), log, store, 0);
  const int64_t now = elect(replica);
  std::vector<Envelope> out = replica.step_down(now);
  std::set<NodeId> told;
  for (const Envelope& envelope : out)
    if (std::holds_alternative<EndQuorumEpochRequest>(envelope.message)) told.insert(envelope.to);
  EXPECT_EQ(told, (std::set<NodeId>{2, 3}));
  EXPECT_NE(replica.role(), Role::leader);
  EXPECT_TRUE(replica.step_down(now).empty());
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

// --- snapshots, on a scripted cluster whose invariants check every step ---

using sim::ScriptedCluster;

// Node `id` snapshots everything it has committed; the content is the
// digest the invariants check, padded to several chunks.
SnapshotId snapshot_committed(ScriptedCluster& cluster, NodeId id) {
  const Offset end = cluster.replica(id).high_watermark();
  const std::string bytes = sim::MemorySnapshotStore::encode(*cluster.log(id).prefix_hash(end), 30);
  EXPECT_EQ(cluster.replica(id).create_snapshot(end, bytes), RaftError::none);
  return *cluster.replica(id).latest_snapshot();
}

struct SnapshotCluster : ::testing::Test {
  SnapshotCluster() : cluster(3, options()) {}
  static RaftOptions options() {
    RaftOptions options;
    options.max_snapshot_chunk_bytes = 8;  // 46 bytes: six chunks
    return options;
  }
  // 1 leads; 2 follows it closely, 3 holds only 1's epoch marker.
  void SetUp() override {
    cluster.advance(2000);
    ASSERT_TRUE(cluster.elect(1, {1, 2, 3}));
    cluster.catch_up(1, 2);
    cluster.catch_up(1, 3);
    for (int batch = 0; batch < 3; ++batch)
      cluster.replica(1).append({Entry{0, "b" + std::to_string(batch), batch + 1}});
    cluster.catch_up(1, 2);
    ASSERT_EQ(cluster.replica(1).high_watermark(), 7);
  }
  void TearDown() override { EXPECT_FALSE(cluster.violation()) << *cluster.violation(); }
  ScriptedCluster cluster;
};

TEST_F(SnapshotCluster, ALeaderSnapshotDropsTheLogPrefix) {
  const SnapshotId id = snapshot_committed(cluster, 1);
  EXPECT_EQ(id, (SnapshotId{7, 1}));
  EXPECT_EQ(cluster.log(1).start_offset(), 7);
  EXPECT_EQ(cluster.log(1).end_offset(), 7);
  // Beyond the high watermark, or not past the last snapshot: refused.
  EXPECT_EQ(cluster.replica(1).create_snapshot(8, "x"), RaftError::invalid_request);
  EXPECT_EQ(cluster.replica(1).create_snapshot(7, "x"), RaftError::invalid_request);
}

TEST_F(SnapshotCluster, AFollowerBehindTheLogStartFetchesTheSnapshotInChunks) {
  const SnapshotId id = snapshot_committed(cluster, 1);
  cluster.replica(1).append({Entry{0, "after", 2}});  // [7, 9)
  cluster.catch_up(1, 3);
  EXPECT_EQ(cluster.replica(3).latest_snapshot(), id);
  EXPECT_EQ(cluster.snapshots(3).read(id, 0, 100), cluster.snapshots(1).read(id, 0, 100));
  EXPECT_EQ(cluster.log(3).start_offset(), 7);
  EXPECT_EQ(cluster.log(3).end_offset(), 9);  // and the log after it
  EXPECT_EQ(cluster.log(3).prefix_hash(9), cluster.log(1).prefix_hash(9));
}

TEST_F(SnapshotCluster, ACrashDuringTheDownloadLeavesThePreviousSnapshot) {
  // 3 first gets a snapshot at 7 ...
  snapshot_committed(cluster, 1);
  cluster.catch_up(1, 3);
  const SnapshotId first = *cluster.replica(3).latest_snapshot();
  // ... then falls behind the next one and crashes after two chunks of it.
  cluster.replica(1).append({Entry{0, "c", 4}});
  cluster.catch_up(1, 2);
  const SnapshotId second = snapshot_committed(cluster, 1);
  EXPECT_EQ(second, (SnapshotId{11, 1}));
  cluster.advance(100);
  cluster.tick(3);
  cluster.deliver(3, 1);  // Fetch, answered with the snapshot id
  cluster.deliver(1, 3);  // FetchSnapshot from 0
  cluster.deliver(3, 1);
  cluster.deliver(1, 3);  // chunk [0, 8)
  cluster.deliver(3, 1);
  cluster.deliver(1, 3);  // chunk [8, 16)
  cluster.crash(3);
  cluster.drop_pending();
  cluster.restart(3);
  EXPECT_EQ(cluster.replica(3).latest_snapshot(), first);
  EXPECT_EQ(cluster.log(3).start_offset(), first.end_offset);
  cluster.catch_up(1, 3);  // it follows 1 again (its quorum state) and starts over
  EXPECT_EQ(cluster.replica(3).latest_snapshot(), second);
  EXPECT_EQ(cluster.log(3).end_offset(), 11);
}

TEST_F(SnapshotCluster, ARestartedNodeStartsFromItsSnapshotAndLog) {
  snapshot_committed(cluster, 2);
  cluster.replica(1).append({Entry{0, "after", 2}});
  cluster.catch_up(1, 2);
  cluster.crash(2);
  cluster.restart(2);
  EXPECT_EQ(cluster.replica(2).latest_snapshot(), (SnapshotId{7, 1}));
  EXPECT_EQ(cluster.replica(2).high_watermark(), 7);  // what the snapshot holds is committed
  EXPECT_EQ(cluster.log(2).start_offset(), 7);
  EXPECT_EQ(cluster.log(2).end_offset(), 9);
}

TEST_F(SnapshotCluster, ARestartAfterACrashBeforeTheLogDroppedItsPrefixDropsItThen) {
  // The snapshot committed, the log untouched: as if the node crashed
  // between the two steps of create_snapshot.
  const Offset end = 7;
  const SnapshotId id{end, 1};
  sim::MemorySnapshotStore& store = cluster.snapshots(2);
  store.begin_write(id);
  store.append(encode_snapshot(
      {1, 2, 3}, sim::MemorySnapshotStore::encode(*cluster.log(2).prefix_hash(end), 0)));
  store.commit();
  cluster.crash(2);
  cluster.restart(2);
  EXPECT_EQ(cluster.log(2).start_offset(), 7);
  EXPECT_EQ(cluster.replica(2).latest_snapshot(), id);
}

// --- voter changes (KIP-853) ---

struct VoterChanges : ::testing::Test {
  // Voters 1, 2, 3 (1 leads, its epoch committed) and observer 4.
  VoterChanges() : cluster(3, RaftOptions{}, 1) {}
  void SetUp() override {
    cluster.advance(2000);
    ASSERT_TRUE(cluster.elect(1, all));
    for (NodeId follower : {2, 3}) cluster.catch_up(1, follower);
    ASSERT_EQ(cluster.replica(1).high_watermark(), 1);
  }
  void TearDown() override { EXPECT_FALSE(cluster.violation()) << *cluster.violation(); }
  // `id` ticks and everyone talks, a few rounds.
  void rounds(std::initializer_list<NodeId> ticking, int count = 5) {
    for (int round = 0; round < count; ++round) {
      cluster.advance(60);
      for (NodeId id : ticking) cluster.tick(id);
      cluster.deliver_within(all);
    }
  }
  const std::set<NodeId> all{1, 2, 3, 4};
  ScriptedCluster cluster;
};

TEST_F(VoterChanges, RefusalsMapToKafkasErrors) {
  RaftReplica& leader = cluster.replica(1);
  EXPECT_EQ(cluster.replica(2).add_voter(4, cluster.now()).error, RaftError::not_leader);
  EXPECT_EQ(leader.add_voter(-1, cluster.now()).error, RaftError::invalid_request);
  EXPECT_EQ(leader.add_voter(2, cluster.now()).error, RaftError::duplicate_voter);
  EXPECT_EQ(leader.remove_voter(4).error, RaftError::voter_not_found);
  // 4 never fetched: not caught up.
  EXPECT_EQ(leader.add_voter(4, cluster.now()).error, RaftError::request_timed_out);
  EXPECT_EQ(to_error_code(RaftError::request_timed_out), ErrorCode::REQUEST_TIMED_OUT);
  EXPECT_EQ(to_error_code(RaftError::duplicate_voter), ErrorCode::DUPLICATE_VOTER);
  EXPECT_EQ(to_error_code(RaftError::voter_not_found), ErrorCode::VOTER_NOT_FOUND);
  // One change at a time: the first is not committed yet.
  VoterChange removal = leader.remove_voter(3);
  EXPECT_EQ(removal.error, RaftError::none);
  EXPECT_EQ(leader.remove_voter(2).error, RaftError::request_timed_out);
  EXPECT_EQ(leader.voters(), (std::set<NodeId>{1, 2}));  // in effect before it commits
}

TEST_F(VoterChanges, ACaughtUpObserverBecomesAVoter) {
  rounds({4});  // 4 finds the leader and fetches up to its end
  VoterChange change = cluster.replica(1).add_voter(4, cluster.now());
  ASSERT_EQ(change.error, RaftError::none);
  EXPECT_EQ(cluster.replica(1).voters(), (std::set<NodeId>{1, 2, 3, 4}));
  EXPECT_EQ(cluster.log(1).entries().back().kind, EntryKind::voters);
  rounds({2, 3, 4});
  EXPECT_GT(cluster.replica(1).high_watermark(), change.offset);  // committed
  EXPECT_TRUE(cluster.replica(4).is_voter());
  QuorumInfo info = cluster.replica(1).quorum_info(cluster.now());
  EXPECT_EQ(info.voters.size(), 4u);
  EXPECT_TRUE(info.observers.empty());
  // A snapshot past the voters entry carries the set: a restart from it
  // (the entry itself gone with the log's prefix) still knows 4 votes.
  snapshot_committed(cluster, 2);
  cluster.crash(2);
  cluster.restart(2);
  EXPECT_EQ(cluster.log(2).start_offset(), cluster.log(2).end_offset());
  EXPECT_EQ(cluster.replica(2).voters(), (std::set<NodeId>{1, 2, 3, 4}));
}

TEST_F(VoterChanges, TruncatingAVotersEntryRevertsToThePreviousSet) {
  rounds({4});
  ASSERT_EQ(cluster.replica(1).add_voter(4, cluster.now()).error, RaftError::none);
  cluster.drop_pending();
  cluster.crash(1);  // nobody got the voters entry
  cluster.advance(2500);
  ASSERT_TRUE(cluster.elect(2, {2, 3}));
  cluster.catch_up(2, 3);
  cluster.restart(1);
  EXPECT_EQ(cluster.replica(1).voters(), (std::set<NodeId>{1, 2, 3, 4}));  // from its log
  cluster.advance(1100);
  cluster.tick(2);  // BeginQuorumEpoch again, to the voter that has not fetched
  cluster.deliver_within({1, 2, 3});
  cluster.catch_up(2, 1);  // diverges, truncates the entry
  EXPECT_EQ(cluster.replica(1).voters(), (std::set<NodeId>{1, 2, 3}));
  EXPECT_EQ(cluster.replica(1).leader(), 2);
}

TEST_F(VoterChanges, ALeaderRemovingItselfResignsOnceTheRemovalIsCommitted) {
  VoterChange change = cluster.replica(1).remove_voter(1);
  ASSERT_EQ(change.error, RaftError::none);
  EXPECT_FALSE(cluster.replica(1).is_voter());
  EXPECT_EQ(cluster.replica(1).role(), Role::leader);  // leads on until it is committed
  cluster.catch_up(1, 2);
  cluster.catch_up(1, 3);
  EXPECT_GT(cluster.replica(1).high_watermark(), change.offset);
  cluster.tick(1);
  EXPECT_NE(cluster.replica(1).role(), Role::leader);
  cluster.deliver_within(all);  // EndQuorumEpoch: 2 and 3 elect one of them
  for (int round = 0; round < 40 && cluster.replica(2).role() != Role::leader &&
                      cluster.replica(3).role() != Role::leader;
       ++round) {
    cluster.advance(100);
    for (NodeId id : all) cluster.tick(id);
    cluster.deliver_within(all);
  }
  EXPECT_TRUE(cluster.replica(2).role() == Role::leader ||
              cluster.replica(3).role() == Role::leader);
}

}  // namespace
}  // namespace sluice::raft
