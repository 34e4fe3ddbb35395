#include <gtest/gtest.h>

#include "log_test_util.h"
#include "storage/memory_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

using testing::all_base_offsets;
using testing::batches_in;
using testing::make_batch;

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs_.make_dirs("/logs"));
    ASSERT_TRUE(fs_.sync_dir("/"));
  }
  LogOptions options() {
    LogOptions o;
    o.dir = "/logs/orders-3";
    o.config = config_;
    o.clock = &clock_;
    o.logger = [this](std::string_view line) { log_lines_.emplace_back(line); };
    return o;
  }
  std::unique_ptr<Log> open_log(LogOptions o) {
    auto log = Log::open(fs_, std::move(o));
    EXPECT_TRUE(log) << log.status().to_string();
    return log ? std::move(*log) : nullptr;
  }
  std::unique_ptr<Log> open_log() { return open_log(options()); }
  AppendResult append(Log& log, int count, int64_t timestamp_ms = 1000, int32_t epoch = 0,
                      size_t value_bytes = 8) {
    auto batch = make_batch(count, timestamp_ms, value_bytes);
    auto result = log.append_as_leader(batch, LeaderEpoch{epoch});
    EXPECT_TRUE(result) << result.status().to_string();
    return result ? *result : AppendResult{};
  }

  MemoryFileSystem fs_;
  LogConfig config_;
  ManualClock clock_{1'000'000};
  std::vector<std::string> log_lines_;
};

TEST_F(LogTest, AppendAssignsOffsetsAndEpochs) {
  auto log = open_log();
  EXPECT_EQ(log->topic_partition().topic, "orders");
  EXPECT_EQ(log->topic_partition().partition, 3);
  EXPECT_EQ(log->log_end_offset(), 0);
  AppendResult first = append(*log, 3, 1000, 5);
  EXPECT_EQ(first.first_offset, 0);
  EXPECT_EQ(first.last_offset, 2);
  EXPECT_EQ(first.max_timestamp_ms, 1002);
  AppendResult second = append(*log, 2, 2000, 7);
  EXPECT_EQ(second.first_offset, 3);
  EXPECT_EQ(log->log_end_offset(), 5);
  EXPECT_TRUE(*fs_.exists("/logs/orders-3/00000000000000000000.log"));
  auto read = log->read(Offset{0}, 1 << 20, Offset{INT64_MAX});
  ASSERT_TRUE(read);
  auto headers = batches_in(read->range);
  ASSERT_EQ(headers.size(), 2u);
  EXPECT_EQ(headers[0].base_offset, 0);
  EXPECT_EQ(headers[0].partition_leader_epoch, 5);
  EXPECT_EQ(headers[1].base_offset, 3);
  EXPECT_EQ(headers[1].partition_leader_epoch, 7);
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{{5, 0}, {7, 3}}));
  EXPECT_EQ(log->end_offset_for_epoch(LeaderEpoch{5}), (EpochEndOffset{5, 3}));
  EXPECT_EQ(log->end_offset_for_epoch(LeaderEpoch{7}), (EpochEndOffset{7, 5}));
}

TEST_F(LogTest, RejectsCorruptAndOversizedBatches) {
  auto log = open_log();
  auto batch = make_batch(2, 1000);
  batch.back() ^= 0xff;  // breaks the CRC
  auto corrupt = log->append_as_leader(batch, LeaderEpoch{0});
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.status().code(), Errc::corrupt_crc);
  auto partial = make_batch(2, 1000);
  partial.pop_back();
  EXPECT_FALSE(log->append_as_leader(partial, LeaderEpoch{0}));
  std::vector<uint8_t> empty;
  EXPECT_FALSE(log->append_as_leader(empty, LeaderEpoch{0}));
  config_.max_message_bytes = 100;
  log->set_config(config_);
  auto big = make_batch(1, 1000, 200);
  auto too_large = log->append_as_leader(big, LeaderEpoch{0});
  ASSERT_FALSE(too_large);
  EXPECT_EQ(too_large.status().code(), Errc::record_too_large);
  EXPECT_EQ(log->log_end_offset(), 0);
}

TEST_F(LogTest, ReadReturnsWholeBatchesFromTheContainingOne) {
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append(*log, 4, 1000 + i * 10);
  // Offset 13 is inside the batch [12, 15].
  auto read = log->read(Offset{13}, 1 << 20, Offset{INT64_MAX});
  ASSERT_TRUE(read);
  auto headers = batches_in(read->range);
  ASSERT_EQ(headers.size(), 7u);
  EXPECT_EQ(headers.front().base_offset, 12);
  EXPECT_EQ(read->first_batch_offset, 12);
  EXPECT_EQ(read->next_offset, 40);
  // A byte limit cuts at a batch boundary; a too-small limit still gives one.
  uint64_t one_batch = headers.front().size_bytes();
  auto limited = log->read(Offset{13}, one_batch * 2 + 5, Offset{INT64_MAX});
  EXPECT_EQ(batches_in(limited->range).size(), 2u);
  auto tiny = log->read(Offset{13}, 1, Offset{INT64_MAX});
  EXPECT_EQ(batches_in(tiny->range).size(), 1u);
  auto none = log->read(Offset{13}, 1, Offset{INT64_MAX}, false);
  EXPECT_EQ(none->range.length, 0u);
  // The high watermark bounds what is returned.
  auto bounded = log->read(Offset{0}, 1 << 20, Offset{8});
  EXPECT_EQ(batches_in(bounded->range).size(), 2u);
  EXPECT_EQ(bounded->next_offset, 8);
  // The end is an empty read; past it is out of range.
  EXPECT_EQ(log->read(Offset{40}, 100, Offset{INT64_MAX})->range.length, 0u);
  EXPECT_EQ(log->read(Offset{41}, 100, Offset{INT64_MAX}).status().code(),
            Errc::offset_out_of_range);
}

// Issue 13, point 2: a reactor's read never waits on the device. With the
// log's pages evicted, a nowait read reads nothing and names the range to
// bring in (the batch it looks for, the range it would hand out, the next
// header); once that range is read (off the lock), the same read succeeds
// without waiting and equals a blocking one.
TEST_F(LogTest, NowaitReadOfEvictedPagesNamesTheRangeToBringIn) {
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append(*log, 4, 1000 + i * 10);
  const auto expected = log->read(Offset{13}, 1 << 20, Offset{INT64_MAX});
  ASSERT_TRUE(expected);
  fs_.evict_page_cache();
  auto cold = log->read(Offset{13}, 1 << 20, Offset{INT64_MAX}, true, ReadWait::nowait);
  ASSERT_TRUE(cold) << cold.status().to_string();
  EXPECT_EQ(cold->range.length, 0u);
  ASSERT_GT(cold->cold.length, 0u);
  EXPECT_LE(cold->cold.position, expected->range.position);
  EXPECT_GE(cold->cold.position + cold->cold.length,
            expected->range.position + expected->range.length);
  EXPECT_FALSE(cold->cold.file->cached(cold->cold.position, cold->cold.length));
  std::vector<uint8_t> scratch(cold->cold.length);
  ASSERT_TRUE(
      cold->cold.file->pread(cold->cold.position, scratch));  // what a fetch-read worker does
  auto warm = log->read(Offset{13}, 1 << 20, Offset{INT64_MAX}, true, ReadWait::nowait);
  ASSERT_TRUE(warm);
  EXPECT_EQ(warm->cold.length, 0u);
  EXPECT_EQ(warm->range.position, expected->range.position);
  EXPECT_EQ(warm->range.length, expected->range.length);
  EXPECT_EQ(warm->next_offset, expected->next_offset);
  // A blocking read of evicted pages just reads (and never reports cold).
  fs_.evict_page_cache();
  auto blocking = log->read(Offset{13}, 1 << 20, Offset{INT64_MAX});
  ASSERT_TRUE(blocking);
  EXPECT_EQ(blocking->cold.length, 0u);
  EXPECT_EQ(blocking->range.length, expected->range.length);
}

// Log::read skips the header walk where the offset index or the segment
// end allows: the ranges must be exactly those of a batch-by-batch walk,
// for every offset, byte limit and offset bound, over sparse and dense
// indexes and several segments (some batches filled by a compaction-like
// gap: offsets 100-104 never written).
TEST_F(LogTest, ReadRangesEqualABatchByBatchWalk) {
  for (uint32_t interval : {1u, 300u, 4096u}) {
    config_.index_interval_bytes = interval;
    config_.segment_bytes = 6000;
    LogOptions o = options();
    o.dir = "/logs/walk" + std::to_string(interval) + "-0";
    auto log = open_log(std::move(o));
    struct Batch {
      int64_t base, next;
      uint64_t size;
      int64_t segment;
    };
    std::vector<Batch> batches;
    auto add = [&](std::vector<uint8_t> bytes, bool follower) {
      auto result =
          follower ? log->append_as_follower(bytes) : log->append_as_leader(bytes, LeaderEpoch{0});
      ASSERT_TRUE(result) << result.status().to_string();
      batches.push_back({result->first_offset, result->last_offset + 1, bytes.size(),
                         log->segment_base_offsets().back()});
    };
    for (int i = 0; i < 40; ++i) add(make_batch(1 + i % 4, 1000, 20 + (i * 37) % 300), false);
    add(make_batch(2, 1000, 50, 105), true);  // a gap: 100..104 hold no batch
    for (int i = 0; i < 20; ++i) add(make_batch(1 + i % 3, 1000, 40 + (i * 53) % 200), false);
    ASSERT_GT(log->segment_count(), 2u);
    const int64_t end = log->log_end_offset();
    for (int64_t offset = 0; offset < end; ++offset) {
      for (uint64_t max_bytes : {1ull, 150ull, 700ull, 2500ull, 1ull << 20}) {
        for (int64_t max_offset : {INT64_MAX, end, offset + 5, int64_t{60}}) {
          // The reference walk: from the batch holding `offset` (or the next
          // one), within its segment, whole batches within both bounds.
          size_t first = 0;
          while (first < batches.size() && batches[first].next <= offset) ++first;
          uint64_t length = 0;
          int64_t next = offset;
          for (size_t i = first; i < batches.size() && batches[i].segment == batches[first].segment;
               ++i) {
            if (batches[i].base >= max_offset) break;
            if (length + batches[i].size > max_bytes && !(i == first)) break;
            length += batches[i].size;
            next = batches[i].next;
          }
          if (first < batches.size() && batches[first].base >= max_offset) length = 0;
          auto read = log->read(Offset{offset}, max_bytes, Offset{max_offset});
          ASSERT_TRUE(read) << read.status().to_string();
          ASSERT_EQ(read->range.length, length)
              << "interval " << interval << " offset " << offset << " max_bytes " << max_bytes
              << " max_offset " << max_offset;
          if (length > 0) {
            EXPECT_EQ(read->first_batch_offset, batches[first].base);
            EXPECT_EQ(read->next_offset, next) << "offset " << offset << " max_bytes " << max_bytes;
          }
        }
      }
    }
  }
}

TEST_F(LogTest, RollsBySizeAndTimeAndReadsAcrossSegments) {
  config_.segment_bytes = 1000;
  auto log = open_log();
  for (int i = 0; i < 20; ++i) append(*log, 2, 1000, 0, 100);
  EXPECT_GT(log->segment_count(), 3u);
  for (int64_t base : log->segment_base_offsets())
    EXPECT_TRUE(*fs_.exists("/logs/orders-3/" + segment_file_stem(base) + ".log"));
  std::vector<int64_t> expected;
  for (int i = 0; i < 20; ++i) expected.push_back(i * 2);
  EXPECT_EQ(all_base_offsets(*log), expected);
  size_t before = log->segment_count();
  clock_.advance_ms(config_.segment_ms);
  append(*log, 1);
  EXPECT_EQ(log->segment_count(), before + 1);
  EXPECT_EQ(log->segment_base_offsets().back(), 40);
}

TEST_F(LogTest, SparseIndexIsWrittenEveryIntervalBytes) {
  config_.index_interval_bytes = 256;
  auto log = open_log();
  for (int i = 0; i < 50; ++i) append(*log, 1, 1000 + i, 0, 100);
  // Entries are buffered in memory until a flush (or a roll) writes them.
  EXPECT_EQ(*fs_.file_size("/logs/orders-3/00000000000000000000.index"), 0u);
  ASSERT_TRUE(log->flush());
  auto index_size = *fs_.file_size("/logs/orders-3/00000000000000000000.index");
  EXPECT_GT(index_size, 8u * 10);
  EXPECT_EQ(index_size % 8, 0u);
  EXPECT_EQ(*fs_.file_size("/logs/orders-3/00000000000000000000.timeindex") % 12, 0u);
  for (int64_t offset : {0, 17, 33, 49}) {
    auto read = log->read(Offset{offset}, 1, Offset{INT64_MAX});
    EXPECT_EQ(batches_in(read->range).front().base_offset, offset);
  }
}

TEST_F(LogTest, FindOffsetForTimestamp) {
  auto log = open_log();
  append(*log, 5, 1000, 1);  // offsets 0-4, timestamps 1000-1004
  append(*log, 5, 3000, 2);  // offsets 5-9, 3000-3004
  append(*log, 5, 2000, 2);  // offsets 10-14, 2000-2004 (out of order)
  auto at = [&](int64_t ts) { return *log->find_offset_for_timestamp(ts); };
  EXPECT_EQ(at(1002)->offset, 2);
  EXPECT_EQ(at(1002)->timestamp_ms, 1002);
  EXPECT_EQ(at(1500)->offset, 5);
  EXPECT_EQ(at(3004)->offset, 9);
  EXPECT_FALSE(at(5000).has_value());
  EXPECT_EQ(at(earliest_timestamp)->offset, 0);
  EXPECT_EQ(at(earliest_timestamp)->leader_epoch, 1);
  EXPECT_EQ(at(latest_timestamp)->offset, 15);
  EXPECT_EQ(at(latest_timestamp)->leader_epoch, 2);
  EXPECT_EQ(at(max_timestamp)->timestamp_ms, 3004);
  EXPECT_EQ(at(max_timestamp)->offset, 9);
}

TEST_F(LogTest, LegacyOffsetsBeforeListSegmentStarts) {
  // ListOffsets v0 (Kafka's UnifiedLog.legacyFetchOffsetsBefore). The
  // in-memory file system has no modification times: a segment's age is then
  // its newest record's timestamp.
  config_.segment_bytes = 500;
  auto log = open_log();
  for (int i = 0; i < 6; ++i) append(*log, 2, 1000 * (i + 1), 0, 100);  // one batch per segment
  ASSERT_EQ(log->segment_base_offsets(), (std::vector<int64_t>{0, 2, 4, 6, 8, 10}));
  const int64_t now_ms = 1'000'000;
  auto before = [&](int64_t timestamp_ms, int32_t max_count) {
    return log->legacy_offsets_before(timestamp_ms, max_count, now_ms);
  };
  using Offsets = std::vector<int64_t>;
  EXPECT_EQ(before(latest_timestamp, 100), (Offsets{12, 10, 8, 6, 4, 2, 0})) << "the log end leads";
  EXPECT_EQ(before(latest_timestamp, 2), (Offsets{12, 10}));
  EXPECT_EQ(before(earliest_timestamp, 100), (Offsets{0}));
  EXPECT_EQ(before(3001, 100), (Offsets{4, 2, 0})) << "segments last written at or before the time";
  EXPECT_EQ(before(3000, 2), (Offsets{2, 0}));
  EXPECT_EQ(before(500, 100), (Offsets{}));
  EXPECT_EQ(before(now_ms, 100).front(), 12);
  EXPECT_EQ(before(latest_timestamp, 0), (Offsets{}));
  ASSERT_TRUE(log->set_log_start_offset(Offset{3}));
  EXPECT_EQ(before(earliest_timestamp, 100), (Offsets{3})) << "never below the log start offset";
}

TEST_F(LogTest, MaxTimestampNamesTheRecordNotTheBatchEnd) {
  auto log = open_log();
  append(*log, 2, 1000, 1);  // offsets 0-1
  record::BatchBuilder builder;
  for (int64_t timestamp_ms : {1500, 4000, 2000, 3000})  // offsets 2-5, max at offset 3
    builder.append(timestamp_ms, std::nullopt, std::nullopt);
  auto batch = builder.build();
  ASSERT_TRUE(batch);
  ASSERT_TRUE(log->append_as_leader(*batch, LeaderEpoch{1}));
  auto found = *log->find_offset_for_timestamp(max_timestamp);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->offset, 3);  // KIP-734: the record holding the maximum
  EXPECT_EQ(found->timestamp_ms, 4000);
}

TEST_F(LogTest, LogStartOffsetAndDeleteRecords) {
  config_.segment_bytes = 500;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append(*log, 2, 1000, 0, 100);
  size_t segments = log->segment_count();
  ASSERT_TRUE(log->set_log_start_offset(Offset{7}));
  EXPECT_EQ(log->log_start_offset(), 7);
  EXPECT_LT(log->segment_count(), segments);
  EXPECT_EQ(log->read(Offset{6}, 100, Offset{INT64_MAX}).status().code(),
            Errc::offset_out_of_range);
  EXPECT_EQ(batches_in(log->read(Offset{7}, 1, Offset{INT64_MAX})->range).front().base_offset, 6);
  EXPECT_EQ(log->find_offset_for_timestamp(earliest_timestamp)->value().offset, 7);
  EXPECT_EQ(log->set_log_start_offset(Offset{100}).code(), Errc::offset_out_of_range);
  ASSERT_TRUE(log->set_log_start_offset(Offset{3}));  // never lowers
  EXPECT_EQ(log->log_start_offset(), 7);
}

TEST_F(LogTest, TruncateToDropsWholeBatchesAndEpochs) {
  config_.segment_bytes = 600;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append(*log, 3, 1000 + i, i < 4 ? 1 : 2, 100);
  ASSERT_TRUE(log->truncate_to(Offset{16}));  // batch [15, 17] goes
  EXPECT_EQ(log->log_end_offset(), 15);
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{{1, 0}, {2, 12}}));
  ASSERT_TRUE(log->truncate_to(Offset{14}));  // batch [12, 14] goes, epoch 2 too
  EXPECT_EQ(log->log_end_offset(), 12);
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{{1, 0}}));
  EXPECT_EQ(all_base_offsets(*log), (std::vector<int64_t>{0, 3, 6, 9}));
  AppendResult again = append(*log, 1, 5000, 3);
  EXPECT_EQ(again.first_offset, 12);
  EXPECT_EQ(log->end_offset_for_epoch(LeaderEpoch{1}), (EpochEndOffset{1, 12}));
}

TEST_F(LogTest, TruncateFullyRestartsAtANewOffset) {
  auto log = open_log();
  append(*log, 5, 1000, 1);
  ASSERT_TRUE(log->truncate_fully(Offset{100}));
  EXPECT_EQ(log->log_start_offset(), 100);
  EXPECT_EQ(log->log_end_offset(), 100);
  EXPECT_TRUE(log->epoch_entries().empty());
  EXPECT_EQ(append(*log, 2, 1000, 4).first_offset, 100);
  EXPECT_EQ(log->segment_base_offsets(), (std::vector<int64_t>{100}));
}

TEST_F(LogTest, FollowerAppendKeepsOffsetsAndRollsOnAGap) {
  auto log = open_log();
  auto batch = make_batch(3, 1000, 8, 0, 4);
  ASSERT_TRUE(log->append_as_follower(batch));
  auto behind = make_batch(1, 1000, 8, 1, 4);
  EXPECT_FALSE(log->append_as_follower(behind));
  auto far = make_batch(2, 1000, 8, int64_t{1} << 33, 5);
  ASSERT_TRUE(log->append_as_follower(far));
  EXPECT_EQ(log->log_end_offset(), (int64_t{1} << 33) + 2);
  EXPECT_EQ(log->segment_base_offsets(), (std::vector<int64_t>{0, int64_t{1} << 33}));
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{{4, 0}, {5, int64_t{1} << 33}}));
}

TEST_F(LogTest, RetentionBySizeTimeAndStartWithDelayedDelete) {
  config_.segment_bytes = 500;
  config_.retention_bytes = 1500;
  config_.file_delete_delay_ms = 1000;
  auto log = open_log();
  for (int i = 0; i < 20; ++i) append(*log, 2, 1000, 0, 100);
  uint64_t before = log->size_bytes();
  // Nothing above the high watermark goes.
  EXPECT_EQ(log->apply_retention(Offset{0})->deleted_segments, 0u);
  auto result = log->apply_retention(Offset{log->log_end_offset()});
  ASSERT_TRUE(result);
  EXPECT_GT(result->deleted_segments, 0u);
  EXPECT_LE(log->size_bytes(), 1500u + 500u);
  EXPECT_EQ(log->size_bytes(), before - result->deleted_bytes);
  EXPECT_EQ(log->log_start_offset(), log->segment_base_offsets().front());
  auto names = *fs_.list_dir("/logs/orders-3");
  EXPECT_TRUE(
      std::any_of(names.begin(), names.end(), [](auto& n) { return n.ends_with(".log.deleted"); }));
  EXPECT_TRUE(log->take_deleted_files().empty());  // not due yet
  clock_.advance_ms(1001);
  ASSERT_TRUE(log->apply_retention(Offset{log->log_end_offset()}));
  names = *fs_.list_dir("/logs/orders-3");
  // Retention only renames: the unlinks are the caller's, off the lock.
  EXPECT_TRUE(
      std::any_of(names.begin(), names.end(), [](auto& n) { return n.ends_with(".log.deleted"); }));
  auto due = log->take_deleted_files();
  // Each segment's three files; and producer snapshots (at rolls) go too.
  EXPECT_EQ(std::count_if(due.begin(), due.end(),
                          [](const std::string& p) { return !p.ends_with(".snapshot"); }) %
                3,
            0);
  EXPECT_FALSE(due.empty());
  ASSERT_TRUE(remove_deleted_files(fs_, due));
  EXPECT_TRUE(log->take_deleted_files().empty());
  names = *fs_.list_dir("/logs/orders-3");
  EXPECT_FALSE(
      std::any_of(names.begin(), names.end(), [](auto& n) { return n.ends_with(".deleted"); }));
  // Time: every closed segment's timestamps (1000..) are old now.
  config_.retention_bytes = -1;
  config_.retention_ms = 1000;
  log->set_config(config_);
  ASSERT_TRUE(log->apply_retention(Offset{log->log_end_offset()}));
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(all_base_offsets(*log).back(), 38);
}

TEST_F(LogTest, ReadRangeSurvivesSegmentDeletion) {
  config_.segment_bytes = 500;
  config_.file_delete_delay_ms = 0;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append(*log, 2, 1000, 0, 100);
  auto read = log->read(Offset{0}, 1 << 20, Offset{INT64_MAX});
  ASSERT_TRUE(read);
  ASSERT_TRUE(log->set_log_start_offset(Offset{log->log_end_offset()}));
  ASSERT_TRUE(log->apply_retention(Offset{log->log_end_offset()}));
  EXPECT_EQ(batches_in(read->range).front().base_offset, 0);
}

TEST_F(LogTest, FlushTracksRecoveryPointAndFlushSettings) {
  config_.flush_messages = 5;
  auto log = open_log();
  append(*log, 3);
  EXPECT_FALSE(log->flush_due());
  append(*log, 3);
  EXPECT_TRUE(log->flush_due());
  FlushPlan plan = log->prepare_flush();
  EXPECT_FALSE(plan.files.empty());
  EXPECT_EQ(plan.dir_to_sync, "/logs/orders-3");
  ASSERT_TRUE(Log::execute_flush(fs_, plan));
  log->complete_flush(plan);
  EXPECT_EQ(log->recovery_point(), 6);
  EXPECT_FALSE(log->flush_due());
  // A truncation between prepare and complete voids the flush.
  append(*log, 2);
  plan = log->prepare_flush();
  ASSERT_TRUE(log->truncate_to(Offset{6}));
  append(*log, 2);
  ASSERT_TRUE(Log::execute_flush(fs_, plan));
  log->complete_flush(plan);
  EXPECT_EQ(log->recovery_point(), 6);
}

// partition.metadata is written without an fsync (creating thousands of
// partitions paid ~2-3 ms each for it): what a crash leaves of it, nothing,
// an empty or a cut file, is written again when the log is opened with its
// topic id.
TEST_F(LogTest, PartitionMetadataACrashCutIsWrittenAgain) {
  LogOptions o = options();
  o.topic_id.bytes[3] = 9;
  { auto log = open_log(o); }
  for (std::string left :
       {std::string(""), std::string("version: 0\ntopic_id: AAAA"), std::string("vers")}) {
    ASSERT_TRUE(
        write_file_atomically(fs_, "/logs/orders-3/partition.metadata",
                              Bytes(reinterpret_cast<const uint8_t*>(left.data()), left.size())));
    auto log = Log::open(fs_, o);
    ASSERT_TRUE(log) << left << ": " << log.status().to_string();
    EXPECT_EQ(*read_partition_metadata(fs_, "/logs/orders-3"), o.topic_id) << left;
  }
  ASSERT_TRUE(fs_.remove("/logs/orders-3/partition.metadata"));
  ASSERT_TRUE(Log::open(fs_, o));
  EXPECT_EQ(*read_partition_metadata(fs_, "/logs/orders-3"), o.topic_id);
}

TEST_F(LogTest, TopicIdIsWrittenAndChecked) {
  LogOptions o = options();
  o.topic_id.bytes[3] = 9;
  { auto log = open_log(o); }
  EXPECT_EQ(*read_partition_metadata(fs_, "/logs/orders-3"), o.topic_id);
  o.topic_id.bytes[3] = 8;
  auto other = Log::open(fs_, o);
  ASSERT_FALSE(other);
  EXPECT_NE(other.status().message().find("inconsistent topic id"), std::string::npos);
}

TEST_F(LogTest, IoErrorsAreValues) {
  auto log = open_log();
  append(*log, 1);
  fs_.fail_writes(true);
  auto batch = make_batch(1, 1000);
  auto failed = log->append_as_leader(batch, LeaderEpoch{0});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().code(), Errc::io_error);
  EXPECT_FALSE(log->flush());
  fs_.fail_writes(false);
  EXPECT_EQ(log->log_end_offset(), 1);
  EXPECT_EQ(append(*log, 1).first_offset, 1);
  EXPECT_EQ(all_base_offsets(*log), (std::vector<int64_t>{0, 1}));
}

}  // namespace
}  // namespace sluice::storage
