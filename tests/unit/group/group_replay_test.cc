// Loading __consumer_offsets never stops the broker: records that do not
// decode and batches whose records cannot be read are skipped one by one,
// everything around them loads (issue 12, finding 2).
#include <gtest/gtest.h>

#include "base/crc32c.h"
#include "group/group_records.h"
#include "group/group_service.h"
#include "record/batch_builder.h"

namespace sluice::group {
namespace {

class NoLog final : public CoordinatorLog {
 public:
  void append(int32_t, std::vector<CoordinatorRecord>,
              std::function<void(ErrorCode)> done) override {
    done(ErrorCode::NONE);
  }
};

Bytes bytes_of(const std::vector<uint8_t>& data) { return Bytes(data); }

// One batch at `base_offset` of the given records (key, value or tombstone).
std::vector<uint8_t> batch_at(int64_t base_offset, const std::vector<CoordinatorRecord>& records) {
  record::BatchBuilder builder;
  for (const auto& entry : records) {
    std::optional<Bytes> value;
    if (entry.value) value = Bytes(*entry.value);
    builder.append(1'700'000'000'000, Bytes(entry.key), value);
  }
  auto built = builder.build();
  EXPECT_TRUE(built.is_ok());
  std::vector<uint8_t> batch = std::move(built).value();
  for (int i = 0; i < 8; ++i)
    batch[static_cast<size_t>(i)] = static_cast<uint8_t>(base_offset >> (56 - 8 * i));
  return batch;
}

CoordinatorRecord commit_of(const std::string& group, int64_t offset) {
  return offset_record(
      group, "t", 0,
      CommittedOffset{Offset{offset}, LeaderEpoch{-1}, "", 1'700'000'000'000, std::nullopt});
}

class ReplayTest : public ::testing::Test {
 protected:
  int64_t committed(const std::string& group) {
    protocol::OffsetFetchRequest request;
    request.groups.push_back({group, std::nullopt, -1, std::nullopt, {}});
    auto response = coordinator.offset_fetch(request, 8);
    if (response.groups.empty() || response.groups[0].topics.empty()) return -1;
    return response.groups[0].topics[0].partitions.at(0).committed_offset;
  }

  ManualClock clock;
  SeededRandom random{13};
  NoLog log;
  GroupCoordinator coordinator{GroupConfig{}, clock, random, log};
  ReplayCounts counts;
};

TEST_F(ReplayTest, RecordsThatDoNotDecodeAreSkippedOneByOne) {
  CoordinatorRecord cut_key = commit_of("x", 1);
  cut_key.key = {0x00, 0x01, 0x7f, 0xff};  // an OffsetCommitKey v1 whose group is cut short
  CoordinatorRecord cut_value = commit_of("good", 99);
  cut_value.value = std::vector<uint8_t>{0x00, 0x03, 0x01};
  CoordinatorRecord cut_group = group_tombstone("g");
  cut_group.value = std::vector<uint8_t>{0x00, 0x03};  // GroupMetadataValue v3, no fields
  std::vector<uint8_t> set = batch_at(0, {commit_of("good", 42)});
  auto bad = batch_at(1, {cut_key, cut_value, cut_group, commit_of("other", 7)});
  set.insert(set.end(), bad.begin(), bad.end());
  auto after = batch_at(5, {commit_of("later", 3)});
  set.insert(set.end(), after.begin(), after.end());

  EXPECT_EQ(replay_record_set(bytes_of(set), 0, coordinator, "__consumer_offsets-0", counts), 6);
  EXPECT_EQ(counts.replayed, 3u);
  EXPECT_EQ(counts.skipped, 3u);
  EXPECT_EQ(committed("good"), 42) << "the value that does not decode changed nothing";
  EXPECT_EQ(committed("other"), 7) << "the rest of the batch loads";
  EXPECT_EQ(committed("later"), 3) << "later batches load";
}

TEST_F(ReplayTest, ABatchWhoseRecordsCannotBeReadIsSkipped) {
  std::vector<uint8_t> set = batch_at(0, {commit_of("good", 42)});
  // Claims gzip for records that are not, with a CRC that matches: a whole
  // batch (recovery keeps it) whose records cannot be read.
  auto unreadable = batch_at(1, {commit_of("lost", 1)});
  unreadable[22] = static_cast<uint8_t>(unreadable[22] | 0x01);
  uint32_t crc = crc32c(Bytes(unreadable).subspan(21));
  for (int i = 0; i < 4; ++i)
    unreadable[17 + static_cast<size_t>(i)] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  set.insert(set.end(), unreadable.begin(), unreadable.end());
  auto after = batch_at(2, {commit_of("later", 3)});
  set.insert(set.end(), after.begin(), after.end());

  EXPECT_EQ(replay_record_set(bytes_of(set), 0, coordinator, "__consumer_offsets-0", counts), 3);
  EXPECT_EQ(counts.skipped, 1u);
  EXPECT_EQ(committed("good"), 42);
  EXPECT_EQ(committed("lost"), -1);
  EXPECT_EQ(committed("later"), 3);
}

TEST_F(ReplayTest, UnknownRecordVersionsAreIgnoredNotSkipped) {
  CoordinatorRecord future = commit_of("x", 1);
  future.key = {0x00, 0x09, 0x01, 0x02};  // another coordinator's record type
  auto set = batch_at(0, {future, commit_of("good", 42)});
  replay_record_set(bytes_of(set), 0, coordinator, "__consumer_offsets-0", counts);
  EXPECT_EQ(counts.skipped, 0u);
  EXPECT_EQ(committed("good"), 42);
}

// A partition that cannot be read stays unloaded: its groups answer
// COORDINATOR_LOAD_IN_PROGRESS (clients retry), the others answer as usual.
TEST_F(ReplayTest, AnUnloadedPartitionsGroupsAnswerLoadInProgress) {
  const std::string lost = "lost";
  std::string kept = "kept";
  for (int i = 0; partition_for_group(kept, 50) == partition_for_group(lost, 50); ++i)
    kept = "kept-" + std::to_string(i);
  auto set = batch_at(0, {commit_of(lost, 5), commit_of(kept, 6)});
  replay_record_set(bytes_of(set), 0, coordinator, "__consumer_offsets", counts);
  coordinator.unload_partition(partition_for_group(lost, 50));
  coordinator.finish_loading();
  constexpr int16_t load_in_progress = to_wire(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);

  EXPECT_EQ(committed(kept), 6);
  protocol::OffsetFetchRequest fetch;
  fetch.groups.push_back({lost, std::nullopt, -1, std::nullopt, {}});
  EXPECT_EQ(coordinator.offset_fetch(fetch, 8).groups.at(0).error_code, load_in_progress);
  protocol::OffsetFetchRequest fetch_v1;
  fetch_v1.group_id = lost;
  fetch_v1.topics.emplace();
  fetch_v1.topics->push_back({"t", {0}, {}});
  auto v1 = coordinator.offset_fetch(fetch_v1, 1);
  ASSERT_EQ(v1.topics.size(), 1u);
  EXPECT_EQ(v1.topics[0].partitions.at(0).error_code, load_in_progress)
      << "not 'nothing committed'";

  protocol::HeartbeatRequest beat;
  beat.group_id = lost;
  EXPECT_EQ(coordinator.heartbeat(beat, 4).error_code, load_in_progress);
  protocol::DescribeGroupsRequest describe;
  describe.groups = {lost};
  EXPECT_EQ(coordinator.describe_groups(describe, 5).groups.at(0).error_code, load_in_progress);
  EXPECT_EQ(coordinator.list_groups({}, 4).error_code, load_in_progress);
  std::optional<protocol::JoinGroupResponse> joined;
  protocol::JoinGroupRequest join;
  join.group_id = lost;
  join.session_timeout_ms = 10000;
  join.rebalance_timeout_ms = 10000;
  join.protocol_type = "consumer";
  join.protocols.push_back({"range", {}, {}});
  coordinator.join_group(join, 5, {}, [&](protocol::JoinGroupResponse r) { joined = r; });
  ASSERT_TRUE(joined);
  EXPECT_EQ(joined->error_code, load_in_progress);
  EXPECT_EQ(coordinator.state_of(GroupId{lost}), std::nullopt)
      << "its groups were dropped, none created";
}

}  // namespace
}  // namespace sluice::group
