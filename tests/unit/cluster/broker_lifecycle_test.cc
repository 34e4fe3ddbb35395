// Brokers of a cluster on one controller, driven by a ManualClock:
// registration and its errors, heartbeats (unfence when caught up, stale
// epochs, fencing on request and after the session timeout), leadership and
// ISR moves on fencing, unfencing and controlled shutdown, unregistration,
// and replica placement over racks (Kafka's StripedReplicaPlacer).
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cluster/controller.h"
#include "cluster/features.h"
#include "cluster/replica_placer.h"
#include "controller_fixture.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

using BrokerLifecycleTest = ControllerFixture;

TEST_F(BrokerLifecycleTest, TheLocalNodeServesAtOnceAndNeverExpires) {
  EXPECT_FALSE(broker(1).fenced);
  clock_.advance_ms(60'000);
  controller_->tick();
  EXPECT_FALSE(broker(1).fenced);
  EXPECT_EQ(create("t", 1, 1).error.code, ErrorCode::NONE);
}

TEST_F(BrokerLifecycleTest, ANewBrokerStartsFencedWithItsRecordOffsetAsEpoch) {
  BrokerRegistrationReply reply = controller_->register_broker(registration(2, 1, "r2"));
  ASSERT_TRUE(reply.error.ok()) << reply.error.message;
  MetadataImagePtr image = controller_->image();
  EXPECT_EQ(reply.broker_epoch, image->offset);  // its RegisterBrokerRecord's offset
  const BrokerImage& two = image->brokers.at(2);
  EXPECT_TRUE(two.fenced);
  EXPECT_EQ(two.epoch, reply.broker_epoch);
  EXPECT_EQ(two.registration_offset, reply.broker_epoch);
  EXPECT_EQ(two.rack, "r2");
  EXPECT_EQ(two.endpoints.at(0).port, 9002);
  EXPECT_EQ(two.incarnation_id, incarnation(1));
  // The same incarnation again (a retry) keeps the epoch.
  BrokerRegistrationReply again = controller_->register_broker(registration(2, 1, "r2"));
  ASSERT_TRUE(again.error.ok());
  EXPECT_EQ(again.broker_epoch, reply.broker_epoch);
}

TEST_F(BrokerLifecycleTest, TheFirstRegistrationFinalizesANewClustersFeatures) {
  // The fixture's own node registered first: a new cluster's levels came with it.
  MetadataImagePtr image = controller_->image();
  EXPECT_EQ(image->features,
            (std::map<std::string, int16_t>{{"metadata.version", 1}, {"transaction.version", 2}}));
  EXPECT_EQ(image->brokers.at(1).features, supported_features());
  const int64_t before = image->offset;
  join(2);  // later registrations finalize nothing
  EXPECT_EQ(controller_->image()->features, image->features);
  EXPECT_GT(controller_->image()->offset, before);
}

TEST_F(BrokerLifecycleTest, BootstrapLevelsFollowTheFirstBroker) {
  EXPECT_EQ(bootstrap_feature_levels({}),
            (std::vector<std::pair<std::string, int16_t>>{{"metadata.version", 1}}));
  EXPECT_EQ(bootstrap_feature_levels({{"transaction.version", 0, 1}}),
            (std::vector<std::pair<std::string, int16_t>>{{"metadata.version", 1},
                                                          {"transaction.version", 1}}));
  EXPECT_EQ(bootstrap_feature_levels(supported_features()),
            (std::vector<std::pair<std::string, int16_t>>{{"metadata.version", 1},
                                                          {"transaction.version", 2}}));
}

TEST_F(BrokerLifecycleTest, ABrokerWithoutAFinalizedFeatureIsRefused) {
  BrokerRegistration old_binary = registration(2);
  old_binary.features.clear();  // supports transaction.version 0 only
  BrokerRegistrationReply reply = controller_->register_broker(old_binary);
  EXPECT_EQ(reply.error.code, ErrorCode::UNSUPPORTED_VERSION);
  EXPECT_EQ(reply.error.message,
            "Unable to register because the broker does not support finalized version 2 of "
            "transaction.version. The broker wants a version between 0 and 0, inclusive.");
}

TEST_F(BrokerLifecycleTest, RegistrationErrors) {
  BrokerRegistration other = registration(2);
  other.cluster_id = "another-cluster";
  BrokerRegistrationReply reply = controller_->register_broker(other);
  EXPECT_EQ(reply.error.code, ErrorCode::INCONSISTENT_CLUSTER_ID);
  EXPECT_EQ(reply.error.message,
            "Expected cluster ID test-cluster-id-0000001, but got cluster ID another-cluster");
  EXPECT_EQ(reply.broker_epoch, -1);

  BrokerRegistration zk = registration(2);
  zk.is_migrating_zk_broker = true;
  EXPECT_EQ(controller_->register_broker(zk).error.code, ErrorCode::BROKER_ID_NOT_REGISTERED);

  BrokerRegistration old_version = registration(2);
  old_version.features = {{"metadata.version", 7, 20}};  // finalized: 1
  reply = controller_->register_broker(old_version);
  EXPECT_EQ(reply.error.code, ErrorCode::UNSUPPORTED_VERSION);
  EXPECT_EQ(reply.error.message,
            "Unable to register because the broker does not support finalized version 1 of "
            "metadata.version. The broker wants a version between 7 and 20, inclusive.");
  EXPECT_EQ(controller_->image()->brokers.count(2), 0u);

  // The local node holds id 1 with a live session: another process may not.
  EXPECT_EQ(controller_->register_broker(registration(1, 9)).error.code,
            ErrorCode::DUPLICATE_BROKER_REGISTRATION);
}

TEST_F(BrokerLifecycleTest, DuplicateRegistrationUntilTheSessionExpires) {
  const int64_t first_epoch = join(2);
  BrokerRegistrationReply duplicate = controller_->register_broker(registration(2, 2));
  EXPECT_EQ(duplicate.error.code, ErrorCode::DUPLICATE_BROKER_REGISTRATION);
  EXPECT_EQ(duplicate.error.message, "Another broker is registered with that broker id.");
  clock_.advance_ms(9'001);
  // A session expired (even before a tick fenced it) lets the new
  // incarnation in, with a new epoch, fenced.
  BrokerRegistrationReply replaced = controller_->register_broker(registration(2, 2));
  ASSERT_TRUE(replaced.error.ok()) << replaced.error.message;
  EXPECT_GT(replaced.broker_epoch, first_epoch);
  EXPECT_TRUE(broker(2).fenced);
  EXPECT_EQ(broker(2).incarnation_id, incarnation(2));
  // The old incarnation's heartbeats are now stale.
  EXPECT_EQ(heartbeat(2, first_epoch).error.code, ErrorCode::STALE_BROKER_EPOCH);
}

TEST_F(BrokerLifecycleTest, AFencedBrokerHasNoSessionToDefend) {
  ASSERT_TRUE(controller_->register_broker(registration(2, 1)).error.ok());
  EXPECT_TRUE(controller_->register_broker(registration(2, 2)).error.ok());
}

TEST_F(BrokerLifecycleTest, HeartbeatsUnfenceOnceCaughtUp) {
  BrokerRegistrationReply reply = controller_->register_broker(registration(2));
  BrokerHeartbeat beat;
  beat.broker_id = 2;
  beat.broker_epoch = reply.broker_epoch;
  beat.current_metadata_offset = reply.broker_epoch - 1;  // behind its registration
  BrokerHeartbeatReply behind = controller_->heartbeat(beat);
  ASSERT_TRUE(behind.error.ok());
  EXPECT_FALSE(behind.is_caught_up);
  EXPECT_TRUE(behind.is_fenced);
  EXPECT_TRUE(broker(2).fenced);
  beat.current_metadata_offset = reply.broker_epoch;
  beat.want_fence = true;  // caught up, but wants to stay fenced
  EXPECT_TRUE(controller_->heartbeat(beat).is_fenced);
  beat.want_fence = false;
  BrokerHeartbeatReply caught_up = controller_->heartbeat(beat);
  EXPECT_TRUE(caught_up.is_caught_up);
  EXPECT_FALSE(caught_up.is_fenced);
  EXPECT_FALSE(caught_up.should_shutdown);
  EXPECT_FALSE(broker(2).fenced);
  // Asking to be fenced again is granted.
  beat.want_fence = true;
  EXPECT_TRUE(controller_->heartbeat(beat).is_fenced);
  EXPECT_TRUE(broker(2).fenced);
}

TEST_F(BrokerLifecycleTest, StaleEpochs) {
  BrokerHeartbeatReply unknown = heartbeat(7, 0);
  EXPECT_EQ(unknown.error.code, ErrorCode::STALE_BROKER_EPOCH);
  EXPECT_EQ(unknown.error.message, "No broker registration found for broker id 7");
  const int64_t epoch = controller_->register_broker(registration(2)).broker_epoch;
  BrokerHeartbeatReply stale = heartbeat(2, epoch - 1);
  EXPECT_EQ(stale.error.code, ErrorCode::STALE_BROKER_EPOCH);
  EXPECT_EQ(stale.error.message, "Expected broker epoch " + std::to_string(epoch) +
                                     ", but got broker epoch " + std::to_string(epoch - 1));
}

TEST_F(BrokerLifecycleTest, SessionTimeoutFencesAndMovesLeadership) {
  const int64_t epoch = join(2);
  ASSERT_TRUE(create("shared", {{0, {2, 1}}}).ok());
  ASSERT_TRUE(create("alone", {{0, {2}}}).ok());
  EXPECT_EQ(partition("shared", 0).leader, 2);
  EXPECT_EQ(partition("shared", 0).isr, (std::vector<int32_t>{2, 1}));

  clock_.advance_ms(8'000);
  controller_->tick();
  EXPECT_FALSE(broker(2).fenced);  // within broker.session.timeout.ms (9000)
  ASSERT_TRUE(heartbeat(2, epoch).error.ok());
  clock_.advance_ms(9'001);
  controller_->tick();
  EXPECT_TRUE(broker(2).fenced);
  // Leadership goes to the other ISR member, the fenced broker leaves the ISR.
  EXPECT_EQ(partition("shared", 0).leader, 1);
  EXPECT_EQ(partition("shared", 0).isr, std::vector<int32_t>{1});
  EXPECT_EQ(partition("shared", 0).leader_epoch, 1);
  // No other ISR member: no leader (unclean election is off), the ISR keeps
  // its last member.
  EXPECT_EQ(partition("alone", 0).leader, -1);
  EXPECT_EQ(partition("alone", 0).isr, std::vector<int32_t>{2});
  // Fenced brokers are not placed on.
  EXPECT_EQ(create("later", 1, 2).error.code, ErrorCode::INVALID_REPLICATION_FACTOR);

  // It comes back: caught up, it is unfenced and leads again where it is
  // the only ISR member and nobody leads. The ISR it left is not given back
  // by the controller (the leader adds it once it has caught up: AlterPartition).
  BrokerHeartbeatReply back = heartbeat(2, epoch);
  EXPECT_FALSE(back.is_fenced);
  EXPECT_FALSE(broker(2).fenced);
  EXPECT_EQ(partition("alone", 0).leader, 2);
  EXPECT_EQ(partition("alone", 0).leader_epoch, 2);
  EXPECT_EQ(partition("shared", 0).leader, 1);
}

TEST_F(BrokerLifecycleTest, ControlledShutdownMovesLeadershipThenFences) {
  const int64_t epoch = join(2);
  ASSERT_TRUE(create("t", {{0, {2, 1}}, {1, {1, 2}}}).ok());
  BrokerHeartbeatReply first = heartbeat(2, epoch, false, true);
  ASSERT_TRUE(first.error.ok());
  EXPECT_FALSE(first.should_shutdown);  // it led partition 0
  EXPECT_FALSE(first.is_fenced);
  EXPECT_TRUE(broker(2).in_controlled_shutdown);
  EXPECT_FALSE(broker(2).fenced);
  EXPECT_EQ(partition("t", 0).leader, 1);
  EXPECT_EQ(partition("t", 0).isr, std::vector<int32_t>{1});
  EXPECT_EQ(partition("t", 1).isr, std::vector<int32_t>{1});
  // Not placed on while shutting down.
  EXPECT_EQ(create("later", 1, 2).error.code, ErrorCode::INVALID_REPLICATION_FACTOR);
  BrokerHeartbeatReply second = heartbeat(2, epoch, false, true);
  EXPECT_TRUE(second.should_shutdown);
  EXPECT_TRUE(second.is_fenced);
  EXPECT_TRUE(broker(2).fenced);
}

TEST_F(BrokerLifecycleTest, ControlledShutdownWaitsForActiveBrokersToSeeTheMove) {
  const int64_t two = join(2);
  const int64_t three = join(3);
  ASSERT_TRUE(create("t", {{0, {2, 3}}}).ok());
  EXPECT_FALSE(heartbeat(2, two, false, true).should_shutdown);
  EXPECT_EQ(partition("t", 0).leader, 3);
  // Broker 3 last reported an offset before the leader move: broker 2 waits.
  BrokerHeartbeat waiting;
  waiting.broker_id = 2;
  waiting.broker_epoch = two;
  waiting.current_metadata_offset = controller_->image()->offset;
  waiting.want_shutdown = true;
  EXPECT_FALSE(controller_->heartbeat(waiting).should_shutdown);
  EXPECT_FALSE(broker(2).fenced);
  ASSERT_TRUE(heartbeat(3, three).error.ok());  // 3 has seen it now
  EXPECT_TRUE(controller_->heartbeat(waiting).should_shutdown);
  EXPECT_TRUE(broker(2).fenced);
}

TEST_F(BrokerLifecycleTest, ShutdownWithoutLeadershipIsImmediate) {
  const int64_t epoch = join(2);
  BrokerHeartbeatReply reply = heartbeat(2, epoch, false, true);
  EXPECT_TRUE(reply.should_shutdown);
  EXPECT_TRUE(broker(2).fenced);
}

TEST_F(BrokerLifecycleTest, UnregisterRemovesTheBrokerAndItsIsrMemberships) {
  ApiError unknown = controller_->unregister_broker(5);
  EXPECT_EQ(unknown.code, ErrorCode::BROKER_ID_NOT_REGISTERED);
  EXPECT_EQ(unknown.message, "Broker ID 5 is not currently registered");
  join(2);
  ASSERT_TRUE(create("t", {{0, {2, 1}}}).ok());
  ASSERT_TRUE(controller_->unregister_broker(2).ok());
  EXPECT_EQ(controller_->image()->brokers.count(2), 0u);
  EXPECT_EQ(partition("t", 0).leader, 1);
  EXPECT_EQ(partition("t", 0).isr, std::vector<int32_t>{1});
  // Its id is free for a new registration at once.
  EXPECT_TRUE(controller_->register_broker(registration(2, 2)).error.ok());
}

TEST_F(BrokerLifecycleTest, TheLocalNodeRegistersAgainAfterUnregistration) {
  ASSERT_TRUE(controller_->unregister_broker(1).ok());
  EXPECT_EQ(controller_->image()->brokers.count(1), 0u);
  controller_->tick();
  ASSERT_EQ(controller_->image()->brokers.count(1), 1u);
  EXPECT_FALSE(broker(1).fenced);
}

TEST_F(BrokerLifecycleTest, RestartKeepsRegistrationsAndGivesFreshSessions) {
  const int64_t epoch = join(2);
  controller_.reset();
  clock_.advance_ms(60'000);
  controller_ = open();
  EXPECT_FALSE(broker(2).fenced);
  EXPECT_EQ(broker(2).epoch, epoch);
  clock_.advance_ms(5'000);
  controller_->tick();
  EXPECT_FALSE(broker(2).fenced);  // its session started with this controller
  clock_.advance_ms(5'000);
  controller_->tick();
  EXPECT_TRUE(broker(2).fenced);
}

TEST_F(BrokerLifecycleTest, ReplicationFactorAboveTheUnfencedBrokers) {
  join(2);
  ASSERT_TRUE(controller_->register_broker(registration(3)).error.ok());  // fenced
  CreateTopicResult result = create("t", 1, 3);
  EXPECT_EQ(result.error.code, ErrorCode::INVALID_REPLICATION_FACTOR);
  EXPECT_EQ(result.error.message,
            "Unable to replicate the partition 3 time(s): The target replication factor of 3 "
            "cannot be reached because only 2 broker(s) are registered.");
  EXPECT_TRUE(create("u", 4, 2).error.ok());
  // CreatePartitions too.
  ApiError grown = controller_->create_partitions("u", 6, {}, false);
  EXPECT_TRUE(grown.ok()) << grown.message;
  heartbeat(2, broker(2).epoch, true);  // fenced
  grown = controller_->create_partitions("u", 8, {}, false);
  EXPECT_EQ(grown.code, ErrorCode::INVALID_REPLICATION_FACTOR);
  EXPECT_EQ(grown.message,
            "Unable to replicate the partition 2 time(s): The target replication factor of 2 "
            "cannot be reached because only 1 broker(s) are registered.");
}

TEST_F(BrokerLifecycleTest, ManualAssignmentsNeedRegisteredAndActiveBrokers) {
  ApiError unknown = create("t", {{0, {1, 4}}});
  EXPECT_EQ(unknown.code, ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(unknown.message,
            "The manual partition assignment includes broker 4, but no such broker is "
            "registered.");
  ASSERT_TRUE(controller_->register_broker(registration(3)).error.ok());  // fenced
  ApiError fenced = create("t", {{0, {3}}});
  EXPECT_EQ(fenced.code, ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(fenced.message,
            "All brokers specified in the manual partition assignment for partition 0 are fenced "
            "or in controlled shutdown.");
  // A fenced follower is a replica but not in the ISR.
  ASSERT_TRUE(create("u", {{0, {1, 3}}}).ok());
  EXPECT_EQ(partition("u", 0).replicas, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(partition("u", 0).isr, std::vector<int32_t>{1});
  ApiError grown = controller_->create_partitions("u", 2, {{3, 1}}, false);
  EXPECT_TRUE(grown.ok()) << grown.message;
  EXPECT_EQ(partition("u", 1).leader, 1);
  grown = controller_->create_partitions("u", 3, {{3, 3}}, false);
  EXPECT_EQ(grown.code, ErrorCode::INVALID_REPLICA_ASSIGNMENT);
}

TEST_F(BrokerLifecycleTest, PlacementAlternatesRacksAndSpreadsLeaders) {
  // Racks a, b, c with two brokers each (1 has no rack: give it none and
  // leave it out by placing over the six others via a fresh cluster view).
  const std::map<int32_t, std::string> racks = {{2, "a"}, {3, "a"}, {4, "b"},
                                                {5, "b"}, {6, "c"}, {7, "c"}};
  for (const auto& [id, rack] : racks) join(id, rack);
  ASSERT_TRUE(controller_->unregister_broker(1).ok());  // only the racked brokers
  CreateTopicResult result = create("t", 60, 3);
  ASSERT_TRUE(result.error.ok()) << result.error.message;
  std::map<int32_t, int> leaders;
  for (int32_t p = 0; p < 60; ++p) {
    const PartitionImage& part = partition("t", p);
    ASSERT_EQ(part.replicas.size(), 3u);
    std::set<std::string> racks_used;
    for (int32_t replica : part.replicas) racks_used.insert(racks.at(replica));
    EXPECT_EQ(racks_used.size(), 3u) << "partition " << p << " repeats a rack";
    ++leaders[part.leader];
  }
  ASSERT_EQ(leaders.size(), 6u);
  for (const auto& [id, count] : leaders) EXPECT_EQ(count, 10) << "broker " << id;
}

TEST(ReplicaPlacer, SpreadsOverRacksFromARandomStart) {
  std::vector<UsableBroker> brokers = {
      {1, "a", false}, {2, "a", false}, {3, "b", false}, {4, "b", false}};
  std::set<int32_t> first_leaders;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    SeededRandom random(seed);
    auto placed = place_replicas(random, brokers, 8, 2);
    ASSERT_TRUE(placed.is_ok());
    first_leaders.insert(placed.value()[0][0]);
    std::map<std::string, int> leaders_per_rack;
    for (const auto& replicas : placed.value()) {
      ASSERT_EQ(replicas.size(), 2u);
      // Two racks, two replicas: one in each.
      const auto& leader_rack = brokers[static_cast<size_t>(replicas[0] - 1)].rack;
      EXPECT_NE(leader_rack, brokers[static_cast<size_t>(replicas[1] - 1)].rack);
      ++leaders_per_rack[*leader_rack];
    }
    // Each partition starts at the next rack: leadership alternates racks.
    EXPECT_EQ(leaders_per_rack["a"], 4) << "seed " << seed;
    EXPECT_EQ(leaders_per_rack["b"], 4) << "seed " << seed;
  }
  EXPECT_GT(first_leaders.size(), 1u);  // the start is random
}

TEST(ReplicaPlacer, FencedBrokersFollowButNeverLead) {
  std::vector<UsableBroker> brokers = {{1, std::nullopt, false}, {2, std::nullopt, true}};
  SeededRandom random(3);
  auto placed = place_replicas(random, brokers, 10, 2);
  ASSERT_TRUE(placed.is_ok());
  for (const auto& replicas : placed.value()) EXPECT_EQ(replicas[0], 1);
}

TEST(ReplicaPlacer, KafkasErrors) {
  SeededRandom random(1);
  std::vector<UsableBroker> one = {{1, std::nullopt, false}};
  EXPECT_EQ(place_replicas(random, one, 1, 0).status().message(),
            "Invalid replication factor 0: the replication factor must be positive.");
  EXPECT_EQ(place_replicas(random, one, 1, 2).status().message(),
            "The target replication factor of 2 cannot be reached because only 1 broker(s) are "
            "registered.");
  std::vector<UsableBroker> fenced = {{1, std::nullopt, true}};
  EXPECT_EQ(place_replicas(random, fenced, 1, 1).status().message(),
            "All brokers are currently fenced.");
}

}  // namespace
}  // namespace sluice::cluster
