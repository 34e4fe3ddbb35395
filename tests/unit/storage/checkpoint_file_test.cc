#include <gtest/gtest.h>

#include "storage/checkpoint_file.h"
#include "storage/leader_epoch_cache.h"
#include "storage/memory_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

TEST(OffsetCheckpoint, KafkaTextFormatRoundTrips) {
  OffsetCheckpoint offsets{{{"orders", 0}, 42}, {{"my-topic", 11}, 7}};
  std::string text = encode_offset_checkpoint(offsets);
  EXPECT_EQ(text, "0\n2\nmy-topic 11 7\norders 0 42\n");
  auto parsed = parse_offset_checkpoint(text, "cp");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, offsets);
}

TEST(OffsetCheckpoint, RejectsMalformedText) {
  EXPECT_FALSE(parse_offset_checkpoint("1\n0\n", "cp"));             // version
  EXPECT_FALSE(parse_offset_checkpoint("0\n2\nt 0 1\n", "cp"));      // count
  EXPECT_FALSE(parse_offset_checkpoint("0\n1\nt 0\n", "cp"));        // fields
  EXPECT_FALSE(parse_offset_checkpoint("0\n1\nt x 1\n", "cp"));      // number
  auto status = parse_offset_checkpoint("0\n1\nt 0 z\n", "/d/cp").status();
  EXPECT_NE(status.message().find("/d/cp line 3"), std::string::npos) << status.message();
}

TEST(OffsetCheckpoint, MissingFileReadsEmptyAndWriteIsDurable) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/logs"));
  ASSERT_TRUE(fs.sync_dir("/"));
  EXPECT_TRUE(read_offset_checkpoint(fs, "/logs/recovery-point-offset-checkpoint")->empty());
  OffsetCheckpoint offsets{{{"t", 3}, 99}};
  ASSERT_TRUE(write_offset_checkpoint(fs, "/logs/recovery-point-offset-checkpoint", offsets));
  fs.simulate_crash();
  EXPECT_EQ(*read_offset_checkpoint(fs, "/logs/recovery-point-offset-checkpoint"), offsets);
}

TEST(PartitionDirName, TopicMayContainDashes) {
  auto tp = parse_partition_dir_name("my-topic-12");
  ASSERT_TRUE(tp);
  EXPECT_EQ(tp->topic, "my-topic");
  EXPECT_EQ(tp->partition, 12);
  EXPECT_EQ(tp->dir_name(), "my-topic-12");
  EXPECT_FALSE(parse_partition_dir_name("topic"));
  EXPECT_FALSE(parse_partition_dir_name("topic-x"));
  EXPECT_FALSE(parse_partition_dir_name("-3"));
}

TEST(PartitionMetadata, KafkaFormatWithBase64TopicId) {
  Uuid id;
  for (int i = 0; i < 16; ++i) id.bytes[i] = static_cast<uint8_t>(i * 17);
  std::string text = encode_partition_metadata(id);
  EXPECT_EQ(text, "version: 0\ntopic_id: ABEiM0RVZneImaq7zN3u_w");
  EXPECT_EQ(*parse_partition_metadata(text, "pm"), id);
  // Kafka's well-known metadata topic id, all zero but the last bit.
  Uuid one;
  one.bytes[15] = 1;
  EXPECT_EQ(uuid_to_base64(one), "AAAAAAAAAAAAAAAAAAAAAQ");
  EXPECT_FALSE(uuid_from_base64("AAAA"));
  EXPECT_FALSE(uuid_from_base64("AAAAAAAAAAAAAAAAAAAA!Q"));
  EXPECT_FALSE(parse_partition_metadata("version: 1\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ", "pm"));
}

TEST(PartitionMetadata, WriteAndRead) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/logs/t-0"));
  EXPECT_TRUE(read_partition_metadata(fs, "/logs/t-0")->is_zero());
  Uuid id;
  id.bytes[0] = 0xfe;
  ASSERT_TRUE(write_partition_metadata(fs, "/logs/t-0", id));
  EXPECT_EQ(*read_partition_metadata(fs, "/logs/t-0"), id);
}

class LeaderEpochCacheTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(fs_.make_dirs("/p")); }
  MemoryFileSystem fs_;
  LeaderEpochCache cache_{fs_, "/p/leader-epoch-checkpoint"};
};

TEST_F(LeaderEpochCacheTest, AssignPersistsInKafkaFormat) {
  cache_.assign(1, 0);
  cache_.assign(1, 5);  // same epoch later: no change
  cache_.assign(3, 10);
  cache_.assign(-1, 12);  // no epoch: ignored
  auto unwritten = cache_.unwritten();
  ASSERT_TRUE(unwritten);
  ASSERT_TRUE(unwritten->write(fs_));
  EXPECT_FALSE(cache_.unwritten());
  EXPECT_EQ(testing::as_string(fs_.contents("/p/leader-epoch-checkpoint")), "0\n2\n1 0\n3 10\n");
  LeaderEpochCache reloaded(fs_, "/p/leader-epoch-checkpoint");
  ASSERT_TRUE(reloaded.load());
  EXPECT_EQ(reloaded.entries(), cache_.entries());
  EXPECT_EQ(reloaded.latest_epoch(), 3);
}

// The append path's change touches no file: the flush writes it
// (leader_epoch_cache.h), so a reactor appending never waits on a disk.
TEST_F(LeaderEpochCacheTest, AssignWritesNothingUntilTheFlushWritesIt) {
  ASSERT_TRUE(fs_.sync_dir("/"));  // /p itself survives the crash below
  cache_.assign(1, 0);
  cache_.assign(2, 10);
  EXPECT_FALSE(*fs_.exists("/p/leader-epoch-checkpoint"));
  auto older = cache_.unwritten();
  ASSERT_TRUE(older);
  cache_.assign(3, 20);
  auto newer = cache_.unwritten();
  ASSERT_TRUE(newer);
  ASSERT_TRUE(newer->write(fs_));
  ASSERT_TRUE(older->write(fs_));  // an older state never replaces a newer one
  LeaderEpochCache reloaded(fs_, "/p/leader-epoch-checkpoint");
  ASSERT_TRUE(reloaded.load());
  EXPECT_EQ(reloaded.entries(), (std::vector<EpochEntry>{{1, 0}, {2, 10}, {3, 20}}));
  // A write is synced: it survives a crash.
  fs_.simulate_crash();
  LeaderEpochCache after_crash(fs_, "/p/leader-epoch-checkpoint");
  ASSERT_TRUE(after_crash.load());
  EXPECT_EQ(after_crash.entries(), reloaded.entries());
}

TEST_F(LeaderEpochCacheTest, AssignDropsNonMonotonicEntries) {
  cache_.assign(1, 0);
  cache_.assign(2, 10);
  cache_.assign(3, 20);
  cache_.assign(4, 15);  // epoch 3 at 20 conflicts
  EXPECT_EQ(cache_.entries(), (std::vector<EpochEntry>{{1, 0}, {2, 10}, {4, 15}}));
}

TEST_F(LeaderEpochCacheTest, EndOffsetForEpochAsOffsetForLeaderEpochNeeds) {
  cache_.assign(2, 5);
  cache_.assign(4, 20);
  cache_.assign(7, 30);
  EXPECT_EQ(cache_.end_offset_for(7, 42), (EpochEndOffset{7, 42}));   // latest: log end
  EXPECT_EQ(cache_.end_offset_for(4, 42), (EpochEndOffset{4, 30}));
  EXPECT_EQ(cache_.end_offset_for(5, 42), (EpochEndOffset{4, 30}));   // unknown between: floor
  EXPECT_EQ(cache_.end_offset_for(1, 42), (EpochEndOffset{1, 5}));    // below all
  EXPECT_EQ(cache_.end_offset_for(9, 42), (EpochEndOffset{}));        // above all
  EXPECT_EQ(cache_.end_offset_for(undefined_epoch, 42), (EpochEndOffset{}));
}

TEST_F(LeaderEpochCacheTest, TruncationFromBothEnds) {
  cache_.assign(1, 0);
  cache_.assign(2, 10);
  cache_.assign(3, 20);
  ASSERT_TRUE(cache_.truncate_from_end(20));
  EXPECT_EQ(cache_.entries(), (std::vector<EpochEntry>{{1, 0}, {2, 10}}));
  ASSERT_TRUE(cache_.truncate_from_start(12));
  EXPECT_EQ(cache_.entries(), (std::vector<EpochEntry>{{2, 12}}));
  {
    LeaderEpochCache before_flush(fs_, "/p/leader-epoch-checkpoint");
    ASSERT_TRUE(before_flush.load());  // from the end: written at once
    EXPECT_EQ(before_flush.entries(), (std::vector<EpochEntry>{{1, 0}, {2, 10}}));
  }
  auto unwritten = cache_.unwritten();  // from the start: by the next flush
  ASSERT_TRUE(unwritten);
  ASSERT_TRUE(unwritten->write(fs_));
  LeaderEpochCache reloaded(fs_, "/p/leader-epoch-checkpoint");
  ASSERT_TRUE(reloaded.load());
  EXPECT_EQ(reloaded.entries(), cache_.entries());
}

TEST_F(LeaderEpochCacheTest, LoadRejectsNonMonotonicFile) {
  fs_.set_contents("/p/leader-epoch-checkpoint",
                   {'0', '\n', '2', '\n', '3', ' ', '5', '\n', '2', ' ', '9', '\n'}, true);
  EXPECT_EQ(cache_.load().code(), Errc::invalid_value);
}

}  // namespace
}  // namespace sluice::storage
