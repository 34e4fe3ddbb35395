// The group coordinator changes its state only once its records are
// durable (issue 13, point 1): an append that fails at each step (an
// OffsetCommit, the leader's SyncGroup storing the assignment, DeleteGroups,
// a static member's new id) answers Kafka's error, leaves nothing visible
// that was not acknowledged, and a restart (replaying what was stored)
// agrees with what was acknowledged. First with a log the test completes by
// hand, then through the broker's real path (ReplicaManager, LogManager,
// flusher) on a file system that fails under __consumer_offsets.
//
// Before the runtime, these failed: a failed commit was visible to
// OffsetFetch (FailedCommitIsNeverVisible, FailingDiskKeepsTheLastAcknowledgedCommit),
// a failed SyncGroup store left the group Stable
// (FailedAssignmentStoreLeavesTheGroupRebalancing), a failed delete removed
// the group (FailedDeleteKeepsTheGroup), a pending commit was visible
// (PendingCommitIsNotVisibleUntilDurable), and storage errors were not mapped
// as Kafka maps them (AppendErrorsMapAsKafkaDoes).
#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "../storage/instrumented_file_system.h"
#include "cluster/replica_manager.h"
#include "group/group_coordinator.h"
#include "group/group_records.h"
#include "group/group_service.h"
#include "record/batch_builder.h"
#include "storage/memory_file_system.h"

namespace sluice::group {
namespace {

constexpr int16_t err(ErrorCode code) { return to_wire(code); }

// Keeps appends pending until the test completes them; only records whose
// append succeeded are in `log` (what a restart would read).
class HandLog final : public CoordinatorLog {
 public:
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override {
    pending.push_back({partition, std::move(records), std::move(done)});
  }
  void complete(ErrorCode error = ErrorCode::NONE) {
    while (!pending.empty()) {
      auto entry = std::move(pending.front());
      pending.pop_front();
      if (error == ErrorCode::NONE)
        for (auto& record : entry.records) log[entry.partition].push_back(std::move(record));
      entry.done(error);
    }
  }
  void replay_into(GroupCoordinator& coordinator) const {
    for (const auto& [partition, records] : log)
      for (const auto& record : records) {
        std::optional<Bytes> value;
        if (record.value) value = Bytes(*record.value);
        ASSERT_TRUE(coordinator.replay(Bytes(record.key), value));
      }
  }
  struct Pending {
    int32_t partition;
    std::vector<CoordinatorRecord> records;
    std::function<void(ErrorCode)> done;
  };
  std::map<int32_t, std::vector<CoordinatorRecord>> log;
  std::deque<Pending> pending;
};

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

protocol::OffsetCommitRequest commit_request(const std::string& group, int64_t offset, int32_t generation = -1,
                                             const std::string& member = "") {
  protocol::OffsetCommitRequest request;
  request.group_id = group;
  request.generation_id_or_member_epoch = generation;
  request.member_id = member;
  auto& topic = request.topics.emplace_back();
  topic.name = "t";
  topic.partitions.push_back({0, offset, -1, -1, std::string("m"), {}});
  return request;
}

int64_t fetch(GroupCoordinator& coordinator, const std::string& group) {
  protocol::OffsetFetchRequest request;
  auto& entry = request.groups.emplace_back();
  entry.group_id = group;
  entry.topics = std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopics>{{"t", {0}, {}}};
  return coordinator.offset_fetch(request, 8).groups.at(0).topics.at(0).partitions.at(0).committed_offset;
}

int16_t commit_error(const Slot<protocol::OffsetCommitResponse>& slot) {
  return slot.value ? slot.value->topics.at(0).partitions.at(0).error_code : -999;
}

TEST(CoordinatorError, AppendErrorsMapAsKafkaDoes) {
  EXPECT_EQ(coordinator_error(ErrorCode::NONE), ErrorCode::NONE);
  EXPECT_EQ(coordinator_error(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION), ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(coordinator_error(ErrorCode::NOT_ENOUGH_REPLICAS), ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(coordinator_error(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND), ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(coordinator_error(ErrorCode::KAFKA_STORAGE_ERROR), ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(coordinator_error(ErrorCode::NOT_LEADER_OR_FOLLOWER), ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(coordinator_error(ErrorCode::RECORD_LIST_TOO_LARGE), ErrorCode::UNKNOWN_SERVER_ERROR);
  EXPECT_EQ(coordinator_error(ErrorCode::MESSAGE_TOO_LARGE), ErrorCode::UNKNOWN_SERVER_ERROR);
}

class DurabilityTest : public ::testing::Test {
 protected:
  DurabilityTest() {
    config.initial_rebalance_delay_ms = 0;
    coordinator = std::make_unique<GroupCoordinator>(config, clock, random, log);
  }
  // Joins one member (v9: KIP-394's two steps); returns (id, generation).
  std::pair<std::string, int32_t> join_one(const std::string& group = "g",
                                           std::optional<std::string> instance = std::nullopt) {
    protocol::JoinGroupRequest request;
    request.group_id = group;
    request.session_timeout_ms = 10000;
    request.rebalance_timeout_ms = 30000;
    request.group_instance_id = instance;
    request.protocol_type = "consumer";
    request.protocols.push_back({"range", {1, 2, 3}, {}});
    Slot<protocol::JoinGroupResponse> first;
    coordinator->join_group(request, 9, {"client", "/127.0.0.1"}, first.reply());
    if (first.value->error_code == 0) return {first.value->member_id, first.value->generation_id};
    request.member_id = first.value->member_id;
    Slot<protocol::JoinGroupResponse> second;
    coordinator->join_group(request, 9, {"client", "/127.0.0.1"}, second.reply());
    EXPECT_EQ(second.value->error_code, 0);
    return {second.value->member_id, second.value->generation_id};
  }
  Slot<protocol::SyncGroupResponse> sync(const std::string& member, int32_t generation,
                                         const std::string& group = "g") {
    protocol::SyncGroupRequest request;
    request.group_id = group;
    request.generation_id = generation;
    request.member_id = member;
    request.assignments.push_back({member, {7}, {}});
    Slot<protocol::SyncGroupResponse> slot;
    coordinator->sync_group(request, 5, slot.reply());
    return slot;
  }
  // A fresh coordinator from what was stored (a restart).
  std::unique_ptr<GroupCoordinator> restarted() {
    HandLog unused;
    auto fresh = std::make_unique<GroupCoordinator>(config, clock, random, unused);
    log.replay_into(*fresh);
    fresh->finish_loading();
    return fresh;
  }

  ManualClock clock;
  SeededRandom random{13};
  HandLog log;
  GroupConfig config;
  std::unique_ptr<GroupCoordinator> coordinator;
};

TEST_F(DurabilityTest, PendingCommitIsNotVisibleUntilDurable) {
  Slot<protocol::OffsetCommitResponse> committed;
  coordinator->offset_commit(commit_request("simple", 10), 8, committed.reply());
  EXPECT_EQ(committed.calls, 0);
  EXPECT_EQ(fetch(*coordinator, "simple"), -1) << "not acknowledged, not visible";
  log.complete();
  EXPECT_EQ(commit_error(committed), 0);
  EXPECT_EQ(fetch(*coordinator, "simple"), 10);
}

TEST_F(DurabilityTest, FailedCommitIsNeverVisible) {
  Slot<protocol::OffsetCommitResponse> first;
  coordinator->offset_commit(commit_request("simple", 10), 8, first.reply());
  log.complete();
  ASSERT_EQ(commit_error(first), 0);

  Slot<protocol::OffsetCommitResponse> failed;
  coordinator->offset_commit(commit_request("simple", 20), 8, failed.reply());
  log.complete(ErrorCode::KAFKA_STORAGE_ERROR);
  EXPECT_EQ(commit_error(failed), err(ErrorCode::NOT_COORDINATOR)) << "Kafka's answer to a storage error";
  EXPECT_EQ(fetch(*coordinator, "simple"), 10) << "the failed commit is not visible";

  Slot<protocol::OffsetCommitResponse> not_enough;
  coordinator->offset_commit(commit_request("simple", 30), 8, not_enough.reply());
  log.complete(ErrorCode::NOT_ENOUGH_REPLICAS);
  EXPECT_EQ(commit_error(not_enough), err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
  EXPECT_EQ(fetch(*coordinator, "simple"), 10);
  EXPECT_EQ(fetch(*restarted(), "simple"), 10) << "a restart agrees with what was acknowledged";
}

TEST_F(DurabilityTest, FailedCommitOfANewSimpleGroupCreatesNothing) {
  Slot<protocol::OffsetCommitResponse> failed;
  coordinator->offset_commit(commit_request("fresh", 5), 8, failed.reply());
  log.complete(ErrorCode::KAFKA_STORAGE_ERROR);
  EXPECT_EQ(commit_error(failed), err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(coordinator->state_of(GroupId{"fresh"}), std::nullopt);
  EXPECT_EQ(coordinator->list_groups({}, 4).groups.size(), 0u);
}

TEST_F(DurabilityTest, FailedAssignmentStoreLeavesTheGroupRebalancing) {
  auto [id, generation] = join_one();
  ASSERT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::completing_rebalance);
  auto synced = sync(id, generation);
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::completing_rebalance)
      << "not Stable before it is stored";
  // A commit meanwhile is refused as during any rebalance.
  Slot<protocol::OffsetCommitResponse> early;
  coordinator->offset_commit(commit_request("g", 1, generation, id), 8, early.reply());
  EXPECT_EQ(commit_error(early), err(ErrorCode::REBALANCE_IN_PROGRESS));

  log.complete(ErrorCode::KAFKA_STORAGE_ERROR);
  ASSERT_EQ(synced.calls, 1);
  EXPECT_EQ(synced.value->error_code, err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::preparing_rebalance)
      << "Kafka rebalances after a failed store";
  protocol::DescribeGroupsRequest describe;
  describe.groups = {"g"};
  auto described = coordinator->describe_groups(describe, 5);
  EXPECT_TRUE(described.groups.at(0).members.at(0).member_assignment.empty()) << "the assignment never showed";
  EXPECT_EQ(restarted()->state_of(GroupId{"g"}), std::nullopt) << "nothing of the group was stored";

  // The member rejoins, and a stored assignment makes the group Stable.
  protocol::JoinGroupRequest rejoin;
  rejoin.group_id = "g";
  rejoin.member_id = id;
  rejoin.session_timeout_ms = 10000;
  rejoin.rebalance_timeout_ms = 30000;
  rejoin.protocol_type = "consumer";
  rejoin.protocols.push_back({"range", {1, 2, 3}, {}});
  Slot<protocol::JoinGroupResponse> joined;
  coordinator->join_group(rejoin, 9, {"client", "/127.0.0.1"}, joined.reply());
  ASSERT_EQ(joined.value->error_code, 0);
  auto again = sync(id, joined.value->generation_id);
  log.complete();
  EXPECT_EQ(again.value->error_code, 0);
  EXPECT_EQ(again.value->assignment, (std::vector<uint8_t>{7}));
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::stable);
  EXPECT_EQ(restarted()->state_of(GroupId{"g"}), GroupState::stable);
}

TEST_F(DurabilityTest, LeaderRetryDuringTheStoreStoresOnce) {
  auto [leader, generation] = join_one();
  auto synced = sync(leader, generation);
  ASSERT_EQ(synced.calls, 0);
  // The leader retries while the first store is in flight: one store only.
  auto retried = sync(leader, generation);
  EXPECT_EQ(synced.calls, 1) << "the first parked answer is replaced";
  log.complete();
  ASSERT_EQ(retried.calls, 1);
  EXPECT_EQ(retried.value->error_code, 0);
  EXPECT_EQ(log.log.begin()->second.size(), 1u) << "the assignment was stored once";
}

TEST_F(DurabilityTest, FailedDeleteKeepsTheGroup) {
  Slot<protocol::OffsetCommitResponse> committed;
  coordinator->offset_commit(commit_request("idle", 9), 8, committed.reply());
  log.complete();
  protocol::DeleteGroupsRequest request;
  request.groups_names = {"idle"};
  Slot<protocol::DeleteGroupsResponse> deleting;
  coordinator->delete_groups(request, 2, deleting.reply());
  EXPECT_EQ(deleting.calls, 0) << "answered once the tombstones are durable";
  EXPECT_EQ(fetch(*coordinator, "idle"), 9) << "still there until then";
  Slot<protocol::OffsetCommitResponse> meanwhile;
  coordinator->offset_commit(commit_request("idle", 10), 8, meanwhile.reply());
  EXPECT_EQ(commit_error(meanwhile), err(ErrorCode::COORDINATOR_NOT_AVAILABLE)) << "a group being deleted";
  log.complete(ErrorCode::KAFKA_STORAGE_ERROR);
  ASSERT_EQ(deleting.calls, 1);
  EXPECT_EQ(deleting.value->results.at(0).error_code, err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(coordinator->state_of(GroupId{"idle"}), GroupState::empty);
  EXPECT_EQ(fetch(*coordinator, "idle"), 9);
  EXPECT_EQ(fetch(*restarted(), "idle"), 9);

  Slot<protocol::DeleteGroupsResponse> deleted;
  coordinator->delete_groups(request, 2, deleted.reply());
  log.complete();
  EXPECT_EQ(deleted.value->results.at(0).error_code, 0);
  EXPECT_EQ(coordinator->state_of(GroupId{"idle"}), std::nullopt);
  EXPECT_EQ(restarted()->state_of(GroupId{"idle"}), std::nullopt);
}

TEST_F(DurabilityTest, DeleteAfterACommitInFlightDeletesItToo) {
  Slot<protocol::OffsetCommitResponse> committed;
  coordinator->offset_commit(commit_request("idle", 9), 8, committed.reply());
  log.complete();
  // A commit to another partition is in flight when the group is deleted:
  // its record lands first, the tombstones must cover it.
  auto request = commit_request("idle", 4);
  request.topics[0].partitions[0].partition_index = 1;
  Slot<protocol::OffsetCommitResponse> in_flight;
  coordinator->offset_commit(request, 8, in_flight.reply());
  protocol::DeleteGroupsRequest remove;
  remove.groups_names = {"idle"};
  Slot<protocol::DeleteGroupsResponse> deleted;
  coordinator->delete_groups(remove, 2, deleted.reply());
  log.complete();
  EXPECT_EQ(commit_error(in_flight), 0);
  EXPECT_EQ(deleted.value->results.at(0).error_code, 0);
  EXPECT_EQ(coordinator->state_of(GroupId{"idle"}), std::nullopt);
  EXPECT_EQ(restarted()->state_of(GroupId{"idle"}), std::nullopt)
      << "no offset of the deleted group survives a restart";
}

TEST_F(DurabilityTest, FailedOffsetDeleteKeepsTheOffset) {
  Slot<protocol::OffsetCommitResponse> committed;
  coordinator->offset_commit(commit_request("idle", 9), 8, committed.reply());
  log.complete();
  protocol::OffsetDeleteRequest request;
  request.group_id = "idle";
  request.topics.push_back({"t", {{0}}});
  Slot<protocol::OffsetDeleteResponse> failed;
  coordinator->offset_delete(request, 0, failed.reply());
  EXPECT_EQ(fetch(*coordinator, "idle"), 9);
  log.complete(ErrorCode::NOT_LEADER_OR_FOLLOWER);
  EXPECT_EQ(failed.value->error_code, err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(fetch(*coordinator, "idle"), 9);
}

TEST_F(DurabilityTest, FailedStaticMemberReplacementKeepsTheOldMemberId) {
  auto [old_id, generation] = join_one("g", "instance-1");
  auto synced = sync(old_id, generation);
  log.complete();
  ASSERT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::stable);
  // The static member restarts (no member id): its new id is stored first.
  protocol::JoinGroupRequest request;
  request.group_id = "g";
  request.group_instance_id = "instance-1";
  request.session_timeout_ms = 10000;
  request.rebalance_timeout_ms = 30000;
  request.protocol_type = "consumer";
  request.protocols.push_back({"range", {1, 2, 3}, {}});
  Slot<protocol::JoinGroupResponse> rejoined;
  coordinator->join_group(request, 9, {"client", "/127.0.0.1"}, rejoined.reply());
  log.complete(ErrorCode::KAFKA_STORAGE_ERROR);
  ASSERT_EQ(rejoined.calls, 1);
  EXPECT_EQ(rejoined.value->error_code, err(ErrorCode::NOT_COORDINATOR));
  protocol::HeartbeatRequest beat;
  beat.group_id = "g";
  beat.generation_id = generation;
  beat.member_id = old_id;
  beat.group_instance_id = "instance-1";
  EXPECT_EQ(coordinator->heartbeat(beat, 4).error_code, 0) << "the old id stays valid";
}

// ---- Through the broker's storage path ----

constexpr int32_t local_node = 1;
constexpr int32_t partitions = 3;

cluster::MetadataImagePtr offsets_image() {
  auto image = std::make_shared<cluster::MetadataImage>();
  cluster::TopicImage topic;
  topic.name = offsets_topic;
  topic.id.bytes[15] = 7;
  for (int32_t p = 0; p < partitions; ++p)
    topic.partitions.push_back(cluster::PartitionImage{p, {local_node}, {local_node}, local_node, 0, 0});
  image->put_topic(std::move(topic));
  return image;
}

// LogManager + ReplicaManager + OffsetsTopicLog + coordinator over `fs`.
struct Node {
  explicit Node(storage::FileSystem& fs, bool with_topic = true) {
    storage::LogManagerOptions options;
    options.log_dirs = {"/data"};
    options.background_threads = false;
    options.logger = [](std::string_view) {};
    auto manager = storage::LogManager::open(fs, std::move(options));
    EXPECT_TRUE(manager.is_ok()) << manager.status().to_string();
    logs = std::move(manager).value();
    cluster::ReplicaManagerOptions replica_options;
    replica_options.node_id = BrokerId{local_node};
    replica_options.log_manager = logs.get();
    replica_options.logger = [](std::string_view) {};
    replica_options.append_policy_for = [](const cluster::TopicImage&, const cluster::MetadataImage&) {
      return cluster::AppendPolicy{};
    };
    replicas = std::make_unique<cluster::ReplicaManager>(std::move(replica_options));
    if (with_topic) {
      EXPECT_TRUE(replicas->apply_image(offsets_image()).is_ok());
    }
    log = std::make_unique<OffsetsTopicLog>(*replicas, clock, [this] { ++topic_requests; });
    GroupConfig config;
    config.offsets_topic_partitions = partitions;
    coordinator = std::make_unique<GroupCoordinator>(config, clock, random, *log);
    for (int32_t p = 0; with_topic && p < partitions; ++p) EXPECT_TRUE(log->replay(p, *coordinator).is_ok());
    coordinator->finish_loading();
  }
  int16_t commit(const std::string& group, int64_t offset) {
    Slot<protocol::OffsetCommitResponse> slot;
    coordinator->offset_commit(commit_request(group, offset), 8, slot.reply());
    logs->flusher().run_round();
    EXPECT_EQ(slot.calls, 1);
    return commit_error(slot);
  }

  ManualClock clock;
  SeededRandom random{13};
  std::unique_ptr<storage::LogManager> logs;
  std::unique_ptr<cluster::ReplicaManager> replicas;
  std::unique_ptr<OffsetsTopicLog> log;
  std::unique_ptr<GroupCoordinator> coordinator;
  int topic_requests = 0;
};

TEST(DurabilityOnDisk, CommitBeforeTheTopicExistsAsksForItWithoutCreatingIt) {
  storage::MemoryFileSystem memory;
  Node node(memory, /*with_topic=*/false);
  EXPECT_EQ(node.commit("early", 1), err(ErrorCode::COORDINATOR_NOT_AVAILABLE)) << "clients retry";
  EXPECT_EQ(node.topic_requests, 1) << "creation is asked for (the controller thread's job), not done here";
  EXPECT_EQ(fetch(*node.coordinator, "early"), -1);
}

TEST(DurabilityOnDisk, FailingDiskKeepsTheLastAcknowledgedCommit) {
  storage::MemoryFileSystem memory;
  storage::testing::InstrumentedFileSystem fs(memory);
  const std::string group = "consumers";
  const std::string dir = "/data/" + std::string(offsets_topic) + "-" +
                          std::to_string(partition_for_group(group, partitions));
  {
    Node node(fs);
    ASSERT_EQ(node.commit(group, 100), 0);
    fs.fail_under(dir);  // the disk under the group's partition fails
    int16_t failed = node.commit(group, 200);
    EXPECT_TRUE(failed == err(ErrorCode::NOT_COORDINATOR) || failed == err(ErrorCode::COORDINATOR_NOT_AVAILABLE))
        << "a retriable coordinator error, not " << failed;
    EXPECT_EQ(fetch(*node.coordinator, group), 100) << "the failed commit is not visible";
  }
  // Power loss: what was not synced is gone; the restart reads the rest.
  memory.simulate_crash();
  Node restarted(memory);
  EXPECT_EQ(fetch(*restarted.coordinator, group), 100) << "the restart agrees with what was acknowledged";
}

// Issue 17: a TxnOffsetCommit is stored as a transactional batch of its
// producer; a restart reads it back pending (require_stable: unstable),
// and once the producer's commit marker (a control batch, as
// WriteTxnMarkers writes it) follows it in the log, committed.
TEST(DurabilityOnDisk, TransactionalCommitStaysPendingUntilItsMarker) {
  storage::MemoryFileSystem memory;
  const std::string group = "txn-consumers";
  const int32_t partition = partition_for_group(group, partitions);
  auto stable_fetch = [&group](GroupCoordinator& coordinator) {
    protocol::OffsetFetchRequest request;
    request.require_stable = true;
    auto& entry = request.groups.emplace_back();
    entry.group_id = group;
    entry.topics =
        std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopics>{{"t", {0}, {}}};
    auto response = coordinator.offset_fetch(request, 8);
    const auto& answer = response.groups.at(0).topics.at(0).partitions.at(0);
    return std::make_pair(answer.error_code, answer.committed_offset);
  };
  {
    Node node(memory);
    ASSERT_EQ(node.commit(group, 3), 0);
    protocol::TxnOffsetCommitRequest request;
    request.transactional_id = "tx";
    request.group_id = group;
    request.producer_id = 4242;
    request.producer_epoch = 1;
    auto& topic = request.topics.emplace_back();
    topic.name = "t";
    topic.partitions.emplace_back().committed_offset = 5;
    Slot<protocol::TxnOffsetCommitResponse> slot;
    node.coordinator->txn_offset_commit(request, 3, slot.reply());
    node.logs->flusher().run_round();
    ASSERT_EQ(slot.calls, 1);
    EXPECT_EQ(slot.value->topics.at(0).partitions.at(0).error_code, 0);
  }
  {
    Node restarted(memory);
    EXPECT_EQ(fetch(*restarted.coordinator, group), 3) << "the pending offset is not committed";
    EXPECT_EQ(stable_fetch(*restarted.coordinator).first, err(ErrorCode::UNSTABLE_OFFSET_COMMIT));
    record::BatchOptions options;
    options.producer_id = 4242;
    options.producer_epoch = 1;
    auto marker = record::build_end_txn_marker(record::ControlType::commit, 0,
                                               restarted.clock.now_ms(), options);
    ASSERT_TRUE(marker.is_ok());
    auto log = restarted.replicas->partition(offsets_topic, partition);
    ASSERT_TRUE(log != nullptr);
    // As WriteTxnMarkers appends it: as the coordinator.
    EXPECT_EQ(log->append_as_leader(*marker, 1, restarted.clock.now_ms(),
                                    storage::AppendOrigin::coordinator)
                  .error,
              ErrorCode::NONE);
    restarted.logs->flusher().run_round();
  }
  Node committed(memory);
  EXPECT_EQ(stable_fetch(*committed.coordinator), std::make_pair(int16_t{0}, int64_t{5}));
}

}  // namespace
}  // namespace sluice::group
