#include "storage/flusher.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "instrumented_file_system.h"
#include "log_test_util.h"
#include "storage/memory_file_system.h"

namespace sluice::storage {
namespace {

using testing::all_base_offsets;
using testing::InstrumentedFileSystem;
using testing::make_batch;

class FlusherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(memory_.make_dirs("/d"));
    ASSERT_TRUE(memory_.sync_dir("/"));
  }
  LogOptions options(const std::string& name) {
    LogOptions o;
    o.dir = "/d/" + name;
    o.clock = &clock_;
    o.logger = [this](std::string_view line) { lines_.emplace_back(line); };
    return o;
  }
  std::shared_ptr<ManagedLog> open(const std::string& name) {
    auto log = Log::open(fs_, options(name));
    EXPECT_TRUE(log) << log.status().to_string();
    logs_.push_back(std::move(*log));
    return std::make_shared<ManagedLog>(*logs_.back(), fs_, health_);
  }
  // Appends under the partition lock; returns the new log end offset.
  int64_t append(ManagedLog& managed, int count = 2) {
    auto batch = make_batch(count, 1000);
    std::lock_guard lock(managed.mutex());
    auto appended = managed.check(managed.log().append_as_leader(batch, LeaderEpoch{0}));
    EXPECT_TRUE(appended) << appended.status().to_string();
    return managed.log().log_end_offset();
  }
  // A callback recording its status into `statuses`.
  Flusher::Callback record(std::vector<Status>& statuses) {
    return [&statuses](Status s) { statuses.push_back(std::move(s)); };
  }

  ManualClock clock_;
  MemoryFileSystem memory_;
  InstrumentedFileSystem fs_{memory_};
  std::vector<std::string> lines_;
  std::vector<std::string> failures_;
  std::shared_ptr<LogDirHealth> health_ = std::make_shared<LogDirHealth>(
      "/d", [this](const std::string& path, const Status& error) { failures_.push_back(path + ": " + error.message()); });
  std::vector<std::unique_ptr<Log>> logs_;
  Flusher flusher_;
};

TEST_F(FlusherTest, DataIsDurableWhenTheCallbackFires) {
  auto managed = open("orders-0");
  int64_t end = append(*managed, 3);
  std::vector<Status> statuses;
  flusher_.request_flush(managed, end, record(statuses));
  EXPECT_TRUE(statuses.empty());  // nothing runs without a round
  EXPECT_EQ(flusher_.run_round(), 1u);
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_TRUE(statuses[0]) << statuses[0].to_string();
  append(*managed, 4);  // not flushed: lost in the crash below

  memory_.simulate_crash();
  logs_.clear();
  auto reopened = Log::open(memory_, options("orders-0"));
  ASSERT_TRUE(reopened) << reopened.status().to_string();
  EXPECT_EQ((*reopened)->log_end_offset(), 3);
  EXPECT_EQ(all_base_offsets(**reopened), std::vector<int64_t>{0});
}

// The first append to a partition assigns its epoch; the caller (a reactor,
// in the broker) writes and syncs nothing for it: the flusher's thread
// writes the epoch checkpoint before the flush completes, so it is durable
// when the callback fires.
TEST_F(FlusherTest, TheEpochCheckpointIsWrittenOnTheFlusherThreadNotTheAppender) {
  auto managed = open("orders-0");
  int64_t end = append(*managed, 3);
  EXPECT_EQ(fs_.syncs_ending_with("leader-epoch-checkpoint.tmp"), 0u);
  EXPECT_FALSE(*memory_.exists("/d/orders-0/leader-epoch-checkpoint"));
  flusher_.start();
  std::promise<Status> flushed;
  flusher_.request_flush(managed, end, [&](Status s) { flushed.set_value(std::move(s)); });
  Status status = flushed.get_future().get();
  flusher_.stop();
  ASSERT_TRUE(status) << status.to_string();
  EXPECT_EQ(fs_.syncs_ending_with("leader-epoch-checkpoint.tmp"), 1u);
  std::set<std::thread::id> writers = fs_.sync_threads_ending_with("leader-epoch-checkpoint.tmp");
  ASSERT_EQ(writers.size(), 1u);
  EXPECT_NE(*writers.begin(), std::this_thread::get_id());

  memory_.simulate_crash();
  logs_.clear();
  auto epochs = read_leader_epoch_checkpoint(memory_, "/d/orders-0/leader-epoch-checkpoint");
  ASSERT_TRUE(epochs) << epochs.status().to_string();
  EXPECT_EQ(*epochs, (std::vector<EpochEntry>{{0, 0}}));
}

TEST_F(FlusherTest, OneSyncPerLogPerRoundForAnyNumberOfRequests) {
  std::vector<std::shared_ptr<ManagedLog>> logs = {open("a-0"), open("b-0"), open("c-0")};
  std::vector<Status> statuses;
  for (int i = 0; i < 30; ++i)
    for (auto& managed : logs) flusher_.request_flush(managed, append(*managed, 1), record(statuses));
  uint64_t log_syncs_before = fs_.syncs_ending_with(".log");
  EXPECT_EQ(flusher_.run_round(), 3u);
  EXPECT_EQ(fs_.syncs_ending_with(".log") - log_syncs_before, 3u);
  ASSERT_EQ(statuses.size(), 90u);
  for (const auto& status : statuses) EXPECT_TRUE(status) << status.to_string();
  FlusherStats stats = flusher_.stats();
  EXPECT_EQ(stats.rounds, 1u);
  EXPECT_EQ(stats.requests, 90u);
  EXPECT_EQ(stats.log_syncs, 3u);
  for (auto& managed : logs) {
    std::lock_guard lock(managed->mutex());
    EXPECT_EQ(managed->log().recovery_point(), 30);
  }
}

TEST_F(FlusherTest, AlreadyDurableRequestsNeedNoSync) {
  auto managed = open("orders-0");
  int64_t end = append(*managed);
  std::vector<Status> statuses;
  flusher_.request_flush(managed, end, record(statuses));
  flusher_.run_round();
  uint64_t syncs = fs_.syncs_ending_with(".log");
  flusher_.request_flush(managed, end, record(statuses));
  EXPECT_EQ(flusher_.run_round(), 0u);
  EXPECT_EQ(fs_.syncs_ending_with(".log"), syncs);
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_TRUE(statuses[1]);
}

TEST_F(FlusherTest, ConcurrentProducersShareSyncs) {
  fs_.set_sync_delay(std::chrono::milliseconds(2));  // a disk slow enough for requests to pile up
  std::vector<std::shared_ptr<ManagedLog>> logs = {open("a-0"), open("b-0")};
  flusher_.start();
  constexpr int threads = 8, appends_per_thread = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t)
    producers.emplace_back([&, t] {
      auto& managed = logs[t % logs.size()];
      for (int i = 0; i < appends_per_thread; ++i) {
        std::promise<Status> done;
        flusher_.request_flush(managed, append(*managed, 1), [&done](Status s) { done.set_value(std::move(s)); });
        if (done.get_future().get()) ++ok;  // acks=all: wait for durability
      }
    });
  for (auto& producer : producers) producer.join();
  flusher_.stop();
  EXPECT_EQ(ok.load(), threads * appends_per_thread);
  FlusherStats stats = flusher_.stats();
  EXPECT_EQ(stats.requests, uint64_t{threads * appends_per_thread});
  // 4 producers per log, each waiting for its sync: about one sync per 4
  // requests. Allow slack for scheduling, but far fewer than one each.
  EXPECT_LT(stats.log_syncs, stats.requests / 2) << "syncs " << stats.log_syncs << " rounds " << stats.rounds;
  for (auto& managed : logs) {
    std::lock_guard lock(managed->mutex());
    EXPECT_EQ(managed->log().recovery_point(), managed->log().log_end_offset());
  }
}

// Issue 13: one thread synced the logs of a round one after another, so an
// acks=all round over 64 partitions took 64 fsyncs (~100 ms here).
TEST_F(FlusherTest, LogsOfARoundAreSyncedConcurrently) {
  fs_.set_sync_delay(std::chrono::milliseconds(20));
  Flusher flusher(4);
  std::vector<std::shared_ptr<ManagedLog>> logs;
  for (int i = 0; i < 8; ++i) logs.push_back(open("c-" + std::to_string(i)));
  std::vector<std::promise<Status>> done(logs.size());
  for (size_t i = 0; i < logs.size(); ++i)
    flusher.request_flush(logs[i], append(*logs[i]), [&done, i](Status s) { done[i].set_value(std::move(s)); });
  flusher.start();
  for (auto& d : done) EXPECT_TRUE(d.get_future().get());
  flusher.stop();
  EXPECT_GE(fs_.most_syncs_in_flight(), 2);
  EXPECT_LE(fs_.most_syncs_in_flight(), 4 * 2);  // the .log and the index of a log may overlap
  EXPECT_EQ(flusher.stats().log_syncs, logs.size());
  for (auto& managed : logs) {
    std::lock_guard lock(managed->mutex());
    EXPECT_EQ(managed->log().recovery_point(), managed->log().log_end_offset());
  }
}

TEST_F(FlusherTest, TruncatedOffsetsFailWithOffsetOutOfRange) {
  auto managed = open("orders-0");
  append(*managed, 2);
  int64_t end = append(*managed, 2);
  {
    std::lock_guard lock(managed->mutex());
    ASSERT_TRUE(managed->log().truncate_to(Offset{2}));
  }
  std::vector<Status> statuses;
  flusher_.request_flush(managed, end, record(statuses));
  flusher_.request_flush(managed, 2, record(statuses));
  flusher_.run_round();
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0].code(), Errc::offset_out_of_range);
  EXPECT_TRUE(statuses[1]) << statuses[1].to_string();
}

TEST_F(FlusherTest, SyncFailureTakesTheDirOfflineAndFailsTheRequests) {
  auto managed = open("orders-0");
  int64_t end = append(*managed);
  fs_.fail_under("/d/orders-0");
  std::vector<Status> statuses;
  flusher_.request_flush(managed, end, record(statuses));
  flusher_.run_round();
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_EQ(statuses[0].code(), Errc::io_error);
  EXPECT_TRUE(managed->offline());
  ASSERT_EQ(failures_.size(), 1u);
  // The first I/O of this flush is the new epoch's checkpoint, then the syncs.
  EXPECT_NE(failures_[0].find(" /d/orders-0/"), std::string::npos) << failures_[0];
  // Later requests on the offline dir fail at once, without touching the disk.
  flusher_.request_flush(managed, end, record(statuses));
  EXPECT_EQ(flusher_.run_round(), 0u);
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[1].code(), Errc::io_error);
}

// The flusher skips the active segment's indexes; rolled segments and
// recovery must still yield every acknowledged batch, indexed, after a crash.
TEST_F(FlusherTest, AcknowledgedBatchesSurviveCrashesAcrossRolls) {
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    MemoryFileSystem memory(seed);
    ASSERT_TRUE(memory.make_dirs("/d"));
    ASSERT_TRUE(memory.sync_dir("/"));
    LogOptions o = options("orders-0");
    o.config.segment_bytes = 500;
    o.config.index_interval_bytes = 100;
    auto log = Log::open(memory, o);
    ASSERT_TRUE(log);
    auto managed = std::make_shared<ManagedLog>(**log, memory, health_);
    int64_t acknowledged = 0;
    for (int i = 0; i < 40; ++i) {
      int64_t end = append(*managed, 1 + static_cast<int>(seed % 3));
      std::vector<Status> statuses;
      if ((i + static_cast<int>(seed)) % 3 != 0) continue;  // some batches are never acknowledged
      flusher_.request_flush(managed, end, record(statuses));
      flusher_.run_round();
      ASSERT_EQ(statuses.size(), 1u);
      ASSERT_TRUE(statuses[0]);
      acknowledged = end;
    }
    managed.reset();
    log->reset();
    memory.simulate_crash(CrashMode::keep_random_prefix);
    auto reopened = Log::open(memory, o);
    ASSERT_TRUE(reopened) << reopened.status().to_string();
    EXPECT_GE((*reopened)->log_end_offset(), acknowledged) << "seed " << seed;
    EXPECT_GT((*reopened)->segment_count(), 2u);
    // Every offset below the acknowledged end reads from the right batch.
    for (int64_t offset = 0; offset < acknowledged; ++offset) {
      auto read = (*reopened)->read(Offset{offset}, 1, Offset{INT64_MAX});
      ASSERT_TRUE(read) << read.status().to_string();
      auto headers = testing::batches_in(read->range);
      ASSERT_EQ(headers.size(), 1u);
      EXPECT_LE(headers[0].base_offset, offset);
      EXPECT_GE(headers[0].last_offset(), offset);
    }
  }
}

TEST_F(FlusherTest, StopCompletesPendingRequests) {
  auto managed = open("orders-0");
  int64_t end = append(*managed);
  std::vector<Status> statuses;
  flusher_.request_flush(managed, end, record(statuses));
  flusher_.stop();
  ASSERT_EQ(statuses.size(), 1u);
  EXPECT_TRUE(statuses[0]);
}

}  // namespace
}  // namespace sluice::storage
