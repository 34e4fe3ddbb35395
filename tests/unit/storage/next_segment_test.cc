// A roll swaps in a next segment prepared off the appending thread
// (next_segment.h), and prepared files never become a segment by
// themselves: not after a crash, not after a close, not after a discard.

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "base/metrics.h"
#include "log_test_util.h"
#include "storage/memory_file_system.h"

namespace sluice::storage {
namespace {

using testing::all_base_offsets;
using testing::make_batch;

// Counts File::truncate per thread (the give-back of a preallocated reserve).
class TruncateCounts {
 public:
  void count() {
    std::lock_guard lock(mutex_);
    ++counts_[std::this_thread::get_id()];
  }
  size_t on(std::thread::id thread) const {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(thread);
    return it == counts_.end() ? 0 : it->second;
  }
  size_t total() const {
    std::lock_guard lock(mutex_);
    size_t sum = 0;
    for (const auto& [thread, count] : counts_) sum += count;
    return sum;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::thread::id, size_t> counts_;
};

class TruncateCountingFile final : public File {
 public:
  TruncateCountingFile(FileHandle inner, TruncateCounts& counts)
      : inner_(std::move(inner)), counts_(counts) {}
  Result<size_t> pread(uint64_t position, std::span<uint8_t> out) override {
    return inner_->pread(position, out);
  }
  Result<size_t> pread_nowait(uint64_t position, std::span<uint8_t> out) override {
    return inner_->pread_nowait(position, out);
  }
  bool cached(uint64_t position, uint64_t length) override {
    return inner_->cached(position, length);
  }
  Status append(Bytes data) override { return inner_->append(data); }
  Status pwrite(uint64_t position, Bytes data) override { return inner_->pwrite(position, data); }
  Status truncate(uint64_t size_bytes) override {
    counts_.count();
    return inner_->truncate(size_bytes);
  }
  Status sync() override { return inner_->sync(); }
  Result<uint64_t> size() override { return inner_->size(); }
  const std::string& path() const override { return inner_->path(); }
  void reserve(uint64_t bytes) override { inner_->reserve(bytes); }

 private:
  FileHandle inner_;
  TruncateCounts& counts_;
};

// Creating a file is slow (the inode allocation a cold disk may wait on),
// and every creation is counted per thread; so is every truncate.
class SlowCreatingFileSystem final : public FileSystem {
 public:
  explicit SlowCreatingFileSystem(FileSystem& inner) : inner_(inner) {}
  TruncateCounts truncates;

  size_t creations_on(std::thread::id thread) const {
    std::lock_guard lock(mutex_);
    auto it = creations_.find(thread);
    return it == creations_.end() ? 0 : it->second;
  }

  Result<FileHandle> open(const std::string& path, OpenMode mode) override {
    if (mode == OpenMode::create || mode == OpenMode::create_truncate) {
      {
        std::lock_guard lock(mutex_);
        ++creations_[std::this_thread::get_id()];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    auto file = inner_.open(path, mode);
    if (!file) return file;
    return FileHandle(std::make_shared<TruncateCountingFile>(std::move(*file), truncates));
  }
  Status rename(const std::string& from, const std::string& to) override {
    return inner_.rename(from, to);
  }
  Status remove(const std::string& path) override { return inner_.remove(path); }
  Status remove_dir(const std::string& path) override { return inner_.remove_dir(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return inner_.list_dir(path);
  }
  Status make_dirs(const std::string& path) override { return inner_.make_dirs(path); }
  Status sync_dir(const std::string& path) override { return inner_.sync_dir(path); }
  Result<bool> exists(const std::string& path) override { return inner_.exists(path); }
  Result<uint64_t> file_size(const std::string& path) override { return inner_.file_size(path); }

 private:
  FileSystem& inner_;
  mutable std::mutex mutex_;
  std::map<std::thread::id, size_t> creations_;
};

uint64_t rolls(const char* new_segment) {
  return metrics::default_registry()
      .counter_family("sluice_log_segment_rolls_total", "", {"new_segment"})
      .labels({new_segment})
      .value();
}

class NextSegmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(memory_.make_dirs("/logs"));
    ASSERT_TRUE(memory_.sync_dir("/"));
    config_.segment_bytes = 2000;
    config_.index_interval_bytes = 100;  // index entries in every segment
  }
  std::unique_ptr<Log> open_log() {
    LogOptions options;
    options.dir = dir_;
    options.config = config_;
    options.clock = &clock_;
    options.logger = [](std::string_view) {};
    // Jobs wait here until the test runs them, on a thread of its own.
    options.background = [this](std::function<void()> job) { jobs_.push_back(std::move(job)); };
    auto log = Log::open(fs_, std::move(options));
    EXPECT_TRUE(log) << log.status().to_string();
    return log ? std::move(*log) : nullptr;
  }
  void append(Log& log) {
    auto batch = make_batch(4, 1000, 100);
    auto appended = log.append_as_leader(batch, LeaderEpoch{0});
    ASSERT_TRUE(appended) << appended.status().to_string();
  }
  // Appends until the log has `count` segments.
  void append_until_segments(Log& log, size_t count) {
    for (int i = 0; i < 100 && log.segment_count() < count; ++i) append(log);
    ASSERT_EQ(log.segment_count(), count);
  }
  void run_jobs_on_another_thread() {
    std::thread runner([jobs = std::exchange(jobs_, {})] {
      for (const auto& job : jobs) job();
    });
    runner.join();
  }
  std::vector<std::string> prepared_files() {
    std::vector<std::string> found;
    auto names = memory_.list_dir(dir_);
    EXPECT_TRUE(names);
    for (const auto& name : *names)
      if (name.starts_with("prepared-")) found.push_back(name);
    return found;
  }

  MemoryFileSystem memory_;
  SlowCreatingFileSystem fs_{memory_};
  LogConfig config_;
  ManualClock clock_{1'000'000};
  std::string dir_ = "/logs/orders-0";
  std::vector<std::function<void()>> jobs_;
};

// The finding (issue 13, point 2): a roll created the next segment's three
// files on the appending thread, a reactor holding the partition lock.
TEST_F(NextSegmentTest, RollOnTheAppendingThreadCreatesNoFileWhenTheNextSegmentIsReady) {
  auto log = open_log();
  while (jobs_.empty()) append(*log);  // half full: a preparation is asked for, once
  append(*log);
  EXPECT_EQ(jobs_.size(), 1u);
  run_jobs_on_another_thread();
  EXPECT_EQ(prepared_files().size(), 3u);
  const size_t creations_before = fs_.creations_on(std::this_thread::get_id());
  const uint64_t prepared_before = rolls("prepared");
  append_until_segments(*log, 2);
  EXPECT_EQ(fs_.creations_on(std::this_thread::get_id()), creations_before);
  EXPECT_EQ(rolls("prepared"), prepared_before + 1);
  EXPECT_TRUE(prepared_files().empty());
  const std::string stem = dir_ + "/" + segment_file_stem(log->segment_base_offsets()[1]);
  for (const char* suffix : {".log", ".index", ".timeindex"})
    EXPECT_TRUE(*memory_.exists(stem + suffix)) << suffix;
  // The adopted segment is a segment like any other: appends, index entries
  // (its index file is opened on first use), reads, a flush and a reopen.
  append(*log);
  ASSERT_EQ(log->segment_count(), 2u);
  EXPECT_EQ(all_base_offsets(*log).size(), static_cast<size_t>(log->log_end_offset() / 4));
  ASSERT_TRUE(log->close());
  const int64_t end = log->log_end_offset();
  log.reset();
  log = open_log();
  EXPECT_EQ(log->log_end_offset(), end);
  EXPECT_EQ(all_base_offsets(*log).size(), static_cast<size_t>(end / 4));
}

TEST_F(NextSegmentTest,
       RollWithoutAReadySegmentCreatesItInlineAndALatePreparationServesTheNextRoll) {
  auto log = open_log();
  const uint64_t created_before = rolls("created");
  append_until_segments(*log, 2);
  EXPECT_EQ(rolls("created"), created_before + 1);
  ASSERT_EQ(jobs_.size(), 1u);
  run_jobs_on_another_thread();  // late: finishes after the roll it was for
  const uint64_t prepared_before = rolls("prepared");
  append_until_segments(*log, 3);
  EXPECT_EQ(rolls("prepared"), prepared_before + 1);
  EXPECT_TRUE(prepared_files().empty());
}

TEST_F(NextSegmentTest, PreparedFilesAreNoSegmentAfterACrash) {
  auto log = open_log();
  while (jobs_.empty()) append(*log);
  run_jobs_on_another_thread();
  ASSERT_TRUE(log->flush());  // syncs the dir: the prepared names are durable
  const auto bases = log->segment_base_offsets();
  const uint64_t size = log->size_bytes();
  log.reset();
  memory_.simulate_crash();
  EXPECT_EQ(prepared_files().size(), 3u);
  log = open_log();
  EXPECT_TRUE(prepared_files().empty());
  EXPECT_EQ(log->segment_base_offsets(), bases);
  EXPECT_EQ(log->size_bytes(), size);
}

TEST_F(NextSegmentTest, CloseRemovesAReadySegmentAndADiscardedPreparationRemovesItsOwn) {
  auto log = open_log();
  while (jobs_.empty()) append(*log);
  run_jobs_on_another_thread();
  EXPECT_EQ(prepared_files().size(), 3u);
  ASSERT_TRUE(log->close());
  EXPECT_TRUE(prepared_files().empty());
  log.reset();

  log = open_log();
  while (jobs_.empty()) append(*log);
  log->stop_preparing_segments();  // the partition is being deleted
  run_jobs_on_another_thread();
  EXPECT_TRUE(prepared_files().empty());
  append_until_segments(*log, 3);  // rolls go on, creating inline
  EXPECT_TRUE(jobs_.empty());
}

}  // namespace
}  // namespace sluice::storage

namespace sluice::storage {
namespace {

// Issue 13, point 2: with log.preallocate a roll gave the rolled segment's
// reserved blocks back (a truncate, up to 35 ms on ext4) on the appending
// thread, a reactor holding the partition lock. Now a background job does.
TEST_F(NextSegmentTest, ARollGivesThePreallocatedReserveBackOnTheBackgroundThread) {
  config_.preallocate = true;
  auto log = open_log();
  const size_t here_before = fs_.truncates.on(std::this_thread::get_id());
  append_until_segments(*log, 2);
  EXPECT_EQ(fs_.truncates.on(std::this_thread::get_id()), here_before)
      << "no truncate on the appending thread";
  const size_t total_before = fs_.truncates.total();
  run_jobs_on_another_thread();
  EXPECT_EQ(fs_.truncates.total(), total_before + 1) << "the reserve given back by the job";
  const auto expected = all_base_offsets(*log);
  EXPECT_FALSE(expected.empty());
}

// A truncation that makes the rolled segment active again cancels the
// give-back still pending: a late truncate to the old size would extend the
// segment with zeros past the batches appended since (or cut them).
TEST_F(NextSegmentTest, ATruncationCancelsAPendingReserveGiveBack) {
  config_.preallocate = true;
  auto log = open_log();
  append_until_segments(*log, 2);
  const int64_t second_base = log->segment_base_offsets()[1];
  ASSERT_TRUE(
      log->truncate_to(Offset{second_base - 12}));  // the first segment's last three batches
  for (int i = 0; i < 2; ++i) append(*log);  // into the first segment again, short of its old size
  const auto expected = all_base_offsets(*log);
  const size_t total_before = fs_.truncates.total();
  run_jobs_on_another_thread();
  EXPECT_EQ(fs_.truncates.total(), total_before) << "cancelled";
  EXPECT_EQ(all_base_offsets(*log), expected);
}

}  // namespace
}  // namespace sluice::storage
