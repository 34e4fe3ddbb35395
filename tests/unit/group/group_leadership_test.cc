// The coordinator following the leadership of its __consumer_offsets
// partitions (issue 16): elections load a partition from its log (one step
// at a time, COORDINATOR_LOAD_IN_PROGRESS until what it held at election is
// committed), resignations drop it (NOT_COORDINATOR, parked answers too),
// appends of an incarnation that is gone apply nothing, stale epochs are
// ignored, and Kafka's mapping of append errors.
#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>

#include "group/group_coordinator.h"

namespace sluice::group {
namespace {

using protocol::JoinGroupRequest;
using protocol::JoinGroupResponse;
using protocol::SyncGroupRequest;
using protocol::SyncGroupResponse;

// A log per partition whose offsets are record indexes, with a high
// watermark the test moves (records at or above it are not committed), and
// appends completed when the test says.
class ReplicatedLog final : public CoordinatorLog {
 public:
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override {
    for (auto& record : records) log[partition].push_back(std::move(record));
    pending.push_back(std::move(done));
  }
  void complete(ErrorCode error = ErrorCode::NONE) {
    while (!pending.empty()) {
      auto done = std::move(pending.front());
      pending.pop_front();
      done(error);
    }
  }
  int64_t load_end_offset(int32_t partition) override {
    if (missing) return -1;
    return static_cast<int64_t>(log[partition].size());
  }
  LoadStep load(int32_t partition, int64_t from_offset, int64_t /*end_offset*/,
                const RecordSink& sink) override {
    LoadStep step;
    step.next_offset = from_offset;
    if (unreadable) {
      step.error = ErrorCode::KAFKA_STORAGE_ERROR;
      return step;
    }
    const auto& records = log[partition];
    const int64_t committed = high_watermark.count(partition)
                                  ? high_watermark[partition]
                                  : static_cast<int64_t>(records.size());
    // One record per step: loads take several turns.
    if (from_offset < committed) {
      const auto& record = records[static_cast<size_t>(from_offset)];
      std::optional<Bytes> value;
      if (record.value) value = Bytes(*record.value);
      EXPECT_TRUE(sink(Bytes(record.key), value).is_ok());
      ++step.replayed;
      step.next_offset = from_offset + 1;
    }
    return step;
  }
  std::map<int32_t, std::vector<CoordinatorRecord>> log;
  std::map<int32_t, int64_t> high_watermark;
  std::deque<std::function<void(ErrorCode)>> pending;
  bool unreadable = false;
  bool missing = false;
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
  int16_t error() const { return value ? value->error_code : -999; }
};

constexpr int16_t err(ErrorCode code) { return to_wire(code); }

class LeadershipTest : public ::testing::Test {
 protected:
  LeadershipTest() {
    config.initial_rebalance_delay_ms = 0;
    config.offsets_topic_partitions = 4;
    coordinator = std::make_unique<GroupCoordinator>(config, clock, random, log);
    partition = partition_for_group("g", config.offsets_topic_partitions);
  }

  void join(Slot<JoinGroupResponse>& slot, const std::string& member_id) {
    JoinGroupRequest request;
    request.group_id = "g";
    request.session_timeout_ms = 10000;
    request.rebalance_timeout_ms = 30000;
    request.member_id = member_id;
    request.protocol_type = "consumer";
    request.protocols.push_back({"range", {1, 2, 3}, {}});
    coordinator->join_group(request, 9, {"client", "/127.0.0.1"}, slot.reply());
  }
  // One member joined (KIP-394's two steps) and synced: (member id, generation).
  std::pair<std::string, int32_t> stable_single() {
    Slot<JoinGroupResponse> first;
    join(first, "");
    std::string id = first.value->member_id;
    Slot<JoinGroupResponse> joined;
    join(joined, id);
    EXPECT_EQ(joined.error(), 0);
    Slot<SyncGroupResponse> synced;
    SyncGroupRequest request;
    request.group_id = "g";
    request.generation_id = joined.value->generation_id;
    request.member_id = id;
    request.assignments.push_back({id, {9}, {}});
    coordinator->sync_group(request, 5, synced.reply());
    log.complete();
    EXPECT_EQ(synced.error(), 0);
    return {id, joined.value->generation_id};
  }
  void commit_async(Slot<protocol::OffsetCommitResponse>& slot, const std::string& member_id,
                    int32_t generation, int64_t offset) {
    protocol::OffsetCommitRequest request;
    request.group_id = "g";
    request.generation_id_or_member_epoch = generation;
    request.member_id = member_id;
    auto& topic = request.topics.emplace_back();
    topic.name = "t";
    topic.partitions.push_back({0, offset, 3, -1, "m", {}});
    coordinator->offset_commit(request, 8, slot.reply());
  }
  int16_t commit(const std::string& member_id, int32_t generation, int64_t offset) {
    Slot<protocol::OffsetCommitResponse> slot;
    commit_async(slot, member_id, generation, offset);
    log.complete();
    EXPECT_EQ(slot.calls, 1);
    return slot.value->topics.at(0).partitions.at(0).error_code;
  }
  // (group error, committed offset of t-0).
  std::pair<int16_t, int64_t> fetch() {
    protocol::OffsetFetchRequest request;
    auto& entry = request.groups.emplace_back();
    entry.group_id = "g";
    entry.topics =
        std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopics>{{"t", {0}, {}}};
    auto response = coordinator->offset_fetch(request, 8);
    const auto& group = response.groups.at(0);
    int64_t offset =
        group.topics.empty() ? -1 : group.topics.at(0).partitions.at(0).committed_offset;
    return {group.error_code, offset};
  }
  int16_t heartbeat(const std::string& member_id, int32_t generation) {
    protocol::HeartbeatRequest request;
    request.group_id = "g";
    request.generation_id = generation;
    request.member_id = member_id;
    return coordinator->heartbeat(request, 4).error_code;
  }

  ManualClock clock;
  SeededRandom random{7};
  ReplicatedLog log;
  GroupConfig config;
  std::unique_ptr<GroupCoordinator> coordinator;
  int32_t partition = 0;
};

TEST_F(LeadershipTest, ResignationAnswersNotCoordinatorAndServesNothing) {
  auto [id, generation] = stable_single();
  ASSERT_EQ(commit(id, generation, 42), 0);
  // A second member parks in JoinGroup (a rebalance in progress).
  Slot<JoinGroupResponse> parked;
  join(parked, "");
  Slot<JoinGroupResponse> second;
  join(second, parked.value->member_id);
  ASSERT_EQ(second.calls, 0) << "parked until the first member rejoins";

  coordinator->on_resignation(partition, LeaderEpoch{1});
  EXPECT_EQ(second.calls, 1);
  EXPECT_EQ(second.error(), err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(heartbeat(id, generation), err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(commit(id, generation, 43), err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(fetch().first, err(ErrorCode::NOT_COORDINATOR)) << "a follower's state is never served";
  Slot<JoinGroupResponse> late;
  join(late, "");
  EXPECT_EQ(late.error(), err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(coordinator->group_count(), 0u);
  // Another partition of the same coordinator is untouched.
  EXPECT_EQ(coordinator->partition_error((partition + 1) % 4), ErrorCode::NONE);
  // ListGroups lists what this broker coordinates: no error for a partition
  // another broker leads.
  EXPECT_EQ(coordinator->list_groups({}, 4).error_code, 0);
}

TEST_F(LeadershipTest, ElectionLoadsOnlyCommittedRecordsAndAnswersLoadInProgressMeanwhile) {
  auto [id, generation] = stable_single();
  ASSERT_EQ(commit(id, generation, 10), 0);
  ASSERT_EQ(commit(id, generation, 11), 0);
  coordinator->on_resignation(partition, LeaderEpoch{1});
  // Elected again later: the log holds 3 records (group, two commits) but
  // only the first is committed on this replica yet.
  log.high_watermark[partition] = 1;
  coordinator->on_election(partition, LeaderEpoch{2});
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
  EXPECT_EQ(coordinator->loading_partitions(), 1u);
  EXPECT_EQ(fetch().first, err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
  EXPECT_EQ(heartbeat(id, generation), err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
  EXPECT_EQ(commit(id, generation, 12), err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
  coordinator->continue_loads();
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS)
      << "the log end at election is not committed yet";
  // The followers caught up: the load ends at what the partition held.
  log.high_watermark.erase(partition);
  coordinator->tick();
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NONE);
  EXPECT_EQ(coordinator->loading_partitions(), 0u);
  EXPECT_EQ(fetch(), std::make_pair(int16_t{0}, int64_t{11}));
  // The reloaded member is back (Stable) and heartbeats.
  EXPECT_EQ(heartbeat(id, generation), 0);
  EXPECT_EQ(commit(id, generation, 12), 0);
  EXPECT_EQ(fetch().second, 12);
}

TEST_F(LeadershipTest, AnAppendOfALostIncarnationAppliesNothingAndAnswersNotCoordinator) {
  auto [id, generation] = stable_single();
  Slot<protocol::OffsetCommitResponse> slot;
  commit_async(slot, id, generation, 77);
  ASSERT_EQ(slot.calls, 0);
  coordinator->on_resignation(partition, LeaderEpoch{1});
  log.complete(ErrorCode::NONE);  // replicated, but this broker no longer coordinates
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(slot.value->topics.at(0).partitions.at(0).error_code, err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(coordinator->group_count(), 0u) << "nothing applied into a partition that is not led";
  // Elected again: what the log holds is loaded (the commit was written).
  coordinator->on_election(partition, LeaderEpoch{2});
  EXPECT_EQ(fetch(), std::make_pair(int16_t{0}, int64_t{77}));
}

TEST_F(LeadershipTest, StaleEpochsAreIgnored) {
  coordinator->on_resignation(partition, LeaderEpoch{3});
  coordinator->on_election(partition, LeaderEpoch{2});  // older than the resignation
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NOT_COORDINATOR);
  coordinator->on_election(partition, LeaderEpoch{4});
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NONE);
  coordinator->on_resignation(partition, LeaderEpoch{3});  // older than the election
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NONE);
  coordinator->on_election(partition, LeaderEpoch{4});  // the same election again
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NONE);
  coordinator->on_resignation(partition, LeaderEpoch{5});
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NOT_COORDINATOR);
}

// The metadata image is published before the election reaches the
// partition's strand (the broker applies it to its replicas first, making
// logs, then the coordinator follows): meanwhile FindCoordinator, here or on
// another broker, already names this broker. A partition the current image
// elects here answers COORDINATOR_LOAD_IN_PROGRESS until its election comes,
// not NOT_COORDINATOR: librdkafka 2.0 does not retry an OffsetFetch answered
// NOT_COORDINATOR (the partitions it asked for are then never fetched), and
// a consumer group was left so in a loaded CI run.
TEST_F(LeadershipTest, APartitionTheImageElectsHereAnswersLoadInProgressUntilItsElectionComes) {
  auto [id, generation] = stable_single();
  ASSERT_EQ(commit(id, generation, 5), 0);
  coordinator->on_resignation(partition, LeaderEpoch{1});
  int32_t image_epoch = 1;
  bool image_leader_here = false;
  coordinator->follow_image_elections([&](int32_t p) {
    return LeaderEpoch{p == partition && image_leader_here ? image_epoch : -1};
  });
  EXPECT_EQ(fetch().first, err(ErrorCode::NOT_COORDINATOR)) << "another broker leads";
  // The image elects this broker in epoch 2; the election is on its way.
  image_epoch = 2;
  image_leader_here = true;
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
  EXPECT_EQ(fetch().first, err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
  EXPECT_EQ(heartbeat(id, generation), err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
  EXPECT_EQ(commit(id, generation, 6), err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
  // Other partitions, which it does not elect here, are not concerned.
  coordinator->on_resignation((partition + 1) % 4, LeaderEpoch{1});
  EXPECT_EQ(coordinator->partition_error((partition + 1) % 4), ErrorCode::NOT_COORDINATOR);
  // The election arrives: loaded, served.
  coordinator->on_election(partition, LeaderEpoch{2});
  EXPECT_EQ(fetch(), std::make_pair(int16_t{0}, int64_t{5}));
  // A later image gives the partition away: once the resignation came,
  // NOT_COORDINATOR again (the image no longer elects it here).
  image_epoch = 3;
  image_leader_here = false;
  coordinator->on_resignation(partition, LeaderEpoch{3});
  EXPECT_EQ(fetch().first, err(ErrorCode::NOT_COORDINATOR));
  // An image electing it here in an epoch already resigned (a stale one) is
  // no pending election.
  image_leader_here = true;
  EXPECT_EQ(fetch().first, err(ErrorCode::NOT_COORDINATOR));
}

// Before __consumer_offsets exists the coordinator serves every partition
// from memory (epoch -1): at the topic's first leader epoch (0) nobody else
// ever wrote, so its state stays; at a later epoch it reloads from the log.
TEST_F(LeadershipTest, StateFromBeforeTheTopicStaysOnlyAtEpochZero) {
  auto [id, generation] = stable_single();
  log.log.clear();  // its appends failed: the topic did not exist
  coordinator->on_election(partition, LeaderEpoch{0});
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::NONE);
  EXPECT_EQ(heartbeat(id, generation), 0) << "kept at epoch 0";

  // A second coordinator whose member joined before the topic existed (its
  // appends never reached this log), elected at a later epoch: another
  // leader may have written the partition, so it is loaded from the log.
  log.log.clear();
  coordinator = std::make_unique<GroupCoordinator>(config, clock, random, log);
  Slot<JoinGroupResponse> first;
  join(first, "");
  Slot<JoinGroupResponse> joined;
  join(joined, first.value->member_id);
  ASSERT_EQ(joined.error(), 0);
  ASSERT_TRUE(log.pending.empty());
  coordinator->on_election(partition, LeaderEpoch{5});
  EXPECT_EQ(heartbeat(joined.value->member_id, joined.value->generation_id),
            err(ErrorCode::UNKNOWN_MEMBER_ID))
      << "reloaded from the log at a later epoch";
}

TEST_F(LeadershipTest, APartitionThatCannotBeLoadedAnswersLoadInProgressUntilANewElection) {
  auto [id, generation] = stable_single();
  ASSERT_EQ(commit(id, generation, 5), 0);
  coordinator->on_resignation(partition, LeaderEpoch{1});
  log.unreadable = true;
  coordinator->on_election(partition, LeaderEpoch{2});
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
  EXPECT_EQ(coordinator->loading_partitions(), 0u) << "failed, not loading";
  EXPECT_EQ(fetch().first, err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
  log.unreadable = false;
  coordinator->on_election(partition, LeaderEpoch{3});
  EXPECT_EQ(fetch(), std::make_pair(int16_t{0}, int64_t{5}));
  // Not hosted here at all (no local replica): failed as well.
  coordinator->on_resignation(partition, LeaderEpoch{4});
  log.missing = true;
  coordinator->on_election(partition, LeaderEpoch{5});
  EXPECT_EQ(coordinator->partition_error(partition), ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
}

// Kafka's CoordinatorRuntime/GroupCoordinatorService mapping of a failed
// write: the client retries or looks the coordinator up again.
TEST(CoordinatorErrors, ReplicationErrorsMapAsKafkas) {
  EXPECT_EQ(coordinator_error(ErrorCode::NOT_ENOUGH_REPLICAS),
            ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(coordinator_error(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND),
            ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(coordinator_error(ErrorCode::REQUEST_TIMED_OUT), ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(coordinator_error(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            ErrorCode::COORDINATOR_NOT_AVAILABLE);
  EXPECT_EQ(coordinator_error(ErrorCode::NOT_LEADER_OR_FOLLOWER), ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(coordinator_error(ErrorCode::KAFKA_STORAGE_ERROR), ErrorCode::NOT_COORDINATOR);
}

TEST_F(LeadershipTest, AFailedReplicationAnswersTheMappedErrorAndAppliesNothing) {
  auto [id, generation] = stable_single();
  Slot<protocol::OffsetCommitResponse> slot;
  commit_async(slot, id, generation, 9);
  log.complete(ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
  EXPECT_EQ(slot.value->topics.at(0).partitions.at(0).error_code,
            err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
  EXPECT_EQ(fetch().second, -1);
  Slot<protocol::OffsetCommitResponse> lost;
  commit_async(lost, id, generation, 10);
  log.complete(ErrorCode::NOT_LEADER_OR_FOLLOWER);
  EXPECT_EQ(lost.value->topics.at(0).partitions.at(0).error_code, err(ErrorCode::NOT_COORDINATOR));
  EXPECT_EQ(fetch().second, -1);
}

}  // namespace
}  // namespace sluice::group
