// What clients get from a replicated partition (issue 16, point 2), in
// Kafka's terms (Partition.getLocalLog, fetchOffsetForTimestamp,
// followerReplicaOrThrow): the leader-epoch checks before the leadership
// check, follower reads for KIP-392 consumers up to the follower's high
// watermark, ListOffsets' askers, OFFSET_NOT_AVAILABLE on a new leader.
#include <gtest/gtest.h>

#include "cluster/partition.h"
#include "record/batch_builder.h"
#include "replica_node.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

using testing::batch_of;

// One broker's replica of t-0, with the consumer's reads and one fetch loop.
struct Replica : testing::ReplicaNode {
  using ReplicaNode::follow;
  using ReplicaNode::ReplicaNode;
  void follow(int32_t leader, int32_t leader_epoch, std::vector<int32_t> isr) {
    follow(leader, leader_epoch, std::move(isr), leader_epoch);
  }
  // One round of the fetch loop from `leader`.
  void fetch_from(Replica& leader) {
    FollowerPosition position = partition->follower_position();
    ASSERT_TRUE(position.follower);
    ReplicaReadResult result = leader.partition->read_for_replica(
        id, 7, Offset{position.log_end_offset}, LeaderEpoch{position.last_fetched_epoch},
        LeaderEpoch{position.leader_epoch}, 1 << 20, Partition::monotonic_ms());
    ASSERT_EQ(result.read.error, ErrorCode::NONE);
    std::vector<uint8_t> bytes(result.read.range.length);
    if (!bytes.empty()) {
      ASSERT_TRUE(result.read.range.file->pread(result.read.range.position, bytes).is_ok());
    }
    ASSERT_EQ(partition->append_as_follower(LeaderEpoch{position.leader_epoch}, bytes,
                                            Offset{result.read.high_watermark}),
              ErrorCode::NONE);
  }
  PartitionReadResult consume(int64_t offset, int32_t epoch = -1,
                              ReadFrom from = ReadFrom::any_replica) const {
    return partition->read(Offset{offset}, LeaderEpoch{epoch}, 1 << 20, true,
                           storage::ReadWait::may_block, from);
  }
};

struct CountingWaiter : AppendWaiter {
  void on_new_data() override { ++woken; }
  int woken = 0;
};

// Leader 1 with 3 records, follower 2 holding them (high watermark 3 on both).
struct TwoReplicas : ::testing::Test {
  void SetUp() override {
    one.follow(1, 4, {1, 2});
    two.follow(1, 4, {1, 2});
    auto batch = batch_of(3);
    ASSERT_EQ(one.partition->append_as_leader(batch, -1, 0).error, ErrorCode::NONE);
    two.fetch_from(one);  // gets the records
    two.fetch_from(one);  // the leader's high watermark reaches 3; the follower takes it
    ASSERT_EQ(two.partition->high_watermark(), 3);
  }
  Replica one{1}, two{2};
};

TEST_F(TwoReplicas, AFollowerServesOnlyReadsThatMayGoToAnyReplica) {
  EXPECT_EQ(two.consume(0, -1, ReadFrom::leader).error, ErrorCode::NOT_LEADER_OR_FOLLOWER);
  PartitionReadResult read = two.consume(0);
  EXPECT_EQ(read.error, ErrorCode::NONE);
  EXPECT_GT(read.range.length, 0u);
  EXPECT_EQ(read.high_watermark, 3);
  EXPECT_EQ(one.consume(0, -1, ReadFrom::leader).error, ErrorCode::NONE);
}

TEST_F(TwoReplicas, TheEpochIsCheckedBeforeLeadership) {
  // Kafka's getLocalLog: FENCED / UNKNOWN_LEADER_EPOCH win over NOT_LEADER.
  EXPECT_EQ(two.consume(0, 3, ReadFrom::leader).error, ErrorCode::FENCED_LEADER_EPOCH);
  EXPECT_EQ(two.consume(0, 5, ReadFrom::leader).error, ErrorCode::UNKNOWN_LEADER_EPOCH);
  EXPECT_EQ(two.consume(0, 4, ReadFrom::leader).error, ErrorCode::NOT_LEADER_OR_FOLLOWER);
  EXPECT_EQ(two.consume(0, 4).error, ErrorCode::NONE);
  EXPECT_EQ(one.consume(0, 3).error, ErrorCode::FENCED_LEADER_EPOCH);
  EXPECT_EQ(one.consume(0, 5).error, ErrorCode::UNKNOWN_LEADER_EPOCH);
  EXPECT_EQ(one.partition->end_offset_for_epoch(LeaderEpoch{4}, LeaderEpoch{3}).error,
            ErrorCode::FENCED_LEADER_EPOCH);
  EXPECT_EQ(two.partition->end_offset_for_epoch(LeaderEpoch{4}, LeaderEpoch{4}).error,
            ErrorCode::NOT_LEADER_OR_FOLLOWER);
  EXPECT_EQ(two.partition->delete_records_before(Offset{1}).error,
            ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

TEST_F(TwoReplicas, AFollowerReadStopsAtItsHighWatermarkAndItsLogEnd) {
  auto more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(more, -1, 0).error, ErrorCode::NONE);
  two.fetch_from(one);  // has 5; the leader's high watermark was still 3
  ASSERT_EQ(two.partition->offsets().log_end_offset, 5);
  ASSERT_EQ(two.partition->high_watermark(), 3);
  // Between its high watermark and its log end: nothing yet, no error.
  PartitionReadResult ahead = two.consume(4);
  EXPECT_EQ(ahead.error, ErrorCode::NONE);
  EXPECT_EQ(ahead.range.length, 0u);
  // Past its log end (the leader may have it): OFFSET_OUT_OF_RANGE, as Kafka's follower.
  EXPECT_EQ(two.consume(6).error, ErrorCode::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(one.consume(6).error, ErrorCode::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(one.consume(5).error, ErrorCode::NONE);
}

TEST_F(TwoReplicas, AFollowersHighWatermarkMoveWakesParkedConsumers) {
  auto waiter = std::make_shared<CountingWaiter>();
  two.partition->add_waiter(waiter);
  auto more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(more, -1, 0).error, ErrorCode::NONE);
  two.fetch_from(one);  // records, but the high watermark stays at 3
  EXPECT_EQ(waiter->woken, 0);
  two.fetch_from(one);  // the high watermark moves to 5
  EXPECT_EQ(waiter->woken, 1);
}

TEST_F(TwoReplicas, ListOffsetsGoesToTheLeaderExceptForTheDebuggingReplicaId) {
  auto more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(more, -1, 0).error, ErrorCode::NONE);
  two.fetch_from(one);  // log end 5, high watermark 3
  EXPECT_EQ(two.partition->list_offset(-1, LeaderEpoch{-1}, consumer_replica_id).error,
            ErrorCode::NOT_LEADER_OR_FOLLOWER);
  Partition::ListedOffset debug =
      two.partition->list_offset(-1, LeaderEpoch{-1}, debugging_replica_id);
  EXPECT_EQ(debug.error, ErrorCode::NONE);
  EXPECT_EQ(debug.offset, 5);  // not a consumer: up to the log end
  // A consumer on the leader sees the high watermark (3 until the follower fetches again).
  EXPECT_EQ(one.partition->list_offset(-1, LeaderEpoch{4}, consumer_replica_id).offset, 3);
  EXPECT_EQ(one.partition->list_offset(-1, LeaderEpoch{4}, 2).offset, 5);
}

TEST_F(TwoReplicas, ANewLeaderBelowItsEpochStartAnswersOffsetNotAvailable) {
  auto more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(more, -1, 0).error, ErrorCode::NONE);
  two.fetch_from(one);  // log end 5, high watermark 3
  // Node 2 is elected in epoch 5; its epoch starts at 5, its high watermark is 3.
  two.follow(2, 5, {1, 2});
  one.follow(2, 5, {1, 2});
  EXPECT_EQ(two.partition->list_offset(-1, LeaderEpoch{5}, consumer_replica_id).error,
            ErrorCode::OFFSET_NOT_AVAILABLE);
  EXPECT_EQ(two.partition->list_offset(-2, LeaderEpoch{5}, consumer_replica_id).error,
            ErrorCode::NONE);  // earliest is known
  // A timestamp found below the high watermark is answered; one at or past it is not.
  EXPECT_EQ(two.partition->list_offset(0, LeaderEpoch{5}, consumer_replica_id).error,
            ErrorCode::NONE);
  EXPECT_EQ(
      two.partition->list_offset(1'700'000'000'004, LeaderEpoch{5}, consumer_replica_id).error,
      ErrorCode::OFFSET_NOT_AVAILABLE);
  // Not a consumer: no such wait.
  EXPECT_EQ(two.partition->list_offset(-1, LeaderEpoch{5}, 1).error, ErrorCode::NONE);
  // Once the follower has caught up, the high watermark passes the epoch start.
  one.fetch_from(two);
  one.fetch_from(two);
  ASSERT_EQ(two.partition->high_watermark(), 5);
  Partition::ListedOffset latest = two.partition->list_offset(-1, LeaderEpoch{5}, -1);
  EXPECT_EQ(latest.error, ErrorCode::NONE);
  EXPECT_EQ(latest.offset, 5);
}

TEST_F(TwoReplicas, AFetchFromABrokerThatIsNotAReplica) {
  // Kafka's followerReplicaOrThrow: with a matching epoch the pair is not
  // known yet (UNKNOWN_LEADER_EPOCH, retried); without one NOT_LEADER_OR_FOLLOWER.
  auto with_epoch =
      one.partition->read_for_replica(3, 1, Offset{0}, LeaderEpoch{-1}, LeaderEpoch{4}, 1024, 0);
  EXPECT_EQ(with_epoch.read.error, ErrorCode::UNKNOWN_LEADER_EPOCH);
  auto without =
      one.partition->read_for_replica(3, 1, Offset{0}, LeaderEpoch{-1}, LeaderEpoch{-1}, 1024, 0);
  EXPECT_EQ(without.read.error, ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

// --- KIP-392: Kafka's RackAwareReplicaSelector and the leader's candidates ---

TEST(RackAwareReplicaSelector, TheClientsRackDecides) {
  ReadReplica leader{1, "a", 10, 0};
  std::vector<ReadReplica> followers{{2, "b", 9, 50}, {3, "c", 10, 0}, {4, "b", 9, 20}};
  EXPECT_EQ(select_read_replica("", leader, followers), 1);   // no rack: the leader
  EXPECT_EQ(select_read_replica("a", leader, followers), 1);  // the leader's rack
  EXPECT_EQ(select_read_replica("z", leader, followers), 1);  // nobody there
  EXPECT_EQ(select_read_replica("c", leader, followers), 3);
  // Two in the rack: the larger log end, then the more recently caught up.
  EXPECT_EQ(select_read_replica("b", leader, followers), 4);
  followers[0].log_end_offset = 10;
  EXPECT_EQ(select_read_replica("b", leader, followers), 2);
  // A follower without a rack (or unknown to the client's listener) is never chosen.
  EXPECT_EQ(select_read_replica("b", leader, {{2, std::nullopt, 10, 0}}), 1);
}

TEST_F(TwoReplicas, TheLeaderOffersInSyncFollowersThatHaveTheOffset) {
  EXPECT_TRUE(two.partition->read_replicas(Offset{0}, 0).empty());  // not the leader
  std::vector<ReadReplica> replicas = one.partition->read_replicas(Offset{3}, 0);
  ASSERT_EQ(replicas.size(), 2u);
  EXPECT_EQ(replicas[0].node_id, 1);
  EXPECT_EQ(replicas[1].node_id, 2);
  EXPECT_EQ(replicas[1].log_end_offset, 3);
  // Past the follower's log end: only the leader.
  auto more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(more, 1, 0).error, ErrorCode::NONE);
  EXPECT_EQ(one.partition->read_replicas(Offset{4}, 0).size(), 1u);
  // Out of the ISR: only the leader.
  one.follow(1, 4, {1});
  EXPECT_EQ(one.partition->read_replicas(Offset{0}, 0).size(), 1u);
}

}  // namespace
}  // namespace sluice::cluster
