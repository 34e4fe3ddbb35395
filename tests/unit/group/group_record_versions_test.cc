// The __consumer_offsets records are read by tools that decode them
// themselves (Burrow, Kafka's OffsetsMessageFormatter), so they are written in
// the versions Kafka 3.9 writes, byte for byte (issue 14, point 6;
// docs/consumer-offsets-records.md): OffsetCommitKey v1, OffsetCommitValue v3,
// GroupMetadataKey v2, GroupMetadataValue v3. Expected bytes are spelled out
// from Kafka's schemas here, not produced by our own codecs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/random.h"
#include "group/group_coordinator.h"
#include "group/group_records.h"

namespace sluice::group {
namespace {

// Big-endian writer for the expected bytes.
struct Expected {
  std::vector<uint8_t> bytes;
  Expected& i16(int16_t v) { return raw(static_cast<uint64_t>(static_cast<uint16_t>(v)), 2); }
  Expected& i32(int32_t v) { return raw(static_cast<uint64_t>(static_cast<uint32_t>(v)), 4); }
  Expected& i64(int64_t v) { return raw(static_cast<uint64_t>(v), 8); }
  Expected& str(const std::string& s) {
    i16(static_cast<int16_t>(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  Expected& raw(uint64_t v, int width) {
    for (int i = width - 1; i >= 0; --i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
};

// Big-endian reader for what the coordinator wrote.
struct Written {
  const std::vector<uint8_t>& bytes;
  size_t pos = 0;
  int64_t take(int width) {
    EXPECT_LE(pos + static_cast<size_t>(width), bytes.size()) << "record cut short at " << pos;
    if (pos + static_cast<size_t>(width) > bytes.size()) return 0;
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v = (v << 8) | bytes[pos++];
    return width == 2   ? static_cast<int16_t>(v)
           : width == 4 ? static_cast<int32_t>(v)
                        : static_cast<int64_t>(v);
  }
  int16_t i16() { return static_cast<int16_t>(take(2)); }
  int32_t i32() { return static_cast<int32_t>(take(4)); }
  int64_t i64() { return take(8); }
  std::optional<std::string> nullable_str() {
    int16_t n = i16();
    if (n < 0 || pos + static_cast<size_t>(n) > bytes.size()) return std::nullopt;
    std::string s(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                  bytes.begin() + static_cast<std::ptrdiff_t>(pos) + n);
    pos += static_cast<size_t>(n);
    return s;
  }
  std::string str() { return nullable_str().value_or("<null>"); }
  void skip_bytes() { pos += static_cast<size_t>(i32()); }
};

TEST(GroupRecordVersions, OffsetCommitIsKeyV1AndValueV3) {
  CoordinatorRecord record = offset_record(
      "grp", "tp", 2,
      CommittedOffset{Offset{42}, LeaderEpoch{7}, "meta", 1'700'000'000'123, std::nullopt});
  EXPECT_EQ(record.key, Expected{}.i16(1).str("grp").str("tp").i32(2).bytes);
  ASSERT_TRUE(record.value.has_value());
  EXPECT_EQ(*record.value,
            Expected{}.i16(3).i64(42).i32(7).str("meta").i64(1'700'000'000'123).bytes);
}

// Kafka 3.9 writes OffsetCommitValue v1 for an offset with an expire
// timestamp (an OffsetCommit v2-4 with a retention time), v3 otherwise.
TEST(GroupRecordVersions, OffsetCommitWithAnExpiryIsValueV1) {
  CoordinatorRecord record = offset_record(
      "grp", "tp", 2,
      CommittedOffset{Offset{42}, LeaderEpoch{7}, "meta", 1'700'000'000'123, 1'700'086'400'123});
  ASSERT_TRUE(record.value.has_value());
  EXPECT_EQ(
      *record.value,
      Expected{}.i16(1).i64(42).str("meta").i64(1'700'000'000'123).i64(1'700'086'400'123).bytes);
}

TEST(GroupRecordVersions, OffsetTombstoneHasTheKeyV1) {
  CoordinatorRecord record = offset_tombstone("grp", "tp", 2);
  EXPECT_EQ(record.key, Expected{}.i16(1).str("grp").str("tp").i32(2).bytes);
  EXPECT_FALSE(record.value.has_value());
}

class KeepingLog final : public CoordinatorLog {
 public:
  void append(int32_t, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override {
    for (auto& record : records) kept.push_back(std::move(record));
    done(ErrorCode::NONE);
  }
  std::vector<CoordinatorRecord> kept;
};

TEST(GroupRecordVersions, GroupMetadataIsKeyV2AndValueV3) {
  ManualClock clock;
  KeepingLog log;
  GroupConfig config;
  config.initial_rebalance_delay_ms = 0;
  SeededRandom random{1};
  GroupCoordinator coordinator{config, clock, random, log};

  protocol::JoinGroupRequest join;
  join.group_id = "g";
  join.session_timeout_ms = 10000;
  join.rebalance_timeout_ms = 30000;
  join.member_id = "";
  join.protocol_type = "consumer";
  join.protocols.push_back({"range", {9, 9}, {}});
  std::optional<protocol::JoinGroupResponse> joined;
  auto join_reply = [&](protocol::JoinGroupResponse response) { joined = std::move(response); };
  coordinator.join_group(join, 9, {"client-1", "/127.0.0.1"}, join_reply);
  ASSERT_TRUE(joined.has_value());
  join.member_id = joined->member_id;  // KIP-394: join again with the id handed out
  joined.reset();
  coordinator.join_group(join, 9, {"client-1", "/127.0.0.1"}, join_reply);
  coordinator.tick();
  ASSERT_TRUE(joined.has_value());
  ASSERT_EQ(joined->error_code, 0);
  const std::string member = joined->member_id;

  protocol::SyncGroupRequest sync;
  sync.group_id = "g";
  sync.generation_id = joined->generation_id;
  sync.member_id = member;
  sync.assignments.push_back({member, {1, 2}, {}});
  std::optional<protocol::SyncGroupResponse> synced;
  coordinator.sync_group(
      sync, 5, [&](protocol::SyncGroupResponse response) { synced = std::move(response); });
  ASSERT_TRUE(synced.has_value());
  ASSERT_EQ(synced->error_code, 0);

  const CoordinatorRecord* group_record = nullptr;
  for (const auto& record : log.kept)
    if (record.key.size() >= 2 && record.key[1] == 2 && record.value) group_record = &record;
  ASSERT_NE(group_record, nullptr) << "no GroupMetadata record written";
  EXPECT_EQ(group_record->key, Expected{}.i16(2).str("g").bytes);

  // GroupMetadataValue v3, field by field (v3 is v2 plus group_instance_id).
  Written value{*group_record->value};
  EXPECT_EQ(value.i16(), 3);
  EXPECT_EQ(value.str(), "consumer");
  EXPECT_EQ(value.i32(), joined->generation_id);
  EXPECT_EQ(value.nullable_str(), "range");
  EXPECT_EQ(value.nullable_str(), member);  // the leader
  value.i64();                              // current_state_timestamp
  ASSERT_EQ(value.i32(), 1);                // members
  EXPECT_EQ(value.str(), member);
  EXPECT_EQ(value.nullable_str(), std::nullopt);  // group_instance_id
  EXPECT_EQ(value.str(), "client-1");
  EXPECT_EQ(value.str(), "/127.0.0.1");
  EXPECT_EQ(value.i32(), 30000);  // rebalance_timeout
  EXPECT_EQ(value.i32(), 10000);  // session_timeout
  value.skip_bytes();             // subscription
  value.skip_bytes();             // assignment
  EXPECT_EQ(value.pos, group_record->value->size()) << "bytes after the v3 fields";
}

}  // namespace
}  // namespace sluice::group
