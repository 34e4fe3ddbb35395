// The KIP-227 fetch session cache and the delayed-operation timer.
#include "broker/fetch_session.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "broker/delayed_operation.h"

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

// Sessions spread over the shards; the one evicted when full is still the
// least recently used of the whole cache, whichever shard holds it.
TEST(FetchSessionCache, ShardsEvictTheLeastRecentlyUsedOfTheWholeCache) {
  FetchSessionCache cache(/*slots=*/16, /*evictable_after_ms=*/1000, /*shards=*/4);
  std::vector<int32_t> ids;
  std::set<int32_t> shards_used;
  for (int i = 0; i < 16; ++i) {
    ids.push_back(cache.begin(0, 0, {partition("a", 0)}, {}, 100 + i).session_id);
    ASSERT_NE(ids.back(), 0);
    shards_used.insert(ids.back() % 4);
  }
  EXPECT_EQ(shards_used.size(), 4u);
  // Every session but the 6th is used again later: the 6th is the oldest.
  for (int i = 0; i < 16; ++i)
    if (i != 5) {
      ASSERT_EQ(cache.begin(ids[i], 1, {}, {}, 500 + i).error, ErrorCode::NONE);
    }
  EXPECT_EQ(cache.begin(0, 0, {partition("a", 0)}, {}, 1000).session_id, 0)
      << "nobody idle 1000 ms yet";
  EXPECT_NE(cache.begin(0, 0, {partition("a", 0)}, {}, 1200).session_id, 0);
  EXPECT_EQ(cache.size(), 16u);
  EXPECT_EQ(cache.begin(ids[5], 1, {}, {}, 1200).error, ErrorCode::FETCH_SESSION_ID_NOT_FOUND);
  for (int i = 0; i < 16; ++i)
    if (i != 5) {
      EXPECT_EQ(cache.begin(ids[i], 2, {}, {}, 1200).error, ErrorCode::NONE) << i;
    }
}

// Many threads creating, fetching through and closing sessions at once (the
// _asan twin checks the memory side): the bound holds and every session a
// thread created stays its own until it closes it.
TEST(FetchSessionCache, ConcurrentSessionsKeepTheBoundAndTheirState) {
  constexpr size_t slots = 24;
  FetchSessionCache cache(slots, /*evictable_after_ms=*/INT64_MAX / 2);
  std::atomic<int> wrong{0};
  std::atomic<size_t> most{0};
  auto client = [&](int seed) {
    for (int round = 0; round < 300; ++round) {
      auto full = cache.begin(0, 0, {partition("t", seed), partition("t", seed + 100)}, {}, round);
      size_t seen = cache.size();
      size_t previous = most.load();
      while (seen > previous && !most.compare_exchange_weak(previous, seen)) {
      }
      if (full.session_id == 0) continue;  // full: sessionless, as a client would go on
      cache.complete(full, {state(round), state(round)});
      for (int32_t epoch = 1; epoch <= 3; ++epoch) {
        auto next = cache.begin(full.session_id, epoch, {}, {}, round);
        if (next.error != ErrorCode::NONE || next.partitions.size() != 2 ||
            next.partitions[0].key.partition != seed)
          ++wrong;
        cache.complete(next, {state(round + epoch), state(round)});
      }
      cache.begin(full.session_id, -1, {}, {}, round);  // close
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) threads.emplace_back(client, i);
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(most.load(), slots);
  EXPECT_EQ(cache.size(), 0u) << "every session was closed";
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
