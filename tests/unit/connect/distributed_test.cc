// The distributed worker's plain logic: the group protocol's bytes, the
// assignor's rounds and the config and status topics' records.

#include <gtest/gtest.h>

#include "connect/runtime/assignor.h"
#include "connect/runtime/connect_protocol.h"
#include "connect/runtime/connect_records.h"
#include "connect/runtime/worker_settings.h"

namespace sluice::connect {
namespace {

Allocation work(int connectors, int tasks_each) {
  Allocation all;
  for (int c = 0; c < connectors; ++c) {
    const std::string name = "c" + std::to_string(c);
    all.connectors.insert(name);
    for (int t = 0; t < tasks_each; ++t) all.tasks.emplace(name, t);
  }
  return all;
}

// Applies a round's result to what members hold, as members do.
void apply_round(std::vector<AssignorMember>& members, const AssignorResult& result) {
  for (AssignorMember& member : members) {
    if (auto it = result.revoked.find(member.id); it != result.revoked.end()) {
      for (const auto& c : it->second.connectors) member.held.connectors.erase(c);
      for (const auto& t : it->second.tasks) member.held.tasks.erase(t);
    }
    if (auto it = result.assigned.find(member.id); it != result.assigned.end()) {
      member.held.connectors.insert(it->second.connectors.begin(), it->second.connectors.end());
      member.held.tasks.insert(it->second.tasks.begin(), it->second.tasks.end());
    }
  }
}

size_t revoked_count(const AssignorResult& result) {
  size_t n = 0;
  for (const auto& [id, a] : result.revoked) n += a.size();
  return n;
}

// Rounds until nothing is revoked (members with revocations rejoin).
void settle(std::vector<AssignorMember>& members, const Allocation& all, AssignorMemory& memory,
            int64_t now) {
  for (int round = 0; round < 10; ++round) {
    AssignorResult result = assign(members, all, memory, now, 1000);
    apply_round(members, result);
    if (revoked_count(result) == 0) return;
  }
  FAIL() << "no stable assignment after 10 rounds";
}

void expect_complete_and_balanced(const std::vector<AssignorMember>& members,
                                  const Allocation& all) {
  Allocation union_of;
  size_t min_tasks = SIZE_MAX, max_tasks = 0, min_conn = SIZE_MAX, max_conn = 0;
  for (const AssignorMember& member : members) {
    for (const auto& c : member.held.connectors) EXPECT_TRUE(union_of.connectors.insert(c).second);
    for (const auto& t : member.held.tasks) EXPECT_TRUE(union_of.tasks.insert(t).second);
    min_tasks = std::min(min_tasks, member.held.tasks.size());
    max_tasks = std::max(max_tasks, member.held.tasks.size());
    min_conn = std::min(min_conn, member.held.connectors.size());
    max_conn = std::max(max_conn, member.held.connectors.size());
  }
  EXPECT_EQ(union_of, all);
  EXPECT_LE(max_tasks - min_tasks, 1u);
  EXPECT_LE(max_conn - min_conn, 1u);
}

TEST(ConnectProtocol, AssignmentRoundTripsInKafkasLayout) {
  ConnectAssignment a;
  a.leader = "m1";
  a.leader_url = "http://h:1/";
  a.config_offset = 7;
  a.assigned.connectors = {"x"};
  a.assigned.tasks = {{"x", 0}, {"y", 2}};
  a.revoked.tasks = {{"z", 1}};
  a.delay_ms = 500;
  const std::vector<uint8_t> bytes = encode_assignment(a);
  // version 2, error 0, "m1"
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[1], 2);
  EXPECT_EQ(bytes[2], 0);
  EXPECT_EQ(bytes[3], 0);
  EXPECT_EQ(bytes[4], 0);
  EXPECT_EQ(bytes[5], 2);
  EXPECT_EQ(bytes[6], 'm');
  auto decoded = decode_assignment(bytes);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(*decoded, a);
}

TEST(ConnectProtocol, MetadataRoundTripsAndRejectsTruncation) {
  WorkerMetadata m;
  m.url = "http://127.0.0.1:8083/";
  m.config_offset = 42;
  ConnectAssignment held;
  held.assigned.tasks = {{"a", 1}};
  m.allocation = held;
  const std::vector<uint8_t> bytes = encode_metadata(m);
  auto decoded = decode_metadata(bytes);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(*decoded, m);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    auto result = decode_metadata(part);
    if (result.is_ok()) {
      EXPECT_GE(cut, 12u) << cut;  // only whole fields may end early
    }
  }
  WorkerMetadata none;
  none.url = "u";
  auto decoded_none = decode_metadata(encode_metadata(none));
  ASSERT_TRUE(decoded_none.is_ok());
  EXPECT_FALSE(decoded_none->allocation.has_value());
}

TEST(Assignor, FirstRoundSpreadsEverything) {
  std::vector<AssignorMember> members{{"a", {}}, {"b", {}}, {"c", {}}};
  AssignorMemory memory;
  const Allocation all = work(2, 3);
  AssignorResult result = assign(members, all, memory, 0, 1000);
  EXPECT_EQ(revoked_count(result), 0u);
  apply_round(members, result);
  expect_complete_and_balanced(members, all);
}

TEST(Assignor, JoiningMemberGetsWorkThroughRevocationsOthersKeepTheRest) {
  std::vector<AssignorMember> members{{"a", {}}, {"b", {}}};
  AssignorMemory memory;
  const Allocation all = work(1, 6);
  settle(members, all, memory, 0);
  const Allocation a_before = members[0].held;
  const Allocation b_before = members[1].held;
  members.push_back({"c", {}});
  AssignorResult result = assign(members, all, memory, 0, 1000);
  EXPECT_EQ(revoked_count(result), 2u);  // one task from each of a and b
  EXPECT_FALSE(result.assigned.contains("c") && !result.assigned["c"].tasks.empty());
  apply_round(members, result);
  settle(members, all, memory, 0);
  expect_complete_and_balanced(members, all);
  // What a and b still hold, they held before (nothing moved between them).
  for (const auto& t : members[0].held.tasks) EXPECT_TRUE(a_before.tasks.contains(t));
  for (const auto& t : members[1].held.tasks) EXPECT_TRUE(b_before.tasks.contains(t));
}

TEST(Assignor, LeavingMemberWorkMovesAtOnceWithoutDelay) {
  std::vector<AssignorMember> members{{"a", {}}, {"b", {}}, {"c", {}}};
  AssignorMemory memory;
  const Allocation all = work(1, 3);
  settle(members, all, memory, 0);
  members.erase(members.begin() + 1);
  AssignorResult result = assign(members, all, memory, 10, 0);
  EXPECT_EQ(result.delay_ms, 0);
  apply_round(members, result);
  expect_complete_and_balanced(members, all);
}

TEST(Assignor, LostMemberWorkWaitsForTheDelayThenMoves) {
  std::vector<AssignorMember> members{{"a", {}}, {"b", {}}, {"c", {}}};
  AssignorMemory memory;
  const Allocation all = work(1, 3);
  settle(members, all, memory, 0);
  const Allocation lost = members[2].held;
  members.pop_back();
  AssignorResult first = assign(members, all, memory, 100, 1000);
  EXPECT_EQ(first.delay_ms, 1000);
  EXPECT_EQ(revoked_count(first), 0u);
  for (const auto& [id, a] : first.assigned) {
    for (const auto& t : lost.tasks) EXPECT_FALSE(a.tasks.contains(t));
  }
  apply_round(members, first);
  AssignorResult again = assign(members, all, memory, 600, 1000);
  EXPECT_EQ(again.delay_ms, 500);  // the same deadline, not a new one
  apply_round(members, again);
  AssignorResult due = assign(members, all, memory, 1100, 1000);
  EXPECT_EQ(due.delay_ms, 0);
  apply_round(members, due);
  expect_complete_and_balanced(members, all);
}

TEST(Assignor, NewConnectorGoesToTheLeastLoaded) {
  std::vector<AssignorMember> members{{"a", {}}, {"b", {}}};
  AssignorMemory memory;
  Allocation all = work(1, 3);  // a gets 2 tasks, b 1
  settle(members, all, memory, 0);
  all.connectors.insert("new");
  all.tasks.emplace("new", 0);
  AssignorResult result = assign(members, all, memory, 0, 1000);
  EXPECT_EQ(revoked_count(result), 0u);
  apply_round(members, result);
  expect_complete_and_balanced(members, all);
}

TEST(Assignor, DeletedConnectorIsRevoked) {
  std::vector<AssignorMember> members{{"a", {}}, {"b", {}}};
  AssignorMemory memory;
  Allocation all = work(2, 2);
  settle(members, all, memory, 0);
  Allocation fewer = work(1, 2);  // c1 deleted
  AssignorResult result = assign(members, fewer, memory, 0, 1000);
  size_t revoked_c1 = 0;
  for (const auto& [id, a] : result.revoked) {
    revoked_c1 += a.connectors.count("c1");
    for (const auto& t : a.tasks) revoked_c1 += t.first == "c1" ? 1 : 0;
  }
  EXPECT_EQ(revoked_c1, 3u);
  apply_round(members, result);
  settle(members, fewer, memory, 0);
  expect_complete_and_balanced(members, fewer);
}

TEST(Assignor, DuplicateClaimIsRevokedFromTheSecond) {
  std::vector<AssignorMember> members{{"a", {}}, {"b", {}}};
  members[0].held.tasks = {{"c0", 0}};
  members[1].held.tasks = {{"c0", 0}};
  AssignorMemory memory;
  Allocation all;
  all.tasks = {{"c0", 0}};
  AssignorResult result = assign(members, all, memory, 0, 1000);
  EXPECT_TRUE(result.revoked["b"].tasks.contains({"c0", 0}));
  EXPECT_FALSE(result.revoked.contains("a"));
}

TEST(ConnectRecords, ConfigSnapshotFollowsKafkasRecords) {
  ConfigSnapshot snapshot;
  snapshot.apply(target_state_key("s"), target_state_value(TargetState::paused));
  snapshot.apply(connector_config_key("s"), properties_value({{"connector.class", "X"}}));
  ASSERT_NE(snapshot.find("s"), nullptr);
  EXPECT_EQ(snapshot.find("s")->target, TargetState::paused);
  snapshot.apply(task_config_key("s", 0), properties_value({{"k", "0"}}));
  snapshot.apply(task_config_key("s", 1), properties_value({{"k", "1"}}));
  EXPECT_TRUE(snapshot.find("s")->tasks.empty());  // not committed yet
  snapshot.apply(commit_tasks_key("s"), commit_tasks_value(2));
  ASSERT_EQ(snapshot.find("s")->tasks.size(), 2u);
  EXPECT_EQ(snapshot.find("s")->tasks[1].at("k"), "1");
  EXPECT_EQ(snapshot.all_work().tasks.size(), 2u);
  snapshot.apply(target_state_key("s"), target_state_value(TargetState::stopped));
  EXPECT_EQ(snapshot.find("s")->target, TargetState::stopped);
  snapshot.apply("connector-s", std::nullopt);
  EXPECT_EQ(snapshot.find("s"), nullptr);
  snapshot.apply("connector-bad", std::string("{not json"));
  snapshot.apply("commit-x", std::string("{\"tasks\":\"two\"}"));
  EXPECT_TRUE(snapshot.connectors().empty());
}

TEST(ConnectRecords, KafkasValueBytes) {
  EXPECT_EQ(properties_value({{"a", "1"}}), R"({"properties":{"a":"1"}})");
  EXPECT_EQ(commit_tasks_value(3), R"({"tasks":3})");
  EXPECT_EQ(target_state_value(TargetState::stopped), R"({"state":"PAUSED","state.v2":"STOPPED"})");
  EXPECT_EQ(task_config_key("my-conn", 2), "task-my-conn-2");
  EXPECT_EQ(status_key("my-conn", 2), "status-task-my-conn-2");
  EXPECT_EQ(status_key("c", std::nullopt), "status-connector-c");
  EXPECT_EQ(status_value(StateInfo{TaskState::running, "h:1", ""}, 4),
            R"({"generation":4,"state":"RUNNING","trace":null,"worker_id":"h:1"})");
}

TEST(ConnectRecords, StatusRecordsParseBack) {
  auto key = parse_status_key("status-task-my-conn-12");
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->connector, "my-conn");
  EXPECT_EQ(key->task, 12);
  EXPECT_FALSE(parse_status_key("status-task-x").has_value());
  EXPECT_FALSE(parse_status_key("other").has_value());
  auto value = parse_status_value(status_value(StateInfo{TaskState::failed, "w", "boom"}, 1));
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->state, TaskState::failed);
  EXPECT_EQ(value->trace, "boom");
  EXPECT_FALSE(parse_status_value("{\"state\":\"NOPE\"}").has_value());
  EXPECT_FALSE(parse_status_value("[").has_value());
}

Properties distributed_worker() {
  return {{"bootstrap.servers", "127.0.0.1:9092"},
          {"group.id", "g"},
          {"config.storage.topic", "c"},
          {"offset.storage.topic", "o"},
          {"status.storage.topic", "s"}};
}

TEST(DistributedSettings, KafkasDefaults) {
  auto settings = parse_distributed_settings(distributed_worker());
  ASSERT_TRUE(settings.is_ok()) << settings.status().message();
  EXPECT_EQ(settings->group_id, "g");
  EXPECT_EQ(settings->config_replication_factor, 3);
  EXPECT_EQ(settings->offset_partitions, 25);
  EXPECT_EQ(settings->status_partitions, 5);
  EXPECT_EQ(settings->heartbeat_interval.count(), 3000);
  EXPECT_EQ(settings->session_timeout.count(), 10000);
  EXPECT_EQ(settings->rebalance_timeout.count(), 60000);
  EXPECT_EQ(settings->max_rebalance_delay.count(), 300000);
  EXPECT_EQ(settings->advertised_host, "127.0.0.1");
}

TEST(DistributedSettings, KafkasMessages) {
  for (const char* key :
       {"group.id", "config.storage.topic", "offset.storage.topic", "status.storage.topic"}) {
    Properties worker = distributed_worker();
    worker.erase(key);
    auto settings = parse_distributed_settings(worker);
    ASSERT_FALSE(settings.is_ok()) << key;
    EXPECT_EQ(settings.status().message(), std::string("Missing required configuration \"") + key +
                                               "\" which has no default value.");
  }
  Properties broker_default = distributed_worker();
  broker_default["offset.storage.replication.factor"] = "-1";
  EXPECT_TRUE(parse_distributed_settings(broker_default).is_ok());
  Properties zero = distributed_worker();
  zero["status.storage.partitions"] = "0";
  EXPECT_FALSE(parse_distributed_settings(zero).is_ok());
  Properties text = distributed_worker();
  text["session.timeout.ms"] = "soon";
  auto refused = parse_distributed_settings(text);
  ASSERT_FALSE(refused.is_ok());
  EXPECT_NE(refused.status().message().find("session.timeout.ms"), std::string::npos);
}

}  // namespace
}  // namespace sluice::connect
