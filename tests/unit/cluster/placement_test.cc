// Placement of new partitions across brokers and racks (issue 16, point 3):
// CreatePartitions places the added partitions with the same striped placer
// as CreateTopics (replicas on distinct racks, leaders spread evenly over
// brokers and racks), only over active brokers, and never a fenced leader.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cluster/controller.h"
#include "controller_fixture.h"

namespace sluice::cluster {
namespace {

class PlacementTest : public ControllerFixture {
 protected:
  // Racks a, b, c with two brokers each; this node (1, no rack) leaves so
  // only racked brokers are placed on.
  void SetUp() override {
    ControllerFixture::SetUp();
    for (const auto& [id, rack] : racks_) epochs_[id] = join(id, rack);
    ASSERT_TRUE(controller_->unregister_broker(1).ok());
  }
  const std::map<int32_t, std::string> racks_ = {{2, "a"}, {3, "a"}, {4, "b"},
                                                 {5, "b"}, {6, "c"}, {7, "c"}};
  std::map<int32_t, int64_t> epochs_;
};

TEST_F(PlacementTest, CreatePartitionsSpreadsReplicasOverRacksAndLeadersOverBrokers) {
  ASSERT_TRUE(create("t", 6, 3).error.ok());
  ASSERT_TRUE(controller_->create_partitions("t", 66, {}, false).ok());
  std::map<int32_t, int> leaders;
  std::map<std::string, int> leaders_per_rack;
  for (int32_t p = 6; p < 66; ++p) {
    const PartitionImage& part = partition("t", p);
    ASSERT_EQ(part.replicas.size(), 3u) << "partition " << p;
    std::set<std::string> racks_used;
    for (int32_t replica : part.replicas) racks_used.insert(racks_.at(replica));
    EXPECT_EQ(racks_used.size(), 3u) << "partition " << p << " repeats a rack";
    EXPECT_EQ(part.leader, part.replicas.front());
    EXPECT_EQ(part.isr.size(), 3u);
    ++leaders[part.leader];
    ++leaders_per_rack[racks_.at(part.leader)];
  }
  ASSERT_EQ(leaders.size(), 6u);
  for (const auto& [id, count] : leaders) EXPECT_EQ(count, 10) << "broker " << id;
  for (const auto& [rack, count] : leaders_per_rack) EXPECT_EQ(count, 20) << "rack " << rack;
}

TEST_F(PlacementTest, TwoRacksReplicationFactorTwoAlternatesRacks) {
  ASSERT_TRUE(heartbeat(6, epochs_[6], true).error.ok());
  ASSERT_TRUE(heartbeat(7, epochs_[7], true).error.ok());  // rack c gone
  ASSERT_TRUE(create("t", 1, 2).error.ok());
  ASSERT_TRUE(controller_->create_partitions("t", 41, {}, false).ok());
  std::map<int32_t, int> leaders;
  std::map<std::string, int> leaders_per_rack;
  for (int32_t p = 1; p < 41; ++p) {
    const PartitionImage& part = partition("t", p);
    ASSERT_EQ(part.replicas.size(), 2u);
    EXPECT_NE(racks_.at(part.replicas[0]), racks_.at(part.replicas[1])) << "partition " << p;
    for (int32_t replica : part.replicas) EXPECT_LT(replica, 6) << "placed on a fenced broker";
    ++leaders[part.leader];
    ++leaders_per_rack[racks_.at(part.leader)];
  }
  // Racks alternate exactly; within a rack the shuffle after each round
  // spreads leaders over its brokers without making them equal (Kafka's).
  EXPECT_EQ(leaders_per_rack["a"], 20);
  EXPECT_EQ(leaders_per_rack["b"], 20);
  ASSERT_EQ(leaders.size(), 4u) << "every active broker leads some";
}

TEST_F(PlacementTest, CreatePartitionsRefusesMoreReplicasThanActiveBrokers) {
  ASSERT_TRUE(create("t", 1, 3).error.ok());
  for (int32_t id : {4, 5, 6, 7}) ASSERT_TRUE(heartbeat(id, epochs_[id], true).error.ok());
  ApiError refused = controller_->create_partitions("t", 2, {}, false);
  EXPECT_EQ(refused.code, ErrorCode::INVALID_REPLICATION_FACTOR);
  EXPECT_EQ(refused.message,
            "Unable to replicate the partition 3 time(s): The target replication factor of 3 "
            "cannot be reached because only 2 broker(s) are registered.");
}

}  // namespace
}  // namespace sluice::cluster
