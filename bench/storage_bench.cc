// Storage hot paths on a real temp dir (page cache; the dir is under
// $TMPDIR, default /tmp):
//   - append throughput of 16 KiB batches (16 x 1 KiB records) through
//     Log::append_as_leader, next to a plain sequential write() loop of the
//     same bytes to the same disk in the same run;
//   - the same with durability: the group-commit Flusher asked for every
//     ~1 MiB, and a raw write+fdatasync loop (with and without fallocate
//     preallocation, to decide whether preallocation pays);
//   - many producers waiting for acks=all-style durability: batches per fsync;
//   - read-range lookups by offset and by time;
//   - the recovery scan of a 256 MiB log after an unclean stop.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "record/batch_builder.h"
#include "storage/flusher.h"
#include "storage/log.h"
#include "storage/posix_file_system.h"

namespace {

using namespace sluice;
using namespace sluice::storage;

constexpr size_t batches_per_run = 8192;  // 128 MiB per timed run
constexpr size_t sync_every_batches = 64;  // ~1 MiB

std::vector<uint8_t> sample_batch(int64_t timestamp_ms = 1700000000000) {
  record::BatchBuilder builder(record::BatchOptions{});
  std::string value(1000, 'x');
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + (i * 7) % 26);
  for (int i = 0; i < 16; ++i)
    builder.append(timestamp_ms + i, std::nullopt, Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  return std::move(builder.build()).value();
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / ("sluice-bench-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

std::unique_ptr<Log> open_log(FileSystem& fs, const std::string& dir, bool clean = true) {
  LogOptions options;
  options.dir = dir;
  options.config.segment_bytes = 512ull << 20;
  options.clean_shutdown = clean;
  options.logger = [](std::string_view) {};
  auto log = Log::open(fs, std::move(options));
  if (!log) {
    std::fprintf(stderr, "open %s: %s\n", dir.c_str(), log.status().to_string().c_str());
    std::abort();
  }
  return std::move(*log);
}

void check(const Status& s) {
  if (!s) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    std::abort();
  }
}

// The baseline: write() of the same batches to one file, nothing else.
void BM_plain_write_loop(benchmark::State& state) {
  std::vector<uint8_t> batch = sample_batch();
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    int fd = ::open((dir.path() + "/plain").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    state.ResumeTiming();
    for (size_t i = 0; i < batches_per_run; ++i)
      if (::write(fd, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size())) std::abort();
    state.PauseTiming();
    ::close(fd);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batches_per_run * batch.size()));
}

// Log::append_as_leader: validation (CRC), offset assignment, index upkeep, write().
void BM_log_append_no_fsync(benchmark::State& state) {
  PosixFileSystem fs;
  std::vector<uint8_t> batch = sample_batch();
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    auto log = open_log(fs, dir.path() + "/bench-0");
    state.ResumeTiming();
    for (size_t i = 0; i < batches_per_run; ++i) check(log->append_as_leader(batch, 0).status());
    state.PauseTiming();
    log.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batches_per_run * batch.size()));
}

// One producer; every ~1 MiB it asks the flusher for durability and waits.
void BM_log_append_group_commit_1mib(benchmark::State& state) {
  PosixFileSystem fs;
  std::vector<uint8_t> batch = sample_batch();
  auto health = std::make_shared<LogDirHealth>("bench", nullptr);
  uint64_t syncs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    auto log = open_log(fs, dir.path() + "/bench-0");
    auto managed = std::make_shared<ManagedLog>(*log, fs, health);
    Flusher flusher;
    flusher.start();
    state.ResumeTiming();
    for (size_t i = 0; i < batches_per_run; ++i) {
      int64_t end;
      {
        std::lock_guard lock(managed->mutex());
        check(log->append_as_leader(batch, 0).status());
        end = log->log_end_offset();
      }
      if ((i + 1) % sync_every_batches != 0) continue;
      std::promise<Status> done;
      flusher.request_flush(managed, end, [&done](Status s) { done.set_value(std::move(s)); });
      check(done.get_future().get());
    }
    state.PauseTiming();
    flusher.stop();
    syncs += flusher.stats().log_syncs;
    managed.reset();
    log.reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batches_per_run * batch.size()));
  state.counters["fsyncs"] = benchmark::Counter(static_cast<double>(syncs), benchmark::Counter::kAvgIterations);
}

// Raw write + fdatasync every ~1 MiB; range(0) = 1: fallocate the whole file
// first (Kafka's preallocate), to see whether Sluice should.
void BM_plain_write_fdatasync_1mib(benchmark::State& state) {
  bool preallocate = state.range(0) != 0;
  std::vector<uint8_t> batch = sample_batch();
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    int fd = ::open((dir.path() + "/plain").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (preallocate && ::fallocate(fd, 0, 0, static_cast<off_t>(batches_per_run * batch.size())) != 0) std::abort();
    if (preallocate) ::fsync(fd);
    state.ResumeTiming();
    off_t position = 0;
    for (size_t i = 0; i < batches_per_run; ++i) {
      if (::pwrite(fd, batch.data(), batch.size(), position) != static_cast<ssize_t>(batch.size())) std::abort();
      position += static_cast<off_t>(batch.size());
      if ((i + 1) % sync_every_batches == 0) ::fdatasync(fd);
    }
    state.PauseTiming();
    ::close(fd);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batches_per_run * batch.size()));
}

// range(0) producers spread over range(1) partitions; each producer appends
// one 16 KiB batch and waits for it to be durable (acks=all with fsync).
void BM_group_commit_producers(benchmark::State& state) {
  const int producers = static_cast<int>(state.range(0)), partitions = static_cast<int>(state.range(1));
  constexpr int batches_per_producer = 200;
  PosixFileSystem fs;
  std::vector<uint8_t> batch = sample_batch();
  auto health = std::make_shared<LogDirHealth>("bench", nullptr);
  uint64_t syncs = 0, batches = 0;
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    std::vector<std::unique_ptr<Log>> logs;
    std::vector<std::shared_ptr<ManagedLog>> managed;
    for (int p = 0; p < partitions; ++p) {
      logs.push_back(open_log(fs, dir.path() + "/bench-" + std::to_string(p)));
      managed.push_back(std::make_shared<ManagedLog>(*logs.back(), fs, health));
    }
    Flusher flusher;
    flusher.start();
    state.ResumeTiming();
    std::vector<std::thread> threads;
    for (int t = 0; t < producers; ++t)
      threads.emplace_back([&, t] {
        std::vector<uint8_t> own = batch;
        ManagedLog& target = *managed[t % partitions];
        for (int i = 0; i < batches_per_producer; ++i) {
          int64_t end;
          {
            std::lock_guard lock(target.mutex());
            check(target.log().append_as_leader(own, 0).status());
            end = target.log().log_end_offset();
          }
          std::promise<Status> done;
          flusher.request_flush(managed[t % partitions], end, [&done](Status s) { done.set_value(std::move(s)); });
          check(done.get_future().get());
        }
      });
    for (auto& thread : threads) thread.join();
    state.PauseTiming();
    flusher.stop();
    syncs += flusher.stats().log_syncs;
    batches += static_cast<uint64_t>(producers) * batches_per_producer;
    managed.clear();
    logs.clear();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(batches * batch.size()));
  state.counters["batches_per_fsync"] = static_cast<double>(batches) / static_cast<double>(syncs);
  state.counters["batches/s"] = benchmark::Counter(static_cast<double>(batches), benchmark::Counter::kIsRate);
}

// A 64 MiB log (4096 batches, 65536 offsets) shared by the lookup benchmarks.
struct LookupFixture {
  TempDir dir;
  PosixFileSystem fs;
  std::unique_ptr<Log> log;
  LookupFixture() {
    log = open_log(fs, dir.path() + "/lookup-0");
    for (int i = 0; i < 4096; ++i) {
      std::vector<uint8_t> batch = sample_batch(1700000000000 + i * 16);
      check(log->append_as_leader(batch, 0).status());
    }
  }
  static LookupFixture& get() {
    static LookupFixture fixture;
    return fixture;
  }
};

// Fetch-style: the range of whole batches from a random offset, up to 1 MiB.
void BM_read_range_by_offset(benchmark::State& state) {
  Log& log = *LookupFixture::get().log;
  std::mt19937_64 random(7);
  for (auto _ : state) {
    auto read = log.read(static_cast<int64_t>(random() % 65536), 1 << 20, INT64_MAX);
    benchmark::DoNotOptimize(read->range.length);
  }
  state.SetItemsProcessed(state.iterations());
}

// ListOffsets by timestamp: index lookup, batch scan, record scan.
void BM_find_offset_by_time(benchmark::State& state) {
  Log& log = *LookupFixture::get().log;
  std::mt19937_64 random(7);
  for (auto _ : state) {
    auto found = log.find_offset_for_timestamp(1700000000000 + static_cast<int64_t>(random() % 65536));
    benchmark::DoNotOptimize(found);
  }
  state.SetItemsProcessed(state.iterations());
}

// Open after an unclean stop with no recovery point: every batch of a
// 256 MiB log is re-read, CRC-checked and indexed (page cache warm).
void BM_recovery_scan_256mib(benchmark::State& state) {
  PosixFileSystem fs;
  TempDir dir;
  std::string path = dir.path() + "/recover-0";
  std::vector<uint8_t> batch = sample_batch();
  uint64_t bytes = 0;
  {
    auto log = open_log(fs, path);
    while (bytes < (256ull << 20)) {
      check(log->append_as_leader(batch, 0).status());
      bytes += batch.size();
    }
  }  // destroyed without close(): no clean shutdown
  for (auto _ : state) {
    auto log = open_log(fs, path, /*clean=*/false);
    if (static_cast<uint64_t>(log->size_bytes()) != bytes) std::abort();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

}  // namespace

BENCHMARK(BM_plain_write_loop)->Unit(benchmark::kMillisecond)->Iterations(8)->Repetitions(3)->ReportAggregatesOnly();
BENCHMARK(BM_log_append_no_fsync)->Unit(benchmark::kMillisecond)->Iterations(8)->Repetitions(3)->ReportAggregatesOnly();
BENCHMARK(BM_log_append_group_commit_1mib)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_plain_write_fdatasync_1mib)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_group_commit_producers)->Args({1, 1})->Args({8, 1})->Args({8, 8})->Args({32, 4})
    ->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_read_range_by_offset);
BENCHMARK(BM_find_offset_by_time);
BENCHMARK(BM_recovery_scan_256mib)->Unit(benchmark::kMillisecond)->Iterations(3);
