// KIP-853 on the wire's side of the state machine: the voters entry's
// encoding with endpoints (voter_set.h), where the quorum dials each node
// (quorum_endpoints.h), an observer finding the leader through
// controller.quorum.bootstrap.servers, and the driver's voter changes
// (voter_changes.h: Kafka's errors, answers once committed) on a
// ScriptedCluster whose invariants are checked after every step.
#include <gtest/gtest.h>

#include "cluster/quorum_endpoints.h"
#include "cluster/voter_changes.h"
#include "cluster/voter_set.h"
#include "raft_simulation.h"
#include "record/batch_builder.h"

namespace sluice::cluster {
namespace {

using raft::NodeId;
using raft::sim::ScriptedCluster;

Uuid uuid_of(uint8_t n) {
  Uuid id;
  id.bytes[0] = n;
  id.bytes[15] = 7;
  return id;
}

VoterNode voter(int32_t id, uint16_t port, uint8_t dir = 0) {
  VoterNode node;
  node.id = id;
  node.directory_id = dir ? uuid_of(dir) : Uuid{};
  node.endpoints = {{"CONTROLLER", "127.0.0.1", port}};
  return node;
}

TEST(VoterSetCodec, RoundTripsEndpointsAndDirectoryIds) {
  VoterSet voters{{1, voter(1, 9001, 1)}, {4, voter(4, 9004, 4)}};
  voters[4].endpoints.push_back({"OTHER", "host-4", 19004});
  std::vector<uint8_t> batch = encode_voters_batch(voters, 1234);
  EXPECT_EQ(control_type(Bytes(batch)), voters_control_type);
  std::optional<VoterSet> decoded = decode_voters_batch(Bytes(batch));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, voters);
  EXPECT_EQ(decoded->at(4).endpoint("OTHER"), (net::Endpoint{"host-4", 19004}));
  EXPECT_EQ(decoded->at(4).endpoint("NONE"), (net::Endpoint{"127.0.0.1", 9004}));  // the first
}

TEST(VoterSetCodec, ADataBatchIsNoVoterSet) {
  record::BatchBuilder builder;
  std::vector<uint8_t> value{1, 2, 3};
  builder.append(1, std::nullopt, Bytes(value));
  auto batch = builder.build();
  ASSERT_TRUE(batch.is_ok());
  EXPECT_FALSE(decode_voters_batch(Bytes(*batch)));
}

TEST(QuorumEndpoints, TheLogWinsThenLearnedThenConfiguredAndBootstrapServersAreNegative) {
  QuorumEndpoints endpoints("CONTROLLER", {{1, {"config-1", 1}}, {2, {"config-2", 2}}},
                            {{"boot-a", 10}, {"boot-b", 11}});
  EXPECT_EQ(endpoints.bootstrap_ids(), (std::vector<int32_t>{-2, -3}));
  EXPECT_EQ(endpoints.find(-3), (net::Endpoint{"boot-b", 11}));
  EXPECT_FALSE(endpoints.find(-4));
  EXPECT_EQ(endpoints.find(1), (net::Endpoint{"config-1", 1}));
  endpoints.learn(1, {"learned-1", 21});
  EXPECT_EQ(endpoints.find(1), (net::Endpoint{"learned-1", 21}));
  endpoints.set_log_voters(VoterSet{{1, voter(1, 31)}});
  EXPECT_EQ(endpoints.find(1), (net::Endpoint{"127.0.0.1", 31}));
  EXPECT_EQ(endpoints.find(2), (net::Endpoint{"config-2", 2}));
  EXPECT_FALSE(endpoints.find(5));
  EXPECT_FALSE(QuorumEndpoints("CONTROLLER", {{1, {}}}, {}).find(1));  // a lone node: no address
  // The set to change: the log's voters as they are, the others from the
  // configuration, directory ids filled in where known.
  VoterSet current = endpoints.current({1, 2}, {{2, uuid_of(2)}});
  EXPECT_EQ(current.at(1), voter(1, 31));
  EXPECT_EQ(current.at(2).endpoints, (std::vector<VoterEndpoint>{{"CONTROLLER", "config-2", 2}}));
  EXPECT_EQ(current.at(2).directory_id, uuid_of(2));
}

TEST(RaftBootstrap, AnObserverFindsTheLeaderThroughABootstrapServer) {
  raft::RaftOptions options;
  options.node_id = 4;
  options.bootstrap_servers = {-2};  // no voters known at all
  raft::sim::MemoryLog log;
  raft::sim::MemoryQuorumStore store;
  raft::RaftReplica replica(options, log, store, 0);
  std::vector<raft::Envelope> out = replica.tick(100);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, -2);
  ASSERT_TRUE(std::holds_alternative<raft::FetchRequest>(out[0].message));
  // A voter that does not lead names the leader.
  raft::FetchResponse answer;
  answer.error = raft::FetchResponse::Error::not_leader;
  answer.epoch = 3;
  answer.leader = 1;
  replica.receive({-2, 4, answer}, 110);
  EXPECT_EQ(replica.role(), raft::Role::follower);
  EXPECT_EQ(replica.leader(), 1);
  out = replica.tick(200);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].to, 1);
}

TEST(RaftBootstrap, ABootstrapServerThatLeadsIsFollowedUnderItsId) {
  raft::RaftOptions options;
  options.node_id = 4;
  options.bootstrap_servers = {-2};
  raft::sim::MemoryLog log;
  raft::sim::MemoryQuorumStore store;
  store.write({3, std::nullopt, std::nullopt});  // it knows epoch 3, no leader
  raft::RaftReplica replica(options, log, store, 0);
  raft::FetchResponse answer;
  answer.epoch = 3;
  answer.leader = 2;
  answer.high_watermark = 0;
  replica.receive({-2, 4, answer}, 10);
  EXPECT_EQ(replica.role(), raft::Role::follower);
  EXPECT_EQ(replica.leader(), 2);
}

// --- the driver's voter changes, on voters 1, 2, 3 (1 leads) and observer 4 ---

struct DriverVoterChanges : ::testing::Test {
  DriverVoterChanges()
      : cluster(3, raft::RaftOptions{}, 1),
        endpoints("CONTROLLER",
                  {{1, {"127.0.0.1", 9001}}, {2, {"127.0.0.1", 9002}}, {3, {"127.0.0.1", 9003}}},
                  {}),
        changes(VoterChangeOptions{1, {{"CONTROLLER", "127.0.0.1", 9001}}, uuid_of(1), 1000, {}},
                endpoints, cluster.log(1), [] { return int64_t{5}; }) {}
  void SetUp() override {
    cluster.advance(2000);
    ASSERT_TRUE(cluster.elect(1, all));
    for (NodeId follower : {2, 3}) cluster.catch_up(1, follower);
    changes.note_directory(2, uuid_of(2));
    changes.note_directory(3, uuid_of(3));
  }
  void TearDown() override { EXPECT_FALSE(cluster.violation()) << *cluster.violation(); }
  void rounds(std::initializer_list<NodeId> ticking, int count = 5) {
    for (int round = 0; round < count; ++round) {
      cluster.advance(60);
      for (NodeId id : ticking) cluster.tick(id);
      cluster.deliver_within(all);
      changes.after_event(cluster.replica(1), cluster.now());
    }
  }
  VoterChanges::Done record() {
    return [this](ErrorCode error, std::string message) {
      answers.emplace_back(error, std::move(message));
    };
  }
  protocol::AddRaftVoterRequest add_request(int32_t id, uint8_t dir, uint16_t port) {
    protocol::AddRaftVoterRequest request;
    request.voter_id = id;
    request.voter_directory_id = uuid_of(dir);
    request.listeners.push_back({"CONTROLLER", "127.0.0.1", port, {}});
    request.timeout_ms = 2000;
    return request;
  }
  protocol::RemoveRaftVoterRequest remove_request(int32_t id, uint8_t dir) {
    protocol::RemoveRaftVoterRequest request;
    request.voter_id = id;
    request.voter_directory_id = uuid_of(dir);
    return request;
  }
  const std::set<NodeId> all{1, 2, 3, 4};
  ScriptedCluster cluster;
  QuorumEndpoints endpoints;
  VoterChanges changes;
  std::vector<std::pair<ErrorCode, std::string>> answers;
};

TEST_F(DriverVoterChanges, AnAddIsAnsweredOnceCommittedAndTheLogCarriesEveryEndpoint) {
  rounds({4});  // 4 fetches as an observer
  changes.add(cluster.replica(1), add_request(4, 4, 9004), cluster.now(), record());
  EXPECT_TRUE(answers.empty());  // not committed yet
  rounds({2, 3, 4});
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].first, ErrorCode::NONE);
  ASSERT_TRUE(endpoints.log_voters());
  const VoterSet& voters = *endpoints.log_voters();
  EXPECT_EQ(voters.size(), 4u);
  EXPECT_EQ(voters.at(4), voter(4, 9004, 4));
  EXPECT_EQ(voters.at(1), voter(1, 9001, 1));  // the leader's own directory id
  EXPECT_EQ(voters.at(2), voter(2, 9002, 2));  // seen in its fetches
  EXPECT_EQ(endpoints.find(4), (net::Endpoint{"127.0.0.1", 9004}));
  EXPECT_TRUE(cluster.replica(4).is_voter());

  // Kafka's refusals.
  changes.add(cluster.replica(1), add_request(4, 4, 9004), cluster.now(), record());
  EXPECT_EQ(answers.back().first, ErrorCode::DUPLICATE_VOTER);
  EXPECT_NE(answers.back().second.find("is already part of the set of voters"), std::string::npos);
  changes.remove(cluster.replica(1), remove_request(99, 9), cluster.now(), record());
  EXPECT_EQ(answers.back().first, ErrorCode::VOTER_NOT_FOUND);
  changes.remove(cluster.replica(1), remove_request(2, 9), cluster.now(), record());  // wrong dir
  EXPECT_EQ(answers.back().first, ErrorCode::VOTER_NOT_FOUND);
  changes.remove(cluster.replica(2), remove_request(2, 2), cluster.now(), record());
  EXPECT_EQ(answers.back().first, ErrorCode::NOT_LEADER_OR_FOLLOWER);
  protocol::AddRaftVoterRequest no_listener = add_request(5, 5, 9005);
  no_listener.listeners[0].name = "OTHER";
  changes.add(cluster.replica(1), no_listener, cluster.now(), record());
  EXPECT_EQ(answers.back().first, ErrorCode::INVALID_REQUEST);
  changes.add(cluster.replica(1), add_request(5, 0, 9005), cluster.now(), record());  // no dir
  EXPECT_EQ(answers.back().first, ErrorCode::INVALID_REQUEST);
}

TEST_F(DriverVoterChanges, EndpointsOutliveTheEntryASnapshotDropped) {
  rounds({4});
  changes.add(cluster.replica(1), add_request(4, 4, 9004), cluster.now(), record());
  rounds({2, 3, 4});
  ASSERT_EQ(answers.size(), 1u);
  const raft::Offset end = cluster.replica(1).high_watermark();
  const std::string bytes =
      raft::sim::MemorySnapshotStore::encode(*cluster.log(1).prefix_hash(end), 30);
  ASSERT_EQ(cluster.replica(1).create_snapshot(end, bytes), raft::RaftError::none);
  changes.after_event(cluster.replica(1), cluster.now());
  EXPECT_LT(cluster.replica(1).voters_offset(), cluster.log(1).start_offset());
  EXPECT_EQ(endpoints.find(4), (net::Endpoint{"127.0.0.1", 9004}));
}

TEST_F(DriverVoterChanges, ARestartedNodeFindsTheEndpointsInTheSnapshot) {
  rounds({4});
  changes.add(cluster.replica(1), add_request(4, 4, 9004), cluster.now(), record());
  rounds({2, 3, 4});
  ASSERT_EQ(answers.size(), 1u);
  const VoterSet in_effect = *endpoints.log_voters();
  const raft::Offset end = cluster.replica(1).high_watermark();
  const std::string bytes =
      raft::sim::MemorySnapshotStore::encode(*cluster.log(1).prefix_hash(end), 30);
  ASSERT_EQ(cluster.replica(1).create_snapshot(end, bytes), raft::RaftError::none);

  // What a node started again knows: no voters configured, the entry gone
  // with the log's prefix; the snapshot's VotersRecord has the endpoints.
  auto restarted = [&](std::optional<VoterSet> in_snapshot) {
    QuorumEndpoints fresh("CONTROLLER", {}, {});
    VoterChangeOptions options{1, {{"CONTROLLER", "127.0.0.1", 9001}}, uuid_of(1), 1000, {}};
    options.snapshot_voters = [in_snapshot] { return in_snapshot; };
    VoterChanges again(options, fresh, cluster.log(1), [] { return int64_t{5}; });
    again.after_event(cluster.replica(1), cluster.now());
    return fresh.find(4);
  };
  EXPECT_EQ(restarted(in_effect), (net::Endpoint{"127.0.0.1", 9004}));
  // A snapshot that knew the voters by id only says nothing of where they are.
  EXPECT_EQ(restarted(voter_set(std::set<int32_t>{1, 2, 3, 4})), std::nullopt);
}

TEST_F(DriverVoterChanges, ARemovalCommitsAndAnUpdateKeepsTheVoters) {
  const size_t before = answers.size();
  changes.remove(cluster.replica(1), remove_request(3, 3), cluster.now(), record());
  rounds({2, 3});
  ASSERT_EQ(answers.size(), before + 1);
  EXPECT_EQ(answers.back().first, ErrorCode::NONE);
  EXPECT_EQ(cluster.replica(1).voters(), (std::set<NodeId>{1, 2}));
  // Voter 2 moved: the leader records its new endpoint; the set is the same.
  auto [error, message] = changes.update(cluster.replica(1), 2, uuid_of(2),
                                         {{"CONTROLLER", "10.0.0.2", 9102}}, 0, 1, cluster.now());
  EXPECT_EQ(error, ErrorCode::NONE) << message;
  rounds({2});
  EXPECT_EQ(cluster.replica(1).voters(), (std::set<NodeId>{1, 2}));
  EXPECT_EQ(endpoints.find(2), (net::Endpoint{"10.0.0.2", 9102}));
  EXPECT_EQ(
      changes
          .update(cluster.replica(1), 3, uuid_of(3), {{"CONTROLLER", "h", 1}}, 0, 1, cluster.now())
          .first,
      ErrorCode::VOTER_NOT_FOUND);
  EXPECT_EQ(
      changes.update(cluster.replica(1), 2, uuid_of(2), {{"OTHER", "h", 1}}, 0, 1, cluster.now())
          .first,
      ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(
      changes
          .update(cluster.replica(1), 2, uuid_of(2), {{"CONTROLLER", "h", 1}}, 0, 0, cluster.now())
          .first,
      ErrorCode::INVALID_REQUEST);  // kraft.version 1 not supported
}

TEST_F(DriverVoterChanges, AnObserverThatNeverCatchesUpTimesOut) {
  changes.add(cluster.replica(1), add_request(4, 4, 9004), cluster.now(), record());
  EXPECT_TRUE(answers.empty());  // waits for it (Kafka's AddVoterHandler does too)
  rounds({2, 3}, 40);            // 4 never fetches; 2.4 s pass
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].first, ErrorCode::REQUEST_TIMED_OUT);
  EXPECT_EQ(cluster.replica(1).voters(), (std::set<NodeId>{1, 2, 3}));
}

TEST_F(DriverVoterChanges, AVoterWhoseEndpointDiffersAsksTheLeader) {
  rounds({4});
  changes.add(cluster.replica(1), add_request(4, 4, 9004), cluster.now(), record());
  rounds({2, 3, 4});
  ASSERT_EQ(answers.size(), 1u);
  // Voter 2's own view: the log says 9002; it now listens on 9202.
  QuorumEndpoints endpoints_2("CONTROLLER", {}, {});
  VoterChanges changes_2(
      VoterChangeOptions{2, {{"CONTROLLER", "127.0.0.1", 9202}}, uuid_of(2), 1000, {}}, endpoints_2,
      cluster.log(2), [] { return int64_t{5}; });
  changes_2.after_event(cluster.replica(2), cluster.now());
  std::optional<protocol::UpdateRaftVoterRequest> update =
      changes_2.self_update(cluster.replica(2), cluster.now());
  ASSERT_TRUE(update);
  EXPECT_EQ(update->voter_id, 2);
  EXPECT_EQ(update->current_leader_epoch, cluster.replica(2).epoch());
  EXPECT_EQ(update->listeners[0].port, 9202);
  EXPECT_FALSE(changes_2.self_update(cluster.replica(2), cluster.now()));  // not again at once
  // Voter 3's endpoint is what the log says: nothing to send.
  QuorumEndpoints endpoints_3("CONTROLLER", {}, {});
  VoterChanges changes_3(
      VoterChangeOptions{3, {{"CONTROLLER", "127.0.0.1", 9003}}, uuid_of(3), 1000, {}}, endpoints_3,
      cluster.log(3), [] { return int64_t{5}; });
  changes_3.after_event(cluster.replica(3), cluster.now());
  EXPECT_FALSE(changes_3.self_update(cluster.replica(3), cluster.now()));
}

}  // namespace
}  // namespace sluice::cluster
