#include <gtest/gtest.h>

#include "storage/index.h"
#include "storage/memory_file_system.h"

namespace sluice::storage {
namespace {

class IndexTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs_.make_dirs("/p")); }
  FileHandle open(const std::string& path) { return *fs_.open(path, OpenMode::create); }
  MemoryFileSystem fs_;
};

TEST_F(IndexTest, OffsetIndexWritesKafkaEntriesAndLooksUpTheFloor) {
  OffsetIndex index(open("/p/100.index"), 100, 16);
  ASSERT_TRUE(index.append(104, 4100));
  ASSERT_TRUE(index.append(109, 8300));
  ASSERT_TRUE(index.write_buffered());
  // Big-endian int32 relative offset, int32 position.
  EXPECT_EQ(fs_.contents("/p/100.index"),
            (std::vector<uint8_t>{0, 0, 0, 4, 0, 0, 0x10, 0x04, 0, 0, 0, 9, 0, 0, 0x20, 0x6c}));
  EXPECT_EQ(index.lookup(50).offset, 100);  // below every entry: the segment start
  EXPECT_EQ(index.lookup(50).position, 0u);
  EXPECT_EQ(index.lookup(104).position, 4100u);
  EXPECT_EQ(index.lookup(108).position, 4100u);
  EXPECT_EQ(index.lookup(1000).position, 8300u);
}

TEST_F(IndexTest, OffsetIndexTruncateAndReload) {
  OffsetIndex index(open("/p/0.index"), 0, 16);
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(index.append(i * 10, static_cast<uint32_t>(i * 1000)));
  ASSERT_TRUE(index.write_buffered());
  ASSERT_TRUE(index.truncate_to(30));  // drops 30, 40, 50
  EXPECT_EQ(index.entry_count(), 2u);
  EXPECT_EQ(fs_.contents("/p/0.index").size(), 16u);
  OffsetIndex reloaded(open("/p/0.index"), 0, 16);
  ASSERT_TRUE(reloaded.load(5000));
  EXPECT_EQ(reloaded.entry_count(), 2u);
  EXPECT_EQ(reloaded.lookup(25).position, 2000u);
}

TEST_F(IndexTest, OffsetIndexLoadRejectsCorruption) {
  {
    OffsetIndex index(open("/p/0.index"), 0, 16);
    ASSERT_TRUE(index.append(10, 1000));
    ASSERT_TRUE(index.append(20, 2000));
    ASSERT_TRUE(index.sync());
  }
  OffsetIndex index(open("/p/0.index"), 0, 16);
  EXPECT_FALSE(index.load(1500));  // position past the log's end
  auto torn = fs_.contents("/p/0.index");
  torn.pop_back();
  fs_.set_contents("/p/0.index", torn, false);
  Status status = index.load(1u << 20);
  EXPECT_EQ(status.code(), Errc::invalid_value);
  fs_.set_contents("/p/0.index", {0, 0, 0, 20, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0, 10}, false);
  EXPECT_FALSE(index.load(1u << 20));  // offsets decreasing
}

TEST_F(IndexTest, OffsetIndexFullness) {
  OffsetIndex index(open("/p/0.index"), 0, 2);
  ASSERT_TRUE(index.append(1, 10));
  EXPECT_FALSE(index.is_full());
  ASSERT_TRUE(index.append(2, 20));
  EXPECT_TRUE(index.is_full());
}

TEST_F(IndexTest, TimeIndexKeepsOnlyIncreasingTimestamps) {
  TimeIndex index(open("/p/100.timeindex"), 100, 16);
  ASSERT_TRUE(index.maybe_append({1000, 105}));
  ASSERT_TRUE(index.maybe_append({900, 110}));  // not larger: skipped
  ASSERT_TRUE(index.maybe_append({2000, 120}));
  EXPECT_EQ(index.entry_count(), 2u);
  ASSERT_TRUE(index.write_buffered());
  auto raw = fs_.contents("/p/100.timeindex");
  ASSERT_EQ(raw.size(), 24u);
  // int64 timestamp 1000 = 0x3e8, int32 relative offset 5.
  EXPECT_EQ(std::vector<uint8_t>(raw.begin(), raw.begin() + 12),
            (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0x03, 0xe8, 0, 0, 0, 5}));
  EXPECT_EQ(index.lookup(500).timestamp_ms, -1);
  EXPECT_EQ(index.lookup(500).offset, 100);
  EXPECT_EQ(index.lookup(1500).offset, 105);
  EXPECT_EQ(index.lookup(2000).offset, 120);
  ASSERT_TRUE(index.truncate_to(120));
  EXPECT_EQ(index.entry_count(), 1u);
  TimeIndex reloaded(open("/p/100.timeindex"), 100, 16);
  ASSERT_TRUE(reloaded.load(121));
  EXPECT_EQ(reloaded.last_entry()->timestamp_ms, 1000);
  EXPECT_FALSE(reloaded.load(103));  // entry at 105 past the log's end
}

TEST_F(IndexTest, EntriesAreBufferedAndWrittenInBatches) {
  OffsetIndex index(open("/p/0.index"), 0, 10000);
  constexpr size_t batch_entries = index_write_batch_bytes / OffsetIndex::entry_bytes;
  for (size_t i = 1; i < batch_entries; ++i) ASSERT_TRUE(index.append(static_cast<int64_t>(i), static_cast<uint32_t>(i)));
  // Lookups see buffered entries; the file has none yet.
  EXPECT_EQ(index.lookup(7).position, 7u);
  EXPECT_EQ(index.buffered_count(), batch_entries - 1);
  EXPECT_EQ(fs_.contents("/p/0.index").size(), 0u);
  // The entry that completes a batch writes them all in one append.
  ASSERT_TRUE(index.append(static_cast<int64_t>(batch_entries), static_cast<uint32_t>(batch_entries)));
  EXPECT_EQ(index.buffered_count(), 0u);
  EXPECT_EQ(fs_.contents("/p/0.index").size(), index_write_batch_bytes);
  // Truncating buffered entries leaves the file alone; written ones cut it.
  ASSERT_TRUE(index.append(static_cast<int64_t>(batch_entries + 1), 1u << 20));
  ASSERT_TRUE(index.truncate_to(static_cast<int64_t>(batch_entries + 1)));
  EXPECT_EQ(fs_.contents("/p/0.index").size(), index_write_batch_bytes);
  ASSERT_TRUE(index.truncate_to(101));
  EXPECT_EQ(fs_.contents("/p/0.index").size(), 100 * OffsetIndex::entry_bytes);
  ASSERT_TRUE(index.append(101, 5000));
  ASSERT_TRUE(index.sync());
  OffsetIndex reloaded(open("/p/0.index"), 0, 10000);
  ASSERT_TRUE(reloaded.load(1u << 20));
  EXPECT_EQ(reloaded.entry_count(), 101u);
  EXPECT_EQ(reloaded.lookup(200).position, 5000u);
  // A prefix of the entries (what a crash before write_buffered leaves) is
  // still a valid index.
  ASSERT_TRUE(reloaded.append(102, 6000));
  OffsetIndex prefix(open("/p/0.index"), 0, 10000);
  ASSERT_TRUE(prefix.load(1u << 20));
  EXPECT_EQ(prefix.entry_count(), 101u);
}

}  // namespace
}  // namespace sluice::storage
