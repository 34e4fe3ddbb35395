// replication_rules.h (the follower's handling of a Fetch answer, the
// acks=all rule) and the Partition fixes the partition simulation
// (partition_simulation.h) led to, each replayed in a few calls.
#include "cluster/replication_rules.h"

#include <gtest/gtest.h>

#include "record/batch_builder.h"
#include "replica_node.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"

namespace sluice::cluster {
namespace {

using testing::batch_of;

struct Node : testing::ReplicaNode {
  using ReplicaNode::ReplicaNode;
  // What the leader answers this follower's next fetch, as the broker sends it.
  FetchedPartition fetch_from(Node& leader, std::vector<uint8_t>& buffer) {
    FollowerPosition at = partition->follower_position();
    ReplicaReadResult result = leader.partition->read_for_replica(
        id, -1, Offset{at.log_end_offset}, LeaderEpoch{at.last_fetched_epoch},
        LeaderEpoch{at.leader_epoch}, 1 << 20, Partition::monotonic_ms());
    FetchedPartition fetched;
    fetched.error = result.read.error;
    fetched.high_watermark = result.read.high_watermark;
    fetched.log_start_offset = result.read.log_start_offset;
    if (result.diverging_epoch) {
      fetched.diverging_epoch = *result.diverging_epoch;
      fetched.diverging_end_offset = result.diverging_end_offset;
    }
    buffer.assign(result.read.range.length, 0);
    if (!buffer.empty()) {
      EXPECT_TRUE(result.read.range.file->pread(result.read.range.position, buffer).is_ok());
    }
    fetched.records = Bytes(buffer.data(), buffer.size());
    return fetched;
  }
  FollowerApplied fetch_once(Node& leader) {
    std::vector<uint8_t> buffer;
    FetchedPartition fetched = fetch_from(leader, buffer);
    return apply_fetched_partition(*partition, LeaderEpoch{partition->leader_epoch()}, fetched);
  }
};

TEST(ReplicationRules, TheFollowerAppendsTruncatesRestartsOrDoesNothing) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto batch = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(batch, -1, 0).error, ErrorCode::NONE);
  EXPECT_EQ(two.fetch_once(one).action, FollowerAction::appended);
  EXPECT_EQ(two.end(), 3);
  EXPECT_EQ(two.fetch_once(one).action, FollowerAction::up_to_date);
  EXPECT_EQ(two.partition->high_watermark(), 3);
  // An error in the answer changes nothing.
  FetchedPartition failed;
  failed.error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
  FollowerApplied applied = apply_fetched_partition(*two.partition, LeaderEpoch{0}, failed);
  EXPECT_EQ(applied.action, FollowerAction::failed);
  EXPECT_EQ(applied.error, ErrorCode::NOT_LEADER_OR_FOLLOWER);
  // An answer to a fetch sent in an older epoch is refused.
  two.follow(1, 1, {1, 2}, 1);
  applied = apply_fetched_partition(*two.partition, LeaderEpoch{0}, FetchedPartition{});
  EXPECT_EQ(applied.error, ErrorCode::FENCED_LEADER_EPOCH);
  // A divergence cuts the tail.
  FetchedPartition diverging;
  diverging.diverging_epoch = 0;
  diverging.diverging_end_offset = 1;
  EXPECT_EQ(apply_fetched_partition(*two.partition, LeaderEpoch{1}, diverging).action,
            FollowerAction::truncated);
  EXPECT_EQ(two.end(), 0);  // the whole batch holding offset 1 goes
  // Behind the leader's log start: the log starts over there.
  FetchedPartition out_of_range;
  out_of_range.error = ErrorCode::OFFSET_OUT_OF_RANGE;
  out_of_range.log_start_offset = 7;
  EXPECT_EQ(apply_fetched_partition(*two.partition, LeaderEpoch{1}, out_of_range).action,
            FollowerAction::restarted);
  EXPECT_EQ(two.end(), 7);
}

// Found by the partition simulation: a leader that had not appended in its
// epoch did not know the epoch, so a follower of the epoch before (that
// leader's records never reached it) was told its epoch was unknown and cut
// its log back to the start, committed records included.
TEST(ReplicationRules, ANewLeaderKnowsItsEpochBeforeAppending) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto three = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(three, -1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(two.fetch_once(one).action, FollowerAction::appended);
  ASSERT_EQ(two.fetch_once(one).action, FollowerAction::up_to_date);
  ASSERT_EQ(one.partition->high_watermark(), 3);  // committed
  // Node 2 leads epoch 1 and writes 2 records nobody else gets.
  two.follow(2, 1, {1, 2}, 1);
  auto two_more = batch_of(2);
  ASSERT_EQ(two.partition->append_as_leader(two_more, 1, 0).error, ErrorCode::NONE);
  // Node 1 leads epoch 2 and has not appended yet.
  one.follow(1, 2, {1, 2}, 2);
  two.follow(1, 2, {1, 2}, 2);
  EXPECT_EQ(one.partition->end_offset_for_epoch(LeaderEpoch{2}, LeaderEpoch{2}).end_offset, 3);
  std::vector<uint8_t> buffer;
  FetchedPartition answer = two.fetch_from(one, buffer);
  EXPECT_EQ(answer.diverging_epoch, 0);
  EXPECT_EQ(answer.diverging_end_offset, 3);
  EXPECT_EQ(apply_fetched_partition(*two.partition, LeaderEpoch{2}, answer).action,
            FollowerAction::truncated);
  EXPECT_EQ(two.end(), 3);  // the epoch-1 tail only
}

// Found by the partition simulation: a leader restarted before it was
// fenced started with its high watermark at its log end, committing
// records an ISR member never had.
TEST(ReplicationRules, ARestartedPartitionDoesNotCommitItsWholeLog) {
  Node one(1);
  one.follow(1, 0, {1, 2}, 0);
  auto batch = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(batch, -1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(one.partition->high_watermark(), 0);  // node 2 has nothing yet
  // The process restarts on the same log, and the image still says it leads.
  auto restarted = std::make_shared<Partition>(one.tp, Uuid{}, one.partition->managed_log(), 1);
  EXPECT_EQ(restarted->high_watermark(), 0);
  restarted->update(PartitionImage{0, {1, 2}, {1, 2}, 1, 0, 0}, AppendPolicy{});
  EXPECT_EQ(restarted->high_watermark(), 0);  // waits for node 2 again
  // Alone in the ISR, it commits its log at once.
  restarted->update(PartitionImage{0, {1, 2}, {1}, 1, 0, 1}, AppendPolicy{});
  EXPECT_EQ(restarted->high_watermark(), 3);
}

// Found by the partition simulation: an acks=all batch of a leader that
// lost its leadership was acknowledged once the node, now a follower, took
// a high watermark past it, though the new leader's records replaced it.
TEST(ReplicationRules, AnAcksAllBatchIsAcknowledgedOnlyByItsLeaderEpoch) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto batch = batch_of(2);
  PartitionAppendResult appended = one.partition->append_as_leader(batch, -1, 0);
  ASSERT_EQ(appended.error, ErrorCode::NONE);
  EXPECT_EQ(appended.leader_epoch, 0);
  AckOutcome waiting = acks_all_outcome(*one.partition, 0, appended.next_offset, false);
  EXPECT_FALSE(waiting.settled);
  EXPECT_EQ(acks_all_outcome(*one.partition, 0, appended.next_offset, true).error,
            ErrorCode::REQUEST_TIMED_OUT);
  // Node 2 leads epoch 1 with other records; node 1 follows and truncates.
  two.follow(2, 1, {1, 2}, 1);
  one.follow(2, 1, {1, 2}, 1);
  auto others = batch_of(5);
  ASSERT_EQ(two.partition->append_as_leader(others, -1, 0).error, ErrorCode::NONE);
  while (one.fetch_once(two).action != FollowerAction::up_to_date) {
  }
  ASSERT_GE(one.partition->high_watermark(), appended.next_offset);
  AckOutcome lost = acks_all_outcome(*one.partition, 0, appended.next_offset, false);
  EXPECT_TRUE(lost.settled);
  EXPECT_EQ(lost.error, ErrorCode::NOT_LEADER_OR_FOLLOWER);
  // Leading again, in a later epoch, does not make the old batch committed.
  one.follow(1, 2, {1, 2}, 2);
  lost = acks_all_outcome(*one.partition, 0, appended.next_offset, false);
  EXPECT_TRUE(lost.settled);
  EXPECT_EQ(lost.error, ErrorCode::NOT_LEADER_OR_FOLLOWER);
}

// Found by the partition simulation: a leader elected without appending
// kept the epoch it assigned itself once it followed again; a truncation
// "at its log end" did not drop it, so every fetch answered the same
// divergence.
TEST(ReplicationRules, AFollowerDropsAnEpochItLedWithoutAppending) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto three = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(three, -1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(two.fetch_once(one).action, FollowerAction::appended);
  two.follow(2, 1, {1, 2}, 1);  // leads epoch 1, appends nothing
  EXPECT_EQ(two.partition->follower_position().last_fetched_epoch, 1);
  one.follow(1, 2, {1, 2}, 2);
  two.follow(1, 2, {1, 2}, 2);
  auto more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(more, -1, 0).error, ErrorCode::NONE);
  EXPECT_EQ(two.fetch_once(one).action, FollowerAction::truncated);
  EXPECT_EQ(two.end(), 3);
  EXPECT_EQ(two.partition->follower_position().last_fetched_epoch, 0);
  EXPECT_EQ(two.fetch_once(one).action, FollowerAction::appended);
  EXPECT_EQ(two.end(), 5);
}

// Found by the partition simulation: an expansion the controller committed
// but whose answer was lost ended the change in flight, and the leader
// moved its high watermark past what the new member had.
TEST(ReplicationRules, AnIsrChangeWithoutAnAnswerStillBoundsTheHighWatermark) {
  Node one(1), two(2);
  one.follow(1, 0, {1}, 0);
  two.follow(1, 0, {1}, 0);
  auto three = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(three, -1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(one.partition->high_watermark(), 3);  // the ISR is the leader alone
  ASSERT_EQ(two.fetch_once(one).action, FollowerAction::appended);
  ASSERT_EQ(two.fetch_once(one).action, FollowerAction::up_to_date);
  auto expand = one.partition->isr_expand(2);
  ASSERT_TRUE(expand);
  EXPECT_FALSE(one.partition->isr_change_failed(ErrorCode::REQUEST_TIMED_OUT, expand->new_isr));
  EXPECT_TRUE(one.partition->isr_change_in_flight());
  auto more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(more, -1, 0).error, ErrorCode::NONE);
  EXPECT_EQ(one.partition->high_watermark(), 3);  // node 2 may be in the ISR
  // Resent once per failure (Kafka's AlterPartitionManager retries).
  auto retry = one.partition->isr_change_to_retry();
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->new_isr, (std::vector<int32_t>{1, 2}));
  EXPECT_FALSE(one.partition->isr_change_to_retry());
  // An answer saying it was not applied ends it.
  EXPECT_TRUE(one.partition->isr_change_failed(ErrorCode::INELIGIBLE_REPLICA, expand->new_isr));
  EXPECT_FALSE(one.partition->isr_change_in_flight());
  auto last = batch_of(1);
  ASSERT_EQ(one.partition->append_as_leader(last, -1, 0).error, ErrorCode::NONE);
  EXPECT_EQ(one.partition->high_watermark(), 6);
}

// Found by the partition simulation: with flush.messages=1 a follower left
// its appends to the periodic flush, so losing the power of every ISR
// member lost records the leader had acknowledged.
TEST(ReplicationRules, AFollowerFlushesWhenTheTopicSaysSo) {
  Node one(1), two(2);
  storage::LogConfig every_message;
  every_message.flush_messages = 1;
  ASSERT_TRUE(two.logs->update_config(two.tp, every_message).is_ok());
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto batch = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(batch, -1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(two.fetch_once(one).action, FollowerAction::appended);
  two.fs.fail_writes(true);  // the process dies: nothing more is written
  two.partition.reset();
  two.logs.reset();
  two.fs.fail_writes(false);
  two.fs.simulate_crash();  // and the power goes
  storage::LogManagerOptions options;
  options.log_dirs = {"/data"};
  options.background_threads = false;
  options.logger = [](std::string_view) {};
  auto logs = std::move(storage::LogManager::open(two.fs, std::move(options))).value();
  auto managed = logs->find(two.tp);
  ASSERT_TRUE(managed);
  std::lock_guard lock(managed->mutex());
  EXPECT_EQ(managed->log().log_end_offset(), 3);
}

// Found by the partition simulation: the image applied a shrink before its
// answer came; the leader sent an expansion, and the late answer to the
// shrink ended it, so the high watermark passed what the new member had.
TEST(ReplicationRules, ALateAnswerDoesNotEndALaterChange) {
  Node one(1), two(2);
  one.follow(1, 0, {1, 2}, 0);
  two.follow(1, 0, {1, 2}, 0);
  auto shrink = one.partition->isr_shrink(Partition::monotonic_ms() + 60'000, 30'000);
  ASSERT_TRUE(shrink);
  one.follow(1, 0, {1}, 1);  // the image brings the shrink first
  auto three = batch_of(3);
  ASSERT_EQ(one.partition->append_as_leader(three, -1, 0).error, ErrorCode::NONE);
  ASSERT_EQ(two.fetch_once(one).action, FollowerAction::appended);
  ASSERT_EQ(two.fetch_once(one).action, FollowerAction::up_to_date);
  auto expand = one.partition->isr_expand(2);
  ASSERT_TRUE(expand);
  one.partition->isr_change_done(true, 1, {1});  // the shrink's late answer
  EXPECT_TRUE(one.partition->isr_change_in_flight());
  EXPECT_FALSE(one.partition->isr_change_failed(ErrorCode::INELIGIBLE_REPLICA, shrink->new_isr));
  EXPECT_TRUE(one.partition->isr_change_in_flight());
  auto more = batch_of(2);
  ASSERT_EQ(one.partition->append_as_leader(more, -1, 0).error, ErrorCode::NONE);
  EXPECT_EQ(one.partition->high_watermark(), 3);  // node 2 counts: it may be in the ISR
}

}  // namespace
}  // namespace sluice::cluster
