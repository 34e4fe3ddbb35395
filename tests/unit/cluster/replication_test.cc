// Kafka's ISR replication between two Partitions on two in-memory brokers
// (issue 16): the leader's view of its followers and the high watermark,
// ISR shrink and expand decisions, follower appends and the truncation of a
// divergent tail through the Fetch's diverging epoch.
#include <gtest/gtest.h>

#include "cluster/metadata_image.h"
#include "cluster/partition.h"
#include "cluster/replica_state.h"
#include "record/batch_builder.h"
#include "replica_node.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

using testing::batch_of;

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

TEST(ReplicaState, OnlyAnActiveBrokerOfTheFetchsEpochIsEligibleForTheIsr) {
  BrokerImage broker;
  broker.node_id = 2;
  broker.epoch = 40;
  EXPECT_TRUE(isr_eligible(&broker, 40));
  EXPECT_TRUE(isr_eligible(&broker, -1));   // no epoch in the Fetch: not checked
  EXPECT_FALSE(isr_eligible(&broker, 39));  // an older incarnation
  EXPECT_FALSE(isr_eligible(nullptr, 40));  // not registered
  broker.fenced = true;
  EXPECT_FALSE(isr_eligible(&broker, 40));
  broker.fenced = false;
  broker.in_controlled_shutdown = true;
  EXPECT_FALSE(isr_eligible(&broker, 40));
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

TEST(ReplicaState, TruncationFromAnOffsetsForLeaderEpochAnswer) {
  // The leader has the epoch: its end, capped at the log end.
  EXPECT_EQ(epoch_end_truncation_offset(3, 3, 10, 15, 5), 10);
  EXPECT_EQ(epoch_end_truncation_offset(3, 3, 20, 15, 5), 15);
  // UNDEFINED_EPOCH / UNDEFINED_EPOCH_OFFSET: keep what is committed.
  EXPECT_EQ(epoch_end_truncation_offset(3, -1, -1, 15, 5), 5);
  // An older epoch only: its end (the next round asks again), never below
  // the committed part, and the committed part when that would cut nothing.
  EXPECT_EQ(epoch_end_truncation_offset(3, 2, 8, 15, 5), 8);
  EXPECT_EQ(epoch_end_truncation_offset(3, 2, 3, 15, 5), 5);
  EXPECT_EQ(epoch_end_truncation_offset(3, 2, 20, 15, 5), 5);
}

// --- two brokers' Partitions ---

struct Node : testing::ReplicaNode {
  using ReplicaNode::ReplicaNode;
  // A clean stop (every checkpoint written at close), or a crash: the
  // replication-offset-checkpoint is the last periodic one (a missing one
  // stays missing) and there is no clean-shutdown marker.
  void restart(bool crash) {
    const std::string checkpoint = "/data/replication-offset-checkpoint";
    const bool had_checkpoint = *fs.exists(checkpoint);
    std::vector<uint8_t> periodic =
        had_checkpoint ? fs.contents(checkpoint) : std::vector<uint8_t>{};
    partition.reset();
    ASSERT_TRUE(logs->close());
    logs.reset();
    if (crash) {
      if (had_checkpoint)
        ASSERT_TRUE(storage::write_file_atomically(fs, checkpoint, periodic));
      else
        ASSERT_TRUE(fs.remove(checkpoint));
      ASSERT_TRUE(fs.remove("/data/.kafka_cleanshutdown"));
    }
    open();
  }
  // A clean restart that lost the partition's leader-epoch-checkpoint: no
  // recovery scan rebuilds it, so the epoch cache starts empty.
  void restart_without_epoch_cache() {
    partition.reset();
    ASSERT_TRUE(logs->close());
    logs.reset();
    ASSERT_TRUE(fs.remove("/data/t-0/leader-epoch-checkpoint"));
    open();
  }
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

// --- the high watermark across restarts (replication-offset-checkpoint) ---

// Leader 1 and follower 2 both hold offsets 0-4, of which 0-2 are committed
// (the follower has not fetched again since it got 3-4).
void replicate_three_commit_and_two_more(Node& one, Node& two) {
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto three = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(three, -1, 0).error, ErrorCode::NONE);
  fetch_once(one, two);
  fetch_once(one, two);
  ASSERT_EQ(one.partition->high_watermark(), 3);
  auto two_more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(two_more, 1, 0).error, ErrorCode::NONE);
  fetch_once(one, two);
  ASSERT_EQ(two.end(), 5);
  ASSERT_EQ(one.partition->high_watermark(), 3);
  ASSERT_EQ(two.partition->high_watermark(), 3);
}

// What a consumer of `node` (leader) could read from `offset`: bytes below
// the high watermark.
uint64_t consumer_bytes_from(Node& node, int64_t offset) {
  auto read = node.partition->read(Offset{offset}, LeaderEpoch{-1}, 1 << 20, true);
  EXPECT_EQ(read.error, ErrorCode::NONE);
  return read.range.length;
}

TEST(Replication, ARestartedLeaderKeepsItsCheckpointedHighWatermark) {
  for (bool crash : {false, true}) {
    Node one(1), two(2);
    replicate_three_commit_and_two_more(one, two);
    one.logs->write_replication_offset_checkpoints();  // the periodic job
    one.restart(crash);
    // Not the log end: offsets 3-4 may be on this node alone.
    EXPECT_EQ(one.partition->high_watermark(), 3) << crash;
    one.follow(1, 0, {1, 2}, 0);  // leads again, the follower not heard from
    EXPECT_EQ(one.partition->high_watermark(), 3) << crash;
    EXPECT_EQ(consumer_bytes_from(one, 3), 0u) << crash;
    EXPECT_GT(consumer_bytes_from(one, 0), 0u) << crash;
    // The follower's fetch at the log end commits them.
    fetch_once(one, two);
    EXPECT_EQ(one.partition->high_watermark(), 5) << crash;
  }
}

TEST(Replication, AFollowerRestartedAndElectedExposesNothingTheIsrMayLack) {
  Node one(1), two(2);
  replicate_three_commit_and_two_more(one, two);
  two.restart(/*crash=*/false);
  EXPECT_EQ(two.partition->high_watermark(), 3);
  EXPECT_EQ(two.end(), 5);
  // Node 2 is elected (node 1 is in its ISR, not heard from yet).
  two.follow(2, 1, {1, 2}, 1);
  EXPECT_EQ(two.partition->high_watermark(), 3);
  EXPECT_EQ(consumer_bytes_from(two, 3), 0u);
  // A consumer's ListOffsets: not before the high watermark reaches the
  // new epoch's start (Kafka's OFFSET_NOT_AVAILABLE).
  auto list = two.partition->list_offset(storage::latest_timestamp, LeaderEpoch{-1});
  EXPECT_EQ(list.error, ErrorCode::OFFSET_NOT_AVAILABLE);
  EXPECT_EQ(list.offset, -1);
}

TEST(Replication, WithoutACheckpointTheHighWatermarkStartsAtTheLogStart) {
  Node one(1);
  one.follow(1, 0, {1}, 0);
  auto four = batch_of(4);
  ASSERT_EQ(one.partition->append_as_leader(four, 1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(one.partition->high_watermark(), 4);
  // A crash before any checkpoint was written.
  one.restart(/*crash=*/true);
  EXPECT_EQ(one.partition->high_watermark(), 0);
  // A single replica leading alone: everything it holds is committed again.
  one.follow(1, 0, {1}, 0);
  EXPECT_EQ(one.partition->high_watermark(), 4);
  // A corrupt checkpoint reads as none (the log dir says so in its log).
  ASSERT_TRUE(one.logs->close());
  ASSERT_TRUE(
      storage::write_file_atomically(one.fs, "/data/replication-offset-checkpoint",
                                     Bytes(reinterpret_cast<const uint8_t*>("0\n1\nt 0 x\n"), 10)));
  one.logs.reset();
  one.partition.reset();
  one.open();
  EXPECT_EQ(one.partition->high_watermark(), 0);
}

// --- Kafka's Truncating state: no epoch entry for the log's tail ---

// The leader's OffsetsForLeaderEpoch answer to the follower's question
// (what the fetcher sends and applies), once.
Partition::EpochTruncation epoch_round(Node& leader, Node& follower) {
  std::optional<int32_t> ask = follower.partition->tail_epoch_without_entry();
  EXPECT_TRUE(ask.has_value());
  FollowerPosition position = follower.partition->follower_position();
  Partition::EpochEnd end = leader.partition->end_offset_for_epoch(
      LeaderEpoch{ask.value_or(-1)}, LeaderEpoch{position.leader_epoch});
  EXPECT_EQ(end.error, ErrorCode::NONE);
  return follower.partition->truncate_to_epoch_end(
      LeaderEpoch{position.leader_epoch}, ask.value_or(-1), end.leader_epoch, end.end_offset);
}

TEST(Replication, AFollowerThatLostItsEpochCacheTruncatesThroughOffsetsForLeaderEpoch) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto three = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(three, 1, 0).error, ErrorCode::NONE);
  fetch_once(one, two);
  fetch_once(one, two);
  // Node 2 leads epoch 1 and writes 2 records nobody else gets; node 1
  // leads epoch 2 and writes 1 record at offset 3.
  two.follow(2, 1, {1, 2}, 1);
  auto uncommitted = batch_of(2);
  ASSERT_EQ(two.partition->append_as_leader(uncommitted, 1, 0).error, ErrorCode::NONE);
  one.follow(1, 2, {1, 2}, 2);
  auto one_more = batch_of(1);
  ASSERT_EQ(one.partition->append_as_leader(one_more, 1, 0).error, ErrorCode::NONE);
  // With its epoch cache, node 2 would send last fetched epoch 1 and get a
  // DivergingEpoch. Without it, it would send -1 and keep its tail.
  EXPECT_FALSE(two.partition->tail_epoch_without_entry());
  two.restart_without_epoch_cache();
  two.follow(1, 2, {1, 2}, 2);
  EXPECT_EQ(two.partition->follower_position().last_fetched_epoch, -1);
  EXPECT_EQ(two.partition->tail_epoch_without_entry(), 1);
  // Round 1: the leader knows epoch 0 only (it ends at 3): cut to 3, ask again.
  Partition::EpochTruncation cut = epoch_round(one, two);
  EXPECT_EQ(cut.error, ErrorCode::NONE);
  EXPECT_EQ(cut.offset, 3);
  EXPECT_FALSE(cut.done);
  EXPECT_EQ(two.end(), 3);
  // Round 2: the tail is of epoch 0, which the leader ends at 3: done.
  cut = epoch_round(one, two);
  EXPECT_TRUE(cut.done);
  EXPECT_EQ(two.end(), 3);
  // Fetching again: the leader's epoch-2 record, and an epoch entry with it.
  fetch_once(one, two);
  EXPECT_EQ(two.end(), 4);
  EXPECT_FALSE(two.partition->tail_epoch_without_entry());
  EXPECT_EQ(two.partition->follower_position().last_fetched_epoch, 2);
  fetch_once(one, two);
  EXPECT_EQ(one.partition->high_watermark(), 4);
}

TEST(Replication, AnUndefinedEpochAnswerTruncatesToTheHighWatermark) {
  Node two(2);
  two.follow(2, 4, {2}, 0);
  auto four = batch_of(4);
  ASSERT_EQ(two.partition->append_as_leader(four, 1, 0).error, ErrorCode::NONE);
  two.follow(2, 4, {1, 2}, 1);  // the high watermark stays at 4
  auto two_more = batch_of(2);
  ASSERT_EQ(two.partition->append_as_leader(two_more, 1, 0).error, ErrorCode::NONE);
  two.restart_without_epoch_cache();
  two.follow(1, 5, {1, 2}, 2);
  ASSERT_EQ(two.partition->high_watermark(), 4);
  ASSERT_EQ(two.partition->tail_epoch_without_entry(), 4);
  Partition::EpochTruncation cut = two.partition->truncate_to_epoch_end(LeaderEpoch{5}, 4, -1, -1);
  EXPECT_EQ(cut.error, ErrorCode::NONE);
  EXPECT_TRUE(cut.done);
  EXPECT_EQ(two.end(), 4);
  // A fetch of an older leader epoch is refused, as for every follower cut.
  EXPECT_EQ(two.partition->truncate_to_epoch_end(LeaderEpoch{4}, 4, 4, 0).error,
            ErrorCode::FENCED_LEADER_EPOCH);
}

struct CountingWaiter : AppendWaiter {
  void on_new_data() override { ++woken; }
  int woken = 0;
};

// Found by the Jepsen-style fault test (test_replication_faults.py, seed 1):
// a leader paused with SIGSTOP appended two acks=all batches, lost its
// leadership, truncated them as a follower of the new leader and took that
// leader's high watermark, which passed their end: the waiting produce was
// answered as committed at offsets now holding other records.
TEST(Replication, AnAcksAllBatchIsCommittedOnlyWhileItsLeaderLeadsInItsEpoch) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto committed = batch_of(2);
  auto appended = one.partition->append_as_leader(committed, -1, 0);
  ASSERT_EQ(appended.error, ErrorCode::NONE);
  EXPECT_EQ(appended.leader_epoch, 0);
  EXPECT_EQ(one.partition->append_commit(0, 2), AppendCommit::waiting);
  fetch_once(one, two);
  fetch_once(one, two);
  EXPECT_EQ(one.partition->append_commit(0, 2), AppendCommit::committed);
  // One more batch node 2 never gets; node 1 then loses its leadership.
  auto lost = batch_of(1);
  ASSERT_EQ(one.partition->append_as_leader(lost, -1, 0).next_offset, 3);
  auto waiter = std::make_shared<CountingWaiter>();
  one.partition->add_waiter(waiter);
  two.follow(2, 1, {1, 2}, 1);
  one.follow(2, 1, {1, 2}, 1);
  EXPECT_EQ(waiter->woken, 1);  // the produce waiting on it is answered now
  EXPECT_EQ(one.partition->append_commit(0, 3), AppendCommit::not_leader);
  // Node 2 writes two records at offsets 2 and 3; node 1 cuts its batch
  // away, takes them and node 2's high watermark, past the lost batch's end.
  auto others = batch_of(2);
  ASSERT_EQ(two.partition->append_as_leader(others, -1, 0).error, ErrorCode::NONE);
  fetch_once(two, one);  // diverging: truncated to 2
  fetch_once(two, one);
  fetch_once(two, one);
  ASSERT_EQ(one.end(), 4);
  ASSERT_GE(one.partition->high_watermark(), 3);
  EXPECT_EQ(one.partition->append_commit(0, 3), AppendCommit::not_leader);
  // Leading again, in a later epoch: still not the batch's epoch.
  one.follow(1, 2, {1, 2}, 2);
  EXPECT_EQ(one.partition->append_commit(0, 3), AppendCommit::not_leader);
  EXPECT_EQ(one.partition->append_commit(2, 3), AppendCommit::committed);
}

}  // namespace
}  // namespace sluice::cluster
