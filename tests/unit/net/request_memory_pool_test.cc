// The queued.max.request.bytes pool on its own: the bound, the exception for
// a lone frame larger than it, arrival order among waiters, withdrawal, and
// frames that return their bytes when dropped.
#include "net/request_memory_pool.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sluice::net {
namespace {

std::function<void()> count_into(int& calls) {
  return [&calls] { ++calls; };
}

TEST(RequestMemoryPool, GrantsAtOnceWithinTheBound) {
  auto pool = std::make_shared<RequestMemoryPool>(1000);
  int calls = 0;
  EXPECT_EQ(pool->reserve(600, count_into(calls)), nullptr);
  EXPECT_EQ(pool->reserve(400, count_into(calls)), nullptr);
  EXPECT_EQ(pool->bytes_held(), 1000);
  EXPECT_EQ(calls, 0);  // granted at once: no callback
}

TEST(RequestMemoryPool, QueuesBeyondTheBoundAndGrantsOnRelease) {
  auto pool = std::make_shared<RequestMemoryPool>(1000);
  int calls = 0;
  ASSERT_EQ(pool->reserve(800, count_into(calls)), nullptr);
  auto wait = pool->reserve(300, count_into(calls));
  ASSERT_NE(wait, nullptr);
  EXPECT_EQ(pool->bytes_held(), 800);
  pool->release(800);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(pool->bytes_held(), 300);  // reserved on the waiter's behalf
  EXPECT_TRUE(pool->withdraw(wait));   // granted: the caller holds the bytes
}

TEST(RequestMemoryPool, AFrameLargerThanTheBoundIsGrantedWhenNothingIsHeld) {
  auto pool = std::make_shared<RequestMemoryPool>(100);
  int calls = 0;
  EXPECT_EQ(pool->reserve(5000, count_into(calls)), nullptr);  // alone: proceeds
  auto wait = pool->reserve(5000, count_into(calls));
  ASSERT_NE(wait, nullptr);
  pool->release(5000);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(pool->bytes_held(), 5000);
}

TEST(RequestMemoryPool, WaitersAreServedInArrivalOrder) {
  auto pool = std::make_shared<RequestMemoryPool>(1000);
  std::vector<int> order;
  ASSERT_EQ(pool->reserve(1000, [] {}), nullptr);
  auto large = pool->reserve(900, [&] { order.push_back(1); });
  auto small = pool->reserve(50, [&] { order.push_back(2); });
  ASSERT_NE(large, nullptr);
  ASSERT_NE(small, nullptr);
  pool->release(100);  // 900 held: 50 would fit, but the large frame is first
  EXPECT_TRUE(order.empty());
  // A newcomer that fits also queues behind the waiters (no overtaking).
  auto newcomer = pool->reserve(10, [&] { order.push_back(3); });
  EXPECT_NE(newcomer, nullptr);
  pool->release(900);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(pool->bytes_held(), 960);
}

TEST(RequestMemoryPool, WithdrawingAQueuedWaitHoldsNothingAndLetsOthersIn) {
  auto pool = std::make_shared<RequestMemoryPool>(1000);
  int small_calls = 0;
  ASSERT_EQ(pool->reserve(500, [] {}), nullptr);
  auto large = pool->reserve(900, [] { FAIL() << "a withdrawn wait was granted"; });
  auto small = pool->reserve(100, count_into(small_calls));
  EXPECT_FALSE(pool->withdraw(large));  // was queued: nothing held for it
  EXPECT_EQ(small_calls, 1);            // the head left: the small one fits now
  EXPECT_EQ(pool->bytes_held(), 600);
}

TEST(RequestMemoryPool, AFrameReturnsItsBytesWhenItsLastOwnerDropsIt) {
  auto pool = std::make_shared<RequestMemoryPool>(1000);
  ASSERT_EQ(pool->reserve(700, [] {}), nullptr);
  std::shared_ptr<FrameBuffer> frame = pool->make_frame(700);
  EXPECT_EQ(frame->size(), 700u);
  std::shared_ptr<const FrameBuffer> kept = frame;  // e.g. a request context
  frame.reset();
  EXPECT_EQ(pool->bytes_held(), 700);
  std::thread([kept = std::move(kept)]() mutable { kept.reset(); }).join();  // any thread
  EXPECT_EQ(pool->bytes_held(), 0);
}

TEST(RequestMemoryPool, UnboundedCountsNothing) {
  auto pool = std::make_shared<RequestMemoryPool>(-1);
  EXPECT_EQ(pool->reserve(size_t{1} << 40, [] {}), nullptr);
  auto frame = pool->make_frame(10);
  EXPECT_EQ(pool->bytes_held(), 0);
}

TEST(RequestMemoryPool, ConcurrentReserveAndReleaseNeverExceedTheBoundNorLoseAWaiter) {
  auto pool = std::make_shared<RequestMemoryPool>(1000);
  constexpr int threads = 4;
  constexpr int rounds = 2000;
  std::atomic<int64_t> peak{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (int i = 0; i < rounds; ++i) {
        std::atomic<bool> granted{false};
        auto wait = pool->reserve(400, [&] { granted = true; });
        while (wait && !granted) std::this_thread::yield();  // a lost wake-up hangs here
        if (wait) {
          EXPECT_TRUE(pool->withdraw(wait));
        }
        int64_t held = pool->bytes_held();
        int64_t seen = peak.load();
        while (held > seen && !peak.compare_exchange_weak(seen, held)) {
        }
        pool->release(400);
      }
    });
  }
  for (auto& worker : workers) worker.join();
  EXPECT_LE(peak.load(), 1000);
  EXPECT_EQ(pool->bytes_held(), 0);
}

}  // namespace
}  // namespace sluice::net
