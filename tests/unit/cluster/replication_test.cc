// Kafka's ISR replication between two Partitions on two in-memory brokers
// (issue 16): the leader's view of its followers and the high watermark,
// ISR shrink and expand decisions, follower appends and the truncation of a
// divergent tail through the Fetch's diverging epoch.
#include <gtest/gtest.h>

#include "cluster/partition.h"
#include "cluster/replica_state.h"
#include "record/batch_builder.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

// --- the pure rules (replica_state.h) ---

TEST(ReplicaState, AFetchAtTheLeaderEndIsCaughtUpAndTheOneBeforeCounts) {
  FollowerState state;
  record_follower_fetch(state, 5, 10, 1000);
  EXPECT_EQ(state.last_caught_up_ms, 0);  // behind the leader's end
  EXPECT_EQ(state.log_end_offset, 5);
  // Reaching the end the leader had at the previous fetch: caught up as of then.
  record_follower_fetch(state, 10, 12, 2000);
  EXPECT_EQ(state.last_caught_up_ms, 1000);
  record_follower_fetch(state, 12, 12, 3000);
  EXPECT_EQ(state.last_caught_up_ms, 3000);
}

TEST(ReplicaState, TheHighWatermarkIsTheLowestLogEndOverTheIsr) {
  Followers followers;
  followers[2].log_end_offset = 7;
  followers[3].log_end_offset = 4;
  EXPECT_EQ(isr_low_end({1, 2, 3}, 1, 9, followers), 4);
  EXPECT_EQ(isr_low_end({1, 2}, 1, 9, followers), 7);
  EXPECT_EQ(isr_low_end({1}, 1, 9, followers), 9);
  EXPECT_EQ(isr_low_end({1, 4}, 1, 9, followers), -1);  // not heard from: holds it
}

TEST(ReplicaState, OutOfSyncAfterTheLagTimeUnlessAtTheEnd) {
  Followers followers;
  followers[2] = {-1, 5, 1000, 1000, 5};
  followers[3] = {-1, 9, 0, 1000, 9};  // at the leader's end: never out of sync
  EXPECT_TRUE(out_of_sync_replicas({1, 2, 3}, 1, 9, followers, 30'000, 30'000).empty());
  EXPECT_EQ(out_of_sync_replicas({1, 2, 3}, 1, 9, followers, 31'001, 30'000),
            std::vector<int32_t>{2});
  EXPECT_EQ(out_of_sync_replicas({1, 4}, 1, 9, followers, 0, 30'000), std::vector<int32_t>{4});
}

TEST(ReplicaState, JoiningNeedsTheHighWatermarkAndTheLeaderEpochStart) {
  FollowerState state;
  state.log_end_offset = 5;
  EXPECT_TRUE(may_join_isr(state, 5, 3));
  EXPECT_FALSE(may_join_isr(state, 6, 3));
  EXPECT_FALSE(may_join_isr(state, 5, 6));
  state.log_end_offset = -1;
  EXPECT_FALSE(may_join_isr(state, 0, 0));
}

TEST(ReplicaState, FollowerTruncation) {
  // Same epoch on both: the smaller end.
  EXPECT_EQ(follower_truncation_offset(3, 10, 3, 12, 15, 8), 10);
  // The follower's epoch at or below the leader's is older: its own end of it.
  EXPECT_EQ(follower_truncation_offset(3, 10, 2, 7, 15, 5), 7);
  // The leader knows no epoch: keep the committed part.
  EXPECT_EQ(follower_truncation_offset(-1, -1, -1, -1, 15, 5), 5);
  // Never past the log end.
  EXPECT_EQ(follower_truncation_offset(3, 20, 3, 20, 15, 5), 15);
}

// --- two brokers' Partitions ---

std::vector<uint8_t> batch_of(int records) {
  record::BatchBuilder builder;
  for (int i = 0; i < records; ++i) {
    std::string value = "value-" + std::to_string(i);
    builder.append(1'700'000'000'000 + i, std::nullopt,
                   Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
  return std::move(builder.build()).value();
}

struct Node {
  explicit Node(int32_t id) : id(id) {
    storage::LogManagerOptions options;
    options.log_dirs = {"/data"};
    options.background_threads = false;
    options.logger = [](std::string_view) {};
    logs = std::move(storage::LogManager::open(fs, std::move(options))).value();
    storage::TopicPartition tp{"t", 0};
    partition = std::make_shared<Partition>(tp, topic_id, *logs->create_log(tp, topic_id), id);
  }
  void follow(int32_t leader, int32_t leader_epoch, std::vector<int32_t> isr,
              int32_t partition_epoch) {
    partition->update(
        PartitionImage{0, {1, 2}, std::move(isr), leader, leader_epoch, partition_epoch},
        AppendPolicy{});
  }
  int64_t end() const { return partition->offsets().log_end_offset; }

  int32_t id;
  Uuid topic_id{};
  storage::MemoryFileSystem fs;
  std::unique_ptr<storage::LogManager> logs;
  std::shared_ptr<Partition> partition;
};

// One round of the follower's fetch loop: true if something was appended.
bool fetch_once(Node& leader, Node& follower, ReplicaReadResult* seen = nullptr) {
  FollowerPosition position = follower.partition->follower_position();
  EXPECT_TRUE(position.follower);
  ReplicaReadResult result = leader.partition->read_for_replica(
      follower.id, 7, Offset{position.log_end_offset}, LeaderEpoch{position.last_fetched_epoch},
      LeaderEpoch{position.leader_epoch}, 1 << 20, Partition::monotonic_ms());
  if (seen) *seen = result;
  EXPECT_EQ(result.read.error, ErrorCode::NONE);
  LeaderEpoch epoch{position.leader_epoch};
  if (result.diverging_epoch) {
    EXPECT_EQ(follower.partition->truncate_on_divergence(epoch, *result.diverging_epoch,
                                                         result.diverging_end_offset),
              ErrorCode::NONE);
    return true;
  }
  std::vector<uint8_t> bytes(result.read.range.length);
  if (!bytes.empty()) {
    auto n = result.read.range.file->pread(result.read.range.position, bytes);
    EXPECT_TRUE(n.is_ok());
  }
  EXPECT_EQ(
      follower.partition->append_as_follower(epoch, bytes, Offset{result.read.high_watermark}),
      ErrorCode::NONE);
  return !bytes.empty();
}

TEST(Replication, TheHighWatermarkWaitsForTheIsrAndFollowersTakeIt) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto batch = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(batch, -1, 0).error, ErrorCode::NONE);
  EXPECT_EQ(one.partition->high_watermark(), 0);  // the follower has nothing yet
  EXPECT_TRUE(fetch_once(one, two));
  EXPECT_EQ(two.end(), 3);
  EXPECT_EQ(one.partition->high_watermark(), 0);  // it fetched from 0
  EXPECT_FALSE(fetch_once(one, two));             // from 3: it has everything
  EXPECT_EQ(one.partition->high_watermark(), 3);
  EXPECT_EQ(two.partition->high_watermark(), 3);  // passed on
  // The high watermark never moves back on the leader.
  one.follow(1, 0, {1, 2}, 0);
  EXPECT_EQ(one.partition->high_watermark(), 3);
}

TEST(Replication, ALaggingFollowerLeavesTheIsrAndComesBack) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto batch = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(batch, -1, 0).error, ErrorCode::NONE);
  const int64_t now = Partition::monotonic_ms();
  EXPECT_FALSE(one.partition->isr_shrink(now, 30'000));  // within the lag time
  auto shrink = one.partition->isr_shrink(now + 30'001, 30'000);
  ASSERT_TRUE(shrink);
  EXPECT_EQ(shrink->new_isr, std::vector<int32_t>{1});
  EXPECT_EQ(shrink->partition_epoch, 0);
  EXPECT_TRUE(one.partition->isr_change_in_flight());
  EXPECT_FALSE(one.partition->isr_shrink(now + 30'001, 30'000));  // one at a time
  one.partition->isr_change_done(true, 1, {1});
  EXPECT_EQ(one.partition->isr(), std::vector<int32_t>{1});
  EXPECT_EQ(one.partition->high_watermark(), 2);  // the ISR is the leader alone
  // The follower catches up: it may join, and asks once.
  ReplicaReadResult seen;
  fetch_once(one, two, &seen);
  EXPECT_FALSE(seen.may_join_isr);  // at 0, below the high watermark
  fetch_once(one, two, &seen);
  EXPECT_TRUE(seen.may_join_isr);
  auto expand = one.partition->isr_expand(2);
  ASSERT_TRUE(expand);
  EXPECT_EQ(expand->new_isr, (std::vector<int32_t>{1, 2}));
  EXPECT_FALSE(one.partition->isr_expand(2));
  // A refused change ends the flight; the image decides.
  one.partition->isr_change_done(false, 0, {});
  EXPECT_FALSE(one.partition->isr_change_in_flight());
  one.follow(1, 0, {1, 2}, 2);
  EXPECT_EQ(one.partition->isr(), (std::vector<int32_t>{1, 2}));
}

TEST(Replication, AFollowerTruncatesItsDivergentTail) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto three = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(three, 1, 0).error, ErrorCode::NONE);
  fetch_once(one, two);
  ASSERT_EQ(two.end(), 3);
  // Node 2 leads epoch 1 and writes 2 records nobody else gets.
  two.follow(2, 1, {1, 2}, 1);
  auto uncommitted = batch_of(2);
  ASSERT_EQ(two.partition->append_as_leader(uncommitted, 1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(two.end(), 5);
  // Node 1 leads epoch 2 and writes 1 record at offset 3.
  one.follow(1, 2, {1, 2}, 2);
  two.follow(1, 2, {1, 2}, 2);
  auto one_more = batch_of(1);
  ASSERT_EQ(one.partition->append_as_leader(one_more, 1, 0).error, ErrorCode::NONE);
  ReplicaReadResult seen;
  fetch_once(one, two, &seen);
  ASSERT_TRUE(seen.diverging_epoch);
  EXPECT_EQ(*seen.diverging_epoch, 0);
  EXPECT_EQ(seen.diverging_end_offset, 3);
  EXPECT_EQ(two.end(), 3);  // the epoch-1 tail is gone
  fetch_once(one, two);
  EXPECT_EQ(two.end(), 4);
  EXPECT_EQ(two.partition->follower_position().last_fetched_epoch, 2);
  fetch_once(one, two);
  EXPECT_EQ(one.partition->high_watermark(), 4);
}

TEST(Replication, AFollowerBehindTheLeadersLogStartStartsOverThere) {
  Node one(1), two(2);
  one.follow(1, 0, {1}, 0);
  two.follow(1, 0, {1}, 0);
  auto batch = batch_of(4);
  ASSERT_EQ(one.partition->append_as_leader(batch, 1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(one.partition->delete_records_before(Offset{3}).error, ErrorCode::NONE);
  auto read = one.partition->read_for_replica(2, -1, Offset{0}, LeaderEpoch{-1}, LeaderEpoch{0},
                                              1 << 20, 0);
  EXPECT_EQ(read.read.error, ErrorCode::OFFSET_OUT_OF_RANGE);
  EXPECT_EQ(read.read.log_start_offset, 3);
  EXPECT_EQ(two.partition->restart_as_follower_at(LeaderEpoch{0}, Offset{3}), ErrorCode::NONE);
  EXPECT_EQ(two.end(), 3);
  fetch_once(one, two);
  EXPECT_EQ(two.end(), 4);
}

TEST(Replication, FollowerAppendsOfAnotherEpochOrOnALeaderAreRefused) {
  Node one(1), two(2);
  two.follow(1, 3, {1, 2}, 0);
  EXPECT_EQ(two.partition->append_as_follower(LeaderEpoch{2}, {}, Offset{0}),
            ErrorCode::FENCED_LEADER_EPOCH);
  one.follow(1, 3, {1, 2}, 0);
  EXPECT_EQ(one.partition->append_as_follower(LeaderEpoch{3}, {}, Offset{0}),
            ErrorCode::FENCED_LEADER_EPOCH);
  // A replica the partition does not list is not answered (Kafka's
  // followerReplicaOrThrow: UNKNOWN_LEADER_EPOCH when the epoch matches).
  auto read =
      one.partition->read_for_replica(9, -1, Offset{0}, LeaderEpoch{-1}, LeaderEpoch{3}, 100, 0);
  EXPECT_EQ(read.read.error, ErrorCode::UNKNOWN_LEADER_EPOCH);
  // A follower's old epoch is fenced, a newer one unknown (Kafka's codes).
  read = one.partition->read_for_replica(2, -1, Offset{0}, LeaderEpoch{-1}, LeaderEpoch{2}, 100, 0);
  EXPECT_EQ(read.read.error, ErrorCode::FENCED_LEADER_EPOCH);
  read = one.partition->read_for_replica(2, -1, Offset{0}, LeaderEpoch{-1}, LeaderEpoch{4}, 100, 0);
  EXPECT_EQ(read.read.error, ErrorCode::UNKNOWN_LEADER_EPOCH);
}

}  // namespace
}  // namespace sluice::cluster
