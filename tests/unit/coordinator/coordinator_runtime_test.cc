// The generic coordinator runtime: one task at a time per partition, in
// post order, partitions in parallel; dones in log order even when appends
// finish out of order; a failed append reaches only its own dones.
#include "coordinator/coordinator_runtime.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <thread>

namespace sluice::coordinator {
namespace {

TEST(StrandPool, OneTaskAtATimePerPartitionInPostOrder) {
  constexpr int partitions = 4;
  constexpr int posters = 4;
  constexpr int per_poster = 2000;
  StrandPool pool(partitions, 3);
  std::vector<int> running(partitions, 0);  // strand-only: a data race would show under TSan/ASan
  std::vector<std::atomic<int>> overlaps(partitions);
  std::vector<std::vector<std::pair<int, int>>> seen(partitions);  // (poster, sequence)
  std::vector<std::thread> threads;
  for (int poster = 0; poster < posters; ++poster) {
    threads.emplace_back([&, poster] {
      for (int i = 0; i < per_poster; ++i) {
        int partition = i % partitions;
        pool.post(partition, [&, partition, poster, i] {
          if (++running[partition] != 1) ++overlaps[partition];
          seen[partition].emplace_back(poster, i);
          --running[partition];
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  pool.stop();  // runs everything posted before it
  for (int partition = 0; partition < partitions; ++partition) {
    EXPECT_EQ(overlaps[partition].load(), 0);
    EXPECT_EQ(seen[partition].size(), static_cast<size_t>(posters * per_poster / partitions));
    std::map<int, int> last;  // per poster: its tasks ran in the order it posted them
    for (auto [poster, sequence] : seen[partition]) {
      auto it = last.find(poster);
      if (it != last.end()) {
        EXPECT_LT(it->second, sequence);
      }
      last[poster] = sequence;
    }
  }
  bool ran = false;
  pool.post(0, [&] { ran = true; });
  EXPECT_TRUE(ran) << "after stop a task runs on the posting thread";
}

// Completes appends when the test says, in any order.
class OutOfOrderLog final : public CoordinatorLog {
 public:
  void append(int32_t, std::vector<CoordinatorRecord> records,
              std::function<void(ErrorCode)> done) override {
    sizes.push_back(records.size());
    pending.push_back(std::move(done));
  }
  std::vector<size_t> sizes;
  std::vector<std::function<void(ErrorCode)>> pending;
};

CoordinatorRecord record(uint8_t byte) { return {{byte}, std::vector<uint8_t>{byte}}; }

TEST(CoordinatorRuntime, DonesRunInLogOrderWithTheirOwnResult) {
  InlineExecutor executor;
  OutOfOrderLog log;
  CoordinatorRuntime runtime(2, log, executor);
  std::vector<std::pair<int, ErrorCode>> done;
  for (int i = 0; i < 3; ++i)
    runtime.run(0, [&, i](WriteBatch& batch) {
      batch.add({record(1), record(2)}, [&, i](ErrorCode error) { done.emplace_back(i, error); });
    });
  ASSERT_EQ(log.pending.size(), 3u);
  EXPECT_EQ(log.sizes, (std::vector<size_t>{2, 2, 2})) << "one batch per operation";
  log.pending[2](ErrorCode::NONE);
  log.pending[1](ErrorCode::KAFKA_STORAGE_ERROR);
  EXPECT_TRUE(done.empty()) << "later appends wait for the first";
  log.pending[0](ErrorCode::NONE);
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0], std::make_pair(0, ErrorCode::NONE));
  EXPECT_EQ(done[1], std::make_pair(1, ErrorCode::KAFKA_STORAGE_ERROR));
  EXPECT_EQ(done[2], std::make_pair(2, ErrorCode::NONE));
}

TEST(CoordinatorRuntime, AnOperationThatWritesNothingAppendsNothing) {
  InlineExecutor executor;
  OutOfOrderLog log;
  CoordinatorRuntime runtime(1, log, executor);
  bool ran = false;
  runtime.run(0, [&](WriteBatch& batch) {
    ran = true;
    EXPECT_TRUE(batch.empty());
  });
  EXPECT_TRUE(ran);
  EXPECT_TRUE(log.pending.empty());
}

}  // namespace
}  // namespace sluice::coordinator
