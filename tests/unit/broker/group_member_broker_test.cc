// net::GroupMember against a real in-process Broker's group coordinator:
// a member joins, leads, assigns, heartbeats, commits and leaves; two
// members agree on the protocol they both offer; a second member's arrival
// reaches the first through its synchronous heartbeat (Connect's herder)
// or through its background heartbeat (a stream thread).

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "base/error_code.h"
#include "broker/broker.h"
#include "net/group_member.h"
#include "test_support.h"

namespace sluice::broker {
namespace {

using namespace std::chrono_literals;
using net::GroupMember;

using Assignments = std::map<std::string, std::vector<uint8_t>>;

class GroupMemberBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fresh_test_dir("group-member");
    auto broker = testing::start_broker({{"log.dirs", dir_.string()},
                                         {"listeners", "PLAINTEXT://127.0.0.1:0"},
                                         {"group.initial.rebalance.delay.ms", "0"}});
    ASSERT_TRUE(broker.is_ok()) << broker.status().to_string();
    broker_ = std::move(broker).value();
    ASSERT_TRUE(testing::create_topic(*broker_, "t", 2));  // for the commits
  }
  void TearDown() override {
    if (broker_) broker_->stop();
    broker_.reset();
    std::filesystem::remove_all(dir_);
  }

  GroupMember::Options options(const std::string& protocol_type) const {
    GroupMember::Options options;
    options.bootstrap =
        net::parse_bootstrap_servers("PLAINTEXT://127.0.0.1:" + std::to_string(bound_port()));
    options.group_id = "g";
    options.client_id = "group-member-test";
    options.protocol_type = protocol_type;
    options.session_timeout = 10s;
    options.rebalance_timeout = 10s;
    return options;
  }
  uint16_t bound_port() const { return broker_->bound_port(0); }

  // The first FindCoordinator creates __consumer_offsets and is answered
  // COORDINATOR_NOT_AVAILABLE meanwhile: join until it works.
  static Result<GroupMember::Joined> join_until_joined(
      GroupMember& member, const std::vector<GroupMember::Protocol>& protocols,
      const GroupMember::Assign& assign) {
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    for (;;) {
      auto joined = member.join(protocols, assign);
      if (joined.is_ok() || std::chrono::steady_clock::now() > give_up) return joined;
      std::this_thread::sleep_for(100ms);
    }
  }

  // Everyone gets one byte: its position among the members.
  static Assignments by_position(const std::vector<GroupMember::JoinedMember>& members) {
    Assignments out;
    for (size_t i = 0; i < members.size(); ++i) {
      out[members[i].id] = {static_cast<uint8_t>(i)};
    }
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Broker> broker_;
};

TEST(ParseBootstrapServers, DropsSchemesSpacesAndEntriesWithoutAPort) {
  auto endpoints = net::parse_bootstrap_servers("PLAINTEXT://a:9092, b:1 ,c,d:0,e:70000,[::1]:9");
  ASSERT_EQ(endpoints.size(), 3u);
  EXPECT_EQ(endpoints[0].host, "a");
  EXPECT_EQ(endpoints[0].port, 9092);
  EXPECT_EQ(endpoints[1].host, "b");
  EXPECT_EQ(endpoints[1].port, 1);
  EXPECT_EQ(endpoints[2].host, "[::1]");
  EXPECT_EQ(endpoints[2].port, 9);
}

TEST_F(GroupMemberBrokerTest, ALoneMemberLeadsAssignsHeartbeatsCommitsAndLeaves) {
  GroupMember member(options("consumer"));
  EXPECT_TRUE(member.rejoin_needed()) << "never joined";
  std::vector<uint8_t> seen_metadata;
  std::string seen_protocol;
  auto joined = join_until_joined(
      member, {GroupMember::Protocol{"stream", {7, 8}}},
      [&](const std::string& protocol, const std::vector<GroupMember::JoinedMember>& members) {
        seen_protocol = protocol;
        EXPECT_EQ(members.size(), 1u);
        if (!members.empty()) seen_metadata = members[0].metadata;
        return Assignments{{members.at(0).id, {1, 2, 3}}};
      });
  ASSERT_TRUE(joined.is_ok()) << joined.status().message();
  EXPECT_EQ(seen_protocol, "stream");
  EXPECT_EQ(seen_metadata, (std::vector<uint8_t>{7, 8}));
  EXPECT_FALSE(joined->member_id.empty()) << "given by MEMBER_ID_REQUIRED";
  EXPECT_EQ(joined->leader_id, joined->member_id);
  EXPECT_EQ(joined->protocol, "stream");
  EXPECT_EQ(joined->assignment, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_TRUE(member.in_group());
  EXPECT_FALSE(member.rejoin_needed());
  EXPECT_EQ(member.generation(), joined->generation);

  EXPECT_STREQ(error_name(member.heartbeat()), "NONE");
  EXPECT_STREQ(error_name(member.commit({{{"t", 0}, 5}, {{"t", 1}, 6}})), "NONE");
  EXPECT_STREQ(error_name(member.commit({})), "NONE") << "nothing to commit";

  member.leave("the test is done");
  EXPECT_FALSE(member.in_group());
  EXPECT_TRUE(member.member_id().empty());
  EXPECT_STREQ(error_name(member.commit({{{"t", 0}, 7}})), "ILLEGAL_GENERATION")
      << "refused without a generation, before asking";
}

TEST_F(GroupMemberBrokerTest, ASecondMemberReachesTheFirstThroughItsHeartbeat) {
  GroupMember first(options("connect"));
  auto joined = join_until_joined(
      first, {GroupMember::Protocol{"sessioned", {1}}, GroupMember::Protocol{"compatible", {1}}},
      [](const std::string&, const std::vector<GroupMember::JoinedMember>& members) {
        return by_position(members);
      });
  ASSERT_TRUE(joined.is_ok()) << joined.status().message();
  EXPECT_EQ(joined->protocol, "sessioned") << "the first choice when alone";

  // The second offers only "compatible": the group must settle on it.
  GroupMember second(options("connect"));
  Result<GroupMember::Joined> second_joined = Status(Errc::io_error, "not joined");
  std::thread joiner([&] {
    second_joined = join_until_joined(
        second, {GroupMember::Protocol{"compatible", {2}}},
        [](const std::string&, const auto& members) { return by_position(members); });
  });
  ErrorCode beat = ErrorCode::NONE;
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (beat == ErrorCode::NONE && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(100ms);
    beat = first.heartbeat();
  }
  EXPECT_STREQ(error_name(beat), "REBALANCE_IN_PROGRESS");
  EXPECT_FALSE(first.in_group()) << "an error ends the generation";
  EXPECT_TRUE(first.rejoin_needed());

  std::string leader_saw;
  size_t members_seen = 0;
  auto rejoined = join_until_joined(
      first, {GroupMember::Protocol{"sessioned", {1}}, GroupMember::Protocol{"compatible", {1}}},
      [&](const std::string& protocol, const std::vector<GroupMember::JoinedMember>& members) {
        leader_saw = protocol;
        members_seen = members.size();
        return by_position(members);
      });
  joiner.join();
  ASSERT_TRUE(rejoined.is_ok()) << rejoined.status().message();
  ASSERT_TRUE(second_joined.is_ok()) << second_joined.status().message();
  EXPECT_EQ(rejoined->protocol, "compatible");
  EXPECT_EQ(second_joined->protocol, "compatible");
  EXPECT_EQ(rejoined->generation, second_joined->generation);
  EXPECT_GT(rejoined->generation, joined->generation);
  EXPECT_EQ(rejoined->leader_id, second_joined->leader_id);
  EXPECT_EQ(rejoined->member_id, joined->member_id) << "the member id is kept across rebalances";
  if (rejoined->leader_id == rejoined->member_id) {
    EXPECT_EQ(leader_saw, "compatible");
    EXPECT_EQ(members_seen, 2u);
  }
  EXPECT_NE(rejoined->assignment, second_joined->assignment) << "one position each";
  EXPECT_STREQ(error_name(first.heartbeat()), "NONE");
  EXPECT_STREQ(error_name(second.heartbeat()), "NONE");
  second.leave("the test is done");
  first.leave("the test is done");
}

TEST_F(GroupMemberBrokerTest, ABackgroundHeartbeatNoticesARebalanceOnItsOwn) {
  GroupMember::Options settings = options("consumer");
  settings.background_heartbeat_interval = 100ms;
  GroupMember first(settings);
  const std::vector<GroupMember::Protocol> protocols = {GroupMember::Protocol{"stream", {}}};
  const GroupMember::Assign assign = [](const std::string&, const auto& members) {
    return by_position(members);
  };
  auto joined = join_until_joined(first, protocols, assign);
  ASSERT_TRUE(joined.is_ok()) << joined.status().message();
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(first.rejoin_needed()) << "heartbeats answered NONE keep the generation";

  GroupMember second(settings);
  Result<GroupMember::Joined> second_joined = Status(Errc::io_error, "not joined");
  std::thread joiner([&] { second_joined = join_until_joined(second, protocols, assign); });
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!first.rejoin_needed() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(first.rejoin_needed()) << "no call of the owner's needed";
  auto rejoined = join_until_joined(first, protocols, assign);
  joiner.join();
  ASSERT_TRUE(rejoined.is_ok()) << rejoined.status().message();
  ASSERT_TRUE(second_joined.is_ok()) << second_joined.status().message();
  EXPECT_EQ(rejoined->generation, second_joined->generation);
  EXPECT_FALSE(first.rejoin_needed());
  // The generation holds while both heartbeat in the background.
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(first.rejoin_needed());
  EXPECT_FALSE(second.rejoin_needed());
  EXPECT_STREQ(error_name(first.commit({{{"t", 0}, 1}})), "NONE");
  first.leave("the test is done");
  second.leave("the test is done");
}

}  // namespace
}  // namespace sluice::broker
