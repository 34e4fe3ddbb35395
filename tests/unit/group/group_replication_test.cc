// The coordinator's writes to a replicated __consumer_offsets partition
// (issue 16): through the broker's real path (ReplicaManager, Partition,
// LogManager, flusher) with this node leading a partition of two replicas,
// an OffsetCommit is answered only once the follower has the record (the
// high watermark passed it, acks=all), a leadership lost meanwhile answers
// NOT_COORDINATOR, offsets.commit.timeout.ms answers
// COORDINATOR_NOT_AVAILABLE, and nothing unanswered is applied; an
// election of a partition with records the follower-turned-leader already
// holds loads them once they are committed.
#include <gtest/gtest.h>

#include "cluster/replica_manager.h"
#include "group/group_coordinator.h"
#include "group/group_service.h"
#include "storage/memory_file_system.h"

namespace sluice::group {
namespace {

constexpr int16_t err(ErrorCode code) { return to_wire(code); }
constexpr int32_t local_node = 1;
constexpr int32_t follower_node = 2;
constexpr int32_t partitions = 1;  // every group in partition 0

template <class T>
struct Slot {
  std::optional<T> value;
  int calls = 0;
  Reply<T> reply() {
    return [this](T response) {
      value = std::move(response);
      ++calls;
    };
  }
};

cluster::MetadataImagePtr image_led_by(int32_t leader, int32_t leader_epoch,
                                       std::vector<int32_t> isr) {
  auto image = std::make_shared<cluster::MetadataImage>();
  cluster::TopicImage topic;
  topic.name = offsets_topic;
  topic.id.bytes[15] = 7;
  topic.partitions.push_back(cluster::PartitionImage{
      0, {local_node, follower_node}, std::move(isr), leader, leader_epoch, leader_epoch});
  image->put_topic(std::move(topic));
  return image;
}

struct ReplicatedNode {
  ReplicatedNode() {
    storage::LogManagerOptions options;
    options.log_dirs = {"/data"};
    options.background_threads = false;
    options.logger = [](std::string_view) {};
    logs = std::move(storage::LogManager::open(memory, std::move(options))).value();
    cluster::ReplicaManagerOptions replica_options;
    replica_options.node_id = BrokerId{local_node};
    replica_options.log_manager = logs.get();
    replica_options.logger = [](std::string_view) {};
    replicas = std::make_unique<cluster::ReplicaManager>(std::move(replica_options));
    EXPECT_TRUE(
        replicas->apply_image(image_led_by(local_node, 1, {local_node, follower_node})).is_ok());
    log = std::make_unique<OffsetsTopicLog>(
        *replicas, clock, [] {}, /*commit_timeout_ms=*/5000);
    GroupConfig config;
    config.offsets_topic_partitions = partitions;
    coordinator = std::make_unique<GroupCoordinator>(config, clock, random, *log);
    coordinator->on_election(0, LeaderEpoch{1});
  }
  void commit_async(Slot<protocol::OffsetCommitResponse>& slot, int64_t offset) {
    protocol::OffsetCommitRequest request;
    request.group_id = "g";
    request.generation_id_or_member_epoch = -1;
    auto& topic = request.topics.emplace_back();
    topic.name = "t";
    topic.partitions.push_back({0, offset, -1, -1, "", {}});
    coordinator->offset_commit(request, 8, slot.reply());
    logs->flusher().run_round();
  }
  int64_t fetch() {
    protocol::OffsetFetchRequest request;
    auto& entry = request.groups.emplace_back();
    entry.group_id = "g";
    entry.topics =
        std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopics>{{"t", {0}, {}}};
    const auto group = coordinator->offset_fetch(request, 8).groups.at(0);
    return group.error_code != 0 ? -100 - group.error_code
                                 : group.topics.at(0).partitions.at(0).committed_offset;
  }
  std::shared_ptr<cluster::Partition> partition() { return replicas->partition(offsets_topic, 0); }
  // The follower fetches from the leader's log end: it has everything.
  void follower_catches_up() {
    auto p = partition();
    const int64_t end = p->offsets().log_end_offset;
    auto read = p->read_for_replica(follower_node, -1, Offset{end}, LeaderEpoch{1}, LeaderEpoch{1},
                                    1 << 20, cluster::Partition::monotonic_ms());
    ASSERT_EQ(read.read.error, ErrorCode::NONE);
  }
  static int16_t error_of(const Slot<protocol::OffsetCommitResponse>& slot) {
    return slot.value->topics.at(0).partitions.at(0).error_code;
  }

  storage::MemoryFileSystem memory;
  ManualClock clock;
  SeededRandom random{3};
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<cluster::ReplicaManager> replicas;
  std::unique_ptr<OffsetsTopicLog> log;
  std::unique_ptr<GroupCoordinator> coordinator;
};

TEST(CoordinatorReplication, ACommitIsAnsweredOnceTheFollowerHasIt) {
  ReplicatedNode node;
  Slot<protocol::OffsetCommitResponse> slot;
  node.commit_async(slot, 10);
  EXPECT_EQ(slot.calls, 0) << "fsynced here, but the follower does not have it";
  EXPECT_EQ(node.fetch(), -1) << "not visible before it is replicated";
  EXPECT_EQ(node.log->waits_in_flight(), 1u);
  node.follower_catches_up();
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(ReplicatedNode::error_of(slot), 0);
  EXPECT_EQ(node.fetch(), 10);
  EXPECT_EQ(node.log->waits_in_flight(), 0u);
}

TEST(CoordinatorReplication, LeadershipLostWhileWaitingAnswersNotCoordinator) {
  ReplicatedNode node;
  Slot<protocol::OffsetCommitResponse> slot;
  node.commit_async(slot, 10);
  ASSERT_EQ(slot.calls, 0);
  // The follower became leader (this broker was fenced, say): the image
  // says so, the ReplicaManager applies it, the service checks its waits
  // and resigns the partition.
  ASSERT_TRUE(node.replicas->apply_image(image_led_by(follower_node, 2, {follower_node})).is_ok());
  node.log->check_waits();
  node.coordinator->on_resignation(0, LeaderEpoch{2});
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(ReplicatedNode::error_of(slot), err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(node.fetch(), -100 - err(ErrorCode::NOT_COORDINATOR));
}

TEST(CoordinatorReplication, ACommitNotReplicatedInTimeAnswersCoordinatorNotAvailable) {
  ReplicatedNode node;
  Slot<protocol::OffsetCommitResponse> slot;
  node.commit_async(slot, 10);
  node.clock.advance(std::chrono::milliseconds(4999));
  node.log->check_waits();
  EXPECT_EQ(slot.calls, 0);
  node.clock.advance(std::chrono::milliseconds(2));
  node.log->check_waits();
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(ReplicatedNode::error_of(slot), err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
  EXPECT_EQ(node.fetch(), -1) << "not applied";
}

TEST(CoordinatorReplication, TooFewInSyncReplicasAnswersCoordinatorNotAvailable) {
  ReplicatedNode node;
  // min.insync.replicas 2 with an ISR of one: refused before the append.
  auto image = image_led_by(local_node, 1, {local_node});
  ASSERT_TRUE(node.replicas->apply_image(image).is_ok());
  auto policy = node.partition()->append_policy();
  policy.min_insync_replicas = 2;
  cluster::PartitionImage state{0, {local_node, follower_node}, {local_node}, local_node, 1, 2};
  node.partition()->update(state, policy);
  Slot<protocol::OffsetCommitResponse> slot;
  node.commit_async(slot, 10);
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(ReplicatedNode::error_of(slot), err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
  EXPECT_EQ(node.fetch(), -1);
}

}  // namespace
}  // namespace sluice::group
