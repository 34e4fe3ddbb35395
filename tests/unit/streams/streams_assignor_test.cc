// The leader's task assignment (streams_assignor.h) and the group
// protocol's bytes (streams_protocol.h).
#include "streams/streams_assignor.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "streams/streams_protocol.h"

namespace sluice::streams {
namespace {

std::set<TaskId> tasks_of(int subtopologies, int partitions) {
  std::set<TaskId> tasks;
  for (int s = 0; s < subtopologies; ++s) {
    for (int p = 0; p < partitions; ++p) tasks.insert({s, p});
  }
  return tasks;
}

// A group of clients ("A", "B", ...) with `threads` members each
// ("A-1", "A-2", ...), all tasks stateful or not.
struct Group {
  AssignorInput input;
  AssignorConfig config;

  void add_client(const std::string& process, int threads) {
    AssignorClient& client = input.clients[process];
    for (int i = 1; i <= threads; ++i) {
      client.members.push_back({process + "-" + std::to_string(i), {}, {}});
    }
  }
  void remove_client(const std::string& process) { input.clients.erase(process); }

  // What each client owns in `output` becomes its previous tasks, with lag
  // 0 on what it ran or kept a replica of (replicas caught up).
  void carry_over(const AssignorOutput& output) {
    for (auto& [process, client] : input.clients) {
      client.lags.clear();
      for (AssignorMember& member : client.members) {
        auto found = output.members.find(member.member_id);
        member.previous_active =
            found == output.members.end() ? std::set<TaskId>{} : found->second.active;
        member.previous_standby =
            found == output.members.end() ? std::set<TaskId>{} : found->second.standby;
        for (const TaskId& task : member.previous_standby) client.lags[task] = 0;
      }
    }
  }
};

std::set<TaskId> client_active(const AssignorOutput& output, const Group& group,
                               const std::string& process) {
  std::set<TaskId> tasks;
  for (const AssignorMember& member : group.input.clients.at(process).members) {
    const MemberTasks& assigned = output.members.at(member.member_id);
    tasks.insert(assigned.active.begin(), assigned.active.end());
  }
  return tasks;
}

std::set<TaskId> client_standby(const AssignorOutput& output, const Group& group,
                                const std::string& process) {
  std::set<TaskId> tasks;
  for (const AssignorMember& member : group.input.clients.at(process).members) {
    const MemberTasks& assigned = output.members.at(member.member_id);
    tasks.insert(assigned.standby.begin(), assigned.standby.end());
  }
  return tasks;
}

// Every task active exactly once.
void expect_complete(const AssignorOutput& output, const std::set<TaskId>& tasks) {
  std::map<TaskId, int> owners;
  for (const auto& [member, assigned] : output.members) {
    for (const TaskId& task : assigned.active) ++owners[task];
  }
  for (const TaskId& task : tasks) EXPECT_EQ(owners[task], 1) << task.to_string();
  EXPECT_EQ(owners.size(), tasks.size());
}

size_t moved(const std::set<TaskId>& before, const std::set<TaskId>& after) {
  size_t count = 0;
  for (const TaskId& task : before) count += after.count(task) == 0 ? 1 : 0;
  return count;
}

TEST(StreamsAssignor, SpreadsTasksEvenlyOverClientsAndThreads) {
  Group group;
  group.input.tasks = tasks_of(2, 6);  // 12 tasks
  group.add_client("A", 1);
  group.add_client("B", 2);
  group.add_client("C", 3);
  AssignorOutput output = assign_tasks(group.input, group.config);
  expect_complete(output, group.input.tasks);
  EXPECT_EQ(client_active(output, group, "A").size(), 2u);
  EXPECT_EQ(client_active(output, group, "B").size(), 4u);
  EXPECT_EQ(client_active(output, group, "C").size(), 6u);
  for (const auto& [member, assigned] : output.members) {
    EXPECT_EQ(assigned.active.size(), 2u) << member;
  }
  EXPECT_FALSE(output.probing_rebalance_needed);
}

TEST(StreamsAssignor, ActiveTasksStayWhereTheyWere) {
  Group group;
  group.input.tasks = tasks_of(1, 8);
  group.add_client("A", 1);
  group.add_client("B", 1);
  // An uneven but balanced previous assignment: odd partitions on A.
  for (int p = 0; p < 8; ++p) {
    std::string process = p % 2 == 1 ? "A" : "B";
    group.input.clients[process].members[0].previous_active.insert({0, p});
  }
  AssignorOutput output = assign_tasks(group.input, group.config);
  EXPECT_EQ(client_active(output, group, "A"), (std::set<TaskId>{{0, 1}, {0, 3}, {0, 5}, {0, 7}}));
  EXPECT_EQ(client_active(output, group, "B"), (std::set<TaskId>{{0, 0}, {0, 2}, {0, 4}, {0, 6}}));
}

TEST(StreamsAssignor, AJoiningClientTakesOnlyItsShare) {
  Group group;
  group.input.tasks = tasks_of(1, 9);
  group.add_client("A", 1);
  group.add_client("B", 1);
  AssignorOutput first = assign_tasks(group.input, group.config);
  group.carry_over(first);
  std::set<TaskId> a_before = client_active(first, group, "A");
  std::set<TaskId> b_before = client_active(first, group, "B");
  group.add_client("C", 1);
  AssignorOutput second = assign_tasks(group.input, group.config);
  expect_complete(second, group.input.tasks);
  EXPECT_EQ(client_active(second, group, "C").size(), 3u);
  // Only the tasks C takes moved: 3 of 9.
  EXPECT_EQ(moved(a_before, client_active(second, group, "A")) +
                moved(b_before, client_active(second, group, "B")),
            3u);
}

TEST(StreamsAssignor, ThreadsKeepTheirTasks) {
  Group group;
  group.input.tasks = tasks_of(1, 4);
  group.add_client("A", 2);
  group.input.clients["A"].members[0].previous_active = {{0, 2}, {0, 3}};
  group.input.clients["A"].members[1].previous_active = {{0, 0}, {0, 1}};
  AssignorOutput output = assign_tasks(group.input, group.config);
  EXPECT_EQ(output.members["A-1"].active, (std::set<TaskId>{{0, 2}, {0, 3}}));
  EXPECT_EQ(output.members["A-2"].active, (std::set<TaskId>{{0, 0}, {0, 1}}));
}

TEST(StreamsAssignor, StandbysNeverShareTheActivesClient) {
  Group group;
  group.input.tasks = tasks_of(2, 6);
  group.input.stateful_tasks = tasks_of(1, 6);  // sub-topology 0 has a store
  group.config.num_standby_replicas = 2;
  group.add_client("A", 1);
  group.add_client("B", 2);
  group.add_client("C", 1);
  group.add_client("D", 1);
  AssignorOutput output = assign_tasks(group.input, group.config);
  expect_complete(output, group.input.tasks);
  std::map<TaskId, int> copies;
  for (const auto& [process, client] : group.input.clients) {
    std::set<TaskId> active = client_active(output, group, process);
    std::set<TaskId> standby = client_standby(output, group, process);
    for (const TaskId& task : standby) {
      EXPECT_EQ(active.count(task), 0u) << process << " " << task.to_string();
      EXPECT_EQ(group.input.stateful_tasks.count(task), 1u) << "a standby of a stateless task";
      ++copies[task];
    }
  }
  for (const TaskId& task : group.input.stateful_tasks) EXPECT_EQ(copies[task], 2);
  // 12 standbys over 5 threads: B (2 threads) holds about twice A's.
  EXPECT_GE(client_standby(output, group, "B").size(), 4u);
  for (const char* process : {"A", "C", "D"}) {
    EXPECT_LE(client_standby(output, group, process).size(), 3u) << process;
  }
}

TEST(StreamsAssignor, NoMoreStandbysThanOtherClients) {
  Group group;
  group.input.tasks = tasks_of(1, 3);
  group.input.stateful_tasks = group.input.tasks;
  group.config.num_standby_replicas = 3;
  group.add_client("A", 1);
  group.add_client("B", 1);
  AssignorOutput output = assign_tasks(group.input, group.config);
  for (const TaskId& task : group.input.tasks) {
    bool on_a = client_active(output, group, "A").count(task) != 0;
    EXPECT_EQ(client_standby(output, group, on_a ? "B" : "A").count(task), 1u);
    EXPECT_EQ(client_standby(output, group, on_a ? "A" : "B").count(task), 0u);
  }
}

// A new client without state gets warm-ups, not active stateful tasks;
// once they caught up, the probing rebalance moves the tasks to it.
TEST(StreamsAssignor, WarmUpThenProbingRebalanceMovesTasks) {
  Group group;
  group.input.tasks = tasks_of(1, 6);
  group.input.stateful_tasks = group.input.tasks;
  group.config.acceptable_recovery_lag = 100;
  group.config.max_warmup_replicas = 2;
  group.add_client("A", 1);
  group.add_client("B", 1);
  group.carry_over(assign_tasks(group.input, group.config));
  std::set<TaskId> a_before = client_active(assign_tasks(group.input, group.config), group, "A");

  group.add_client("C", 1);
  for (const TaskId& task : group.input.tasks) group.input.clients["C"].lags[task] = 5000;
  AssignorOutput warming = assign_tasks(group.input, group.config);
  expect_complete(warming, group.input.tasks);
  EXPECT_TRUE(warming.probing_rebalance_needed);
  EXPECT_TRUE(client_active(warming, group, "C").empty());
  std::set<TaskId> warmups = client_standby(warming, group, "C");
  EXPECT_EQ(warmups.size(), 2u);
  EXPECT_EQ(warming.warmups["C"], warmups);
  EXPECT_EQ(warming.warmup_members["C"], (std::set<std::string>{"C-1"}));
  // Nothing moved yet: A and B keep running everything they ran.
  EXPECT_EQ(client_active(warming, group, "A"), a_before);

  // The warm-ups caught up (lag 40 <= 100): the next rebalance gives C its
  // tasks from them, with no further probing.
  group.carry_over(warming);
  for (const TaskId& task : group.input.tasks) {
    group.input.clients["C"].lags[task] = warmups.count(task) != 0 ? 40 : 5000;
  }
  AssignorOutput moved_over = assign_tasks(group.input, group.config);
  expect_complete(moved_over, group.input.tasks);
  EXPECT_EQ(client_active(moved_over, group, "C"), warmups);
  EXPECT_FALSE(moved_over.probing_rebalance_needed);
}

TEST(StreamsAssignor, WarmUpsAreLimitedByMaxWarmupReplicas) {
  Group group;
  group.input.tasks = tasks_of(1, 12);
  group.input.stateful_tasks = group.input.tasks;
  group.config.max_warmup_replicas = 1;
  group.config.acceptable_recovery_lag = 0;
  group.add_client("A", 1);
  group.carry_over(assign_tasks(group.input, group.config));
  group.add_client("B", 1);
  group.add_client("C", 1);
  AssignorOutput output = assign_tasks(group.input, group.config);
  EXPECT_EQ(client_active(output, group, "A").size(), 12u);
  EXPECT_EQ(client_standby(output, group, "B").size() + client_standby(output, group, "C").size(),
            1u);
  EXPECT_TRUE(output.probing_rebalance_needed);
}

// A lost client's tasks go to the clients holding their standbys.
TEST(StreamsAssignor, ALostClientsTasksMoveToTheirStandbys) {
  Group group;
  group.input.tasks = tasks_of(1, 6);
  group.input.stateful_tasks = group.input.tasks;
  group.config.num_standby_replicas = 1;
  group.config.acceptable_recovery_lag = 0;
  group.add_client("A", 1);
  group.add_client("B", 1);
  group.add_client("C", 1);
  AssignorOutput before = assign_tasks(group.input, group.config);
  group.carry_over(before);
  std::set<TaskId> lost = client_active(before, group, "C");
  ASSERT_EQ(lost.size(), 2u);
  std::map<TaskId, std::string> standby_of;
  for (const char* process : {"A", "B"}) {
    for (const TaskId& task : client_standby(before, group, process)) standby_of[task] = process;
  }
  group.remove_client("C");
  AssignorOutput after = assign_tasks(group.input, group.config);
  expect_complete(after, group.input.tasks);
  for (const TaskId& task : lost) {
    ASSERT_EQ(standby_of.count(task), 1u);
    EXPECT_EQ(client_active(after, group, standby_of[task]).count(task), 1u) << task.to_string();
  }
}

TEST(StreamsAssignor, TaskLagFollowsKafkasRules) {
  EXPECT_EQ(task_lag(kLatestOffset, 100), 0);
  EXPECT_EQ(task_lag(60, 100), 40);
  EXPECT_EQ(task_lag(-3, 100), 100);   // unknown
  EXPECT_EQ(task_lag(150, 100), 100);  // beyond the end: state of an older changelog
}

TEST(StreamsProtocol, SubscriptionInfoHasKafkasBytes) {
  SubscriptionInfo info;
  for (uint8_t i = 0; i < 16; ++i) info.process_id.bytes[i] = i;
  info.task_offset_sums[{1, 2}] = kLatestOffset;
  std::vector<uint8_t> bytes = encode_subscription_info(info);
  std::vector<uint8_t> expected = {0, 0, 0, 11, 0, 0, 0, 11};  // version, latest supported
  for (uint8_t i = 0; i < 16; ++i) expected.push_back(i);      // process id
  for (uint8_t b : {0, 0, 0, 0}) expected.push_back(b);        // user endpoint: empty
  for (uint8_t b : {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}) expected.push_back(b);  // 1 task: 1_2
  for (int i = 0; i < 7; ++i) expected.push_back(0xff);
  expected.push_back(0xfe);                                          // offset sum -2
  for (uint8_t b : {0xff, 0xff}) expected.push_back(b);              // named topology: null
  expected.push_back(0);                                             // unique field
  for (uint8_t b : {0, 0, 0, 0, 0, 0, 0, 0}) expected.push_back(b);  // error code, no tags
  EXPECT_EQ(bytes, expected);
  Result<SubscriptionInfo> decoded = decode_subscription_info(bytes);
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(*decoded, info);
  EXPECT_EQ(decoded->active_tasks(), (std::set<TaskId>{{1, 2}}));
}

TEST(StreamsProtocol, AssignmentInfoRoundTrips) {
  AssignmentInfo info;
  info.active_tasks = {{0, 1}, {1, 1}};
  info.standby_tasks[{0, 2}] = {{"words", 2}};
  info.partitions_by_host[{"host-a", 7070}] = {{"words", 1}, {"app-counts-repartition", 1}};
  info.standby_partitions_by_host[{"host-b", 7071}] = {{"words", 2}};
  info.next_rebalance_ms = 123456;
  std::vector<uint8_t> bytes = encode_assignment_info(info);
  Result<AssignmentInfo> decoded = decode_assignment_info(bytes);
  ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
  EXPECT_EQ(*decoded, info);
}

TEST(StreamsProtocol, TruncatedOrHostileBytesAreRefusedNotCrashed) {
  SubscriptionInfo subscription;
  subscription.task_offset_sums[{0, 0}] = 17;
  subscription.user_endpoint = "localhost:8080";
  std::vector<uint8_t> sub_bytes = encode_subscription_info(subscription);
  AssignmentInfo assignment;
  assignment.active_tasks = {{0, 0}};
  assignment.standby_tasks[{0, 1}] = {{"t", 1}};
  std::vector<uint8_t> assign_bytes = encode_assignment_info(assignment);
  for (size_t n = 0; n < sub_bytes.size(); ++n) {
    EXPECT_FALSE(decode_subscription_info(Bytes(sub_bytes.data(), n)).is_ok()) << n;
  }
  for (size_t n = 0; n < assign_bytes.size(); ++n) {
    EXPECT_FALSE(decode_assignment_info(Bytes(assign_bytes.data(), n)).is_ok()) << n;
  }
  // A huge count is refused before anything is allocated for it.
  std::vector<uint8_t> hostile = {0, 0, 0, 11, 0, 0, 0, 11, 0x7f, 0xff, 0xff, 0xff};
  EXPECT_FALSE(decode_assignment_info(hostile).is_ok());
}

TEST(StreamsProtocol, ConsumerProtocolWrapsTheUserData) {
  ConsumerSubscription subscription{{"words", "app-counts-repartition"}, {1, 2, 3}, {{"words", 0}}};
  Result<ConsumerSubscription> decoded =
      decode_consumer_subscription(encode_consumer_subscription(subscription));
  ASSERT_TRUE(decoded.is_ok());
  EXPECT_EQ(decoded->topics, subscription.topics);
  EXPECT_EQ(decoded->user_data, subscription.user_data);
  EXPECT_EQ(decoded->owned_partitions, subscription.owned_partitions);

  ConsumerAssignment assignment{{{"words", 3}, {"b", 1}, {"words", 1}}, {9}};
  Result<ConsumerAssignment> back =
      decode_consumer_assignment(encode_consumer_assignment(assignment));
  ASSERT_TRUE(back.is_ok());
  EXPECT_EQ(back->partitions, (std::vector<TopicPartition>{{"b", 1}, {"words", 1}, {"words", 3}}));
  EXPECT_EQ(back->user_data, std::vector<uint8_t>{9});
}

}  // namespace
}  // namespace sluice::streams
