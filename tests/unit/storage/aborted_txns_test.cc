// The aborted transaction index (storage/aborted_txns.h): Kafka's
// TransactionIndex content and collectAbortedTxns, alone and through Log
// appends, reopen, truncation and the log start moving.
#include "storage/aborted_txns.h"

#include <gtest/gtest.h>

#include "log_test_util.h"
#include "record/batch_builder.h"
#include "storage/log.h"
#include "storage/memory_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

TEST(AbortedTxnIndexTest, CollectsTransactionsOverlappingTheRange) {
  AbortedTxnIndex index;
  index.add({1, 0, 5, 6});
  index.add({2, 3, 9, 10});
  index.add({3, 12, 14, 15});
  // Kafka's collectAbortedTxns: marker at or after the fetch offset, first
  // offset below the upper bound.
  EXPECT_EQ(index.collect(0, 4), (std::vector<AbortedTxn>{{1, 0, 5, 6}, {2, 3, 9, 10}}));
  EXPECT_EQ(index.collect(6, 12), (std::vector<AbortedTxn>{{2, 3, 9, 10}}));
  EXPECT_EQ(index.collect(6, 13), (std::vector<AbortedTxn>{{2, 3, 9, 10}, {3, 12, 14, 15}}));
  EXPECT_TRUE(index.collect(15, 100).empty());
  // A replayed marker is not listed twice.
  index.add({3, 12, 14, 15});
  EXPECT_EQ(index.entries().size(), 3u);
  index.truncate_from(9);
  EXPECT_EQ(index.entries(), (std::vector<AbortedTxn>{{1, 0, 5, 6}}));
  index.add({2, 7, 9, 10});
  index.drop_below(6);
  EXPECT_EQ(index.entries(), (std::vector<AbortedTxn>{{2, 7, 9, 10}}));
}

std::vector<uint8_t> txn_batch(int64_t producer_id, int32_t sequence, int count) {
  record::BatchOptions options;
  options.producer_id = producer_id;
  options.producer_epoch = 0;
  options.base_sequence = sequence;
  options.transactional = true;
  record::BatchBuilder builder(options);
  const std::string value = "v";
  for (int i = 0; i < count; ++i)
    builder.append(5000 + i, std::nullopt,
                   Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  auto built = builder.build();
  SLUICE_ASSERT(built.is_ok(), "test batch must build");
  return std::move(built).value();
}

std::vector<uint8_t> marker(int64_t producer_id, bool commit) {
  record::BatchOptions options;
  options.producer_id = producer_id;
  options.producer_epoch = 0;
  auto built = record::build_end_txn_marker(
      commit ? record::ControlType::commit : record::ControlType::abort, 1, 7000, options);
  SLUICE_ASSERT(built.is_ok(), "marker must build");
  return std::move(built).value();
}

class AbortedTxnLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.make_dirs("/logs"));
    ASSERT_TRUE(fs_.sync_dir("/"));
  }
  std::unique_ptr<Log> open_log() {
    LogOptions o;
    o.dir = "/logs/orders-0";
    o.config = config_;
    o.clock = &clock_;
    o.logger = [](std::string_view) {};
    auto log = Log::open(fs_, std::move(o));
    EXPECT_TRUE(log) << log.status().to_string();
    return log ? std::move(*log) : nullptr;
  }
  AppendResult append(Log& log, std::vector<uint8_t> batch,
                      AppendOrigin origin = AppendOrigin::client) {
    auto result = log.append_as_leader(batch, LeaderEpoch{0}, origin);
    EXPECT_TRUE(result) << result.status().to_string();
    EXPECT_FALSE(result && result->producer_error) << result->producer_error.message;
    return result ? *result : AppendResult{};
  }
  // p1 data 0-1, p2 data 2, p1 abort at 3, p2 commit at 4, plain-ish p1
  // transaction 5 aborted at 6.
  void write_two_transactions(Log& log) {
    append(log, txn_batch(1, 0, 2));
    append(log, txn_batch(2, 0, 1));
    AppendResult aborted = append(log, marker(1, false), AppendOrigin::coordinator);
    ASSERT_EQ(aborted.completed_txns.size(), 1u);
    EXPECT_TRUE(aborted.completed_txns[0].aborted);
    append(log, marker(2, true), AppendOrigin::coordinator);
    append(log, txn_batch(1, 2, 1));
    append(log, marker(1, false), AppendOrigin::coordinator);
  }

  MemoryFileSystem fs_;
  LogConfig config_;
  ManualClock clock_{1'000'000};
};

// p1's first abort completes while p2's transaction (from 2) is ongoing:
// its last stable offset is 2; the second leaves none ongoing: 7.
const std::vector<AbortedTxn> expected = {{1, 0, 3, 2}, {1, 5, 6, 7}};

TEST_F(AbortedTxnLogTest, AbortMarkersAreIndexedCommitsAreNot) {
  auto log = open_log();
  write_two_transactions(*log);
  EXPECT_EQ(log->aborted_txns().entries(), expected);
  EXPECT_EQ(log->collect_aborted_txns(Offset{0}, Offset{7}), expected);
  EXPECT_EQ(log->collect_aborted_txns(Offset{4}, Offset{5}), std::vector<AbortedTxn>{});
  EXPECT_EQ(log->collect_aborted_txns(Offset{4}, Offset{6}),
            (std::vector<AbortedTxn>{expected[1]}));
}

TEST_F(AbortedTxnLogTest, OngoingTransactionsGiveTheLastStableOffset) {
  auto log = open_log();
  append(*log, txn_batch(1, 0, 2));
  append(*log, txn_batch(2, 0, 1));
  ASSERT_FALSE(log->producer_state().ongoing_txns().empty());
  EXPECT_EQ(log->producer_state().ongoing_txns().begin()->first, 0);
  append(*log, marker(1, false), AppendOrigin::coordinator);
  EXPECT_EQ(log->producer_state().ongoing_txns().begin()->first, 2);
  append(*log, marker(2, true), AppendOrigin::coordinator);
  EXPECT_TRUE(log->producer_state().ongoing_txns().empty());
}

TEST_F(AbortedTxnLogTest, RebuiltAtOpenAndOnFollowerAppends) {
  std::vector<uint8_t> all;
  {
    auto log = open_log();
    write_two_transactions(*log);
    ASSERT_TRUE(log->close());
  }
  auto log = open_log();
  EXPECT_EQ(log->aborted_txns().entries(), expected);
  // A follower replicating the same bytes builds the same index.
  auto read = log->read(Offset{0}, 1 << 20, Offset{log->log_end_offset()});
  ASSERT_TRUE(read);
  all.resize(read->range.length);
  ASSERT_TRUE(read->range.file->pread(read->range.position, all));
  ASSERT_TRUE(fs_.make_dirs("/logs"));
  LogOptions o;
  o.dir = "/logs/orders-1";
  o.clock = &clock_;
  o.logger = [](std::string_view) {};
  auto follower = Log::open(fs_, std::move(o));
  ASSERT_TRUE(follower);
  ASSERT_TRUE((*follower)->append_as_follower(all));
  EXPECT_EQ((*follower)->aborted_txns().entries(), expected);
}

TEST_F(AbortedTxnLogTest, TruncationAndLogStartDropEntries) {
  auto log = open_log();
  write_two_transactions(*log);
  ASSERT_TRUE(log->truncate_to(Offset{6}));
  EXPECT_EQ(log->aborted_txns().entries(), (std::vector<AbortedTxn>{expected[0]}));
  // The abort written again after the truncation is indexed once.
  append(*log, marker(1, false), AppendOrigin::coordinator);
  EXPECT_EQ(log->aborted_txns().entries(), expected);
  ASSERT_TRUE(log->set_log_start_offset(Offset{4}));
  EXPECT_EQ(log->aborted_txns().entries(), (std::vector<AbortedTxn>{expected[1]}));
  ASSERT_TRUE(log->truncate_fully(Offset{20}));
  EXPECT_TRUE(log->aborted_txns().entries().empty());
}

}  // namespace
}  // namespace sluice::storage
