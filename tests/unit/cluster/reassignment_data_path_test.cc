// The data path of a reassignment on one broker (ReplicaManager, Partition):
// a replica added here gets its log and follows; a replica removed from here
// loses its log, and a leader that loses leadership (removed or not) wakes
// its acks=all waiters at once so they answer NOT_LEADER_OR_FOLLOWER rather
// than wait for their timeout.
#include <gtest/gtest.h>

#include "cluster/replica_manager.h"
#include "replica_node.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

constexpr int32_t local_node = 1;

MetadataImagePtr image_of(std::vector<int32_t> replicas, int32_t leader, int32_t leader_epoch) {
  auto image = std::make_shared<MetadataImage>();
  TopicImage topic;
  topic.name = "t";
  topic.id.bytes[15] = 7;
  PartitionImage partition;
  partition.partition = 0;
  partition.replicas = replicas;
  partition.isr = replicas;
  partition.leader = leader;
  partition.leader_epoch = leader_epoch;
  partition.partition_epoch = leader_epoch;
  topic.partitions.push_back(partition);
  image->put_topic(std::move(topic));
  return image;
}

struct CountingWaiter : AppendWaiter {
  int woken = 0;
  void on_new_data() override { ++woken; }
};

class ReassignmentDataPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    logs_ = testing::in_memory_log_manager(fs_);
    ReplicaManagerOptions replica_options;
    replica_options.node_id = BrokerId{local_node};
    replica_options.log_manager = logs_.get();
    replica_options.logger = [](std::string_view) {};
    replicas_ = std::make_unique<ReplicaManager>(std::move(replica_options));
  }

  storage::MemoryFileSystem fs_;
  std::unique_ptr<storage::LogManager> logs_;
  std::unique_ptr<ReplicaManager> replicas_;
};

TEST_F(ReassignmentDataPathTest, AnAddedReplicaGetsItsLogAndFollows) {
  ASSERT_TRUE(replicas_->apply_image(image_of({2, 3}, 2, 0)).is_ok());
  EXPECT_EQ(replicas_->partition("t", 0), nullptr);
  ASSERT_TRUE(replicas_->apply_image(image_of({2, 3, 1}, 2, 0)).is_ok());
  auto partition = replicas_->partition("t", 0);
  ASSERT_NE(partition, nullptr);
  EXPECT_EQ(partition->leader_id(), 2);
  EXPECT_TRUE(partition->follower_position().follower);
}

TEST_F(ReassignmentDataPathTest, ARemovedLeaderWakesItsWaitersAndDeletesItsLog) {
  ASSERT_TRUE(replicas_->apply_image(image_of({1, 2}, 1, 0)).is_ok());
  auto partition = replicas_->partition("t", 0);
  ASSERT_NE(partition, nullptr);
  auto waiter = std::make_shared<CountingWaiter>();
  partition->add_waiter(waiter);
  ASSERT_TRUE(replicas_->apply_image(image_of({3, 2}, 3, 1)).is_ok());
  EXPECT_EQ(replicas_->partition("t", 0), nullptr);
  EXPECT_GE(waiter->woken, 1) << "a waiter of a partition moved away is told";
  EXPECT_EQ(partition->leader_id(), 3);
  EXPECT_TRUE(logs_->logs().empty()) << "the removed replica's log is deleted";
}

TEST_F(ReassignmentDataPathTest, ALeaderThatStaysAReplicaButStopsLeadingWakesItsWaiters) {
  ASSERT_TRUE(replicas_->apply_image(image_of({1, 2}, 1, 0)).is_ok());
  auto partition = replicas_->partition("t", 0);
  auto waiter = std::make_shared<CountingWaiter>();
  partition->add_waiter(waiter);
  ASSERT_TRUE(replicas_->apply_image(image_of({2, 1}, 2, 1)).is_ok());
  EXPECT_EQ(replicas_->partition("t", 0), partition);
  EXPECT_GE(waiter->woken, 1);
}

}  // namespace
}  // namespace sluice::cluster
