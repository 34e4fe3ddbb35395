// Crash and corruption recovery, with the in-memory file system (crashes
// that drop unsynced writes) and with real files (truncation, flipped bytes,
// deleted indexes).

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "log_test_util.h"
#include "storage/log_directory.h"
#include "storage/memory_file_system.h"
#include "storage/posix_file_system.h"
#include "test_util.h"

namespace sluice::storage {
namespace {

using testing::all_base_offsets;
using testing::make_batch;

const TopicPartition tp{"events", 0};

struct Harness {
  FileSystem& fs;
  std::string root;
  LogConfig config;
  std::vector<std::string> lines;

  Result<std::unique_ptr<LogDirectory>> open() {
    LogDirectoryOptions options;
    options.path = root;
    options.config_for = [this](const TopicPartition&) { return config; };
    options.logger = [this](std::string_view line) { lines.emplace_back(line); };
    return LogDirectory::open(fs, options);
  }
  std::unique_ptr<LogDirectory> open_ok() {
    auto dir = open();
    EXPECT_TRUE(dir) << dir.status().to_string();
    return dir ? std::move(*dir) : nullptr;
  }
  bool logged(const std::string& needle) const {
    for (const auto& line : lines)
      if (line.find(needle) != std::string::npos) return true;
    return false;
  }
};

int64_t append(Log& log, int count, size_t value_bytes = 50, int32_t epoch = 1) {
  auto batch = make_batch(count, 1000, value_bytes);
  auto result = log.append_as_leader(batch, LeaderEpoch{epoch});
  EXPECT_TRUE(result) << result.status().to_string();
  return result ? result->last_offset : -1;
}

// Offsets are contiguous from the start and every batch is whole and valid.
void expect_consistent(Log& log) {
  auto bases = all_base_offsets(log);
  if (bases.empty()) {
    EXPECT_EQ(log.log_start_offset(), log.log_end_offset());
    return;
  }
  EXPECT_EQ(bases.front(), log.log_start_offset());
  auto read = log.read(Offset{bases.back()}, 1 << 20, Offset{INT64_MAX});
  ASSERT_TRUE(read);
  EXPECT_EQ(read->next_offset, log.log_end_offset());
}

class MemoryCrashTest : public ::testing::TestWithParam<uint64_t> {};

// Random appends, flushes, rolls, truncations and crashes: after each crash
// everything flushed is still there, the log is consistent, and it keeps
// working.
TEST_P(MemoryCrashTest, FlushedDataSurvivesAndTheLogStaysConsistent) {
  uint64_t seed = GetParam();
  std::mt19937_64 random(seed);
  MemoryFileSystem fs(seed);
  ASSERT_TRUE(fs.make_dirs("/logs"));
  ASSERT_TRUE(fs.sync_dir("/"));
  Harness h{fs, "/logs", {}, {}};
  h.config.segment_bytes = 2000;
  h.config.index_interval_bytes = 300;
  auto dir = h.open_ok();
  Log* log = *dir->create_log(tp, Uuid{});
  int64_t durable_end = 0;
  for (int step = 0; step < 300; ++step) {
    switch (random() % 10) {
      case 0:
        ASSERT_TRUE(log->flush());
        durable_end = log->log_end_offset();
        break;
      case 1:
        if (log->log_end_offset() > 0) {
          int64_t target = static_cast<int64_t>(random() % static_cast<uint64_t>(log->log_end_offset()));
          ASSERT_TRUE(log->truncate_to(Offset{target}));
          durable_end = std::min(durable_end, log->log_end_offset());
        }
        break;
      case 2: {
        bool clean = random() % 4 == 0;
        if (clean) {
          ASSERT_TRUE(dir->close());
          durable_end = log->log_end_offset();
        } else if (random() % 2 == 0) {
          ASSERT_TRUE(dir->write_checkpoints());
        }
        dir.reset();
        fs.simulate_crash(random() % 2 ? CrashMode::keep_random_prefix : CrashMode::drop_unsynced);
        dir = h.open_ok();
        ASSERT_TRUE(dir);
        EXPECT_EQ(dir->had_clean_shutdown(), clean);
        log = dir->find(tp);
        ASSERT_NE(log, nullptr);
        EXPECT_GE(log->log_end_offset(), durable_end) << "seed " << seed << " step " << step;
        expect_consistent(*log);
        break;
      }
      default:
        append(*log, 1 + static_cast<int>(random() % 5), random() % 200);
    }
  }
  expect_consistent(*log);
}

INSTANTIATE_TEST_SUITE_P(Seeds, MemoryCrashTest, ::testing::Range<uint64_t>(1, 41));

// Appends assign epochs in memory only; the flush writes the checkpoint
// before the recovery point passes their batches (leader_epoch_cache.h).
// With the recovery point checkpointed after the flush, reopening scans
// nothing, so the epochs must come from the file.
TEST(EpochCheckpointCrashTest, EpochsOfFlushedBatchesSurviveACrashWithoutARescan) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/logs"));
  ASSERT_TRUE(fs.sync_dir("/"));
  Harness h{fs, "/logs", {}, {}};
  auto dir = h.open_ok();
  Log* log = *dir->create_log(tp, Uuid{});
  append(*log, 3, 50, 1);
  append(*log, 3, 50, 2);
  EXPECT_FALSE(*fs.exists("/logs/events-0/leader-epoch-checkpoint"));  // the append wrote no file
  ASSERT_TRUE(log->flush());
  ASSERT_TRUE(dir->write_checkpoints());
  append(*log, 3, 50, 3);  // not flushed: lost with its epoch
  fs.simulate_crash();
  dir.reset();
  auto reopened = h.open_ok();
  Log* after = reopened->find(tp);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->log_end_offset(), 6);
  EXPECT_EQ(after->recovery_point(), 6);
  EXPECT_EQ(after->epoch_entries(), (std::vector<EpochEntry>{{1, 0}, {2, 3}}));
}

// A crash before any flush loses the epoch with the batches; a crash after
// a flush whose epoch write failed keeps the recovery point, so the batches
// are re-scanned and their epochs re-assigned from the batch headers.
TEST(EpochCheckpointCrashTest, UnflushedEpochsAreRebuiltFromTheBatchesTheScanKeeps) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/logs"));
  ASSERT_TRUE(fs.sync_dir("/"));
  Harness h{fs, "/logs", {}, {}};
  auto dir = h.open_ok();
  Log* log = *dir->create_log(tp, Uuid{});
  append(*log, 3, 50, 1);
  ASSERT_TRUE(log->flush());
  ASSERT_TRUE(dir->write_checkpoints());
  append(*log, 3, 50, 4);
  // The batches reach the disk, the epoch checkpoint does not.
  auto files = log->prepare_flush();
  ASSERT_TRUE(files.epoch_checkpoint);
  files.epoch_checkpoint.reset();
  ASSERT_TRUE(Log::execute_flush(fs, files));
  fs.simulate_crash();
  dir.reset();
  auto reopened = h.open_ok();
  Log* after = reopened->find(tp);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->log_end_offset(), 6);
  EXPECT_EQ(after->epoch_entries(), (std::vector<EpochEntry>{{1, 0}, {4, 3}}));
}

TEST(MemoryCrash, UnsyncedTailIsLostButNotTheSyncedPrefix) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/logs"));
  ASSERT_TRUE(fs.sync_dir("/"));
  Harness h{fs, "/logs", {}, {}};
  auto dir = h.open_ok();
  Log* log = *dir->create_log(tp, Uuid{});
  append(*log, 3, 50, 1);
  append(*log, 3, 50, 2);
  ASSERT_TRUE(log->flush());
  append(*log, 3, 50, 3);
  append(*log, 3, 50, 3);
  EXPECT_EQ(log->epoch_entries().back().epoch, 3);
  dir.reset();
  fs.simulate_crash();
  dir = h.open_ok();
  log = dir->find(tp);
  EXPECT_EQ(log->log_end_offset(), 6);
  EXPECT_EQ(all_base_offsets(*log), (std::vector<int64_t>{0, 3}));
  // The epoch cache follows the log, though its checkpoint had epoch 3.
  EXPECT_EQ(log->epoch_entries(), (std::vector<EpochEntry>{{1, 0}, {2, 3}}));
  EXPECT_EQ(append(*log, 1), 6);
}

TEST(MemoryCrash, NewLogNeverFlushedComesBackEmpty) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/logs"));
  ASSERT_TRUE(fs.sync_dir("/"));
  Harness h{fs, "/logs", {}, {}};
  auto dir = h.open_ok();
  Log* log = *dir->create_log(tp, Uuid{});
  append(*log, 5);
  dir.reset();
  fs.simulate_crash();
  dir = h.open_ok();
  log = dir->find(tp);
  if (log != nullptr) {
    EXPECT_EQ(log->log_end_offset(), 0);
  }
  EXPECT_TRUE(*dir->create_log(tp, Uuid{}));
}

// The model test's shrunk counterexample (soak, seed 2962923303): rolls
// whose directory entries a checkpoint's directory sync made durable survive a
// crash empty, while the batches they held did not. The log then has offsets
// [start, first batch) that no batch holds; reads skip them, and truncating
// into them ends at the base offset of the empty segment holding the target
// (the model had assumed the log start). Then the log keeps working.
TEST(MemoryCrash, TruncatingIntoEmptySegmentsACrashLeftEndsAtTheirBase) {
  MemoryFileSystem fs;
  ASSERT_TRUE(fs.make_dirs("/logs"));
  ASSERT_TRUE(fs.sync_dir("/"));
  Harness h{fs, "/logs", {}, {}};
  h.config.segment_bytes = 600;
  auto dir = h.open_ok();
  Log* log = *dir->create_log(tp, Uuid{});
  // Each append is one ~400-byte batch: a roll before every one after the
  // first. A sync of the directory alone (as any checkpoint write in it
  // does) before the last append makes the entries of segments 5 and 10
  // durable, not 15's, and none of the batches.
  for (int32_t epoch = 1; epoch <= 3; ++epoch) append(*log, 5, 50, epoch);
  ASSERT_TRUE(fs.sync_dir("/logs/events-0"));
  append(*log, 5, 50, 4);
  ASSERT_EQ(log->segment_base_offsets(), (std::vector<int64_t>{0, 5, 10, 15}));
  dir.reset();
  fs.simulate_crash(CrashMode::drop_unsynced);

  dir = h.open_ok();
  log = dir->find(tp);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->log_start_offset(), 0);
  EXPECT_EQ(log->segment_base_offsets(), (std::vector<int64_t>{0, 5, 10}));
  EXPECT_EQ(log->log_end_offset(), 10);  // the empty active segment's base
  EXPECT_TRUE(all_base_offsets(*log).empty());
  EXPECT_EQ(append(*log, 3, 50, 5), 12);
  EXPECT_EQ(all_base_offsets(*log), (std::vector<int64_t>{10}));

  // Offset 7 lies in the empty segment [5, 10): the end becomes 5, not the
  // log start 0 and not 7; later segments are gone.
  ASSERT_TRUE(log->truncate_to(Offset{7}));
  EXPECT_EQ(log->log_end_offset(), 5);
  EXPECT_EQ(log->log_start_offset(), 0);
  EXPECT_EQ(log->segment_base_offsets(), (std::vector<int64_t>{0, 5}));
  EXPECT_TRUE(all_base_offsets(*log).empty());
  EXPECT_TRUE(log->epoch_entries().empty() || log->epoch_entries().back().start_offset < 5);

  // It keeps working: appends continue at 5, survive a flush, a crash and a
  // clean restart, and reads from the start skip the empty segment.
  EXPECT_EQ(append(*log, 2, 50, 6), 6);
  ASSERT_TRUE(log->flush());
  dir.reset();
  fs.simulate_crash(CrashMode::drop_unsynced);
  dir = h.open_ok();
  log = dir->find(tp);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->log_end_offset(), 7);
  EXPECT_EQ(all_base_offsets(*log), (std::vector<int64_t>{5}));
  ASSERT_TRUE(dir->close());
  dir.reset();
  dir = h.open_ok();
  log = dir->find(tp);
  EXPECT_TRUE(dir->had_clean_shutdown());
  EXPECT_EQ(log->log_end_offset(), 7);
  EXPECT_EQ(all_base_offsets(*log), (std::vector<int64_t>{5}));
}

// Real files in a temp dir.
class FileRecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_.root = temp_.path() + "/logs";
    h_.config.index_interval_bytes = 200;
  }
  // Writes `batches` batches of 4 records, then stops without a clean close.
  void write_log(int batches, bool clean) {
    auto dir = h_.open_ok();
    Log* log = *dir->create_log(tp, Uuid{});
    for (int i = 0; i < batches; ++i) append(*log, 4, 60);
    ASSERT_TRUE(log->flush());
    if (clean) {
      ASSERT_TRUE(dir->close());
    }
  }
  std::string segment_path(const char* suffix) {
    return h_.root + "/events-0/" + segment_file_stem(0) + suffix;
  }
  uint64_t batch_bytes() { return make_batch(4, 1000, 60).size(); }

  testing::TempDir temp_;
  PosixFileSystem fs_;
  Harness h_{fs_, "", {}, {}};
};

TEST_F(FileRecoveryTest, TornTailAtEveryByteOfTheLastBatch) {
  write_log(5, false);
  uint64_t size = std::filesystem::file_size(segment_path(".log"));
  uint64_t last_start = size - batch_bytes();
  for (uint64_t cut = last_start; cut < size; ++cut) {
    std::filesystem::resize_file(segment_path(".log"), cut);
    h_.lines.clear();
    auto dir = h_.open_ok();
    Log* log = dir->find(tp);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->log_end_offset(), 16) << "cut at " << cut;
    EXPECT_EQ(std::filesystem::file_size(segment_path(".log")), last_start);
    if (cut > last_start) {
      EXPECT_TRUE(h_.logged("truncated " + std::to_string(cut - last_start) + " bytes from offset 16"))
          << (h_.lines.empty() ? "no log line" : h_.lines.front());
    }
    expect_consistent(*log);
    // Put the tail back for the next cut: append the same batch again.
    EXPECT_EQ(append(*log, 4, 60), 19);
    ASSERT_TRUE(log->flush());
  }
}

TEST_F(FileRecoveryTest, FlippedByteCutsFromTheCorruptBatch) {
  write_log(6, false);
  {
    std::fstream file(segment_path(".log"), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(batch_bytes() * 3 + 70));  // inside batch 3's records
    char byte = 0;
    file.read(&byte, 1);
    file.seekp(static_cast<std::streamoff>(batch_bytes() * 3 + 70));
    byte = static_cast<char>(byte ^ 0x5a);
    file.write(&byte, 1);
  }
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  EXPECT_EQ(log->log_end_offset(), 12);
  EXPECT_TRUE(h_.logged("truncated " + std::to_string(batch_bytes() * 3) + " bytes from offset 12"));
  EXPECT_TRUE(h_.logged("corrupt_crc"));
  expect_consistent(*log);
}

TEST_F(FileRecoveryTest, GarbageAfterTheLastBatchIsCut) {
  write_log(3, false);
  {
    std::ofstream file(segment_path(".log"), std::ios::app | std::ios::binary);
    file << std::string(100, '\x07');
  }
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  EXPECT_EQ(log->log_end_offset(), 12);
  EXPECT_TRUE(h_.logged("truncated 100 bytes from offset 12"));
}

TEST_F(FileRecoveryTest, CleanShutdownSkipsTheScanAndMissingIndexIsRebuilt) {
  write_log(20, true);
  EXPECT_TRUE(std::filesystem::exists(h_.root + "/.kafka_cleanshutdown"));
  EXPECT_TRUE(std::filesystem::exists(h_.root + "/recovery-point-offset-checkpoint"));
  auto index_size = std::filesystem::file_size(segment_path(".index"));
  ASSERT_GT(index_size, 0u);
  std::filesystem::remove(segment_path(".index"));
  {
    auto dir = h_.open_ok();
    EXPECT_TRUE(dir->had_clean_shutdown());
    // The marker is gone as soon as the dir is open: a crash now is unclean.
    EXPECT_FALSE(std::filesystem::exists(h_.root + "/.kafka_cleanshutdown"));
    Log* log = dir->find(tp);
    EXPECT_EQ(log->log_end_offset(), 80);
    EXPECT_TRUE(h_.logged("rebuilt the indexes"));
    EXPECT_EQ(std::filesystem::file_size(segment_path(".index")), index_size);
    auto read = log->read(Offset{57}, 1, Offset{INT64_MAX});
    EXPECT_EQ(testing::batches_in(read->range).front().base_offset, 56);
    ASSERT_TRUE(dir->close());
  }
  auto text = std::ifstream(h_.root + "/recovery-point-offset-checkpoint");
  std::string content((std::istreambuf_iterator<char>(text)), {});
  EXPECT_EQ(content, "0\n1\nevents 0 80\n");
}

TEST_F(FileRecoveryTest, CorruptIndexIsRebuilt) {
  write_log(20, true);
  std::filesystem::resize_file(segment_path(".index"), std::filesystem::file_size(segment_path(".index")) - 3);
  std::filesystem::resize_file(segment_path(".timeindex"), 5);
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  EXPECT_EQ(log->log_end_offset(), 80);
  EXPECT_TRUE(h_.logged("rebuilt the indexes"));
  EXPECT_EQ(std::filesystem::file_size(segment_path(".index")) % 8, 0u);
  EXPECT_EQ(std::filesystem::file_size(segment_path(".timeindex")) % 12, 0u);
  expect_consistent(*log);
}

TEST_F(FileRecoveryTest, LaterSegmentsAfterACorruptOneAreDeleted) {
  h_.config.segment_bytes = 1000;
  write_log(20, false);
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  auto bases = log->segment_base_offsets();
  ASSERT_GE(bases.size(), 3u);
  dir.reset();
  std::string second = h_.root + "/events-0/" + segment_file_stem(bases[1]) + ".log";
  std::filesystem::resize_file(second, 30);
  dir = h_.open_ok();
  log = dir->find(tp);
  EXPECT_EQ(log->log_end_offset(), bases[1]);
  EXPECT_EQ(log->segment_count(), 2u);
  EXPECT_TRUE(h_.logged("after the corrupt one"));
  expect_consistent(*log);
}

// Checkpoints written long before the stop: the recovery point and log
// start in the files are older than the log. Recovery re-validates from the
// stale recovery point (so a corrupt batch flushed after it is still found),
// the log start falls back to the checkpointed one (DeleteRecords after the
// checkpoint is not durable, as in Kafka), and the log keeps working.
TEST_F(FileRecoveryTest, StaleCheckpointsRecoverExactlyTheValidPrefix) {
  h_.config.segment_bytes = 1000;  // 3 batches of 4 records per segment
  const uint64_t batch = batch_bytes();
  std::vector<int64_t> bases;
  {
    auto dir = h_.open_ok();
    Log* log = *dir->create_log(tp, Uuid{});
    for (int i = 0; i < 6; ++i) append(*log, 4, 60);
    ASSERT_TRUE(log->flush());
    ASSERT_TRUE(log->set_log_start_offset(Offset{4}));
    ASSERT_TRUE(dir->write_checkpoints());  // recovery point 24, log start 4
    for (int i = 0; i < 14; ++i) append(*log, 4, 60);
    ASSERT_TRUE(log->flush());
    ASSERT_TRUE(log->set_log_start_offset(Offset{10}));  // never checkpointed; keeps segment 0
    EXPECT_EQ(log->recovery_point(), 80);
    bases = log->segment_base_offsets();
  }  // no close: unclean, the checkpoint files still say 24 and 4
  ASSERT_EQ(bases, (std::vector<int64_t>{0, 12, 24, 36, 48, 60, 72}));
  // Corrupt the batch at offset 52 (second batch of segment 48), above the
  // stale recovery point but below the one the log had reached.
  {
    const std::string path = h_.root + "/events-0/" + segment_file_stem(48) + ".log";
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(batch + 70));
    file.put('\x42');
  }
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  ASSERT_NE(log, nullptr);
  EXPECT_FALSE(dir->had_clean_shutdown());
  EXPECT_EQ(log->log_end_offset(), 52);
  EXPECT_EQ(log->log_start_offset(), 4);
  EXPECT_EQ(log->segment_base_offsets(), (std::vector<int64_t>{0, 12, 24, 36, 48}));
  EXPECT_TRUE(h_.logged("truncated " + std::to_string(2 * batch) + " bytes from offset 52"));  // batches 52 and 56
  EXPECT_EQ(all_base_offsets(*log), (std::vector<int64_t>{4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48}));
  EXPECT_LE(log->recovery_point(), 52);
  // It keeps working: appends continue at 52, lookups by offset find them,
  // and a clean restart keeps exactly this.
  EXPECT_EQ(append(*log, 4, 60), 55);
  auto read = log->read(Offset{53}, 1, Offset{INT64_MAX});
  ASSERT_TRUE(read);
  EXPECT_EQ(testing::batches_in(read->range).front().base_offset, 52);
  ASSERT_TRUE(dir->close());
  dir.reset();
  dir = h_.open_ok();
  log = dir->find(tp);
  EXPECT_TRUE(dir->had_clean_shutdown());
  EXPECT_EQ(log->log_end_offset(), 56);
  EXPECT_EQ(log->log_start_offset(), 4);
  expect_consistent(*log);
}

// The other way round: a recovery-point checkpoint above the log, after a
// truncation that was never checkpointed. Recovery must not trust it: the
// garbage written after the truncated end is found and cut.
TEST_F(FileRecoveryTest, RecoveryPointAboveTheTruncatedLogIsNotTrusted) {
  {
    auto dir = h_.open_ok();
    Log* log = *dir->create_log(tp, Uuid{});
    for (int i = 0; i < 20; ++i) append(*log, 4, 60);
    ASSERT_TRUE(log->flush());
    ASSERT_TRUE(dir->write_checkpoints());  // recovery point 80
    ASSERT_TRUE(log->truncate_to(Offset{40}));
    ASSERT_TRUE(log->flush());
  }
  {
    std::ofstream file(segment_path(".log"), std::ios::app | std::ios::binary);
    file << std::string(100, '\x07');
  }
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->log_end_offset(), 40);
  EXPECT_TRUE(h_.logged("truncated 100 bytes from offset 40"));
  expect_consistent(*log);
  EXPECT_EQ(append(*log, 4, 60), 43);
}

// Index files deleted or overwritten with well-formed but wrong entries
// (increasing offsets, in-range positions that are not batch starts), after
// an unclean stop: every read still returns whole, valid batches holding the
// offset asked for, and time lookups still find the right offset.
TEST_F(FileRecoveryTest, DeletedTimeIndexAndMisleadingOffsetIndexAfterUncleanStop) {
  write_log(20, false);
  std::filesystem::remove(segment_path(".timeindex"));
  {
    std::ofstream index(segment_path(".index"), std::ios::binary | std::ios::trunc);
    for (int32_t i = 1; i <= 8; ++i) {
      const int32_t relative = i * 9, position = i * 333;  // inside batches
      for (int32_t value : {relative, position})
        for (int shift = 24; shift >= 0; shift -= 8) index.put(static_cast<char>((value >> shift) & 0xff));
    }
  }
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->log_end_offset(), 80);
  for (int64_t offset = 0; offset < 80; ++offset) {
    auto read = log->read(Offset{offset}, 1, Offset{INT64_MAX});
    ASSERT_TRUE(read) << read.status().to_string();
    auto headers = testing::batches_in(read->range);
    ASSERT_EQ(headers.size(), 1u) << "offset " << offset;
    EXPECT_EQ(headers.front().base_offset, offset / 4 * 4);
  }
  auto found = log->find_offset_for_timestamp(1002);
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->offset, 2);
  EXPECT_TRUE(std::filesystem::exists(segment_path(".timeindex")));
  expect_consistent(*log);
}

// preallocate=true: the active segment's .log has segment.bytes of disk
// blocks reserved but its size stays its content (recovery and readers see
// no padding); a roll gives the reserve back; an unclean stop recovers as
// without it.
TEST_F(FileRecoveryTest, PreallocatedSegmentsKeepTheirContentSize) {
  h_.config.preallocate = true;
  h_.config.segment_bytes = 1 << 20;
  auto allocated = [](const std::string& path) {
    struct stat info {};
    EXPECT_EQ(::stat(path.c_str(), &info), 0) << path;
    return static_cast<uint64_t>(info.st_blocks) * 512;
  };
  const std::string first = segment_path(".log");
  {
    std::filesystem::create_directories(h_.root);
    const std::string probe = h_.root + "/probe";
    int fd = ::open(probe.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    const bool supported = fd >= 0 && ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
    if (fd >= 0) ::close(fd);
    std::filesystem::remove(probe);
    if (!supported) GTEST_SKIP() << "no fallocate on " << h_.root;
  }
  {
    auto dir = h_.open_ok();
    Log* log = *dir->create_log(tp, Uuid{});
    append(*log, 4, 60);
    EXPECT_EQ(std::filesystem::file_size(first), batch_bytes());
    EXPECT_GE(allocated(first), 1u << 20);
    for (int i = 0; i < 5; ++i) append(*log, 4, 60000);  // ~240 KB batches: one roll
    auto bases = log->segment_base_offsets();
    ASSERT_EQ(bases.size(), 2u);
    const std::string second = h_.root + "/events-0/" + segment_file_stem(bases[1]) + ".log";
    EXPECT_LT(allocated(first), std::filesystem::file_size(first) + (64u << 10));  // reserve given back
    EXPECT_GE(allocated(second), 1u << 20);
    EXPECT_LT(std::filesystem::file_size(second), 1u << 20);
    ASSERT_TRUE(log->flush());
  }  // unclean stop
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->log_end_offset(), 24);
  EXPECT_FALSE(h_.logged("truncated"));
  expect_consistent(*log);
  EXPECT_EQ(append(*log, 4, 60), 27);
}

// A log with an empty active segment (a new partition, or just after a
// roll) closed cleanly: no time index entry for a segment with no batch (as
// Kafka: no timestamp is not an entry), so the next start trusts its files
// instead of finding the index "corrupt" and rebuilding it.
TEST_F(FileRecoveryTest, EmptySegmentsReopenWithoutRebuildingIndexes) {
  {
    auto dir = h_.open_ok();
    ASSERT_TRUE(*dir->create_log(tp, Uuid{}));
    ASSERT_TRUE(dir->close());
  }
  EXPECT_EQ(std::filesystem::file_size(segment_path(".timeindex")), 0u);
  {
    auto dir = h_.open_ok();
    EXPECT_TRUE(dir->had_clean_shutdown());
    EXPECT_FALSE(h_.logged("rebuilt")) << h_.lines.front();
    Log* log = dir->find(tp);
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->log_end_offset(), 0);
    EXPECT_EQ(append(*log, 4, 60), 3);
    ASSERT_TRUE(dir->close());
  }
  h_.lines.clear();
  auto dir = h_.open_ok();
  EXPECT_FALSE(h_.logged("rebuilt"));
  EXPECT_EQ(dir->find(tp)->log_end_offset(), 4);
}

// Inactive, durable segments keep one descriptor (the .log): their index
// files are closed and reopened on demand, by a truncation into them, by
// retention renaming them away, and after restarts.
TEST_F(FileRecoveryTest, DurableSegmentsHoldOneDescriptorAndReopenIndexesOnDemand) {
  auto open_descriptors = [] {
    size_t count = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
    return count;
  };
  h_.config.segment_bytes = 1000;  // 3 batches of 4 records per segment
  h_.config.file_delete_delay_ms = 0;
  {
    auto dir = h_.open_ok();
    Log* log = *dir->create_log(tp, Uuid{});
    for (int i = 0; i < 30; ++i) append(*log, 4, 60);
    ASSERT_EQ(log->segment_count(), 10u);
    ASSERT_TRUE(dir->close());
  }
  const size_t before = open_descriptors();
  auto dir = h_.open_ok();
  Log* log = dir->find(tp);
  ASSERT_NE(log, nullptr);
  // 10 .log files + the active segment's 2 indexes (+ nothing else per segment).
  EXPECT_LE(open_descriptors() - before, 10u + 2u + 2u);
  // A truncation into a released segment reopens its indexes to cut them.
  ASSERT_TRUE(log->truncate_to(Offset{50}));
  EXPECT_EQ(log->log_end_offset(), 48);
  EXPECT_EQ(append(*log, 4, 60), 51);
  auto read = log->read(Offset{49}, 1, Offset{INT64_MAX});
  ASSERT_TRUE(read);
  EXPECT_EQ(testing::batches_in(read->range).front().base_offset, 48);
  ASSERT_TRUE(log->flush());
  // Retention renames released segments to *.deleted and removes them.
  h_.config.retention_bytes = 2000;
  log->set_config(h_.config);
  auto retained = log->apply_retention(Offset{log->log_end_offset()});
  ASSERT_TRUE(retained) << retained.status().to_string();
  EXPECT_GT(retained->deleted_segments, 0u);
  ASSERT_TRUE(log->flush());
  const int64_t start = log->log_start_offset(), end = log->log_end_offset();
  dir.reset();  // unclean
  dir = h_.open_ok();
  log = dir->find(tp);
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->log_start_offset(), start);
  EXPECT_EQ(log->log_end_offset(), end);
  EXPECT_FALSE(h_.logged("truncated"));
  expect_consistent(*log);
  ASSERT_TRUE(log->truncate_to(Offset{start + 1}));
  ASSERT_TRUE(dir->close());
  dir = h_.open_ok();
  EXPECT_EQ(dir->find(tp)->log_end_offset(), start);
}

}  // namespace
}  // namespace sluice::storage
