// The log cleaner as the LogManager runs it: every log registered, compacted
// topics cleaned in the background on real files and still compacted after
// a restart, the high watermark as the cleanable end, config changes,
// truncation and deletion moving the cleaner checkpoint.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cleaner_test_util.h"
#include "storage/log_manager.h"
#include "storage/memory_file_system.h"
#include "storage/posix_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

using testing::keyed_batch;
using testing::model_clean;
using testing::Put;
using testing::read_all;
using testing::Rec;

const TopicPartition compacted{"compacted", 0};
const TopicPartition plain{"plain", 0};

LogConfig small_segments(bool compact) {
  LogConfig config;
  config.segment_bytes = 2048;
  config.index_interval_bytes = 256;
  config.cleanup_policy_compact = compact;
  config.cleanup_policy_delete = !compact;
  return config;
}

class LogManagerCleanerTest : public ::testing::Test {
 protected:
  LogManagerOptions options(std::vector<std::string> dirs, const Clock& clock, bool threads) {
    LogManagerOptions o;
    o.log_dirs = std::move(dirs);
    o.config_for = [](const TopicPartition& tp) { return small_segments(tp.topic == compacted.topic); };
    o.clock = &clock;
    o.logger = [](std::string_view) {};
    o.background_threads = threads;
    o.cleaner.backoff_ms = 10;
    o.cleaner.dedupe_buffer_bytes = 1 << 20;
    return o;
  }
  static std::unique_ptr<LogManager> open(FileSystem& fs, LogManagerOptions o) {
    auto manager = LogManager::open(fs, std::move(o));
    EXPECT_TRUE(manager) << manager.status().to_string();
    return manager ? std::move(*manager) : nullptr;
  }
  // `batches` batches of 3 puts over 8 keys, values numbered from `first`;
  // `appended` (if given) receives the records as written, whatever a
  // cleaner running meanwhile does to them.
  static void append_updates(ManagedLog& managed, int batches, int first = 0, int64_t timestamp_ms = 1000,
                             std::vector<Rec>* appended_records = nullptr) {
    for (int b = 0; b < batches; ++b) {
      std::vector<Put> puts;
      for (int i = 0; i < 3; ++i) {
        int n = first + b * 3 + i;
        puts.push_back({"key-" + std::to_string(n % 8), "value-" + std::to_string(n) + std::string(40, 'x')});
      }
      auto batch = keyed_batch(puts, timestamp_ms);
      std::lock_guard lock(managed.mutex());
      auto appended = managed.log().append_as_leader(batch, LeaderEpoch{0});
      ASSERT_TRUE(appended) << appended.status().to_string();
      if (appended_records == nullptr) continue;
      for (size_t i = 0; i < puts.size(); ++i)
        appended_records->push_back(Rec{appended->first_offset + static_cast<int64_t>(i), *puts[i].key, true, puts[i].value});
    }
  }
  static std::vector<Rec> contents(ManagedLog& managed) {
    std::lock_guard lock(managed.mutex());
    return read_all(managed.log());
  }
  static int64_t active_base(ManagedLog& managed) {
    std::lock_guard lock(managed.mutex());
    return managed.log().segment_base_offsets().back();
  }
  static std::map<std::string, std::string> last_values(const std::vector<Rec>& records) {
    std::map<std::string, std::string> last;
    for (const auto& r : records) last[r.key] = r.value.value_or("<tombstone>");
    return last;
  }
};

TEST_F(LogManagerCleanerTest, CompactedTopicIsCleanedInTheBackgroundAndStaysCleanAfterARestart) {
  testing::TempDir temp;
  PosixFileSystem fs;
  std::vector<std::string> dirs = {temp.path() + "/a", temp.path() + "/b"};
  std::vector<Rec> before, cleaned, plain_before;
  int64_t end = 0;
  std::string log_dir;
  {
    auto manager = open(fs, options(dirs, system_clock(), true));
    ASSERT_NE(manager, nullptr);
    auto log = manager->create_log(compacted, Uuid{});
    auto other = manager->create_log(plain, Uuid{});
    ASSERT_TRUE(log && other);
    // The cleaner thread may already clean while the appends go on: the
    // reference is what was appended, not what a read finds afterwards.
    append_updates(**log, 120, 0, 1000, &before);
    append_updates(**other, 120);
    plain_before = contents(**other);
    end = active_base(**log);
    ASSERT_GT(end, 100) << "the test needs several inactive segments";
    log_dir = (*log)->log_dir();
    // The cleaner thread (backoff 10 ms) cleans everything below the active
    // segment: no high watermark is set, so the log end is the limit.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (manager->cleaner().checkpoint(log_dir, compacted).value_or(-1) < end &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_EQ(manager->cleaner().checkpoint(log_dir, compacted), end);
    cleaned = contents(**log);
    EXPECT_EQ(cleaned, model_clean(before, end, false));
    EXPECT_LT(cleaned.size(), before.size() / 4);
    EXPECT_EQ(last_values(cleaned), last_values(before));
    // The delete-policy topic is left alone.
    EXPECT_EQ(contents(**other), plain_before);
    EXPECT_FALSE(manager->cleaner().checkpoint((*other)->log_dir(), plain).has_value());
    ASSERT_TRUE(manager->close());
  }
  // Restart without threads: the cleaned log and its checkpoint are back,
  // and the log is registered again (a manual round cleans new data).
  auto manager = open(fs, options(dirs, system_clock(), false));
  ASSERT_NE(manager, nullptr);
  auto log = manager->find(compacted);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(contents(*log), cleaned);
  EXPECT_EQ(manager->cleaner().checkpoint(log_dir, compacted), end);
  append_updates(*log, 120, 1000);
  auto all = contents(*log);
  auto round = manager->cleaner().clean_once();
  ASSERT_TRUE(round) << round.status().to_string();
  ASSERT_TRUE(round->has_value());
  int64_t new_end = active_base(*log);
  EXPECT_EQ(manager->cleaner().checkpoint(log_dir, compacted), new_end);
  EXPECT_EQ(contents(*log), model_clean(all, new_end, false));
  EXPECT_EQ(last_values(contents(*log)), last_values(all));
  ASSERT_TRUE(manager->close());
}

class MemoryManagerCleanerTest : public LogManagerCleanerTest {
 protected:
  std::unique_ptr<LogManager> open_memory() { return open(memory_, options({"/d1", "/d2"}, clock_, false)); }
  ManualClock clock_;
  MemoryFileSystem memory_;
};

TEST_F(MemoryManagerCleanerTest, TheHighWatermarkBoundsWhatIsCleaned) {
  auto manager = open_memory();
  auto log = manager->create_log(compacted, Uuid{});
  ASSERT_TRUE(log);
  append_updates(**log, 120);
  auto before = contents(**log);
  int64_t high_watermark = active_base(**log) / 2;
  (*log)->set_high_watermark(high_watermark);
  auto round = manager->cleaner().clean_once();
  ASSERT_TRUE(round && round->has_value());
  auto checkpoint = manager->cleaner().checkpoint((*log)->log_dir(), compacted);
  ASSERT_TRUE(checkpoint.has_value());
  EXPECT_LE(*checkpoint, high_watermark);
  EXPECT_GT(*checkpoint, 0);
  auto after = contents(**log);
  EXPECT_EQ(after, model_clean(before, *checkpoint, false));
  for (const auto& r : before) {
    if (r.offset >= high_watermark) {
      EXPECT_NE(std::find(after.begin(), after.end(), r), after.end()) << r;
    }
  }
}

TEST_F(MemoryManagerCleanerTest, UpdateConfigToCompactMakesTheLogCleanable) {
  auto manager = open_memory();
  auto log = manager->create_log(plain, Uuid{});
  ASSERT_TRUE(log);
  append_updates(**log, 120);
  auto before = contents(**log);
  auto round = manager->cleaner().clean_once();
  ASSERT_TRUE(round);
  EXPECT_FALSE(round->has_value()) << "a delete-policy log is not cleaned";
  ASSERT_TRUE(manager->update_config(plain, small_segments(true)));
  round = manager->cleaner().clean_once();
  ASSERT_TRUE(round && round->has_value());
  EXPECT_EQ(contents(**log), model_clean(before, active_base(**log), false));
  EXPECT_EQ(manager->update_config(TopicPartition{"unknown", 0}, LogConfig{}).code(), Errc::invalid_value);
}

TEST_F(MemoryManagerCleanerTest, TruncationLowersAndDeletionDropsTheCheckpoint) {
  auto manager = open_memory();
  auto log = manager->create_log(compacted, Uuid{});
  ASSERT_TRUE(log);
  ManagedLog& managed = **log;
  append_updates(managed, 120);
  ASSERT_TRUE(manager->cleaner().clean_once());
  int64_t cleaned_end = active_base(managed);
  ASSERT_EQ(manager->cleaner().checkpoint(managed.log_dir(), compacted), cleaned_end);
  int64_t truncated_end = 0;
  {
    std::lock_guard lock(managed.mutex());
    ASSERT_TRUE(manager->truncate_to(managed, Offset{cleaned_end - 30}));
    truncated_end = managed.log().log_end_offset();
  }
  EXPECT_LE(truncated_end, cleaned_end - 30);
  EXPECT_EQ(manager->cleaner().checkpoint(managed.log_dir(), compacted), truncated_end);
  // New data at the truncated offsets is dirty again and gets cleaned.
  append_updates(managed, 120, 5000);
  auto all = contents(managed);
  ASSERT_TRUE(manager->cleaner().clean_once());
  EXPECT_EQ(contents(managed), model_clean(all, active_base(managed), false));
  {
    std::lock_guard lock(managed.mutex());
    ASSERT_TRUE(manager->truncate_fully(managed, Offset{7}));
  }
  EXPECT_EQ(manager->cleaner().checkpoint(managed.log_dir(), compacted), 7);
  std::string log_dir = managed.log_dir();
  ASSERT_TRUE(manager->delete_log(compacted));
  EXPECT_FALSE(manager->cleaner().checkpoint(log_dir, compacted).has_value());
  auto saved = read_offset_checkpoint(memory_, join_path(log_dir, cleaner_offset_checkpoint_file));
  ASSERT_TRUE(saved);
  EXPECT_EQ(saved->count(compacted), 0u);
  auto round = manager->cleaner().clean_once();
  ASSERT_TRUE(round);
  EXPECT_FALSE(round->has_value());
}

}  // namespace
}  // namespace sluice::storage
