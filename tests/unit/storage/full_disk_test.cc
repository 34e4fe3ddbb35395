// A full disk (Errc::no_space) at every fill level: an append is refused
// whole, the log stays as it was and readable, appends resume once space is
// freed, and a reopen finds no torn batch (issue 12, finding 5).

#include <gtest/gtest.h>

#include "log_test_util.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

using testing::all_base_offsets;
using testing::make_batch;

constexpr char partition_dir[] = "/logs/orders-0";

LogConfig small_segments() {
  LogConfig config;
  config.segment_bytes = 700;         // a roll every few batches
  config.index_interval_bytes = 100;  // an index entry at every batch
  return config;
}

class FullDiskTest : public ::testing::Test {
 protected:
  LogOptions options(bool clean_shutdown) {
    LogOptions o;
    o.dir = partition_dir;
    o.config = small_segments();
    o.clock = &clock_;
    o.clean_shutdown = clean_shutdown;
    o.logger = [this](std::string_view line) { lines_.emplace_back(line); };
    return o;
  }
  // Bytes of every .log file in the partition dir.
  static uint64_t log_file_bytes(MemoryFileSystem& fs) {
    uint64_t total = 0;
    auto names = fs.list_dir(partition_dir);
    EXPECT_TRUE(names);
    for (const auto& name : *names)
      if (name.ends_with(".log")) total += *fs.file_size(join_path(partition_dir, name));
    return total;
  }
  std::vector<int64_t> bases_up_to(int64_t end) {
    std::vector<int64_t> bases;
    for (int64_t base = 0; base < end; base += 3) bases.push_back(base);
    return bases;
  }

  ManualClock clock_{1'000'000};
  std::vector<std::string> lines_;
};

// Capacities from "nothing fits" to "a few segments": the ENOSPC lands at
// every byte of batches, index writes, epoch checkpoints and rolls.
TEST_F(FullDiskTest, EveryFillLevelRefusesTheAppendWholeAndResumesOnceSpaceIsFreed) {
  int refused_full = 0;
  for (uint64_t capacity = 0; capacity < 3000; capacity += 3) {
    SCOPED_TRACE("capacity " + std::to_string(capacity));
    MemoryFileSystem fs;
    lines_.clear();
    ASSERT_TRUE(fs.make_dirs("/logs"));
    ASSERT_TRUE(fs.sync_dir("/"));
    fs.set_capacity_bytes(capacity);
    auto opened = Log::open(fs, options(false));
    ASSERT_TRUE(opened) << opened.status().to_string();
    Log& log = **opened;
    Result<AppendResult> appended = Status(Errc::invalid_value, "none yet");
    for (int i = 0; i < 40; ++i) {
      auto batch = make_batch(3, 1000 + i, 40);
      appended = log.append_as_leader(batch, LeaderEpoch{0});
      if (!appended) break;
    }
    ASSERT_FALSE(appended) << "the disk never filled";
    ASSERT_EQ(appended.status().code(), Errc::no_space) << appended.status().to_string();
    ++refused_full;
    // Refused whole: nothing of it in the file or the log, the rest readable.
    const int64_t end = log.log_end_offset();
    EXPECT_FALSE(log.broken());
    EXPECT_EQ(log_file_bytes(fs), log.size_bytes());
    EXPECT_EQ(all_base_offsets(log), bases_up_to(end));
    auto again = make_batch(3, 5000, 40);
    EXPECT_FALSE(log.append_as_leader(again, LeaderEpoch{0}));
    EXPECT_EQ(log.log_end_offset(), end);

    fs.set_capacity_bytes(UINT64_MAX);  // space freed
    auto resumed = make_batch(3, 6000, 40);
    auto after = log.append_as_leader(resumed, LeaderEpoch{0});
    ASSERT_TRUE(after) << after.status().to_string();
    EXPECT_EQ(after->first_offset, end);
    EXPECT_EQ(log.epoch_entries(), (std::vector<EpochEntry>{{0, 0}}));
    ASSERT_TRUE(log.close());
    opened->reset();

    // A reopen that scans everything finds exactly that, nothing torn.
    auto reopened = Log::open(fs, options(false));
    ASSERT_TRUE(reopened) << reopened.status().to_string();
    EXPECT_EQ((*reopened)->log_end_offset(), end + 3);
    EXPECT_EQ(all_base_offsets(**reopened), bases_up_to(end + 3));
    for (const auto& line : lines_) EXPECT_EQ(line.find("truncated"), std::string::npos) << line;
  }
  EXPECT_EQ(refused_full, 1000);
}

// An acks=all append that made it into the log must become durable even
// if its buffered index entries find no space: the index file stays a
// (valid, sparser) prefix, and the .log is synced.
TEST_F(FullDiskTest, AFlushSyncsTheLogEvenWhenIndexEntriesFindNoSpace) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/logs"));
  ASSERT_TRUE(fs.sync_dir("/"));
  auto opened = Log::open(fs, options(false));
  ASSERT_TRUE(opened);
  Log& log = **opened;
  for (int i = 0; i < 5; ++i) {
    auto batch = make_batch(3, 1000 + i, 40);
    ASSERT_TRUE(log.append_as_leader(batch, LeaderEpoch{0}));
    // The first flush writes the new epoch's checkpoint, which needs room
    // (a full disk fails that flush: the epoch is not durable).
    if (i == 0) {
      ASSERT_TRUE(log.flush());
    }
  }
  fs.set_capacity_bytes(0);  // the index entries buffered since the last write find no room
  ASSERT_TRUE(log.flush());
  EXPECT_EQ(log.recovery_point(), 15);
  fs.simulate_crash();
  fs.set_capacity_bytes(UINT64_MAX);
  opened->reset();
  auto reopened = Log::open(fs, options(false));
  ASSERT_TRUE(reopened) << reopened.status().to_string();
  EXPECT_EQ((*reopened)->log_end_offset(), 15);
  EXPECT_EQ(all_base_offsets(**reopened), bases_up_to(15));
}

class FullDirManagerTest : public ::testing::Test {
 protected:
  LogManagerOptions options() {
    LogManagerOptions o;
    o.log_dirs = {"/d1"};
    o.config_for = [](const TopicPartition&) { return small_segments(); };
    o.clock = &clock_;
    o.logger = [this](std::string_view line) { lines_.emplace_back(line); };
    o.background_threads = false;
    o.on_all_dirs_offline = [this](const std::string& reason) { halts_.push_back(reason); };
    return o;
  }
  Status append(ManagedLog& managed, int64_t timestamp_ms) {
    auto batch = make_batch(3, timestamp_ms, 40);
    std::lock_guard lock(managed.mutex());
    if (!managed.usable()) return Status(Errc::io_error, "offline");
    auto appended = managed.check(managed.log().append_as_leader(batch, LeaderEpoch{0}));
    if (appended) managed.note_append_succeeded();
    return appended ? Status::ok() : appended.status();
  }
  bool logged(const std::string& needle) {
    for (const auto& line : lines_)
      if (line.find(needle) != std::string::npos) return true;
    return false;
  }
  // Names in `dir` ending with `suffix`.
  std::vector<std::string> ending_with(const std::string& dir, const std::string& suffix) {
    auto names = fs_.list_dir(dir);
    EXPECT_TRUE(names) << names.status().to_string();
    std::vector<std::string> found;
    if (names)
      for (const auto& name : *names)
        if (name.ends_with(suffix)) found.push_back(name);
    return found;
  }

  ManualClock clock_{1'000'000};
  MemoryFileSystem fs_;
  std::vector<std::string> lines_;
  std::vector<std::string> halts_;
};

TEST_F(FullDirManagerTest, AFullDirStaysOnlineAndDeletingAPartitionFreesItAtOnce) {
  auto opened = LogManager::open(fs_, options());
  ASSERT_TRUE(opened) << opened.status().to_string();
  LogManager& manager = **opened;
  auto kept = manager.create_log(TopicPartition{"kept", 0}, Uuid{});
  auto doomed = manager.create_log(TopicPartition{"doomed", 0}, Uuid{});
  ASSERT_TRUE(kept && doomed);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(append(**doomed, 1000 + i));
  ASSERT_TRUE(append(**kept, 1000));
  fs_.set_capacity_bytes(0);  // whatever is there fills the disk

  Status refused = append(**kept, 2000);
  EXPECT_EQ(refused.code(), Errc::no_space) << refused.to_string();
  EXPECT_FALSE((*kept)->offline());
  EXPECT_TRUE((*kept)->dir_full());
  auto status = manager.dir_status();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_TRUE(status[0].online);
  EXPECT_TRUE(status[0].full);
  EXPECT_NE(status[0].error.find("No space left"), std::string::npos) << status[0].error;
  EXPECT_TRUE(logged("log dir /d1 is full"));
  {
    std::lock_guard lock((*kept)->mutex());  // reads go on
    EXPECT_EQ(all_base_offsets((*kept)->log()), (std::vector<int64_t>{0}));
  }
  // A checkpoint that cannot be written leaves the dir online too.
  manager.write_recovery_point_checkpoints();
  EXPECT_TRUE((*kept)->usable());

  // Deleting a topic gives the space back without waiting for the delay.
  ASSERT_TRUE(manager.delete_log(TopicPartition{"doomed", 0}));
  manager.scheduler().run_due();
  EXPECT_EQ(ending_with("/d1", "-delete"), std::vector<std::string>{});
  fs_.set_capacity_bytes(100'000);
  ASSERT_TRUE(append(**kept, 3000));
  EXPECT_FALSE(manager.dir_status()[0].full);
  EXPECT_TRUE(logged("log dir /d1 has space again"));
  EXPECT_TRUE(halts_.empty());
}

TEST_F(FullDirManagerTest, DeleteRecordsOnAFullDirRemovesTheSegmentsAtOnce) {
  auto opened = LogManager::open(fs_, options());
  ASSERT_TRUE(opened);
  auto log = (*opened)->create_log(TopicPartition{"orders", 0}, Uuid{});
  ASSERT_TRUE(log);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(append(**log, 1000 + i));
  fs_.set_capacity_bytes(0);
  ASSERT_EQ(append(**log, 5000).code(), Errc::no_space);
  std::lock_guard lock((*log)->mutex());
  Log& partition = (*log)->log();
  const uint64_t before = partition.size_bytes();
  ASSERT_TRUE(partition.set_log_start_offset(Offset{partition.log_end_offset() - 3}));
  ASSERT_TRUE(remove_deleted_files(fs_, partition.take_deleted_files(/*due_only=*/false)));
  EXPECT_EQ(ending_with("/d1/orders-0", ".deleted"), std::vector<std::string>{});
  EXPECT_LT(partition.size_bytes(), before);
}

TEST_F(FullDirManagerTest, LosingTheLastDirCallsTheHaltHookOnce) {
  auto opened = LogManager::open(fs_, options());
  ASSERT_TRUE(opened);
  auto log = (*opened)->create_log(TopicPartition{"orders", 0}, Uuid{});
  ASSERT_TRUE(log);
  (void)(*log)->check(Status(Errc::io_error, "pwrite /d1/orders-0/x.log: Input/output error"));
  (void)(*log)->check(Status(Errc::io_error, "again"));
  ASSERT_EQ(halts_.size(), 1u);
  EXPECT_EQ(halts_[0], "all log dirs in /d1 have failed");
}

TEST_F(FullDirManagerTest, NoDirUsableAtStartFailsOpenWithoutTheHaltHook) {
  fs_.fail_writes(true);
  auto opened = LogManager::open(fs_, options());
  EXPECT_FALSE(opened);
  EXPECT_TRUE(halts_.empty());
}

}  // namespace
}  // namespace sluice::storage
