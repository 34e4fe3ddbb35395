// Partition reassignment on the controller (controller_reassignments.cc,
// partition_change.cc): the target replicas join beside the current ones,
// the AlterPartition that brings the last added replica into the ISR
// completes the move (leadership moves off a removed leader with
// NEW_LEADER_ELECTED), cancels revert, Kafka's error codes, listing, and a
// snapshot of the image keeps a reassignment in progress.
#include <gtest/gtest.h>

#include "cluster/controller.h"
#include "cluster/image_records.h"
#include "cluster/partition_change.h"
#include "controller_fixture.h"

namespace sluice::cluster {
namespace {

using Ids = std::vector<int32_t>;

class ReassignmentTest : public ControllerFixture {
 protected:
  void SetUp() override {
    ControllerFixture::SetUp();
    for (int32_t id : {2, 3, 4}) epochs_[id] = join(id);
  }
  ApiError reassign(const std::string& topic, int32_t partition, std::optional<Ids> replicas) {
    auto results =
        controller_->alter_partition_reassignments({{topic, {{partition, std::move(replicas)}}}});
    EXPECT_EQ(results.size(), 1u);
    return results.at(0).at(0);
  }
  // The leader's AlterPartition of partition 0 of `topic` to `isr`.
  AlterPartitionResult alter_isr(const std::string& topic, Ids isr, int16_t version = 3) {
    const PartitionImage& now = partition(topic, 0);
    AlterPartitionItem item;
    item.topic_id = controller_->image()->topic(topic)->id;
    item.topic_name = topic;
    item.partition = 0;
    item.leader_epoch = now.leader_epoch;
    item.partition_epoch = now.partition_epoch;
    for (int32_t id : isr) item.new_isr.push_back({id, broker(id).epoch});
    AlterPartitionReply reply =
        controller_->alter_partition(now.leader, broker(now.leader).epoch, {{item}}, version);
    EXPECT_TRUE(reply.error.ok()) << reply.error.message;
    return reply.topics.at(0).at(0);
  }
  std::map<int32_t, int64_t> epochs_;
};

TEST(ReassignmentPlanTest, TargetFirstThenTheRemovedOnesAsKafka) {
  ReassignmentPlan plan = plan_reassignment({1, 2}, {3, 4});
  EXPECT_EQ(plan.adding, (Ids{3, 4}));
  EXPECT_EQ(plan.removing, (Ids{1, 2}));
  EXPECT_EQ(plan.replicas, (Ids{3, 4, 1, 2}));
  ReassignmentPlan reorder = plan_reassignment({1, 2, 3}, {3, 1, 2});
  EXPECT_TRUE(reorder.adding.empty());
  EXPECT_TRUE(reorder.removing.empty());
  EXPECT_EQ(reorder.replicas, (Ids{3, 1, 2}));
}

TEST_F(ReassignmentTest, AddedReplicasCatchUpThenTheRemovedOnesLeaveAndLeadershipMoves) {
  ASSERT_TRUE(create("t", {{0, {1, 2}}}).ok());
  ASSERT_TRUE(reassign("t", 0, Ids{3, 4}).ok());
  const PartitionImage& moving = partition("t", 0);
  EXPECT_EQ(moving.replicas, (Ids{3, 4, 1, 2}));
  EXPECT_EQ(moving.adding_replicas, (Ids{3, 4}));
  EXPECT_EQ(moving.removing_replicas, (Ids{1, 2}));
  EXPECT_EQ(moving.isr, (Ids{1, 2}));
  EXPECT_EQ(moving.leader, 1);
  EXPECT_EQ(moving.leader_epoch, 0);  // the replicas only grew: same epoch

  auto listed = controller_->list_partition_reassignments(std::nullopt);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].topic, "t");
  EXPECT_EQ(listed[0].replicas, (Ids{3, 4, 1, 2}));
  EXPECT_EQ(listed[0].adding, (Ids{3, 4}));
  EXPECT_EQ(listed[0].removing, (Ids{1, 2}));

  // One added replica in the ISR: not done yet.
  EXPECT_EQ(alter_isr("t", {1, 2, 3}).error, ErrorCode::NONE);
  EXPECT_TRUE(partition("t", 0).reassigning());
  // The last one: the move completes in the same record, the removed
  // leader hands over, and is told so.
  EXPECT_EQ(alter_isr("t", {1, 2, 3, 4}).error, ErrorCode::NEW_LEADER_ELECTED);
  const PartitionImage& done = partition("t", 0);
  EXPECT_EQ(done.replicas, (Ids{3, 4}));
  EXPECT_EQ(done.isr, (Ids{3, 4}));
  EXPECT_EQ(done.leader, 3);
  EXPECT_EQ(done.leader_epoch, 1);
  EXPECT_FALSE(done.reassigning());
  EXPECT_TRUE(controller_->list_partition_reassignments(std::nullopt).empty());
}

TEST_F(ReassignmentTest, LeaderElectionsAreCountedFromTheDelta) {
  ASSERT_TRUE(create("t", {{0, {1, 2}}}).ok());
  ASSERT_TRUE(create("u", {{0, {2, 3}}}).ok());
  MetadataImagePtr before = controller_->image();
  ASSERT_TRUE(reassign("t", 0, Ids{3, 4}).ok());
  EXPECT_EQ(count_leader_elections(MetadataDelta::between(before, *controller_->image())).elections,
            0);
  alter_isr("t", {1, 2, 3, 4});
  ASSERT_TRUE(heartbeat(2, epochs_[2], true).error.ok());  // u: 2 -> 3
  LeaderElections counted =
      count_leader_elections(MetadataDelta::between(before, *controller_->image()));
  EXPECT_EQ(counted.elections, 2);
  EXPECT_EQ(counted.unclean, 0);
}

TEST_F(ReassignmentTest, VersionOneLeadersAreFencedInstead) {
  ASSERT_TRUE(create("t", {{0, {1}}}).ok());
  ASSERT_TRUE(reassign("t", 0, Ids{2}).ok());
  EXPECT_EQ(alter_isr("t", {1, 2}, 1).error, ErrorCode::FENCED_LEADER_EPOCH);
  EXPECT_EQ(partition("t", 0).leader, 2);
}

TEST_F(ReassignmentTest, AReorderOrAShrinkWithinTheIsrCompletesAtOnce) {
  ASSERT_TRUE(create("t", {{0, {1, 2, 3}}}).ok());
  ASSERT_TRUE(reassign("t", 0, Ids{3, 1, 2}).ok());
  EXPECT_EQ(partition("t", 0).replicas, (Ids{3, 1, 2}));
  EXPECT_FALSE(partition("t", 0).reassigning());
  EXPECT_EQ(partition("t", 0).leader, 1);  // a reorder moves no leader

  ASSERT_TRUE(reassign("t", 0, Ids{2, 3}).ok());
  const PartitionImage& shrunk = partition("t", 0);
  EXPECT_EQ(shrunk.replicas, (Ids{2, 3}));
  EXPECT_EQ(shrunk.isr, (Ids{2, 3}));
  EXPECT_EQ(shrunk.leader, 2);
  EXPECT_FALSE(shrunk.reassigning());
}

TEST_F(ReassignmentTest, CancelRevertsToTheOriginalReplicas) {
  ASSERT_TRUE(create("t", {{0, {1, 2}}}).ok());
  EXPECT_EQ(reassign("t", 0, std::nullopt).code, ErrorCode::NO_REASSIGNMENT_IN_PROGRESS);
  ASSERT_TRUE(reassign("t", 0, Ids{2, 3}).ok());
  EXPECT_EQ(partition("t", 0).replicas, (Ids{2, 3, 1}));
  EXPECT_EQ(alter_isr("t", {1, 2, 3}).error, ErrorCode::NEW_LEADER_ELECTED);
  EXPECT_FALSE(partition("t", 0).reassigning());

  ASSERT_TRUE(reassign("t", 0, Ids{4, 1}).ok());
  ASSERT_TRUE(partition("t", 0).reassigning());
  ASSERT_TRUE(reassign("t", 0, std::nullopt).ok());
  const PartitionImage& reverted = partition("t", 0);
  EXPECT_EQ(reverted.replicas, (Ids{2, 3}));
  EXPECT_EQ(reverted.isr, (Ids{2, 3}));
  EXPECT_FALSE(reverted.reassigning());
}

TEST_F(ReassignmentTest, KafkaErrorCodes) {
  ASSERT_TRUE(create("t", {{0, {1, 2}}}).ok());
  EXPECT_EQ(reassign("nope", 0, Ids{1}).code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ(reassign("t", 5, Ids{1}).code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  ApiError empty = reassign("t", 0, Ids{});
  EXPECT_EQ(empty.code, ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(empty.message, "The manual partition assignment includes an empty replica list.");
  ApiError unknown = reassign("t", 0, Ids{1, 9});
  EXPECT_EQ(unknown.code, ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(unknown.message,
            "The manual partition assignment includes broker 9, but no such broker is "
            "registered.");
  EXPECT_EQ(reassign("t", 0, Ids{2, 2}).code, ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_FALSE(partition("t", 0).reassigning());

  // One request: the failures do not stop the others.
  auto results = controller_->alter_partition_reassignments(
      {{"t", {{0, Ids{1, 2, 3}}, {7, Ids{1}}}}, {"gone", {{0, std::nullopt}}}});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0][0].ok());
  EXPECT_EQ(results[0][1].code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ(results[1][0].code, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ(partition("t", 0).adding_replicas, (Ids{3}));
}

TEST_F(ReassignmentTest, CancelThatNeedsAnUncleanElectionIsRefused) {
  ASSERT_TRUE(create("t", {{0, {2}}}).ok());
  ASSERT_TRUE(reassign("t", 0, Ids{3, 4}).ok());
  ASSERT_EQ(alter_isr("t", {2, 3}).error, ErrorCode::NONE);
  // 2 is fenced: the ISR is 3 alone, an added replica; reverting to [2]
  // would elect 2 from outside the ISR.
  ASSERT_TRUE(heartbeat(2, epochs_[2], true).error.ok());
  ASSERT_EQ(partition("t", 0).isr, (Ids{3}));
  ApiError refused = reassign("t", 0, std::nullopt);
  EXPECT_EQ(refused.code, ErrorCode::INVALID_REPLICA_ASSIGNMENT);
  EXPECT_EQ(refused.message,
            "Unable to revert partition assignment for t:0 because it would require an unclean "
            "leader election.");
  EXPECT_TRUE(partition("t", 0).reassigning());
}

TEST_F(ReassignmentTest, ListNamesOnlyPartitionsBeingMoved) {
  ASSERT_TRUE(create("a", {{0, {1}}, {1, {2}}}).ok());
  ASSERT_TRUE(create("b", {{0, {1}}}).ok());
  ASSERT_TRUE(reassign("a", 1, Ids{3}).ok());
  ASSERT_TRUE(reassign("b", 0, Ids{1, 4}).ok());
  EXPECT_EQ(controller_->list_partition_reassignments(std::nullopt).size(), 2u);
  auto some = controller_->list_partition_reassignments(
      std::vector<std::pair<std::string, Ids>>{{"a", {0, 1, 9}}, {"zz", {0}}});
  ASSERT_EQ(some.size(), 1u);
  EXPECT_EQ(some[0].topic, "a");
  EXPECT_EQ(some[0].partition, 1);
  EXPECT_EQ(some[0].replicas, (Ids{3, 2}));
}

TEST_F(ReassignmentTest, ImageRecordsKeepAReassignmentInProgress) {
  ASSERT_TRUE(create("t", {{0, {1, 2}}}).ok());
  ASSERT_TRUE(reassign("t", 0, Ids{3, 4}).ok());
  MetadataImagePtr now = controller_->image();
  auto rebuilt = image_from_records(image_records(*now), now->cluster_id, 1, now->offset);
  ASSERT_TRUE(rebuilt) << rebuilt.status().to_string();
  EXPECT_EQ(*rebuilt.value()->topic("t")->partition(0), *now->topic("t")->partition(0));
}

}  // namespace
}  // namespace sluice::cluster
