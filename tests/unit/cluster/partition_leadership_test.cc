// Partition leadership and ISRs on the controller (controller_partitions.cc,
// partition_change.cc): AlterPartition with Kafka's checks and errors,
// ElectLeaders (preferred and unclean), unclean elections where a topic
// allows them, and the active controller's periodic leader balancing.
#include <gtest/gtest.h>

#include "cluster/controller.h"
#include "cluster/partition_change.h"
#include "controller_fixture.h"

namespace sluice::cluster {
namespace {

class PartitionLeadershipTest : public ControllerFixture {
 protected:
  // One AlterPartition of one partition of `topic`, from `from` (its
  // registered epoch unless given).
  AlterPartitionReply alter(int32_t from, const std::string& topic, int32_t partition,
                            std::vector<int32_t> isr, int16_t version = 3,
                            std::optional<int32_t> leader_epoch = std::nullopt,
                            std::optional<int32_t> partition_epoch = std::nullopt,
                            int8_t recovery = leader_recovered) {
    const PartitionImage& now = this->partition(topic, partition);
    AlterPartitionItem item;
    item.topic_id = controller_->image()->topic(topic)->id;
    item.topic_name = topic;
    item.partition = partition;
    item.leader_epoch = leader_epoch.value_or(now.leader_epoch);
    item.partition_epoch = partition_epoch.value_or(now.partition_epoch);
    item.leader_recovery_state = recovery;
    for (int32_t id : isr) item.new_isr.push_back({id, version >= 3 ? broker(id).epoch : -1});
    return controller_->alter_partition(from, broker(from).epoch, {{item}}, version);
  }
  ErrorCode alter_error(int32_t from, const std::string& topic, std::vector<int32_t> isr,
                        int16_t version = 3, std::optional<int32_t> leader_epoch = std::nullopt,
                        std::optional<int32_t> partition_epoch = std::nullopt,
                        int8_t recovery = leader_recovered) {
    AlterPartitionReply reply =
        alter(from, topic, 0, std::move(isr), version, leader_epoch, partition_epoch, recovery);
    EXPECT_TRUE(reply.error.ok()) << reply.error.message;
    return reply.topics.at(0).at(0).error;
  }
  ErrorCode elect(ElectionType type, const std::string& topic, int32_t partition = 0) {
    auto results = controller_->elect_leaders(
        type, std::vector<std::pair<std::string, int32_t>>{{topic, partition}});
    EXPECT_EQ(results.size(), 1u);
    return results.at(0).error.code;
  }
  void fence(int32_t id, int64_t epoch) { ASSERT_TRUE(heartbeat(id, epoch, true).error.ok()); }
  ApiError create_with(const std::string& name, std::vector<int32_t> replicas,
                       std::map<std::string, std::string> configs) {
    NewTopic topic;
    topic.name = name;
    topic.assignments = {{0, std::move(replicas)}};
    topic.configs = std::move(configs);
    return controller_->create_topics({topic}, false).front().error;
  }
};

TEST_F(PartitionLeadershipTest, TheLeaderShrinksAndExpandsTheIsr) {
  join(2);
  join(3);
  ASSERT_TRUE(create("t", {{0, {1, 2, 3}}}).ok());
  AlterPartitionReply shrink = alter(1, "t", 0, {1, 2});
  ASSERT_TRUE(shrink.error.ok());
  const AlterPartitionResult& result = shrink.topics.at(0).at(0);
  EXPECT_EQ(result.error, ErrorCode::NONE);
  EXPECT_EQ(result.isr, (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(result.leader, 1);
  EXPECT_EQ(result.leader_epoch, 0);  // an ISR change keeps the leader epoch
  EXPECT_EQ(result.partition_epoch, 1);
  EXPECT_EQ(partition("t", 0).isr, (std::vector<int32_t>{1, 2}));

  AlterPartitionReply expand = alter(1, "t", 0, {1, 2, 3});
  EXPECT_EQ(expand.topics.at(0).at(0).partition_epoch, 2);
  EXPECT_EQ(partition("t", 0).isr, (std::vector<int32_t>{1, 2, 3}));
  // The same ISR again changes nothing and answers the current state.
  AlterPartitionReply same = alter(1, "t", 0, {1, 2, 3});
  EXPECT_EQ(same.topics.at(0).at(0).partition_epoch, 2);
}

TEST_F(PartitionLeadershipTest, AlterPartitionErrorsAsKafka) {
  const int64_t two = join(2);
  join(3);
  ASSERT_TRUE(create("t", {{0, {1, 2, 3}}}).ok());
  // The whole request: an unknown broker or another epoch.
  EXPECT_EQ(controller_->alter_partition(1, broker(1).epoch + 1, {}, 3).error.code,
            ErrorCode::STALE_BROKER_EPOCH);
  EXPECT_EQ(controller_->alter_partition(9, 0, {}, 3).error.code, ErrorCode::STALE_BROKER_EPOCH);
  // Unknown topics: by id from version 2, by name before.
  AlterPartitionItem unknown;
  unknown.topic_name = "nope";
  unknown.partition = 0;
  EXPECT_EQ(controller_->alter_partition(1, broker(1).epoch, {{unknown}}, 2).topics[0][0].error,
            ErrorCode::UNKNOWN_TOPIC_ID);
  EXPECT_EQ(controller_->alter_partition(1, broker(1).epoch, {{unknown}}, 1).topics[0][0].error,
            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  AlterPartitionItem no_partition;
  no_partition.topic_id = controller_->image()->topic("t")->id;
  no_partition.partition = 5;
  EXPECT_EQ(
      controller_->alter_partition(1, broker(1).epoch, {{no_partition}}, 3).topics[0][0].error,
      ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  // Epochs newer than the image's: maybe not the active controller.
  EXPECT_EQ(alter_error(1, "t", {1, 2}, 3, 1), ErrorCode::NOT_CONTROLLER);
  EXPECT_EQ(alter_error(1, "t", {1, 2}, 3, std::nullopt, 7), ErrorCode::NOT_CONTROLLER);
  // Not the leader.
  EXPECT_EQ(alter_error(2, "t", {1, 2}), ErrorCode::INVALID_REQUEST);
  // The ISR must hold the leader, only replicas, each once.
  EXPECT_EQ(alter_error(1, "t", {2, 3}), ErrorCode::INVALID_REQUEST);
  AlterPartitionReply twice = alter(1, "t", 0, {1, 2});
  ASSERT_EQ(twice.topics[0][0].error, ErrorCode::NONE);
  // An older partition epoch: another change came first.
  EXPECT_EQ(alter_error(1, "t", {1}, 3, std::nullopt, 0), ErrorCode::INVALID_UPDATE_VERSION);
  // A fenced member is ineligible (OPERATION_NOT_ATTEMPTED before version 2).
  fence(2, two);
  EXPECT_EQ(alter_error(1, "t", {1, 2}), ErrorCode::INELIGIBLE_REPLICA);
  EXPECT_EQ(alter_error(1, "t", {1, 2}, 1), ErrorCode::OPERATION_NOT_ATTEMPTED);
  // A member of another broker epoch (version 3 carries them).
  AlterPartitionItem other_epoch;
  other_epoch.topic_id = controller_->image()->topic("t")->id;
  other_epoch.partition = 0;
  other_epoch.leader_epoch = partition("t", 0).leader_epoch;
  other_epoch.partition_epoch = partition("t", 0).partition_epoch;
  other_epoch.new_isr = {{1, broker(1).epoch}, {3, broker(3).epoch - 1}};
  EXPECT_EQ(controller_->alter_partition(1, broker(1).epoch, {{other_epoch}}, 3).topics[0][0].error,
            ErrorCode::INELIGIBLE_REPLICA);
  // A leader epoch older than the image's: a fenced leader.
  ASSERT_EQ(partition("t", 0).leader, 1);
  const int32_t old_epoch = partition("t", 0).leader_epoch;
  join(2);  // back, unfenced
  ASSERT_EQ(alter_error(1, "t", {1, 2, 3}), ErrorCode::NONE);
  ASSERT_EQ(elect(ElectionType::preferred, "t"), ErrorCode::ELECTION_NOT_NEEDED);
  fence(3, broker(3).epoch);  // not the leader: the leader epoch stays
  EXPECT_EQ(partition("t", 0).leader_epoch, old_epoch);
}

TEST_F(PartitionLeadershipTest, PreferredElectionOnceThePreferredReplicaIsInSync) {
  const int64_t two = join(2);
  ASSERT_TRUE(create("t", {{0, {2, 1}}}).ok());
  EXPECT_EQ(elect(ElectionType::preferred, "t"), ErrorCode::ELECTION_NOT_NEEDED);
  fence(2, two);
  EXPECT_EQ(partition("t", 0).leader, 1);
  join(2);  // unfenced, but out of the ISR until the leader adds it
  EXPECT_EQ(partition("t", 0).isr, std::vector<int32_t>{1});
  EXPECT_EQ(elect(ElectionType::preferred, "t"), ErrorCode::PREFERRED_LEADER_NOT_AVAILABLE);
  ASSERT_EQ(alter_error(1, "t", {1, 2}), ErrorCode::NONE);
  const int32_t epoch = partition("t", 0).leader_epoch;
  EXPECT_EQ(elect(ElectionType::preferred, "t"), ErrorCode::NONE);
  EXPECT_EQ(partition("t", 0).leader, 2);
  EXPECT_EQ(partition("t", 0).leader_epoch, epoch + 1);
  // Every partition: only those needing an election are reported.
  EXPECT_TRUE(controller_->elect_leaders(ElectionType::preferred, std::nullopt).empty());
  EXPECT_EQ(elect(ElectionType::preferred, "missing"), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  EXPECT_EQ(elect(ElectionType::preferred, "t", 3), ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
}

TEST_F(PartitionLeadershipTest, UncleanElectionOnlyWhereAllowedOrAsked) {
  const int64_t two = join(2);
  const int64_t three = join(3);
  ASSERT_TRUE(create_with("unclean", {2, 3}, {{"unclean.leader.election.enable", "true"}}).ok());
  ASSERT_TRUE(create_with("safe", {2, 3}, {}).ok());
  fence(2, two);
  fence(3, three);
  for (const char* topic : {"unclean", "safe"}) {
    EXPECT_EQ(partition(topic, 0).leader, -1) << topic;
    EXPECT_EQ(partition(topic, 0).isr, std::vector<int32_t>{3}) << topic;
  }
  EXPECT_EQ(elect(ElectionType::unclean, "safe"), ErrorCode::ELIGIBLE_LEADERS_NOT_AVAILABLE);
  // Broker 2 comes back; 3, the last in-sync replica, does not.
  join(2);
  EXPECT_EQ(partition("unclean", 0).leader, 2);  // the topic allows it
  EXPECT_EQ(partition("unclean", 0).isr, std::vector<int32_t>{2});
  EXPECT_EQ(partition("unclean", 0).leader_recovery_state, leader_recovering);
  EXPECT_EQ(partition("safe", 0).leader, -1);  // unclean.leader.election.enable=false
  // An admin may still ask for it.
  EXPECT_EQ(elect(ElectionType::unclean, "safe"), ErrorCode::NONE);
  EXPECT_EQ(partition("safe", 0).leader, 2);
  EXPECT_EQ(elect(ElectionType::unclean, "safe"), ErrorCode::ELECTION_NOT_NEEDED);
  // While recovering the ISR is the leader alone; then it says it recovered.
  join(3);
  EXPECT_EQ(alter_error(2, "unclean", {2, 3}, 3, std::nullopt, std::nullopt, leader_recovering),
            ErrorCode::INVALID_REQUEST);
  EXPECT_EQ(alter_error(2, "unclean", {2}), ErrorCode::NONE);
  EXPECT_EQ(partition("unclean", 0).leader_recovery_state, leader_recovered);
  EXPECT_EQ(alter_error(2, "unclean", {2}, 3, std::nullopt, std::nullopt, leader_recovering),
            ErrorCode::INVALID_REQUEST);  // never back to recovering
  EXPECT_EQ(alter_error(2, "unclean", {2, 3}), ErrorCode::NONE);
}

TEST_F(PartitionLeadershipTest, TheActiveControllerBalancesLeadersPeriodically) {
  const int64_t two = join(2);
  ASSERT_TRUE(create("t", {{0, {2, 1}}}).ok());
  fence(2, two);
  join(2);
  ASSERT_EQ(alter_error(1, "t", {1, 2}), ErrorCode::NONE);
  ASSERT_EQ(partition("t", 0).leader, 1);
  controller_->tick();  // starts the schedule
  clock_.advance_ms(299'000);
  heartbeat(2, broker(2).epoch);
  controller_->tick();
  EXPECT_EQ(partition("t", 0).leader, 1);  // leader.imbalance.check.interval.seconds=300
  clock_.advance_ms(2'000);
  heartbeat(2, broker(2).epoch);
  controller_->tick();
  EXPECT_EQ(partition("t", 0).leader, 2);
}

TEST_F(PartitionLeadershipTest, LeaderlessPartitionsOfTopicsThatAllowItElectUncleanly) {
  const int64_t two = join(2);
  const int64_t three = join(3);
  ASSERT_TRUE(create_with("t", {2, 3}, {}).ok());
  fence(2, two);
  fence(3, three);
  join(2);
  ASSERT_EQ(partition("t", 0).leader, -1);
  ASSERT_TRUE(
      controller_->replace_topic_configs("t", {{"unclean.leader.election.enable", "true"}}, false)
          .ok());
  controller_->tick();
  clock_.advance_ms(300'001);
  heartbeat(2, broker(2).epoch);
  controller_->tick();  // unclean.leader.election.interval.ms=300000
  EXPECT_EQ(partition("t", 0).leader, 2);
  EXPECT_EQ(partition("t", 0).isr, std::vector<int32_t>{2});
}

TEST(PartitionChangeTest, NothingToChangeIsNoRecord) {
  PartitionImage partition;
  partition.replicas = {1, 2};
  partition.isr = {1, 2};
  partition.leader = 1;
  PartitionChange change;
  change.partition = &partition;
  change.acceptable_leader = [](int32_t) { return true; };
  EXPECT_FALSE(build_partition_change(change));
  // An ISR is never emptied: the leader goes, the last ISR stays.
  change.target_isr = std::vector<int32_t>{};
  auto leaderless = build_partition_change(change);
  ASSERT_TRUE(leaderless);
  EXPECT_EQ(leaderless->leader, -1);
  EXPECT_FALSE(leaderless->isr);
  change.target_isr = std::vector<int32_t>{2};  // the leader leaves the ISR: 2 leads
  auto record = build_partition_change(change);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->leader, 2);
  EXPECT_EQ(record->isr, std::vector<int32_t>{2});
  // A replica set without the leader restates it (a new leader epoch).
  change.target_isr.reset();
  change.target_replicas = std::vector<int32_t>{1};
  record = build_partition_change(change);
  ASSERT_TRUE(record);
  EXPECT_EQ(record->leader, 1);
}

}  // namespace
}  // namespace sluice::cluster
