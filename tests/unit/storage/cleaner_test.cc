// Log compaction: the cleaner against a model of last-value-per-key, with
// tombstones and their delete horizon, the lag and ratio rules, concurrent
// appends, a crash at every file-system step of a clean, and codecs.

#include "storage/cleaner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "cleaner_test_util.h"
#include "log_test_util.h"
#include "record/batch_builder.h"
#include "record/record_reader.h"
#include "storage/memory_file_system.h"
#include "storage/offset_map.h"
#include "storage/segment_swap.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

using testing::as_bytes;
using testing::keyed_batch;
using testing::model_clean;
using testing::Put;
using testing::read_all;
using testing::Rec;

constexpr char dir_path[] = "/data";
constexpr char partition_dir[] = "/data/topic-0";

LogConfig compact_config() {
  LogConfig config;
  config.cleanup_policy_compact = true;
  config.cleanup_policy_delete = false;
  config.segment_bytes = 2048;
  config.index_interval_bytes = 256;
  return config;
}

class CleanerTest : public ::testing::Test {
 protected:
  void open_log(LogConfig config = compact_config(), bool clean_shutdown = true) {
    // The log dir itself is durable, as LogDirectory leaves it.
    ASSERT_TRUE(mem_->make_dirs(dir_path));
    ASSERT_TRUE(mem_->sync_dir("/"));
    LogOptions options;
    options.dir = partition_dir;
    options.config = config;
    options.clock = &clock_;
    options.clean_shutdown = clean_shutdown;
    options.logger = [this](std::string_view line) {
      std::lock_guard lock(lines_mutex_);
      log_lines_.emplace_back(line);
    };
    auto log = Log::open(*mem_, options);
    ASSERT_TRUE(log) << log.status().to_string();
    log_ = std::move(*log);
  }

  std::unique_ptr<LogCleaner> make_cleaner(FileSystem& fs, CleanerConfig config = small_cleaner_config()) {
    CleanerOptions options;
    options.config = config;
    options.clock = &clock_;
    options.logger = [this](std::string_view line) {
      std::lock_guard lock(lines_mutex_);
      log_lines_.emplace_back(line);
    };
    auto cleaner = std::make_unique<LogCleaner>(fs, options);
    CleanableLog cleanable;
    cleanable.log_dir = dir_path;
    cleanable.topic_partition = {"topic", 0};
    cleanable.with_lock = [this](const std::function<void(Log&)>& f) {
      std::lock_guard lock(partition_mutex_);
      f(*log_);
    };
    EXPECT_TRUE(cleaner->register_log(cleanable));
    return cleaner;
  }

  static CleanerConfig small_cleaner_config() {
    CleanerConfig config;
    config.dedupe_buffer_bytes = 1 << 20;
    config.io_buffer_bytes = 1024;  // smaller than a segment: exercises buffer refills
    config.backoff_ms = 1;
    return config;
  }

  void append(const std::vector<Put>& puts, record::Compression codec = record::Compression::none,
              int64_t producer_id = -1, int32_t base_sequence = 0) {
    auto batch = keyed_batch(puts, clock_.now_ms(), codec, producer_id, base_sequence);
    std::lock_guard lock(partition_mutex_);
    auto appended = log_->append_as_leader(batch, LeaderEpoch{0});
    ASSERT_TRUE(appended) << appended.status().to_string();
  }

  // Random puts over `keys` keys, about 1 in 10 a tombstone.
  void append_random(std::mt19937& random, int batches, int keys, record::Compression codec = record::Compression::none) {
    for (int b = 0; b < batches; ++b) {
      std::vector<Put> puts;
      int count = 1 + static_cast<int>(random() % 4);
      for (int i = 0; i < count; ++i) {
        std::string key = "k" + std::to_string(random() % keys);
        if (random() % 10 == 0)
          puts.push_back({key, std::nullopt});
        else
          puts.push_back({key, "value-" + std::to_string(random()) + std::string(random() % 40, 'x')});
      }
      append(puts, codec);
    }
  }

  int64_t active_base() { return log_->segment_base_offsets().back(); }

  std::unique_ptr<MemoryFileSystem> mem_ = std::make_unique<MemoryFileSystem>();
  ManualClock clock_;
  std::mutex partition_mutex_;
  std::mutex lines_mutex_;
  std::vector<std::string> log_lines_;
  std::unique_ptr<Log> log_;
};

TEST(OffsetMapTest, GrowsWithItsKeysUpToTheCapAndFreesOnClear) {
  KeyHasher hasher;
  OffsetMap map(24 * 100'000, 0.9);
  EXPECT_EQ(map.allocated_bytes(), 0u);  // an idle cleaner holds no table
  constexpr int keys = 50'000;  // several doublings from the first 4096 slots
  for (int i = 0; i < keys; ++i) ASSERT_TRUE(map.put(hasher.digest(as_bytes("k" + std::to_string(i))), i));
  for (int i = 0; i < keys; i += 7) ASSERT_TRUE(map.put(hasher.digest(as_bytes("k" + std::to_string(i))), keys + i));
  EXPECT_EQ(map.size(), static_cast<size_t>(keys));
  for (int i = 0; i < keys; ++i) {
    int64_t expected = i % 7 == 0 ? keys + i : i;
    ASSERT_EQ(map.get(hasher.digest(as_bytes("k" + std::to_string(i)))), expected) << i;
  }
  EXPECT_GT(map.allocated_bytes(), 0u);
  EXPECT_LE(map.allocated_bytes(), 24u * 100'000);
  map.clear();
  EXPECT_EQ(map.allocated_bytes(), 0u);
  EXPECT_EQ(map.get(hasher.digest(as_bytes("k1"))), std::nullopt);
}

TEST(OffsetMapTest, KeepsTheLatestOffsetAndRefusesNewKeysWhenFull) {
  KeyHasher hasher;
  OffsetMap map(24 * 10, 0.5);  // 10 slots, 5 keys
  EXPECT_EQ(map.max_entries(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(map.put(hasher.digest(as_bytes("k" + std::to_string(i))), i));
  EXPECT_TRUE(map.full());
  EXPECT_FALSE(map.put(hasher.digest(as_bytes("k5")), 5));
  EXPECT_TRUE(map.put(hasher.digest(as_bytes("k1")), 7));  // an existing key still updates
  EXPECT_EQ(map.get(hasher.digest(as_bytes("k1"))), 7);
  EXPECT_EQ(map.get(hasher.digest(as_bytes("k0"))), 0);
  EXPECT_EQ(map.get(hasher.digest(as_bytes("k5"))), std::nullopt);
  EXPECT_EQ(map.latest_offset(), 7);
  map.clear();
  EXPECT_EQ(map.size(), 0u);
  EXPECT_EQ(map.get(hasher.digest(as_bytes("k1"))), std::nullopt);
  // Distinct keys, including the empty key and keys differing in one bit, get distinct digests.
  EXPECT_FALSE(hasher.digest(as_bytes("")) == hasher.digest(as_bytes("a")));
  EXPECT_FALSE(hasher.digest(as_bytes("a")) == hasher.digest(as_bytes("c")));
}

TEST_F(CleanerTest, KeepsExactlyTheLastValuePerKeyWithOriginalOffsets) {
  open_log();
  std::mt19937 random(7);
  append_random(random, 300, 25);
  ASSERT_GT(log_->segment_count(), 4u);
  auto before = read_all(*log_);
  int64_t end = active_base();
  auto active_bytes_before = mem_->contents(log_->segment_snapshots().back().log_file->path());
  auto cleaner = make_cleaner(*mem_);
  auto stats = cleaner->clean_once();
  ASSERT_TRUE(stats) << stats.status().to_string();
  ASSERT_TRUE(*stats);
  EXPECT_EQ((*stats)->end_offset, end);
  EXPECT_FALSE((*stats)->aborted);
  EXPECT_GT((*stats)->records_removed, 0u);
  EXPECT_EQ(cleaner->checkpoint(dir_path, {"topic", 0}), end);
  auto expected = model_clean(before, end, false);
  EXPECT_EQ(read_all(*log_), expected);
  // The active segment is untouched, byte for byte.
  EXPECT_EQ(active_bytes_before, mem_->contents(log_->segment_snapshots().back().log_file->path()));
  EXPECT_EQ(log_->log_end_offset(), before.back().offset + 1);
  // The checkpoint file has Kafka's offset checkpoint format.
  auto text = testing::as_string(mem_->contents(std::string(dir_path) + "/cleaner-offset-checkpoint"));
  EXPECT_EQ(text, "0\n1\ntopic 0 " + std::to_string(end) + "\n");
  // And the cleaned log reopens (after a crash) with the same content.
  ASSERT_TRUE(log_->flush());
  log_.reset();
  mem_->simulate_crash();
  open_log(compact_config(), false);
  EXPECT_EQ(read_all(*log_), expected);
}

TEST_F(CleanerTest, SecondCleanUsesTheCheckpointAndSupersedesOlderCleanedRecords) {
  open_log();
  std::mt19937 random(11);
  append_random(random, 150, 10);
  auto cleaner = make_cleaner(*mem_);
  ASSERT_TRUE(cleaner->clean_once());
  append_random(random, 200, 10);
  auto before = read_all(*log_);
  int64_t end = active_base();
  auto stats = cleaner->clean_once();
  ASSERT_TRUE(stats && *stats) << stats.status().to_string();
  EXPECT_EQ(read_all(*log_), model_clean(before, end, false));
}

TEST_F(CleanerTest, TombstonesStayUntilDeleteRetentionAfterTheirFirstClean) {
  LogConfig config = compact_config();
  config.delete_retention_ms = 60000;
  open_log(config);
  append({{"a", "1"}, {"b", "1"}});
  append({{"a", std::nullopt}, {"c", "1"}});
  append({{std::string("b"), std::string(3000, 'y')}});  // rolls: the tombstone's segment is inactive
  append({{"d", "1"}});
  auto before = read_all(*log_);
  int64_t end = active_base();
  auto cleaner = make_cleaner(*mem_);
  ASSERT_TRUE(cleaner->clean_once());
  auto after_first = read_all(*log_);
  EXPECT_EQ(after_first, model_clean(before, end, false));
  std::vector<record::BatchHeader> headers;
  read_all(*log_, &headers);
  bool stamped = false;
  for (const auto& h : headers)
    if (h.has_delete_horizon()) {
      stamped = true;
      EXPECT_EQ(h.base_timestamp, clock_.now_ms() + 60000);
    }
  EXPECT_TRUE(stamped) << "the batch keeping the tombstone carries the delete horizon";

  clock_.advance_ms(59999);
  auto early = cleaner->clean_once();
  ASSERT_TRUE(early);
  EXPECT_FALSE(*early) << "nothing is due before the horizon";
  EXPECT_EQ(read_all(*log_), after_first);

  clock_.advance_ms(1);
  auto due = cleaner->clean_once();
  ASSERT_TRUE(due && *due) << due.status().to_string();
  EXPECT_EQ((*due)->tombstones_removed, 1u);
  EXPECT_EQ(read_all(*log_), model_clean(before, end, true));
}

TEST_F(CleanerTest, MinCompactionLagKeepsYoungSegmentsDirty) {
  LogConfig config = compact_config();
  config.min_compaction_lag_ms = 3600000;
  open_log(config);
  std::mt19937 random(3);
  append_random(random, 100, 5);
  auto before = read_all(*log_);
  auto cleaner = make_cleaner(*mem_);
  auto young = cleaner->clean_once();
  ASSERT_TRUE(young);
  EXPECT_FALSE(*young);
  EXPECT_EQ(read_all(*log_), before);
  clock_.advance_ms(3600001);
  auto old = cleaner->clean_once();
  ASSERT_TRUE(old && *old);
  EXPECT_EQ(read_all(*log_), model_clean(before, active_base(), false));
}

TEST_F(CleanerTest, MaxCompactionLagCleansBelowTheDirtyRatio) {
  LogConfig config = compact_config();
  config.min_cleanable_dirty_ratio = 0.99;
  config.max_compaction_lag_ms = 1000;
  open_log(config);
  std::mt19937 random(5);
  append_random(random, 100, 5);
  auto cleaner = make_cleaner(*mem_);
  ASSERT_TRUE(cleaner->clean_once());  // all dirty: ratio 1 > 0.99
  append_random(random, 20, 5);        // a little dirt: ratio well below 0.99
  auto below = cleaner->clean_once();
  ASSERT_TRUE(below);
  EXPECT_FALSE(*below);
  clock_.advance_ms(1001);
  auto overdue = cleaner->clean_once();
  ASSERT_TRUE(overdue);
  EXPECT_TRUE(*overdue) << "max.compaction.lag.ms passed";
}

TEST_F(CleanerTest, DirtyRatioThreshold) {
  open_log();  // min.cleanable.dirty.ratio 0.5
  std::mt19937 random(9);
  append_random(random, 300, 400);  // mostly distinct keys: little shrinks
  auto cleaner = make_cleaner(*mem_);
  auto first = cleaner->clean_once();
  ASSERT_TRUE(first && *first);
  EXPECT_DOUBLE_EQ((*first)->dirty_ratio, 1.0);
  // A few more segments of dirt: well below half of the log.
  append_random(random, 40, 400);
  auto below = cleaner->clean_once();
  ASSERT_TRUE(below);
  EXPECT_FALSE(*below);
  append_random(random, 400, 400);
  auto above = cleaner->clean_once();
  ASSERT_TRUE(above && *above);
  EXPECT_GT((*above)->dirty_ratio, 0.5);
}

TEST_F(CleanerTest, DeletePolicyLogsAreLeftAlone) {
  LogConfig config = compact_config();
  config.cleanup_policy_compact = false;
  config.cleanup_policy_delete = true;
  open_log(config);
  std::mt19937 random(1);
  append_random(random, 100, 3);
  auto cleaner = make_cleaner(*mem_);
  auto result = cleaner->clean_once();
  ASSERT_TRUE(result);
  EXPECT_FALSE(*result);
}

TEST_F(CleanerTest, CompressedBatchesKeepTheirCodecAndNullKeysStay) {
  open_log();
  const record::Compression codecs[] = {record::Compression::gzip, record::Compression::snappy,
                                        record::Compression::lz4, record::Compression::zstd};
  std::mt19937 random(13);
  for (int round = 0; round < 30; ++round)
    for (auto codec : codecs) {
      append({{"k" + std::to_string(random() % 6), "a" + std::to_string(round)},
              {"k" + std::to_string(random() % 6), "b" + std::to_string(round)},
              {std::nullopt, "keyless" + std::to_string(round)}},
             codec);
    }
  std::vector<record::BatchHeader> before_headers;
  auto before = read_all(*log_, &before_headers);
  std::map<int64_t, record::Compression> codec_at;
  for (const auto& h : before_headers) codec_at[h.base_offset] = h.compression();
  int64_t end = active_base();
  auto cleaner = make_cleaner(*mem_);
  ASSERT_TRUE(cleaner->clean_once());
  std::vector<record::BatchHeader> after_headers;
  EXPECT_EQ(read_all(*log_, &after_headers), model_clean(before, end, false));
  for (const auto& h : after_headers) {
    ASSERT_TRUE(codec_at.count(h.base_offset)) << "a batch keeps its base offset";
    EXPECT_EQ(h.compression(), codec_at[h.base_offset]);
  }
  EXPECT_LT(after_headers.size(), before_headers.size() + 1);
}

TEST_F(CleanerTest, IdempotentProducersKeepTheirLastBatchEvenWhenEmptied) {
  open_log();
  append({{"a", "1"}, {"b", "1"}}, record::Compression::none, 42);  // fully superseded, not the last of 42
  // Last of 42, fully superseded below; the next sequences (a replay of the
  // first would be a duplicate, not written).
  append({{"a", "2"}, {"b", "2"}}, record::Compression::none, 42, 2);
  append({{std::string("a"), std::string(3000, 'z')}, {"b", "3"}});  // rolls
  append({{"c", "1"}});
  auto cleaner = make_cleaner(*mem_);
  ASSERT_TRUE(cleaner->clean_once());
  std::vector<record::BatchHeader> headers;
  auto records = read_all(*log_, &headers);
  ASSERT_EQ(headers.size(), 3u);
  EXPECT_EQ(headers[0].producer_id, 42);
  EXPECT_EQ(headers[0].base_offset, 2);
  EXPECT_EQ(headers[0].record_count, 0);
  EXPECT_EQ(headers[0].last_offset_delta, 1) << "the last offset (and so the last sequence) survives";
  EXPECT_EQ(headers[0].last_sequence(), 3);
  EXPECT_EQ(records.front().offset, 4);
}

TEST_F(CleanerTest, ReadersOfReplacedSegmentsKeepValidRanges) {
  open_log();
  std::mt19937 random(17);
  append_random(random, 200, 5);
  auto range = log_->read(Offset{0}, 1 << 20, Offset{INT64_MAX});
  ASSERT_TRUE(range);
  std::vector<uint8_t> bytes_before(range->range.length);
  ASSERT_TRUE(range->range.file->pread(range->range.position, bytes_before));
  auto cleaner = make_cleaner(*mem_);
  ASSERT_TRUE(cleaner->clean_once());
  std::vector<uint8_t> bytes_after(range->range.length);
  auto read = range->range.file->pread(range->range.position, bytes_after);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, bytes_after.size());
  EXPECT_EQ(bytes_before, bytes_after);
  EXPECT_FALSE(testing::batches_in(range->range).empty());
}

TEST_F(CleanerTest, AppendsAndReadsRunWhileTheCleanerThreadCleans) {
  LogConfig config = compact_config();
  config.min_cleanable_dirty_ratio = 0.01;
  open_log(config);
  auto cleaner = make_cleaner(*mem_);
  cleaner->start();
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (!done) {
      std::lock_guard lock(partition_mutex_);
      auto read = log_->read(Offset{log_->log_start_offset()}, 4096, Offset{INT64_MAX});
      ASSERT_TRUE(read) << read.status().to_string();
      // The range is read after the lock would be released by a real reader.
      if (read->range.length) {
        EXPECT_FALSE(testing::batches_in(read->range).empty());
      }
    }
  });
  std::mt19937 random(23);
  std::map<std::string, std::optional<std::string>> last;
  std::vector<Rec> written;
  for (int i = 0; i < 1500; ++i) {
    std::string key = "k" + std::to_string(random() % 30);
    std::string value = "v" + std::to_string(i) + std::string(random() % 30, 'q');
    append({{key, value}});
    last[key] = value;
    if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let the cleaner in
  }
  done = true;
  reader.join();
  cleaner->stop();
  {
    std::lock_guard lock(lines_mutex_);
    size_t cleans = 0;
    for (const auto& line : log_lines_) cleans += line.starts_with("log cleaner: cleaned");
    EXPECT_GT(cleans, 0u) << "the cleaner thread cleaned while appends ran";
  }
  // Whatever the thread did, finishing the job gives the model.
  append({{std::string("roll"), std::string(3000, 'r')}});
  append({{"tail", "t"}});
  while (true) {
    auto more = cleaner->clean_once();
    ASSERT_TRUE(more) << more.status().to_string();
    if (!*more) break;
  }
  std::map<std::string, std::string> seen;
  int64_t previous = -1;
  for (const auto& r : read_all(*log_)) {
    EXPECT_GT(r.offset, previous);
    previous = r.offset;
    EXPECT_FALSE(seen.count(r.key)) << "one record per key below the active segment: " << r;
    seen[r.key] = *r.value;
  }
  for (const auto& [key, value] : last) EXPECT_EQ(seen[key], *value) << key;
}

// A FileSystem that stops writing after a given number of mutating calls:
// the moment of a crash. Then MemoryFileSystem::simulate_crash() drops what
// was not synced.
class CrashAfter final : public FileSystem {
 public:
  CrashAfter(MemoryFileSystem& fs, int64_t calls) : fs_(fs), calls_left_(calls) {}
  Result<FileHandle> open(const std::string& path, OpenMode mode) override {
    if (mode != OpenMode::read_only && mode != OpenMode::read_write) tick();
    return fs_.open(path, mode);
  }
  Status rename(const std::string& from, const std::string& to) override { return tick(), fs_.rename(from, to); }
  Status remove(const std::string& path) override { return tick(), fs_.remove(path); }
  Status remove_dir(const std::string& path) override { return tick(), fs_.remove_dir(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override { return fs_.list_dir(path); }
  Status make_dirs(const std::string& path) override { return tick(), fs_.make_dirs(path); }
  Status sync_dir(const std::string& path) override { return tick(), fs_.sync_dir(path); }
  Result<bool> exists(const std::string& path) override { return fs_.exists(path); }
  Result<uint64_t> file_size(const std::string& path) override { return fs_.file_size(path); }
  bool crashed() const { return calls_left_ < 0; }

 private:
  void tick() {
    if (--calls_left_ < 0) fs_.fail_writes(true);
  }
  MemoryFileSystem& fs_;
  int64_t calls_left_;
};

TEST_F(CleanerTest, CrashAtEveryStepOfACleanLeavesTheOldOrTheNewLog) {
  std::mt19937 random(29);
  open_log();
  append_random(random, 120, 8);
  ASSERT_TRUE(log_->flush());
  auto old_content = read_all(*log_);
  int64_t end = active_base();
  auto new_content = model_clean(old_content, end, false);
  ASSERT_NE(old_content, new_content);
  // Each group of segments is swapped in one step, oldest first: a crash
  // between two swaps leaves the cleaned groups below a segment boundary and
  // the old content above it.
  std::vector<std::vector<Rec>> partly_cleaned;
  for (int64_t boundary : log_->segment_base_offsets()) {
    std::vector<Rec> mixed;
    for (const auto& r : new_content)
      if (r.offset < boundary) mixed.push_back(r);
    for (const auto& r : old_content)
      if (r.offset >= boundary) mixed.push_back(r);
    partly_cleaned.push_back(mixed);
  }
  auto pristine = mem_->contents(std::string(partition_dir) + "/00000000000000000000.log");
  int outcomes_new = 0, outcomes_old = 0, outcomes_partly = 0;
  for (int64_t calls = 0;; ++calls) {
    SCOPED_TRACE("crash after " + std::to_string(calls) + " file-system calls");
    // Start each round from the uncleaned, durable log.
    log_.reset();
    mem_ = std::make_unique<MemoryFileSystem>();
    random.seed(29);
    open_log();
    append_random(random, 120, 8);
    ASSERT_TRUE(log_->flush());
    ASSERT_EQ(mem_->contents(std::string(partition_dir) + "/00000000000000000000.log"), pristine);

    CrashAfter crashing(*mem_, calls);
    auto cleaner = make_cleaner(crashing);
    auto result = cleaner->clean_once();
    bool crashed = crashing.crashed();
    cleaner.reset();
    log_.reset();
    mem_->simulate_crash();
    mem_->fail_writes(false);
    open_log(compact_config(), false);
    auto content = read_all(*log_);
    if (content == new_content)
      ++outcomes_new;
    else if (content == old_content)
      ++outcomes_old;
    else if (std::find(partly_cleaned.begin(), partly_cleaned.end(), content) != partly_cleaned.end())
      ++outcomes_partly;
    else
      ADD_FAILURE() << "neither the old nor the cleaned content";
    auto names = mem_->list_dir(partition_dir);
    ASSERT_TRUE(names);
    for (const auto& name : *names) {
      EXPECT_FALSE(name.ends_with(".cleaned")) << name;
      EXPECT_FALSE(name.ends_with(".swap")) << name;
    }
    // The log keeps working: a new clean converges on the cleaned content.
    auto again = make_cleaner(*mem_);
    while (true) {
      auto more = again->clean_once();
      ASSERT_TRUE(more) << more.status().to_string();
      if (!*more) break;
    }
    EXPECT_EQ(read_all(*log_), new_content);
    if (!crashed) {
      EXPECT_TRUE(result) << result.status().to_string();
      break;
    }
    ASSERT_LT(calls, 500) << "the clean never finished";
  }
  EXPECT_GT(outcomes_old, 0);
  EXPECT_GT(outcomes_partly, 0);
  EXPECT_GT(outcomes_new, 0);
}

TEST_F(CleanerTest, RecoveryCompletesASwapWhoseOldSegmentsAreStillThere) {
  // The state right after ".cleaned -> .swap" and its directory sync: the
  // old segments are all still in place.
  open_log();
  std::mt19937 random(31);
  append_random(random, 100, 4);
  auto before = read_all(*log_);
  int64_t end = active_base();
  ASSERT_TRUE(log_->flush());
  auto snapshots = log_->segment_snapshots();
  snapshots.pop_back();
  // Build a cleaned copy with the compactor, but keep it as .swap files.
  Compactor compactor(*mem_, 1 << 20, 0.9, 4096);
  CompactionPlan plan{partition_dir, compact_config(), snapshots, log_->truncation_generation(), 0, end};
  int swaps = 0;
  auto stats = compactor.compact(
      plan, clock_.now_ms(),
      [&](std::unique_ptr<Segment> cleaned, const std::vector<SegmentSnapshot>&) -> Result<bool> {
        ++swaps;
        if (Status s = cleaned->rename_suffix(swap_file_suffix); !s) return s;
        if (Status s = mem_->sync_dir(partition_dir); !s) return s;
        return false;  // as if the process died right here
      },
      [] { return false; });
  ASSERT_TRUE(stats) << stats.status().to_string();
  ASSERT_EQ(swaps, 1);
  log_.reset();
  mem_->simulate_crash();
  log_lines_.clear();
  open_log(compact_config(), false);
  auto after = read_all(*log_);
  // The first group was swapped in by recovery; later groups stay as they were.
  EXPECT_NE(after, before);
  EXPECT_EQ(after.back(), before.back());
  bool logged = false;
  for (const auto& line : log_lines_) logged |= line.find("interrupted compaction swap") != std::string::npos;
  EXPECT_TRUE(logged);
  std::map<std::string, int64_t> last;
  for (const auto& r : before) last[r.key] = r.offset;
  for (const auto& r : after)
    if (r.offset < end && last[r.key] != r.offset) {
      // Any superseded record left must be from a segment the swap did not cover.
      EXPECT_GE(r.offset, log_->segment_base_offsets()[1]);
    }
}

// Counts the directory fsyncs made while the partition lock is held (asked
// from another thread: a try_lock by the holder would be undefined).
class LockProbingFileSystem final : public FileSystem {
 public:
  LockProbingFileSystem(FileSystem& fs, std::mutex& partition_mutex)
      : fs_(fs), partition_mutex_(partition_mutex) {}
  Result<FileHandle> open(const std::string& path, OpenMode mode) override {
    return fs_.open(path, mode);
  }
  Status rename(const std::string& from, const std::string& to) override {
    return fs_.rename(from, to);
  }
  Status remove(const std::string& path) override { return fs_.remove(path); }
  Status remove_dir(const std::string& path) override { return fs_.remove_dir(path); }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    return fs_.list_dir(path);
  }
  Status make_dirs(const std::string& path) override { return fs_.make_dirs(path); }
  Status sync_dir(const std::string& path) override {
    ++dir_syncs;
    bool free = std::async(std::launch::async, [&] {
                  if (!partition_mutex_.try_lock()) return false;
                  partition_mutex_.unlock();
                  return true;
                }).get();
    dir_syncs_under_lock += !free;
    return fs_.sync_dir(path);
  }
  Result<bool> exists(const std::string& path) override { return fs_.exists(path); }
  Result<uint64_t> file_size(const std::string& path) override { return fs_.file_size(path); }

  int dir_syncs = 0;
  int dir_syncs_under_lock = 0;

 private:
  FileSystem& fs_;
  std::mutex& partition_mutex_;
};

// The finding (issue 13, point 2): a swap held the partition lock, which
// reactors wait on, across its two directory fsyncs.
TEST_F(CleanerTest, SwapSyncsTheDirectoryWithoutThePartitionLock) {
  std::mt19937 random(37);
  open_log();
  append_random(random, 120, 8);
  const auto expected = model_clean(read_all(*log_), active_base(), false);
  LockProbingFileSystem probing(*mem_, partition_mutex_);
  auto cleaner = make_cleaner(probing);
  auto stats = cleaner->clean_once();
  ASSERT_TRUE(stats) << stats.status().to_string();
  ASSERT_TRUE(*stats);
  EXPECT_GE(probing.dir_syncs, 2);  // two per swapped group
  EXPECT_EQ(probing.dir_syncs_under_lock, 0);
  EXPECT_EQ(read_all(*log_), expected);
  auto names = mem_->list_dir(partition_dir);
  ASSERT_TRUE(names);
  for (const auto& name : *names) EXPECT_FALSE(name.ends_with(".swap")) << name;
}

// Between a swap's first step and its retiring of the replaced segments the
// lock is released; a truncation then undoes the swap (the replaced segments
// come back, their files never moved), and the later steps do nothing. The
// log reads as the truncation left it, now and after a crash or a restart.
TEST_F(CleanerTest, TruncationBetweenTheStepsOfASwapUndoesIt) {
  std::mt19937 random(41);
  open_log();
  append_random(random, 120, 8);
  ASSERT_TRUE(log_->flush());
  const auto before = read_all(*log_);
  auto snapshots = log_->segment_snapshots();
  snapshots.pop_back();
  ASSERT_GE(snapshots.size(), 2u);
  const int64_t truncate_at =
      snapshots[1].base_offset;  // a batch boundary: truncation drops whole batches
  std::vector<Rec> truncated;
  for (const auto& r : before)
    if (r.offset < truncate_at) truncated.push_back(r);
  Compactor compactor(*mem_, 1 << 20, 0.9, 4096);
  CompactionPlan plan{partition_dir,
                      compact_config(),
                      snapshots,
                      log_->truncation_generation(),
                      0,
                      snapshots.back().next_offset};
  int swaps = 0;
  auto stats = compactor.compact(
      plan, clock_.now_ms(),
      [&](std::unique_ptr<Segment> cleaned,
          const std::vector<SegmentSnapshot>& replaced) -> Result<bool> {
        ++swaps;
        auto begun =
            log_->begin_segment_swap(std::move(cleaned), replaced, plan.truncation_generation);
        if (!begun || !*begun) return begun;
        if (Status s = mem_->sync_dir(partition_dir); !s) return s;
        if (Status s = log_->truncate_to(Offset{truncate_at}); !s)
          return s;  // the follower's truncation
        if (Status s = log_->retire_replaced_segments(); !s) return s;
        if (Status s = mem_->sync_dir(partition_dir); !s) return s;
        if (Status s = log_->finish_segment_swap(); !s) return s;
        return true;
      },
      [&] { return swaps > 0; });  // the cleaner sees the truncation and stops
  ASSERT_TRUE(stats) << stats.status().to_string();
  ASSERT_EQ(swaps, 1);
  EXPECT_EQ(read_all(*log_), truncated);
  EXPECT_LE(log_->log_end_offset(), truncate_at);
  ASSERT_TRUE(log_->flush());
  log_.reset();
  mem_->simulate_crash();
  open_log(compact_config(), false);
  EXPECT_EQ(read_all(*log_), truncated);
  auto names = mem_->list_dir(partition_dir);
  ASSERT_TRUE(names);
  for (const auto& name : *names) EXPECT_FALSE(name.ends_with(".swap")) << name;
}

}  // namespace
}  // namespace sluice::storage
