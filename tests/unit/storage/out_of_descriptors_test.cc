// Running out of file descriptors (EMFILE) is not a failing disk: no log
// dir goes offline, the failed call can be retried, and an idle partition
// holds one descriptor (issue 12, finding 4).
#include <gtest/gtest.h>

#include <filesystem>

#include "instrumented_file_system.h"
#include "log_test_util.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"
#include "storage/posix_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

using testing::InstrumentedFileSystem;
using testing::make_batch;

class OutOfDescriptorsTest : public ::testing::Test {
 protected:
  LogManagerOptions options(std::vector<std::string> dirs = {"/d1"}) {
    LogManagerOptions o;
    o.log_dirs = std::move(dirs);
    o.config_for = [this](const TopicPartition&) { return config_; };
    o.clock = &clock_;
    o.logger = [this](std::string_view line) { lines_.emplace_back(line); };
    o.background_threads = false;
    return o;
  }
  std::unique_ptr<LogManager> open_manager(FileSystem& fs) {
    auto manager = LogManager::open(fs, options());
    EXPECT_TRUE(manager) << manager.status().to_string();
    return manager ? std::move(*manager) : nullptr;
  }
  Status append(ManagedLog& managed, int count = 2) {
    auto batch = make_batch(count, 1000, 8);
    std::lock_guard lock(managed.mutex());
    if (!managed.usable()) return Status(Errc::io_error, "offline");
    auto appended = managed.check(managed.log().append_as_leader(batch, LeaderEpoch{0}));
    return appended ? Status::ok() : appended.status();
  }
  bool logged(const std::string& needle) const {
    for (const auto& line : lines_)
      if (line.find(needle) != std::string::npos) return true;
    return false;
  }

  ManualClock clock_;
  MemoryFileSystem memory_;
  InstrumentedFileSystem fs_{memory_};
  LogConfig config_;
  std::vector<std::string> lines_;
};

TEST_F(OutOfDescriptorsTest, CheckpointIsRetriedAtItsNextIntervalAndTheDirStaysOnline) {
  auto manager = open_manager(fs_);
  auto log = *manager->create_log(TopicPartition{"orders", 0}, Uuid{});
  ASSERT_TRUE(append(*log, 5));
  log->set_high_watermark(5);
  fs_.out_of_descriptors(true);
  clock_.advance_ms(5'000);
  manager->scheduler().run_due();  // the high-watermark checkpoint
  EXPECT_FALSE(log->offline());
  EXPECT_TRUE(manager->dir_status()[0].online);
  EXPECT_TRUE(logged("retrying at its next interval")) << ::testing::PrintToString(lines_);
  EXPECT_FALSE(logged("is offline"));

  fs_.out_of_descriptors(false);
  clock_.advance_ms(5'000);
  manager->scheduler().run_due();
  auto offsets = read_offset_checkpoint(memory_, "/d1/" + std::string(replication_offset_checkpoint_file));
  ASSERT_TRUE(offsets) << offsets.status().to_string();
  EXPECT_EQ(offsets->at(TopicPartition{"orders", 0}), 5);
  EXPECT_TRUE(append(*log));
  EXPECT_TRUE(manager->close());
}

TEST_F(OutOfDescriptorsTest, AppendThatCannotRollFailsRetriablyAndSucceedsOnceDescriptorsAreFree) {
  config_.segment_bytes = 1;  // every append rolls a new segment
  auto manager = open_manager(fs_);
  auto log = *manager->create_log(TopicPartition{"orders", 0}, Uuid{});
  ASSERT_TRUE(append(*log, 3));
  fs_.out_of_descriptors(true);
  Status failed = append(*log, 4);
  EXPECT_EQ(failed.code(), Errc::too_many_open_files) << failed.to_string();
  EXPECT_FALSE(log->offline());
  fs_.out_of_descriptors(false);
  ASSERT_TRUE(append(*log, 4));
  {
    std::lock_guard lock(log->mutex());
    EXPECT_EQ(log->log().log_end_offset(), 7);  // the failed append left nothing behind
  }
  EXPECT_TRUE(manager->close());

  auto reopened = open_manager(fs_);
  auto found = reopened->find(TopicPartition{"orders", 0});
  ASSERT_NE(found, nullptr);
  std::lock_guard lock(found->mutex());
  EXPECT_EQ(found->log().log_end_offset(), 7);
}

// The active segment's index files are closed while idle: a batch of index
// entries that cannot reopen them stays buffered, and the append, already
// in the .log, succeeds (failing it would leave the segment's bytes and its
// size apart, with the dir online).
TEST_F(OutOfDescriptorsTest, IndexEntriesThatCannotBeWrittenStayBufferedAndTheAppendSucceeds) {
  config_.index_interval_bytes = 0;  // an entry for every batch: 512 fill a 4 KiB write batch
  auto manager = open_manager(fs_);
  auto log = *manager->create_log(TopicPartition{"orders", 0}, Uuid{});
  ASSERT_TRUE(append(*log, 1));  // the first of epoch 0 writes leader-epoch-checkpoint
  fs_.out_of_descriptors(true);
  for (int i = 0; i < 600; ++i) ASSERT_TRUE(append(*log, 1)) << "append " << i;
  EXPECT_FALSE(log->offline());
  fs_.out_of_descriptors(false);
  {
    std::lock_guard lock(log->mutex());
    ASSERT_TRUE(log->log().flush());
  }
  ASSERT_TRUE(manager->close());
  auto reopened = open_manager(fs_);
  auto found = reopened->find(TopicPartition{"orders", 0});
  ASSERT_NE(found, nullptr);
  std::lock_guard lock(found->mutex());
  EXPECT_EQ(found->log().log_end_offset(), 601);
  auto index = memory_.file_size("/d1/orders-0/00000000000000000000.index");
  ASSERT_TRUE(index);
  EXPECT_EQ(*index, 600u * 8);  // every entry written by the flush (none for the first batch)
}

TEST_F(OutOfDescriptorsTest, NewPartitionFailsWithoutTakingTheDirOfflineAndIsCreatedLater) {
  auto manager = open_manager(fs_);
  auto existing = *manager->create_log(TopicPartition{"orders", 0}, Uuid{});
  fs_.out_of_descriptors(true);
  auto created = manager->create_log(TopicPartition{"orders", 1}, Uuid{});
  ASSERT_FALSE(created);
  EXPECT_EQ(created.status().code(), Errc::too_many_open_files);
  EXPECT_TRUE(manager->dir_status()[0].online);
  fs_.out_of_descriptors(false);
  ASSERT_TRUE(manager->create_log(TopicPartition{"orders", 1}, Uuid{}));
  EXPECT_TRUE(append(*existing));
  EXPECT_TRUE(manager->close());
}

TEST_F(OutOfDescriptorsTest, OpenWithTooFewDescriptorsFailsWithItsOwnCodeAndNoDirOffline) {
  {
    auto manager = open_manager(fs_);
    for (int p = 0; p < 3; ++p) ASSERT_TRUE(manager->create_log(TopicPartition{"orders", p}, Uuid{}));
    ASSERT_TRUE(manager->close());
  }
  fs_.out_of_descriptors(true);
  auto manager = LogManager::open(fs_, options());
  ASSERT_FALSE(manager);
  EXPECT_EQ(manager.status().code(), Errc::too_many_open_files);
  EXPECT_NE(manager.status().message().find("/d1"), std::string::npos) << manager.status().message();
  EXPECT_FALSE(logged("is offline"));
}

size_t open_descriptors() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

// What the process holds open, for a failure message.
std::string open_files() {
  std::string out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    out += std::filesystem::read_symlink(entry.path(), error).string() + "\n";
  }
  return out;
}

// Kafka holds one descriptor per segment (its indexes are mmapped, their
// files closed); 3 per partition ran a 1,024 limit out at ~300 partitions.
TEST_F(OutOfDescriptorsTest, AnIdlePartitionHoldsOneDescriptor) {
  testing::TempDir dir;
  PosixFileSystem posix;
  auto options_on_disk = options({dir.path()});
  auto manager = LogManager::open(posix, std::move(options_on_disk));
  ASSERT_TRUE(manager);
  constexpr int partitions = 20;
  size_t before = open_descriptors();
  std::vector<std::shared_ptr<ManagedLog>> logs;
  for (int p = 0; p < partitions; ++p) logs.push_back(*(*manager)->create_log(TopicPartition{"idle", p}, Uuid{}));
  EXPECT_EQ(open_descriptors() - before, static_cast<size_t>(partitions));

  // Written and flushed (indexes synced): back to one each.
  config_.index_interval_bytes = 0;  // an index entry for every batch
  for (auto& log : logs) {
    for (int i = 0; i < 600; ++i) ASSERT_TRUE(append(*log, 1));  // > 4 KiB of index entries: written
    std::lock_guard lock(log->mutex());
    ASSERT_TRUE(log->log().flush());
  }
  EXPECT_EQ(open_descriptors() - before, static_cast<size_t>(partitions)) << open_files();
  ASSERT_TRUE((*manager)->close());
  logs.clear();
  manager->reset();

  // After a clean restart and after a crash (recovery rewrites the indexes).
  for (bool crash : {false, true}) {
    if (crash) std::filesystem::remove(std::filesystem::path(dir.path()) / ".kafka_cleanshutdown");
    size_t closed = open_descriptors();
    auto reopened = LogManager::open(posix, options({dir.path()}));
    ASSERT_TRUE(reopened);
    EXPECT_EQ(open_descriptors() - closed, static_cast<size_t>(partitions)) << (crash ? "after a crash" : "clean");
    ASSERT_TRUE((*reopened)->close());
  }
}

}  // namespace
}  // namespace sluice::storage
