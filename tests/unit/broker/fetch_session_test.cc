// The KIP-227 fetch session cache and the delayed-operation timer.
#include <gtest/gtest.h>

#include <thread>

#include "broker/delayed_operation.h"
#include "broker/fetch_session.h"

namespace sluice::broker {
namespace {

FetchPartitionRequest partition(const std::string& topic, int32_t index, int64_t offset = 0) {
  return FetchPartitionRequest{{Uuid{}, topic, index}, offset, -1, 1 << 20};
}

FetchPartitionState state(int64_t high_watermark, bool has_records = false) {
  return FetchPartitionState{ErrorCode::NONE, has_records, high_watermark, high_watermark, 0};
}

TEST(FetchSessionCache, SessionlessFullFetch) {
  FetchSessionCache cache;
  auto context = cache.begin(0, -1, {partition("a", 0), partition("a", 1)}, {}, 0);
  EXPECT_EQ(context.error, ErrorCode::NONE);
  EXPECT_EQ(context.session_id, 0);
  EXPECT_FALSE(context.incremental);
  EXPECT_EQ(context.partitions.size(), 2u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.complete(context, {state(1), state(1)}), (std::vector<bool>{true, true}));
}

TEST(FetchSessionCache, IncrementalFetchesCarryOnlyChanges) {
  FetchSessionCache cache;
  auto full = cache.begin(0, 0, {partition("a", 0), partition("a", 1)}, {}, 0);
  ASSERT_NE(full.session_id, 0);
  EXPECT_EQ(cache.complete(full, {state(10), state(20)}), (std::vector<bool>{true, true}));

  // Epoch 1: nothing listed; the session fetches both, answers only news.
  auto next = cache.begin(full.session_id, 1, {}, {}, 1);
  ASSERT_EQ(next.error, ErrorCode::NONE);
  EXPECT_TRUE(next.incremental);
  ASSERT_EQ(next.partitions.size(), 2u);
  EXPECT_EQ(cache.complete(next, {state(10), state(21)}), (std::vector<bool>{false, true}));
  EXPECT_EQ(cache.complete(next, {state(10, true), state(21)}), (std::vector<bool>{true, false}))
      << "records are news even when the high watermark did not move";

  // Epoch 2: update a-0's offset, add b-0, forget a-1.
  auto changed = cache.begin(full.session_id, 2, {partition("a", 0, 10), partition("b", 0)},
                             {FetchPartitionKey{Uuid{}, "a", 1}}, 2);
  ASSERT_EQ(changed.error, ErrorCode::NONE);
  ASSERT_EQ(changed.partitions.size(), 2u);
  EXPECT_EQ(changed.partitions[0].key.topic, "a");
  EXPECT_EQ(changed.partitions[0].fetch_offset, 10);
  EXPECT_EQ(changed.partitions[1].key.topic, "b");
  EXPECT_EQ(cache.complete(changed, {state(10), state(0)}), (std::vector<bool>{false, true}))
      << "a partition new to the session is always answered";
}

TEST(FetchSessionCache, SessionErrors) {
  FetchSessionCache cache;
  EXPECT_EQ(cache.begin(12345, 1, {}, {}, 0).error, ErrorCode::FETCH_SESSION_ID_NOT_FOUND);
  EXPECT_EQ(cache.begin(0, 3, {}, {}, 0).error, ErrorCode::FETCH_SESSION_ID_NOT_FOUND);
  auto full = cache.begin(0, 0, {partition("a", 0)}, {}, 0);
  EXPECT_EQ(cache.begin(full.session_id, 2, {}, {}, 0).error, ErrorCode::INVALID_FETCH_SESSION_EPOCH);
  EXPECT_EQ(cache.begin(full.session_id, 1, {}, {}, 0).error, ErrorCode::NONE);
  EXPECT_EQ(cache.begin(full.session_id, 1, {}, {}, 0).error, ErrorCode::INVALID_FETCH_SESSION_EPOCH)
      << "an epoch is used once";
  // Epoch -1 closes the session.
  auto closing = cache.begin(full.session_id, -1, {partition("a", 0)}, {}, 0);
  EXPECT_EQ(closing.error, ErrorCode::NONE);
  EXPECT_EQ(closing.session_id, 0);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.begin(full.session_id, 3, {}, {}, 0).error, ErrorCode::FETCH_SESSION_ID_NOT_FOUND);
}

TEST(FetchSessionCache, BoundedWithIdleEviction) {
  FetchSessionCache cache(/*slots=*/2, /*evictable_after_ms=*/1000);
  auto first = cache.begin(0, 0, {partition("a", 0)}, {}, 0);
  auto second = cache.begin(0, 0, {partition("a", 0)}, {}, 500);
  ASSERT_NE(first.session_id, 0);
  ASSERT_NE(second.session_id, 0);
  auto refused = cache.begin(0, 0, {partition("a", 0)}, {}, 600);
  EXPECT_EQ(refused.session_id, 0) << "full, and nobody idle long enough: sessionless";
  EXPECT_EQ(refused.partitions.size(), 1u);
  auto evicting = cache.begin(0, 0, {partition("a", 0)}, {}, 1200);
  EXPECT_NE(evicting.session_id, 0);
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.begin(first.session_id, 1, {}, {}, 1200).error, ErrorCode::FETCH_SESSION_ID_NOT_FOUND)
      << "the least recently used session was evicted";
  EXPECT_EQ(cache.begin(second.session_id, 1, {}, {}, 1200).error, ErrorCode::NONE);
}

struct Recorder : DelayedOperation {
  std::atomic<int> answers{0};
  void expire() override {
    if (claim()) ++answers;
  }
  bool complete_now() {
    if (!claim()) return false;
    ++answers;
    return true;
  }
};

TEST(DelayedOperationTimer, ExpiresAtTheDeadlineOnce) {
  DelayedOperationTimer timer;
  timer.start();
  auto op = std::make_shared<Recorder>();
  auto early = std::make_shared<Recorder>();
  timer.schedule(op, std::chrono::milliseconds(20));
  timer.schedule(early, std::chrono::milliseconds(20));
  EXPECT_TRUE(early->complete_now());
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (op->answers.load() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(op->answers.load(), 1);
  EXPECT_EQ(early->answers.load(), 1) << "completed before its deadline: not expired again";
  EXPECT_FALSE(op->complete_now());
  timer.stop();
}

TEST(DelayedOperationTimer, StopExpiresEverythingPending) {
  DelayedOperationTimer timer;
  timer.start();
  auto op = std::make_shared<Recorder>();
  timer.schedule(op, std::chrono::hours(1));
  EXPECT_EQ(timer.pending(), 1u);
  timer.stop();
  EXPECT_EQ(op->answers.load(), 1);
  auto late = std::make_shared<Recorder>();
  timer.schedule(late, std::chrono::hours(1));
  EXPECT_EQ(late->answers.load(), 1) << "after stop, a scheduled operation expires at once";
}

}  // namespace
}  // namespace sluice::broker
