#include "storage/log_manager.h"

#include <gtest/gtest.h>

#include <future>

#include "instrumented_file_system.h"
#include "log_test_util.h"
#include "storage/memory_file_system.h"
#include "storage/posix_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

using testing::all_base_offsets;
using testing::InstrumentedFileSystem;
using testing::make_batch;

class LogManagerTest : public ::testing::Test {
 protected:
  LogManagerOptions options() {
    LogManagerOptions o;
    o.log_dirs = {"/d1", "/d2", "/d3"};
    o.config_for = [this](const TopicPartition&) { return config_; };
    o.clock = &clock_;
    o.logger = [this](std::string_view line) {
      std::lock_guard lock(lines_mutex_);
      lines_.emplace_back(line);
    };
    o.background_threads = false;
    return o;
  }
  std::unique_ptr<LogManager> open_manager(LogManagerOptions o) {
    auto manager = LogManager::open(fs_, std::move(o));
    EXPECT_TRUE(manager) << manager.status().to_string();
    return manager ? std::move(*manager) : nullptr;
  }
  std::unique_ptr<LogManager> open_manager() { return open_manager(options()); }
  std::shared_ptr<ManagedLog> create(LogManager& manager, const std::string& topic, int32_t partition) {
    auto log = manager.create_log(TopicPartition{topic, partition}, Uuid{});
    EXPECT_TRUE(log) << log.status().to_string();
    return log ? *log : nullptr;
  }
  Status append(ManagedLog& managed, int count = 2, int64_t timestamp_ms = 1000, size_t value_bytes = 8) {
    auto batch = make_batch(count, timestamp_ms, value_bytes);
    std::lock_guard lock(managed.mutex());
    if (!managed.usable()) return Status(Errc::io_error, "offline");
    auto appended = managed.check(managed.log().append_as_leader(batch, LeaderEpoch{0}));
    return appended ? Status::ok() : appended.status();
  }
  bool logged(const std::string& needle) {
    std::lock_guard lock(lines_mutex_);
    for (const auto& line : lines_)
      if (line.find(needle) != std::string::npos) return true;
    return false;
  }
  std::vector<std::string> list(const std::string& dir) {
    auto names = memory_.list_dir(dir);
    EXPECT_TRUE(names) << names.status().to_string();
    return names ? *names : std::vector<std::string>{};
  }
  // The partition dirs of a log dir awaiting removal.
  std::vector<std::string> deleting(const std::string& dir) {
    std::vector<std::string> names;
    for (auto& name : list(dir))
      if (name.ends_with("-delete")) names.push_back(name);
    return names;
  }

  ManualClock clock_;
  MemoryFileSystem memory_;
  InstrumentedFileSystem fs_{memory_};
  LogConfig config_;
  std::mutex lines_mutex_;
  std::vector<std::string> lines_;
};

TEST_F(LogManagerTest, PlacesNewPartitionsInTheLeastLoadedDir) {
  auto manager = open_manager();
  for (int p = 0; p < 6; ++p) create(*manager, "orders", p);
  for (const auto& status : manager->dir_status()) {
    EXPECT_TRUE(status.online);
    EXPECT_EQ(status.partition_count, 2u) << status.path;
  }
  EXPECT_EQ(manager->logs().size(), 6u);
  auto found = manager->find(TopicPartition{"orders", 4});
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->topic_partition().partition, 4);
  EXPECT_EQ(manager->find(TopicPartition{"orders", 9}), nullptr);
  // Creating again returns the same log.
  auto again = manager->create_log(TopicPartition{"orders", 4}, Uuid{});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->get(), found.get());
}

TEST_F(LogManagerTest, CloseWritesCheckpointsAndReopenFindsEveryLog) {
  std::map<TopicPartition, std::string> placement;
  {
    auto manager = open_manager();
    for (int p = 0; p < 4; ++p) {
      auto log = create(*manager, "orders", p);
      ASSERT_TRUE(append(*log, p + 1));
      log->set_high_watermark(p + 1);
      placement[log->topic_partition()] = log->log_dir();
    }
    ASSERT_TRUE(manager->close());
  }
  for (const char* dir : {"/d1", "/d2", "/d3"}) EXPECT_TRUE(*memory_.exists(std::string(dir) + "/.kafka_cleanshutdown"));
  memory_.simulate_crash();  // everything of a clean close is durable
  auto manager = open_manager();
  EXPECT_EQ(manager->logs().size(), 4u);
  for (const auto& [tp, dir] : placement) {
    auto log = manager->find(tp);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->log_dir(), dir);
    std::lock_guard lock(log->mutex());
    EXPECT_EQ(log->log().log_end_offset(), tp.partition + 1);
    EXPECT_EQ(log->log().recovery_point(), tp.partition + 1);
  }
  auto hw = read_offset_checkpoint(memory_, placement[TopicPartition{"orders", 2}] + "/replication-offset-checkpoint");
  ASSERT_TRUE(hw);
  EXPECT_EQ(hw->at(TopicPartition{"orders", 2}), 3);
}

// Kafka's Partition.createLogIfNotExists: a reopened log starts from its
// checkpointed high watermark, clamped to what the log holds; a log the
// checkpoint does not name starts with none (-1: the replica layer decides).
TEST_F(LogManagerTest, ReopenRestoresCheckpointedHighWatermarksClampedToTheLog) {
  std::string dir;
  {
    auto manager = open_manager();
    for (int p = 0; p < 3; ++p) {
      auto log = create(*manager, "orders", p);
      ASSERT_TRUE(append(*log, 6));
      dir = log->log_dir();
    }
    manager->find(TopicPartition{"orders", 0})->set_high_watermark(4);
    manager->find(TopicPartition{"orders", 1})->set_high_watermark(6);
    ASSERT_TRUE(manager->close());
  }
  // A checkpoint naming an offset past the log end (a tail lost since) and
  // one without partition 2.
  for (const char* d : {"/d1", "/d2", "/d3"}) {
    std::string path = std::string(d) + "/" + replication_offset_checkpoint_file;
    auto offsets = read_offset_checkpoint(memory_, path);
    ASSERT_TRUE(offsets);
    if (offsets->contains(TopicPartition{"orders", 1}))
      (*offsets)[TopicPartition{"orders", 1}] = 99;
    offsets->erase(TopicPartition{"orders", 2});
    ASSERT_TRUE(write_offset_checkpoint(memory_, path, *offsets));
  }
  auto manager = open_manager();
  EXPECT_EQ(manager->find(TopicPartition{"orders", 0})->high_watermark(), 4);
  EXPECT_EQ(manager->find(TopicPartition{"orders", 1})->high_watermark(), 6);
  EXPECT_EQ(manager->find(TopicPartition{"orders", 2})->high_watermark(), -1);
  // A later checkpoint keeps what was restored.
  manager->write_replication_offset_checkpoints();
  auto log0 = manager->find(TopicPartition{"orders", 0});
  auto offsets =
      read_offset_checkpoint(memory_, log0->log_dir() + "/" + replication_offset_checkpoint_file);
  ASSERT_TRUE(offsets);
  EXPECT_EQ(offsets->at(TopicPartition{"orders", 0}), 4);
}

TEST_F(LogManagerTest, DeleteRenamesTheDirAndRemovesItLater) {
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  ASSERT_TRUE(append(*log, 3));
  FileRange range;
  {
    std::lock_guard lock(log->mutex());
    auto read = log->log().read(Offset{0}, 1 << 20, Offset{INT64_MAX});
    ASSERT_TRUE(read);
    range = read->range;
  }
  std::string dir = log->log_dir();
  ASSERT_TRUE(manager->delete_log(TopicPartition{"orders", 0}));
  EXPECT_EQ(manager->find(TopicPartition{"orders", 0}), nullptr);
  {
    std::lock_guard lock(log->mutex());
    EXPECT_TRUE(log->deleted());
    EXPECT_FALSE(log->usable());
  }
  std::vector<std::string> names = deleting(dir);
  ASSERT_EQ(names.size(), 1u);
  // "orders-0.<32 hex digits>-delete" (std::regex trips g++ 12's warnings under ASan).
  const std::string& name = names[0];
  ASSERT_EQ(name.size(), std::string("orders-0.").size() + 32 + std::string("-delete").size()) << name;
  EXPECT_TRUE(name.starts_with("orders-0.") && name.ends_with("-delete")) << name;
  EXPECT_TRUE(std::all_of(name.begin() + 9, name.begin() + 41, [](char c) { return std::isxdigit(c) && !std::isupper(c); }))
      << name;
  // A reader's range from before the delete still reads whole batches.
  EXPECT_EQ(testing::batches_in(range).size(), 1u);
  // The rename is durable: a crash now does not bring the partition back.
  memory_.simulate_crash();
  EXPECT_EQ(deleting(dir), names);
  clock_.advance_ms(59'999);
  manager->scheduler().run_due();
  EXPECT_EQ(deleting(dir).size(), 1u);
  clock_.advance_ms(1);
  manager->scheduler().run_due();
  EXPECT_TRUE(deleting(dir).empty());
  EXPECT_EQ(manager->delete_log(TopicPartition{"orders", 0}).code(), Errc::invalid_value);
}

TEST_F(LogManagerTest, DeleteDirLeftByACrashIsRemovedAfterRestart) {
  std::string dir;
  {
    auto manager = open_manager();
    auto log = create(*manager, "orders", 0);
    dir = log->log_dir();
    ASSERT_TRUE(manager->delete_log(TopicPartition{"orders", 0}));
  }
  auto manager = open_manager();
  EXPECT_EQ(manager->find(TopicPartition{"orders", 0}), nullptr);
  EXPECT_EQ(deleting(dir).size(), 1u);
  clock_.advance_ms(60'000);
  manager->scheduler().run_due();
  EXPECT_TRUE(deleting(dir).empty());
}

TEST_F(LogManagerTest, DirFailingAtStartIsOfflineAndTheOthersServe) {
  fs_.fail_under("/d2");
  auto manager = open_manager();
  auto statuses = manager->dir_status();
  ASSERT_EQ(statuses.size(), 3u);
  EXPECT_TRUE(statuses[0].online);
  EXPECT_FALSE(statuses[1].online);
  EXPECT_NE(statuses[1].error.find("/d2"), std::string::npos) << statuses[1].error;
  EXPECT_TRUE(logged("log dir /d2 is offline: io_error"));
  for (int p = 0; p < 4; ++p) {
    auto log = create(*manager, "orders", p);
    EXPECT_NE(log->log_dir(), "/d2");
    EXPECT_TRUE(append(*log));
  }
  EXPECT_TRUE(manager->close());
  EXPECT_FALSE(*memory_.exists("/d2/.kafka_cleanshutdown"));
  EXPECT_TRUE(*memory_.exists("/d1/.kafka_cleanshutdown"));
}

TEST_F(LogManagerTest, NoUsableDirFailsOpen) {
  fs_.fail_under("/d1");
  fs_.fail_under("/d2");
  fs_.fail_under("/d3");
  auto manager = LogManager::open(fs_, options());
  ASSERT_FALSE(manager);
  EXPECT_EQ(manager.status().code(), Errc::io_error);
  EXPECT_TRUE(logged("log dir /d3 is offline"));
}

TEST_F(LogManagerTest, IoErrorDuringAppendTakesOnlyThatDirOffline) {
  auto manager = open_manager();
  std::vector<std::shared_ptr<ManagedLog>> logs;
  for (int p = 0; p < 3; ++p) logs.push_back(create(*manager, "orders", p));
  auto& failing = logs[1];
  std::string bad_dir = failing->log_dir();
  fs_.fail_under(bad_dir);
  Status failed = append(*failing);
  EXPECT_EQ(failed.code(), Errc::io_error);
  EXPECT_TRUE(failing->offline());
  EXPECT_TRUE(logged("log dir " + bad_dir + " is offline: io_error"));
  EXPECT_TRUE(logged("[orders-1]"));
  // The broker still finds the partition and sees it offline.
  auto found = manager->find(TopicPartition{"orders", 1});
  ASSERT_NE(found, nullptr);
  EXPECT_TRUE(found->offline());
  // The other dirs keep appending, flushing and placing new partitions.
  for (auto* log : {logs[0].get(), logs[2].get()}) {
    EXPECT_FALSE(log->offline());
    EXPECT_TRUE(append(*log));
  }
  std::vector<Status> statuses;
  for (auto& log : logs) manager->flusher().request_flush(log, 2, [&](Status s) { statuses.push_back(s); });
  manager->flusher().run_round();
  ASSERT_EQ(statuses.size(), 3u);
  size_t ok = std::count_if(statuses.begin(), statuses.end(), [](const Status& s) { return s.is_ok(); });
  EXPECT_EQ(ok, 2u);
  auto placed = create(*manager, "orders", 3);
  EXPECT_NE(placed->log_dir(), bad_dir);
  // Background jobs skip the offline dir without crashing.
  manager->run_retention();
  manager->write_recovery_point_checkpoints();
  EXPECT_TRUE(manager->close());
}

TEST_F(LogManagerTest, RetentionRunsEveryCheckIntervalAndDeletedFilesGoLater) {
  config_.segment_bytes = 1200;
  config_.retention_ms = 10'000;
  config_.file_delete_delay_ms = 5'000;
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(append(*log, 1, clock_.now_ms(), 1000));
  size_t segments_before;
  {
    std::lock_guard lock(log->mutex());
    segments_before = log->log().segment_count();
  }
  ASSERT_EQ(segments_before, 4u);
  clock_.advance_ms(299'999);  // the records are old now, but no check yet
  manager->scheduler().run_due();
  {
    std::lock_guard lock(log->mutex());
    EXPECT_EQ(log->log().segment_count(), 4u);
  }
  clock_.advance_ms(1);
  manager->scheduler().run_due();
  {
    std::lock_guard lock(log->mutex());
    EXPECT_EQ(log->log().segment_count(), 1u);
    EXPECT_EQ(log->log().log_start_offset(), 3);
  }
  auto deleted = [&] {
    size_t count = 0;
    for (const auto& name : list(log->log_dir() + "/orders-0")) count += name.ends_with(".deleted");
    return count;
  };
  EXPECT_EQ(deleted(), 9u);
  clock_.advance_ms(5'000);
  manager->scheduler().run_due();
  EXPECT_EQ(deleted(), 0u);
}

// Next segments (next_segment.h) are prepared by the scheduler's thread, and
// a partition deleted with one ready leaves nothing of it behind.
TEST_F(LogManagerTest, SchedulerPreparesTheNextSegmentAndDeleteDropsIt) {
  config_.segment_bytes = 1200;
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  const std::string dir = log->log_dir() + "/orders-0";
  auto prepared = [&] {
    size_t count = 0;
    for (const auto& name : list(dir)) count += name.starts_with("prepared-");
    return count;
  };
  ASSERT_TRUE(append(*log, 1, clock_.now_ms(), 700));  // over half of segment.bytes
  EXPECT_EQ(prepared(), 0u);
  manager->scheduler().run_due();
  EXPECT_EQ(prepared(), 3u);
  ASSERT_TRUE(append(*log, 1, clock_.now_ms(), 700));  // rolls into the prepared files
  EXPECT_EQ(prepared(), 0u);
  {
    std::lock_guard lock(log->mutex());
    EXPECT_EQ(log->log().segment_count(), 2u);
  }
  manager->scheduler().run_due();
  EXPECT_EQ(prepared(), 3u);
  ASSERT_TRUE(manager->delete_log(TopicPartition{"orders", 0}));
  auto names = deleting(log->log_dir());
  ASSERT_EQ(names.size(), 1u);
  for (const auto& name : list(log->log_dir() + "/" + names[0]))
    EXPECT_FALSE(name.starts_with("prepared-")) << name;
}

// Whether another thread finds the partition lock free right now (a
// try_lock on the calling thread would be undefined if it held the lock).
bool lock_is_free(ManagedLog& managed) {
  return std::async(std::launch::async,
                    [&] {
                      if (!managed.mutex().try_lock()) return false;
                      managed.mutex().unlock();
                      return true;
                    })
      .get();
}

// The finding (issue 13, point 2): retention and the removal of due
// *.deleted files unlinked them under the partition lock, which reactors
// wait on, and an unlink frees the file's blocks on the disk.
TEST_F(LogManagerTest, DeletedSegmentFilesAreUnlinkedWithoutThePartitionLock) {
  config_.segment_bytes = 1200;
  config_.retention_bytes = 1200;
  for (int64_t delay_ms : {0, 5'000}) {
    config_.file_delete_delay_ms = delay_ms;
    auto manager = open_manager();
    auto log = create(*manager, "orders-" + std::to_string(delay_ms), 0);
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(append(*log, 1, clock_.now_ms(), 1000));
    FileRange first;
    {
      std::lock_guard lock(log->mutex());
      auto read = log->log().read(Offset{0}, 1 << 20, Offset{INT64_MAX});
      ASSERT_TRUE(read);
      first = read->range;
    }
    size_t unlinked = 0, under_lock = 0;
    fs_.set_on_remove([&](const std::string& path) {
      if (!path.ends_with(".deleted")) return;
      ++unlinked;
      under_lock += !lock_is_free(*log);
    });
    manager->run_retention();
    clock_.advance_ms(delay_ms);
    manager->remove_expired_deleted_files();
    fs_.set_on_remove(nullptr);
    EXPECT_GT(unlinked, 0u) << "delay " << delay_ms;
    EXPECT_EQ(unlinked % 3, 0u) << "delay " << delay_ms;  // whole segments
    EXPECT_EQ(under_lock, 0u) << "delay " << delay_ms;
    EXPECT_EQ(testing::batches_in(first).size(), 1u);  // a reader's range outlives its file's name
    ASSERT_TRUE(manager->close());
  }
}

TEST_F(LogManagerTest, CheckpointsAreWrittenOnTheirIntervals) {
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  ASSERT_TRUE(append(*log, 5));
  {
    std::lock_guard lock(log->mutex());
    ASSERT_TRUE(log->log().flush());
    ASSERT_TRUE(log->log().set_log_start_offset(Offset{2}));
  }
  log->set_high_watermark(5);
  std::string dir = log->log_dir();
  auto offset_in = [&](const char* file) -> int64_t {
    auto offsets = read_offset_checkpoint(memory_, dir + "/" + file);
    EXPECT_TRUE(offsets);
    auto it = offsets->find(TopicPartition{"orders", 0});
    return it == offsets->end() ? -1 : it->second;
  };
  clock_.advance_ms(5'000);
  manager->scheduler().run_due();
  EXPECT_EQ(offset_in(replication_offset_checkpoint_file), 5);
  EXPECT_EQ(offset_in(recovery_point_checkpoint_file), -1);
  clock_.advance_ms(55'000);
  manager->scheduler().run_due();
  EXPECT_EQ(offset_in(recovery_point_checkpoint_file), 5);
  EXPECT_EQ(offset_in(log_start_offset_checkpoint_file), 2);
}

TEST_F(LogManagerTest, FlushMsFlushesThroughTheFlusher) {
  config_.flush_ms = 1'000;
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  ASSERT_TRUE(append(*log, 3));
  clock_.advance_ms(1'000);
  manager->scheduler().run_due();
  EXPECT_EQ(manager->flusher().pending(), 1u);
  manager->flusher().run_round();
  std::lock_guard lock(log->mutex());
  EXPECT_EQ(log->log().recovery_point(), 3);
}

// Issue 13, point 4: the per-second jobs (flush.ms, *.deleted removal) visit
// only logs registered as having work, so 10,000 idle partitions cost a tick
// nothing per log (the broker-level figure: bench/RESULTS.md).
TEST_F(LogManagerTest, IdleLogsAreNotVisitedByThePeriodicJobs) {
  LogManagerOptions one_dir = options();
  one_dir.log_dirs = {"/d1"};  // placement among several dirs counts every log per create
  auto manager = open_manager(std::move(one_dir));
  std::vector<std::shared_ptr<ManagedLog>> logs;
  // 500, not 10,000: creating partitions on the in-memory file system grows
  // quadratically (minutes for 10,000); the visit counts below are per log.
  for (int32_t p = 0; p < 500; ++p) logs.push_back(create(*manager, "idle", p));
  // Unflushed data under the default flush.ms/flush.messages (never) is no
  // work either.
  for (int32_t p = 0; p < 100; ++p) ASSERT_TRUE(append(*logs[p], 3));
  EXPECT_EQ(manager->watched_log_count(), 0u);
  clock_.advance_ms(1'000);
  EXPECT_GE(manager->scheduler().run_due(), 2u);  // the flush and removal jobs ran
  EXPECT_EQ(manager->flush_due_logs(), 0u);
  EXPECT_EQ(manager->remove_expired_deleted_files(), 0u);
  EXPECT_EQ(manager->flusher().pending(), 0u);
}

TEST_F(LogManagerTest, AConfigChangeToFlushMsRegistersUnflushedLogs) {
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  auto other = create(*manager, "orders", 1);
  ASSERT_TRUE(append(*log, 3));
  EXPECT_EQ(manager->watched_log_count(), 0u);
  LogConfig flushing = config_;
  flushing.flush_ms = 1'000;
  ASSERT_TRUE(manager->update_config(log->topic_partition(), flushing));
  // The other log is empty: nothing to flush, not watched.
  ASSERT_TRUE(manager->update_config(other->topic_partition(), flushing));
  EXPECT_EQ(manager->watched_log_count(), 1u);
  clock_.advance_ms(999);
  manager->scheduler().run_due();
  EXPECT_EQ(manager->flusher().pending(), 0u);
  clock_.advance_ms(1);
  manager->scheduler().run_due();
  EXPECT_EQ(manager->flusher().pending(), 1u);
  manager->flusher().run_round();
  {
    std::lock_guard lock(log->mutex());
    EXPECT_EQ(log->log().recovery_point(), 3);
  }
  // Flushed: the next tick drops it; a new append registers it again.
  EXPECT_EQ(manager->flush_due_logs(), 1u);
  EXPECT_EQ(manager->watched_log_count(), 0u);
  ASSERT_TRUE(append(*log, 2));
  EXPECT_EQ(manager->watched_log_count(), 1u);
  clock_.advance_ms(1'000);
  manager->scheduler().run_due();
  EXPECT_EQ(manager->flusher().pending(), 1u);
}

// flush.messages alone is watched only once reached (an append is the only
// thing that can reach it).
TEST_F(LogManagerTest, FlushMessagesIsWatchedOnceReached) {
  config_.flush_messages = 4;
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  ASSERT_TRUE(append(*log, 3));
  EXPECT_EQ(manager->watched_log_count(), 0u);
  ASSERT_TRUE(append(*log, 1));
  EXPECT_EQ(manager->watched_log_count(), 1u);
  clock_.advance_ms(1'000);
  manager->scheduler().run_due();
  EXPECT_EQ(manager->flusher().pending(), 1u);
  manager->flusher().run_round();
  manager->flush_due_logs();
  EXPECT_EQ(manager->watched_log_count(), 0u);
}

// Files retired outside retention (DeleteRecords here) are removed after
// file.delete.delay.ms, and the log is then no longer visited.
TEST_F(LogManagerTest, DeletedFilesOfAnyOriginAreRemovedWhenDue) {
  config_.segment_bytes = 1200;
  config_.file_delete_delay_ms = 3'000;
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(append(*log, 1, clock_.now_ms(), 1000));
  EXPECT_EQ(manager->watched_log_count(), 0u);
  {
    std::lock_guard lock(log->mutex());
    ASSERT_TRUE(log->log().set_log_start_offset(Offset{2}));
  }
  EXPECT_EQ(manager->watched_log_count(), 1u);
  auto deleted = [&] {
    size_t count = 0;
    for (const auto& name : list(log->log_dir() + "/orders-0")) count += name.ends_with(".deleted");
    return count;
  };
  ASSERT_GT(deleted(), 0u);
  clock_.advance_ms(2'000);
  manager->scheduler().run_due();
  EXPECT_GT(deleted(), 0u);
  EXPECT_EQ(manager->watched_log_count(), 1u);
  clock_.advance_ms(1'000);
  manager->scheduler().run_due();
  EXPECT_EQ(deleted(), 0u);
  EXPECT_EQ(manager->watched_log_count(), 0u);
}

TEST_F(LogManagerTest, ADeletedLogIsNoLongerWatched) {
  config_.flush_ms = 1'000;
  auto manager = open_manager();
  auto log = create(*manager, "orders", 0);
  ASSERT_TRUE(append(*log, 3));
  EXPECT_EQ(manager->watched_log_count(), 1u);
  ASSERT_TRUE(manager->delete_log(log->topic_partition()));
  EXPECT_EQ(manager->watched_log_count(), 0u);
  clock_.advance_ms(1'000);
  manager->scheduler().run_due();
  EXPECT_EQ(manager->flusher().pending(), 0u);
}

TEST_F(LogManagerTest, BackgroundThreadsFlushOnRealFiles) {
  testing::TempDir temp;
  PosixFileSystem posix;
  LogManagerOptions o = options();
  o.log_dirs = {temp.path() + "/a", temp.path() + "/b"};
  o.clock = &system_clock();
  o.background_threads = true;
  auto manager = LogManager::open(posix, o);
  ASSERT_TRUE(manager) << manager.status().to_string();
  auto log = (*manager)->create_log(TopicPartition{"orders", 0}, Uuid{});
  ASSERT_TRUE(log);
  ASSERT_TRUE(append(**log, 10));
  std::promise<Status> durable;
  (*manager)->flusher().request_flush(*log, 10, [&](Status s) { durable.set_value(std::move(s)); });
  auto future = durable.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  EXPECT_TRUE(future.get());
  {
    std::lock_guard lock((*log)->mutex());
    EXPECT_EQ((*log)->log().recovery_point(), 10);
  }
  EXPECT_TRUE((*manager)->close());
}

}  // namespace
}  // namespace sluice::storage
