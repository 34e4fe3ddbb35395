// The classic group coordinator as a plain state machine: a manual clock,
// a log that keeps records and completes appends when told.
#include "group/group_coordinator.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>
#include <optional>

#include "protocol/record_framing.h"

namespace sluice::group {
namespace {

using protocol::JoinGroupRequest;
using protocol::JoinGroupResponse;
using protocol::SyncGroupRequest;
using protocol::SyncGroupResponse;

class MemoryLog final : public CoordinatorLog {
 public:
  void append(int32_t partition, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override {
    for (auto& record : records) log[partition].push_back(std::move(record));
    pending.push_back(std::move(done));
  }
  // Makes every append so far durable.
  void complete(ErrorCode error = ErrorCode::NONE) {
    while (!pending.empty()) {
      auto done = std::move(pending.front());
      pending.pop_front();
      done(error);
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
  std::map<int32_t, std::vector<CoordinatorRecord>> log;
  std::deque<std::function<void(ErrorCode)>> pending;
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

class GroupTest : public ::testing::Test {
 protected:
  GroupTest() { make_coordinator(); }
  void make_coordinator() {
    coordinator = std::make_unique<GroupCoordinator>(config, clock, random, log);
  }

  static JoinGroupRequest join_request(const std::string& member_id, const std::string& group = "g",
                                       std::optional<std::string> instance = std::nullopt,
                                       std::vector<std::string> protocols = {"range"}) {
    JoinGroupRequest request;
    request.group_id = group;
    request.session_timeout_ms = 10000;
    request.rebalance_timeout_ms = 30000;
    request.member_id = member_id;
    request.group_instance_id = std::move(instance);
    request.protocol_type = "consumer";
    for (const auto& name : protocols) request.protocols.push_back({name, {1, 2, 3}, {}});
    return request;
  }
  void join(Slot<JoinGroupResponse>& slot, const std::string& member_id, int16_t version = 9,
            std::optional<std::string> instance = std::nullopt, std::vector<std::string> protocols = {"range"}) {
    coordinator->join_group(join_request(member_id, "g", std::move(instance), std::move(protocols)), version,
                            {"client", "/127.0.0.1"}, slot.reply());
  }
  // A dynamic member through KIP-394's two steps; returns the member id.
  std::string join_new(Slot<JoinGroupResponse>& slot) {
    Slot<JoinGroupResponse> first;
    join(first, "");
    EXPECT_EQ(first.error(), err(ErrorCode::MEMBER_ID_REQUIRED));
    std::string id = first.value->member_id;
    EXPECT_FALSE(id.empty());
    join(slot, id);
    return id;
  }
  void sync(Slot<SyncGroupResponse>& slot, const std::string& member_id, int32_t generation,
            std::vector<std::pair<std::string, std::vector<uint8_t>>> assignments = {},
            std::optional<std::string> instance = std::nullopt) {
    SyncGroupRequest request;
    request.group_id = "g";
    request.generation_id = generation;
    request.member_id = member_id;
    request.group_instance_id = std::move(instance);
    for (auto& [id, bytes] : assignments) request.assignments.push_back({id, bytes, {}});
    coordinator->sync_group(request, 5, slot.reply());
  }
  int16_t heartbeat(const std::string& member_id, int32_t generation,
                    std::optional<std::string> instance = std::nullopt, const std::string& group = "g") {
    protocol::HeartbeatRequest request;
    request.group_id = group;
    request.generation_id = generation;
    request.member_id = member_id;
    request.group_instance_id = std::move(instance);
    return coordinator->heartbeat(request, 4).error_code;
  }
  int16_t commit(const std::string& member_id, int32_t generation, int64_t offset, std::string metadata = "m",
                 const std::string& group = "g") {
    protocol::OffsetCommitRequest request;
    request.group_id = group;
    request.generation_id_or_member_epoch = generation;
    request.member_id = member_id;
    auto& topic = request.topics.emplace_back();
    topic.name = "t";
    topic.partitions.push_back({0, offset, 3, -1, metadata, {}});
    Slot<protocol::OffsetCommitResponse> slot;
    coordinator->offset_commit(request, 8, slot.reply());
    log.complete();
    EXPECT_EQ(slot.calls, 1);
    return slot.value->topics.at(0).partitions.at(0).error_code;
  }
  int64_t fetch(const std::string& group = "g", int32_t partition = 0) {
    protocol::OffsetFetchRequest request;
    auto& entry = request.groups.emplace_back();
    entry.group_id = group;
    entry.topics = std::vector<protocol::OffsetFetchRequest::OffsetFetchRequestTopics>{{"t", {partition}, {}}};
    auto response = coordinator->offset_fetch(request, 8);
    return response.groups.at(0).topics.at(0).partitions.at(0).committed_offset;
  }
  // One member, joined and synced: returns (member id, generation).
  std::pair<std::string, int32_t> stable_single() {
    Slot<JoinGroupResponse> joined;
    std::string id = join_new(joined);
    EXPECT_EQ(joined.error(), 0);
    Slot<SyncGroupResponse> synced;
    sync(synced, id, joined.value->generation_id, {{id, {9}}});
    log.complete();
    EXPECT_EQ(synced.error(), 0);
    return {id, joined.value->generation_id};
  }

  ManualClock clock;
  SeededRandom random{13};
  MemoryLog log;
  GroupConfig config = [] {
    GroupConfig c;
    c.initial_rebalance_delay_ms = 0;
    return c;
  }();
  std::unique_ptr<GroupCoordinator> coordinator;
};

// Member ids come from the injected source: the same seed gives the same
// ids (a simulation replays), with no system randomness inside.
TEST_F(GroupTest, MemberIdsComeFromTheInjectedRandomSource) {
  Slot<JoinGroupResponse> first;
  join(first, "");
  const std::string id = first.value->member_id;
  SeededRandom same_seed{13};
  MemoryLog other_log;
  GroupCoordinator other(config, clock, same_seed, other_log);
  Slot<JoinGroupResponse> again;
  other.join_group(join_request(""), 9, {"client", "/127.0.0.1"}, again.reply());
  EXPECT_EQ(again.value->member_id, id);
  EXPECT_EQ(id.rfind("client-", 0), 0u);
}

TEST(GroupPartition, JavaStringHashAndKafkaAbs) {
  EXPECT_EQ(java_string_hash("abc"), 96354);
  EXPECT_EQ(java_string_hash(""), 0);
  EXPECT_EQ(partition_for_group("abc", 50), 96354 % 50);
  // "polygenelubricants".hashCode() == Integer.MIN_VALUE: Utils.abs gives 0.
  EXPECT_EQ(java_string_hash("polygenelubricants"), INT32_MIN);
  EXPECT_EQ(partition_for_group("polygenelubricants", 50), 0);
  // Negative hash: "Aa" + many chars; check against the Java rule directly.
  int32_t hash = java_string_hash("consumer-group-with-a-long-name");
  int32_t expected = (hash < 0 ? -hash : hash) % 50;
  EXPECT_EQ(partition_for_group("consumer-group-with-a-long-name", 50), expected);
  // A character outside the BMP counts as two UTF-16 units: U+1F600.
  EXPECT_EQ(java_string_hash("\xF0\x9F\x98\x80"), 31 * 0xD83D + 0xDE00);
}

TEST_F(GroupTest, FirstJoinNeedsMemberIdThenSingleMemberBecomesLeader) {
  Slot<JoinGroupResponse> joined;
  std::string id = join_new(joined);
  ASSERT_EQ(joined.calls, 1);
  EXPECT_EQ(joined.error(), 0);
  EXPECT_EQ(joined.value->generation_id, 1);
  EXPECT_EQ(joined.value->leader, id);
  EXPECT_EQ(joined.value->member_id, id);
  EXPECT_EQ(joined.value->protocol_name, "range");
  ASSERT_EQ(joined.value->members.size(), 1u);
  EXPECT_EQ(joined.value->members[0].metadata, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::completing_rebalance);

  Slot<SyncGroupResponse> synced;
  sync(synced, id, 1, {{id, {7, 7}}});
  EXPECT_EQ(synced.calls, 0) << "the leader's sync is answered once the assignment is stored";
  log.complete();
  ASSERT_EQ(synced.calls, 1);
  EXPECT_EQ(synced.value->assignment, (std::vector<uint8_t>{7, 7}));
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::stable);
  EXPECT_EQ(heartbeat(id, 1), 0);
}

TEST_F(GroupTest, OldVersionsJoinWithoutMemberIdRequired) {
  Slot<JoinGroupResponse> joined;
  join(joined, "", 3);
  ASSERT_EQ(joined.calls, 1);
  EXPECT_EQ(joined.error(), 0);
  EXPECT_FALSE(joined.value->member_id.empty());
  EXPECT_EQ(joined.value->generation_id, 1);
}

TEST_F(GroupTest, SecondMemberTriggersRebalanceAndFollowerWaitsForLeader) {
  auto [first, generation] = stable_single();
  Slot<JoinGroupResponse> second_join;
  std::string second = join_new(second_join);
  EXPECT_EQ(second_join.calls, 0) << "waits for the first member to rejoin";
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::preparing_rebalance);
  EXPECT_EQ(heartbeat(first, generation), err(ErrorCode::REBALANCE_IN_PROGRESS));

  Slot<JoinGroupResponse> first_join;
  join(first_join, first);
  ASSERT_EQ(first_join.calls, 1);
  ASSERT_EQ(second_join.calls, 1);
  EXPECT_EQ(first_join.value->generation_id, 2);
  EXPECT_EQ(first_join.value->leader, first) << "the leader stays the leader";
  EXPECT_EQ(first_join.value->members.size(), 2u);
  EXPECT_TRUE(second_join.value->members.empty()) << "followers do not get member metadata";

  Slot<SyncGroupResponse> follower;
  sync(follower, second, 2);
  EXPECT_EQ(follower.calls, 0);
  Slot<SyncGroupResponse> leader;
  sync(leader, first, 2, {{first, {1}}, {second, {2}}});
  log.complete();
  ASSERT_EQ(follower.calls, 1);
  EXPECT_EQ(follower.value->assignment, (std::vector<uint8_t>{2}));
  EXPECT_EQ(leader.value->assignment, (std::vector<uint8_t>{1}));
  EXPECT_EQ(heartbeat(second, 2), 0);
  EXPECT_EQ(heartbeat(second, 1), err(ErrorCode::ILLEGAL_GENERATION));
}

TEST_F(GroupTest, ProtocolSelectionPicksOneEveryMemberSupports) {
  const std::vector<std::string> a_protocols = {"roundrobin", "range"};
  const std::vector<std::string> b_protocols = {"range", "cooperative-sticky"};
  Slot<JoinGroupResponse> a_first, a_join;
  join(a_first, "", 9, std::nullopt, a_protocols);
  std::string a = a_first.value->member_id;
  join(a_join, a, 9, std::nullopt, a_protocols);
  ASSERT_EQ(a_join.calls, 1);  // alone: its own first choice
  EXPECT_EQ(a_join.value->protocol_name, "roundrobin");

  Slot<JoinGroupResponse> b_first, b_join, a_again;
  join(b_first, "", 9, std::nullopt, b_protocols);
  std::string b = b_first.value->member_id;
  join(b_join, b, 9, std::nullopt, b_protocols);
  EXPECT_EQ(b_join.calls, 0);
  join(a_again, a, 9, std::nullopt, a_protocols);
  ASSERT_EQ(b_join.calls, 1);
  EXPECT_EQ(b_join.value->protocol_name, "range") << "the only protocol both support";
  EXPECT_EQ(a_again.value->generation_id, 2);

  Slot<JoinGroupResponse> c;
  join(c, "", 9, std::nullopt, {"sticky"});
  EXPECT_EQ(c.error(), err(ErrorCode::INCONSISTENT_GROUP_PROTOCOL));
}

TEST_F(GroupTest, SessionTimeoutRemovesMemberAndRebalancesTheRest) {
  auto [first, generation] = stable_single();
  Slot<JoinGroupResponse> second_join;
  std::string second = join_new(second_join);
  Slot<JoinGroupResponse> first_join;
  join(first_join, first);
  Slot<SyncGroupResponse> s1, s2;
  sync(s1, first, 2, {{first, {1}}, {second, {2}}});
  sync(s2, second, 2);
  log.complete();
  ASSERT_EQ(s2.calls, 1);

  // The second member keeps heartbeating, the first goes silent.
  for (int i = 0; i < 12; ++i) {
    clock.advance_ms(1000);
    EXPECT_NE(heartbeat(second, 2), err(ErrorCode::UNKNOWN_MEMBER_ID));
    coordinator->tick();
  }
  EXPECT_EQ(heartbeat(first, 2), err(ErrorCode::UNKNOWN_MEMBER_ID));
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::preparing_rebalance);
  EXPECT_EQ(heartbeat(second, 2), err(ErrorCode::REBALANCE_IN_PROGRESS));
  EXPECT_EQ(heartbeat(second, 1), err(ErrorCode::ILLEGAL_GENERATION)) << "a stale generation, even mid-rebalance";
  Slot<JoinGroupResponse> rejoin;
  join(rejoin, second);
  ASSERT_EQ(rejoin.calls, 1);
  EXPECT_EQ(rejoin.value->generation_id, 3);
  EXPECT_EQ(rejoin.value->leader, second);
  EXPECT_EQ(rejoin.value->members.size(), 1u);
}

TEST_F(GroupTest, RebalanceTimeoutDropsMembersThatDoNotRejoin) {
  auto [first, generation] = stable_single();
  Slot<JoinGroupResponse> second_join;
  std::string second = join_new(second_join);
  // first neither rejoins nor... keeps heartbeating (told to rejoin).
  for (int i = 0; i < 31; ++i) {
    clock.advance_ms(1000);
    heartbeat(first, generation);
    coordinator->tick();
  }
  ASSERT_EQ(second_join.calls, 1);
  EXPECT_EQ(second_join.value->generation_id, 2);
  EXPECT_EQ(second_join.value->leader, second);
  EXPECT_EQ(heartbeat(first, generation), err(ErrorCode::UNKNOWN_MEMBER_ID));
}

TEST_F(GroupTest, InitialRebalanceDelayWaitsForMoreMembers) {
  config.initial_rebalance_delay_ms = 3000;
  make_coordinator();
  Slot<JoinGroupResponse> a, b;
  join_new(a);
  clock.advance_ms(2000);
  coordinator->tick();
  join_new(b);
  clock.advance_ms(2000);
  coordinator->tick();
  EXPECT_EQ(a.calls, 0) << "a new member extended the delay";
  clock.advance_ms(1100);
  coordinator->tick();
  ASSERT_EQ(a.calls, 1);
  ASSERT_EQ(b.calls, 1);
  EXPECT_EQ(a.value->generation_id, 1);
  EXPECT_EQ(a.value->leader, b.value->leader);
}

TEST_F(GroupTest, LeaveGroupRebalancesAndEmptiesTheGroup) {
  auto [id, generation] = stable_single();
  protocol::LeaveGroupRequest request;
  request.group_id = "g";
  request.members.push_back({id, std::nullopt, std::nullopt, {}});
  request.members.push_back({"nobody", std::nullopt, std::nullopt, {}});
  auto response = coordinator->leave_group(request, 5);
  ASSERT_EQ(response.members.size(), 2u);
  EXPECT_EQ(response.members[0].error_code, 0);
  EXPECT_EQ(response.members[1].error_code, err(ErrorCode::UNKNOWN_MEMBER_ID));
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::empty);
  EXPECT_EQ(coordinator->generation_of(GroupId{"g"}), generation + 1);
}

TEST_F(GroupTest, StaticMemberRestartKeepsAssignmentWithoutRebalance) {
  Slot<JoinGroupResponse> a_join;
  join(a_join, "", 9, "instance-a");
  ASSERT_EQ(a_join.calls, 1) << "static members skip MEMBER_ID_REQUIRED";
  std::string a = a_join.value->member_id;
  Slot<JoinGroupResponse> b_first, b_join;
  join(b_first, "");
  std::string b = b_first.value->member_id;
  join(b_join, b);
  Slot<JoinGroupResponse> a_again;
  join(a_again, a, 9, "instance-a");
  ASSERT_EQ(b_join.calls, 1);
  int32_t generation = b_join.value->generation_id;
  std::string leader = b_join.value->leader;
  Slot<SyncGroupResponse> sa, sb;
  sync(sa, a, generation, leader == a ? std::vector<std::pair<std::string, std::vector<uint8_t>>>{{a, {0xA}}, {b, {0xB}}}
                                      : std::vector<std::pair<std::string, std::vector<uint8_t>>>{}, "instance-a");
  sync(sb, b, generation, leader == b ? std::vector<std::pair<std::string, std::vector<uint8_t>>>{{a, {0xA}}, {b, {0xB}}}
                                      : std::vector<std::pair<std::string, std::vector<uint8_t>>>{});
  log.complete();
  ASSERT_EQ(sa.calls, 1);
  EXPECT_EQ(sa.value->assignment, (std::vector<uint8_t>{0xA}));

  // instance-a restarts: unknown member id, same instance id.
  Slot<JoinGroupResponse> restarted;
  join(restarted, "", 9, "instance-a");
  log.complete();
  ASSERT_EQ(restarted.calls, 1);
  EXPECT_EQ(restarted.error(), 0);
  EXPECT_EQ(restarted.value->generation_id, generation) << "no new generation";
  std::string new_a = restarted.value->member_id;
  EXPECT_NE(new_a, a);
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::stable);
  EXPECT_EQ(heartbeat(b, generation), 0) << "the other member is not told to rebalance";
  Slot<SyncGroupResponse> resynced;
  sync(resynced, new_a, generation, {}, "instance-a");
  ASSERT_EQ(resynced.calls, 1);
  EXPECT_EQ(resynced.value->assignment, (std::vector<uint8_t>{0xA}));
  // The old incarnation is fenced.
  EXPECT_EQ(heartbeat(a, generation, "instance-a"), err(ErrorCode::FENCED_INSTANCE_ID));
}

TEST_F(GroupTest, ProtocolMisuseGetsKafkasErrorCodes) {
  Slot<JoinGroupResponse> empty_id;
  coordinator->join_group(join_request("", ""), 9, {"c", "/h"}, empty_id.reply());
  EXPECT_EQ(empty_id.error(), err(ErrorCode::INVALID_GROUP_ID));

  auto low = join_request("");
  low.session_timeout_ms = 10;
  Slot<JoinGroupResponse> bad_timeout;
  coordinator->join_group(low, 9, {"c", "/h"}, bad_timeout.reply());
  EXPECT_EQ(bad_timeout.error(), err(ErrorCode::INVALID_SESSION_TIMEOUT));

  Slot<JoinGroupResponse> unknown;
  join(unknown, "made-up");
  EXPECT_EQ(unknown.error(), err(ErrorCode::UNKNOWN_MEMBER_ID));

  Slot<SyncGroupResponse> early_sync;
  sync(early_sync, "made-up", 0);
  EXPECT_EQ(early_sync.error(), err(ErrorCode::UNKNOWN_MEMBER_ID));
  EXPECT_EQ(heartbeat("made-up", 0), err(ErrorCode::UNKNOWN_MEMBER_ID));
  EXPECT_EQ(heartbeat("x", 0, std::nullopt, ""), err(ErrorCode::INVALID_GROUP_ID));

  auto [id, generation] = stable_single();
  Slot<SyncGroupResponse> wrong_generation;
  sync(wrong_generation, id, generation + 5);
  EXPECT_EQ(wrong_generation.error(), err(ErrorCode::ILLEGAL_GENERATION));
  EXPECT_EQ(commit(id, generation + 5, 1), err(ErrorCode::ILLEGAL_GENERATION));
  EXPECT_EQ(commit("stranger", generation, 1), err(ErrorCode::UNKNOWN_MEMBER_ID));
  EXPECT_EQ(commit("", -1, 1), err(ErrorCode::UNKNOWN_MEMBER_ID)) << "simple commits need an empty group";
  EXPECT_EQ(commit(id, generation, 1, "m", ""), err(ErrorCode::INVALID_GROUP_ID));
}

TEST_F(GroupTest, GroupMaxSize) {
  config.max_size = 1;
  make_coordinator();
  stable_single();
  Slot<JoinGroupResponse> extra;
  join(extra, "");
  EXPECT_EQ(extra.error(), err(ErrorCode::GROUP_MAX_SIZE_REACHED));
}

TEST_F(GroupTest, CommitsAreAnsweredWhenDurableAndFetchedBack) {
  EXPECT_EQ(fetch(), -1) << "no commit yet";
  protocol::OffsetCommitRequest request;
  request.group_id = "simple";
  auto& topic = request.topics.emplace_back();
  topic.name = "t";
  topic.partitions.push_back({0, 42, -1, -1, std::string("meta"), {}});
  topic.partitions.push_back({1, 7, -1, -1, std::string(5000, 'x'), {}});
  Slot<protocol::OffsetCommitResponse> slot;
  coordinator->offset_commit(request, 8, slot.reply());
  EXPECT_EQ(slot.calls, 0) << "acknowledged only after the append";
  log.complete();
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(slot.value->topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(slot.value->topics[0].partitions[1].error_code, err(ErrorCode::OFFSET_METADATA_TOO_LARGE));
  EXPECT_EQ(fetch("simple", 0), 42);
  EXPECT_EQ(fetch("simple", 1), -1);

  int32_t partition = partition_for_group("simple", config.offsets_topic_partitions);
  ASSERT_EQ(log.log[partition].size(), 1u);
  // The record is Kafka's: OffsetCommitKey v1, OffsetCommitValue v3.
  WireReader key(log.log[partition][0].key);
  EXPECT_EQ(key.read_int16(), 1);

  // A failed append fails the commit.
  Slot<protocol::OffsetCommitResponse> failed;
  coordinator->offset_commit(request, 8, failed.reply());
  log.complete(ErrorCode::NOT_COORDINATOR);
  EXPECT_EQ(failed.value->topics[0].partitions[0].error_code, err(ErrorCode::NOT_COORDINATOR));
}

TEST_F(GroupTest, OffsetFetchOldVersionsAndAllTopics) {
  EXPECT_EQ(commit("", -1, 5, "m", "simple"), 0);
  protocol::OffsetFetchRequest request;
  request.group_id = "simple";
  request.topics = std::nullopt;  // every committed offset
  auto response = coordinator->offset_fetch(request, 7);
  ASSERT_EQ(response.topics.size(), 1u);
  EXPECT_EQ(response.topics[0].partitions[0].committed_offset, 5);
  EXPECT_EQ(response.topics[0].partitions[0].metadata, "m");
  EXPECT_EQ(response.topics[0].partitions[0].committed_leader_epoch, 3);
}

TEST_F(GroupTest, StateIsRebuiltFromTheRecords) {
  auto [id, generation] = stable_single();
  EXPECT_EQ(commit(id, generation, 100), 0);
  EXPECT_EQ(commit("", -1, 9, "m", "other"), 0);
  GroupCoordinator reloaded(config, clock, random, log);
  log.replay_into(reloaded);
  reloaded.finish_loading();
  EXPECT_EQ(reloaded.state_of(GroupId{"g"}), GroupState::stable);
  EXPECT_EQ(reloaded.generation_of(GroupId{"g"}), generation);
  protocol::HeartbeatRequest beat;
  beat.group_id = "g";
  beat.generation_id = generation;
  beat.member_id = id;
  EXPECT_EQ(reloaded.heartbeat(beat, 4).error_code, 0) << "members survive a restart";
  protocol::OffsetFetchRequest request;
  request.groups.push_back({"g", std::nullopt, -1, std::nullopt, {}});
  request.groups.push_back({"other", std::nullopt, -1, std::nullopt, {}});
  auto response = reloaded.offset_fetch(request, 8);
  EXPECT_EQ(response.groups[0].topics.at(0).partitions.at(0).committed_offset, 100);
  EXPECT_EQ(response.groups[1].topics.at(0).partitions.at(0).committed_offset, 9);
  // Sessions restart at load: without heartbeats the member expires.
  clock.advance_ms(11000);
  reloaded.tick();
  EXPECT_EQ(reloaded.state_of(GroupId{"g"}), GroupState::empty);
}

TEST_F(GroupTest, DeleteGroupsAndOffsets) {
  auto [id, generation] = stable_single();
  EXPECT_EQ(commit(id, generation, 100), 0);
  EXPECT_EQ(commit("", -1, 9, "m", "idle"), 0);
  protocol::DeleteGroupsRequest request;
  request.groups_names = {"g", "idle", "missing"};
  Slot<protocol::DeleteGroupsResponse> deleted;
  coordinator->delete_groups(request, 2, deleted.reply());
  log.complete();
  ASSERT_EQ(deleted.calls, 1);
  EXPECT_EQ(deleted.value->results[0].error_code, err(ErrorCode::NON_EMPTY_GROUP));
  EXPECT_EQ(deleted.value->results[1].error_code, 0);
  EXPECT_EQ(deleted.value->results[2].error_code, err(ErrorCode::GROUP_ID_NOT_FOUND));
  EXPECT_EQ(fetch("idle"), -1);
  // Tombstones replay to nothing.
  GroupCoordinator reloaded(config, clock, random, log);
  log.replay_into(reloaded);
  EXPECT_FALSE(reloaded.state_of(GroupId{"idle"}));

  // OffsetDelete on an active consumer group subscribed to the topic.
  protocol::OffsetDeleteRequest offsets;
  offsets.group_id = "g";
  offsets.topics.push_back({"t", {{0}}});
  Slot<protocol::OffsetDeleteResponse> refused;
  coordinator->offset_delete(offsets, 0, refused.reply());
  log.complete();
  ASSERT_EQ(refused.calls, 1);
  // The test's subscription bytes are not a ConsumerProtocolSubscription,
  // so no topic is subscribed: the offset is deleted.
  EXPECT_EQ(refused.value->topics[0].partitions[0].error_code, 0);
  EXPECT_EQ(fetch("g"), -1);
  offsets.group_id = "missing";
  Slot<protocol::OffsetDeleteResponse> missing;
  coordinator->offset_delete(offsets, 0, missing.reply());
  EXPECT_EQ(missing.value->error_code, err(ErrorCode::GROUP_ID_NOT_FOUND));
}

TEST_F(GroupTest, OffsetDeleteRefusesSubscribedTopics) {
  // A real consumer subscription (v0: topics ["t"], null user data).
  std::vector<uint8_t> subscription = {0, 0, 0, 0, 0, 1, 0, 1, 't', 0xFF, 0xFF, 0xFF, 0xFF};
  auto request = join_request("", "g", "inst");
  request.protocols[0].metadata = subscription;
  Slot<JoinGroupResponse> joined;
  coordinator->join_group(request, 9, {"c", "/h"}, joined.reply());
  ASSERT_EQ(joined.error(), 0);
  Slot<SyncGroupResponse> synced;
  sync(synced, joined.value->member_id, joined.value->generation_id, {}, "inst");
  log.complete();
  protocol::OffsetDeleteRequest offsets;
  offsets.group_id = "g";
  offsets.topics.push_back({"t", {{0}}});
  offsets.topics.push_back({"u", {{0}}});
  Slot<protocol::OffsetDeleteResponse> response;
  coordinator->offset_delete(offsets, 0, response.reply());
  ASSERT_EQ(response.calls, 1);
  EXPECT_EQ(response.value->topics[0].partitions[0].error_code, err(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC));
  EXPECT_EQ(response.value->topics[1].partitions[0].error_code, 0);
}

TEST_F(GroupTest, OffsetsExpireAfterRetentionOnceTheGroupIsEmpty) {
  config.offsets_retention_ms = 60000;
  config.offsets_retention_check_interval_ms = 1000;
  make_coordinator();
  EXPECT_EQ(commit("", -1, 5, "m", "simple"), 0);
  clock.advance_ms(30000);
  coordinator->tick();
  EXPECT_EQ(fetch("simple"), 5);
  clock.advance_ms(31000);
  coordinator->tick();
  EXPECT_EQ(fetch("simple"), 5) << "expired once the tombstone is durable, not before";
  log.complete();
  EXPECT_EQ(fetch("simple"), -1);
  EXPECT_FALSE(coordinator->state_of(GroupId{"simple"}))
      << "an empty group without offsets is removed";
  int32_t partition = partition_for_group("simple", config.offsets_topic_partitions);
  EXPECT_FALSE(log.log[partition].back().value) << "a tombstone was written";
}

TEST_F(GroupTest, V1CommitTimestampStartsTheRetention) {
  // Kafka's OffsetAndMetadata.fromRequest: a v1 commit naming its time is
  // that old, so it expires retention after that time, not after its arrival.
  config.offsets_retention_ms = 60000;
  config.offsets_retention_check_interval_ms = 1000;
  make_coordinator();
  protocol::OffsetCommitRequest request;
  request.group_id = "old-client";
  auto& topic = request.topics.emplace_back();
  topic.name = "t";
  topic.partitions.push_back({0, 7, -1, clock.now_ms() - 50000, "", {}});
  Slot<protocol::OffsetCommitResponse> slot;
  coordinator->offset_commit(request, 1, slot.reply());
  log.complete();
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(slot.value->topics.at(0).partitions.at(0).error_code, 0);
  EXPECT_EQ(fetch("old-client"), 7);
  clock.advance_ms(11000);
  coordinator->tick();
  log.complete();
  EXPECT_EQ(fetch("old-client"), -1)
      << "61 s after its commit timestamp, though 11 s after it arrived";
}

TEST_F(GroupTest, RetentionTimeOfACommitIsItsOwnExpiry) {
  // OffsetCommit v2-4's retention_time_ms (kafka-go 0.2 sends 24 h): the
  // offset expires then, whatever offsets.retention.minutes says, and the
  // expiry survives a replay (OffsetCommitValue v1's expire timestamp).
  config.offsets_retention_ms = 7 * 24 * 3600 * 1000LL;
  config.offsets_retention_check_interval_ms = 1000;
  make_coordinator();
  protocol::OffsetCommitRequest request;
  request.group_id = "short";
  request.retention_time_ms = 5000;
  auto& topic = request.topics.emplace_back();
  topic.name = "t";
  topic.partitions.push_back({0, 9, -1, -1, "", {}});
  Slot<protocol::OffsetCommitResponse> slot;
  coordinator->offset_commit(request, 2, slot.reply());
  log.complete();
  ASSERT_EQ(slot.calls, 1);
  EXPECT_EQ(fetch("short"), 9);
  clock.advance_ms(4000);
  coordinator->tick();
  log.complete();
  EXPECT_EQ(fetch("short"), 9) << "1 s before its expiry";
  clock.advance_ms(1000);
  coordinator->tick();
  log.complete();
  EXPECT_EQ(fetch("short"), -1) << "at its expiry, days before the retention";
}

TEST_F(GroupTest, NextDeadlineIsTheEarliestSessionEnd) {
  // The broker's timer sleeps until next_deadline(): a member's session must
  // be there, so it ends at its deadline rather than at a later sweep.
  EXPECT_EQ(coordinator->next_deadline(), std::chrono::nanoseconds::max());
  int wakes = 0;
  coordinator->on_earlier_deadline([&wakes] { ++wakes; });
  auto [member, generation] = stable_single();
  EXPECT_GT(wakes, 0);
  coordinator->tick();  // recomputes: the session is the only deadline left
  const auto session_end = clock.monotonic() + std::chrono::milliseconds(10000);
  EXPECT_EQ(coordinator->next_deadline(), session_end);

  clock.advance_ms(4000);
  EXPECT_EQ(heartbeat(member, generation), 0);
  EXPECT_EQ(coordinator->next_deadline(), session_end)
      << "a later deadline never moves the wake earlier";
  clock.advance(session_end - clock.monotonic());
  coordinator->tick();  // a wake for a deadline a heartbeat extended: nothing ends
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::stable);
  const auto extended_end =
      session_end - std::chrono::milliseconds(10000) + std::chrono::milliseconds(14000);
  EXPECT_EQ(coordinator->next_deadline(), extended_end);

  clock.advance(extended_end - clock.monotonic() - std::chrono::nanoseconds(1));
  coordinator->tick();
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::stable) << "1 ns before the deadline";
  clock.advance(std::chrono::nanoseconds(1));
  coordinator->tick();
  EXPECT_EQ(heartbeat(member, generation), err(ErrorCode::UNKNOWN_MEMBER_ID))
      << "ended exactly at the deadline";
  coordinator->tick();  // the rebalance its leaving started ends at once: no member is left
  EXPECT_EQ(coordinator->state_of(GroupId{"g"}), GroupState::empty);
  EXPECT_EQ(coordinator->next_deadline(), std::chrono::nanoseconds::max());
}

TEST_F(GroupTest, ListAndDescribeGroups) {
  auto [id, generation] = stable_single();
  EXPECT_EQ(commit("", -1, 5, "m", "simple"), 0);
  protocol::ListGroupsRequest list;
  EXPECT_EQ(coordinator->list_groups(list, 5).groups.size(), 2u);
  list.states_filter = {"stable"};
  auto stable = coordinator->list_groups(list, 5);
  ASSERT_EQ(stable.groups.size(), 1u);
  EXPECT_EQ(stable.groups[0].group_id, "g");
  EXPECT_EQ(stable.groups[0].protocol_type, "consumer");
  list.states_filter = {};
  list.types_filter = {"consumer"};
  EXPECT_TRUE(coordinator->list_groups(list, 5).groups.empty());

  protocol::DescribeGroupsRequest describe;
  describe.groups = {"g", "nope"};
  auto described = coordinator->describe_groups(describe, 5);
  EXPECT_EQ(described.groups[0].group_state, "Stable");
  EXPECT_EQ(described.groups[0].protocol_data, "range");
  ASSERT_EQ(described.groups[0].members.size(), 1u);
  EXPECT_EQ(described.groups[0].members[0].member_id, id);
  EXPECT_EQ(described.groups[0].members[0].client_host, "/127.0.0.1");
  EXPECT_EQ(described.groups[0].members[0].member_assignment, (std::vector<uint8_t>{9}));
  EXPECT_EQ(described.groups[1].group_state, "Dead");
}

}  // namespace
}  // namespace sluice::group
