// Storage hot paths on a real temp dir (page cache; the dir is under
// $TMPDIR, default /tmp):
//   - append throughput of 16 KiB batches (16 x 1 KiB records) through
//     Log::append_as_leader, next to a plain sequential write() loop of the
//     same bytes to the same disk in the same run;
//   - the same with durability: the group-commit Flusher asked for every
//     ~1 MiB, and a raw write+fdatasync loop (with and without fallocate
//     preallocation, to decide whether preallocation pays);
//   - many producers waiting for acks=all-style durability: batches per fsync;
//   - read-range lookups by offset and by time, on one segment and on a log of
//     hundreds or thousands of segments;
//   - the recovery scan of a 256 MiB and a 1 GiB log after an unclean stop;
//   - memory (RSS) and descriptors per open segment;
//   - Fetch's byte path: the ranges Log::read hands out sent to a connected
//     loopback TCP socket (a thread drains the other end), by pread into a
//     buffer + write vs sendfile(2) from the segment's descriptor.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>

#include <atomic>
#include <filesystem>
#include <future>
#include <map>
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

std::unique_ptr<Log> open_log(FileSystem& fs, const std::string& dir, bool clean = true,
                              uint64_t segment_bytes = 512ull << 20, bool preallocate = false) {
  LogOptions options;
  options.dir = dir;
  options.config.segment_bytes = segment_bytes;
  options.config.preallocate = preallocate;
  options.clean_shutdown = clean;
  // As the log dir's checkpoint after a clean close: everything durable.
  options.recovery_point = clean ? INT64_MAX : 0;
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
// range(0) = 1: the file is first preallocated with fallocate (untimed), to
// see what preallocation saves the write path (ext4 block allocation).
void BM_plain_write_loop(benchmark::State& state) {
  const bool preallocate = state.range(0) != 0;
  std::vector<uint8_t> batch = sample_batch();
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    int fd = ::open((dir.path() + "/plain").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (preallocate && ::fallocate(fd, state.range(0) == 2 ? FALLOC_FL_KEEP_SIZE : 0, 0,
                                   static_cast<off_t>(batches_per_run * batch.size())) != 0)
      std::abort();
    state.ResumeTiming();
    for (size_t i = 0; i < batches_per_run; ++i)
      if (::write(fd, batch.data(), batch.size()) != static_cast<ssize_t>(batch.size())) std::abort();
    state.PauseTiming();
    ::close(fd);
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * batches_per_run * batch.size()));
}

// Log::append_as_leader: validation (CRC), offset assignment, index upkeep,
// write(). range(0) = 1: preallocate=true (segment.bytes reserved at roll).
void BM_log_append_no_fsync(benchmark::State& state) {
  PosixFileSystem fs;
  std::vector<uint8_t> batch = sample_batch();
  for (auto _ : state) {
    state.PauseTiming();
    TempDir dir;
    auto log = open_log(fs, dir.path() + "/bench-0", true, 512ull << 20, state.range(0) != 0);
    state.ResumeTiming();
    for (size_t i = 0; i < batches_per_run; ++i)
      check(log->append_as_leader(batch, LeaderEpoch{0}).status());
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
        check(log->append_as_leader(batch, LeaderEpoch{0}).status());
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
            check(target.log().append_as_leader(own, LeaderEpoch{0}).status());
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
      check(log->append_as_leader(batch, LeaderEpoch{0}).status());
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
    auto read =
        log.read(Offset{static_cast<int64_t>(random() % 65536)}, 1 << 20, Offset{INT64_MAX});
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
      check(log->append_as_leader(batch, LeaderEpoch{0}).status());
      bytes += batch.size();
    }
  }  // destroyed without close(): no clean shutdown
  for (auto _ : state) {
    auto log = open_log(fs, path, /*clean=*/false);
    if (static_cast<uint64_t>(log->size_bytes()) != bytes) std::abort();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}


// ---- Lookups on a log of many segments ----

// The same 64 MiB (4096 batches, 65536 offsets) in segments of
// `segment_bytes`: 256 KiB gives 274 segments, 64 KiB gives 1366.
struct ManySegmentsFixture {
  TempDir dir;
  PosixFileSystem fs;
  std::unique_ptr<Log> log;
  explicit ManySegmentsFixture(uint64_t segment_bytes) {
    log = open_log(fs, dir.path() + "/many-0", true, segment_bytes);
    for (int i = 0; i < 4096; ++i) {
      std::vector<uint8_t> batch = sample_batch(1700000000000 + i * 16);
      check(log->append_as_leader(batch, LeaderEpoch{0}).status());
    }
  }
  static ManySegmentsFixture& get(uint64_t segment_bytes) {
    static std::map<uint64_t, std::unique_ptr<ManySegmentsFixture>> fixtures;
    auto& fixture = fixtures[segment_bytes];
    if (!fixture) fixture = std::make_unique<ManySegmentsFixture>(segment_bytes);
    return *fixture;
  }
};

// range(0) = segment.bytes; the range from a random offset, up to range(1)
// bytes: 1 = the lookup alone (segment, index, the batch holding the
// offset); 1 MiB = a Fetch's partition range, which also walks the batch
// headers up to the limit so the range ends on a whole batch.
void BM_read_by_offset_segments(benchmark::State& state) {
  Log& log = *ManySegmentsFixture::get(static_cast<uint64_t>(state.range(0))).log;
  const auto max_bytes = static_cast<uint64_t>(state.range(1));
  std::mt19937_64 random(7);
  for (auto _ : state) {
    auto read =
        log.read(Offset{static_cast<int64_t>(random() % 65536)}, max_bytes, Offset{INT64_MAX});
    benchmark::DoNotOptimize(read->range.length);
  }
  state.counters["segments"] = static_cast<double>(log.segment_count());
  state.SetItemsProcessed(state.iterations());
}

// range(0) = segment.bytes; ListOffsets by a random timestamp.
void BM_find_by_time_segments(benchmark::State& state) {
  Log& log = *ManySegmentsFixture::get(static_cast<uint64_t>(state.range(0))).log;
  std::mt19937_64 random(7);
  for (auto _ : state) {
    auto found = log.find_offset_for_timestamp(1700000000000 + static_cast<int64_t>(random() % 65536));
    benchmark::DoNotOptimize(found);
  }
  state.counters["segments"] = static_cast<double>(log.segment_count());
  state.SetItemsProcessed(state.iterations());
}

// ---- Recovery per GiB ----

// Syncs every file of `dir` and drops its pages from the page cache
// (posix_fadvise DONTNEED: only these files, nobody else's cache).
void evict_from_page_cache(const std::string& dir) {
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) std::abort();
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

// Open after an unclean stop with no recovery point: 1 GiB in four 256 MiB
// segments, all re-read, CRC-checked and re-indexed. range(0) = 0: page
// cache warm; 1: the log's files evicted first (read from the disk).
void BM_recovery_scan_1gib(benchmark::State& state) {
  const bool cold = state.range(0) != 0;
  PosixFileSystem fs;
  TempDir dir;
  std::string path = dir.path() + "/recover-0";
  std::vector<uint8_t> batch = sample_batch();
  uint64_t bytes = 0;
  {
    auto log = open_log(fs, path, true, 256ull << 20);
    while (bytes < (1ull << 30)) {
      check(log->append_as_leader(batch, LeaderEpoch{0}).status());
      bytes += batch.size();
    }
  }
  for (auto _ : state) {
    if (cold) {
      state.PauseTiming();
      evict_from_page_cache(path);
      state.ResumeTiming();
    }
    auto log = open_log(fs, path, /*clean=*/false, 256ull << 20);
    if (static_cast<uint64_t>(log->size_bytes()) != bytes) std::abort();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}

// ---- Memory per open segment ----

uint64_t resident_bytes() {
  long pages_total = 0, pages_resident = 0;
  FILE* statm = std::fopen("/proc/self/statm", "r");
  if (statm == nullptr || std::fscanf(statm, "%ld %ld", &pages_total, &pages_resident) != 2) std::abort();
  std::fclose(statm);
  return static_cast<uint64_t>(pages_resident) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

size_t open_descriptors() {
  size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

// range(0) segments of 4 batches (64 KiB, 16 index entries each): written,
// closed cleanly, then the RSS and descriptor growth of opening the log
// (clean: no scan; range(1) = 1: unclean, every segment re-scanned).
void BM_memory_per_open_segment(benchmark::State& state) {
  const int segments = static_cast<int>(state.range(0));
  const bool clean = state.range(1) == 0;
  PosixFileSystem fs;
  TempDir dir;
  std::string path = dir.path() + "/memory-0";
  std::vector<uint8_t> batch = sample_batch();
  {
    auto log = open_log(fs, path, true, 4 * batch.size());
    for (int i = 0; i < segments * 4; ++i)
      check(log->append_as_leader(batch, LeaderEpoch{0}).status());
    check(log->close());
  }
  double rss_per_segment = 0, heap_per_segment = 0, fds_per_segment = 0;
  for (auto _ : state) {
    const uint64_t rss_before = resident_bytes();
    const size_t heap_before = ::mallinfo2().uordblks;
    const size_t fds_before = open_descriptors();
    auto log = open_log(fs, path, clean, 4 * batch.size());
    const uint64_t rss_after = resident_bytes();
    const size_t heap_after = ::mallinfo2().uordblks;
    const size_t fds_after = open_descriptors();
    if (log->segment_count() != static_cast<size_t>(segments)) std::abort();
    rss_per_segment = (static_cast<double>(rss_after) - static_cast<double>(rss_before)) / segments;
    heap_per_segment = (static_cast<double>(heap_after) - static_cast<double>(heap_before)) / segments;
    fds_per_segment = static_cast<double>(fds_after - fds_before) / segments;
  }
  state.counters["rss_bytes_per_segment"] = rss_per_segment;
  state.counters["heap_bytes_per_segment"] = heap_per_segment;
  state.counters["fds_per_segment"] = fds_per_segment;
}

// Heap held by an open log per GiB of data: a 256 MiB log in one segment,
// closed cleanly, reopened; range(0) records of 1 KiB per batch (16: 16 KiB
// batches, one offset-index entry each at index.interval.bytes 4096; 1:
// 1 KiB batches, an entry every ~4 batches). Reported x4.
void BM_memory_per_gib_of_log(benchmark::State& state) {
  const int records = static_cast<int>(state.range(0));
  PosixFileSystem fs;
  TempDir dir;
  std::string path = dir.path() + "/index-memory-0";
  record::BatchBuilder builder(record::BatchOptions{});
  std::string value(1000, 'v');
  for (int i = 0; i < records; ++i)
    builder.append(1700000000000 + i, std::nullopt, Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  std::vector<uint8_t> batch = std::move(builder.build()).value();
  const uint64_t batches = (256ull << 20) / batch.size();
  {
    auto log = open_log(fs, path, true, 1ull << 30);
    for (uint64_t i = 0; i < batches; ++i)
      check(log->append_as_leader(batch, LeaderEpoch{0}).status());
    check(log->close());
  }
  double heap_per_gib = 0;
  for (auto _ : state) {
    const size_t heap_before = ::mallinfo2().uordblks;
    auto log = open_log(fs, path, true, 1ull << 30);
    heap_per_gib = (static_cast<double>(::mallinfo2().uordblks) - static_cast<double>(heap_before)) * 4;
  }
  state.counters["heap_MiB_per_GiB"] = heap_per_gib / (1 << 20);
}

// ---- Fetch's byte path: pread+write vs sendfile to a loopback TCP socket ----

double thread_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// A connected loopback TCP pair; a thread reads (and discards) everything
// that arrives on the far end and counts it, as a consumer's socket would.
class DrainedConnection {
 public:
  DrainedConnection() {
    int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), length) != 0 || ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      std::abort();
    sender_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(sender_, reinterpret_cast<sockaddr*>(&address), length) != 0) std::abort();
    receiver_ = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (receiver_ < 0) std::abort();
    ::close(listener);
    int one = 1;
    ::setsockopt(sender_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // as the broker's sockets
    drainer_ = std::thread([this] { drain(); });
  }
  ~DrainedConnection() {
    ::shutdown(sender_, SHUT_WR);
    drainer_.join();
    ::close(sender_);
    ::close(receiver_);
  }
  int sender() const { return sender_; }
  // Waits until the drainer has read `total` bytes since the start.
  void wait_received(uint64_t total) {
    std::unique_lock lock(mutex_);
    received_cv_.wait(lock, [&] { return received_ >= total; });
  }
  double drainer_cpu_seconds() {
    std::lock_guard lock(mutex_);
    return drainer_cpu_;
  }
  uint64_t drainer_reads() {
    std::lock_guard lock(mutex_);
    return reads_;
  }

 private:
  void drain() {
    std::vector<uint8_t> buffer(1 << 20);
    double start = thread_cpu_seconds();
    for (;;) {
      ssize_t n = ::read(receiver_, buffer.data(), buffer.size());
      if (n <= 0) return;
      std::lock_guard lock(mutex_);
      received_ += static_cast<uint64_t>(n);
      ++reads_;
      drainer_cpu_ = thread_cpu_seconds() - start;
      received_cv_.notify_one();
    }
  }
  int sender_ = -1, receiver_ = -1;
  std::thread drainer_;
  std::mutex mutex_;
  std::condition_variable received_cv_;
  uint64_t received_ = 0;
  uint64_t reads_ = 0;
  double drainer_cpu_ = 0;
};

// A 256 MiB log (16 KiB batches) and the ranges Log::read hands out walking
// it from the start with a given max_bytes, as consecutive fetches would.
struct SendFixture {
  TempDir dir;
  PosixFileSystem fs;
  std::unique_ptr<Log> log;
  SendFixture() {
    log = open_log(fs, dir.path() + "/send-0");
    std::vector<uint8_t> batch = sample_batch();
    for (int i = 0; i < 16384; ++i) check(log->append_as_leader(batch, LeaderEpoch{0}).status());
  }
  std::vector<FileRange> ranges(uint64_t max_bytes) {
    std::vector<FileRange> out;
    int64_t offset = 0;
    while (offset < log->log_end_offset()) {
      auto read = log->read(Offset{offset}, max_bytes, Offset{INT64_MAX});
      if (!read || read->range.length == 0) std::abort();
      out.push_back(read->range);
      offset = read->next_offset;
    }
    return out;
  }
  static SendFixture& get() {
    static SendFixture fixture;
    return fixture;
  }
};

void send_all(int socket, const uint8_t* data, size_t length) {
  while (length > 0) {
    ssize_t n = ::write(socket, data, length);
    if (n <= 0) std::abort();
    data += n;
    length -= static_cast<size_t>(n);
  }
}

void sendfile_all(int socket, int file, uint64_t position, uint64_t length) {
  off_t offset = static_cast<off_t>(position);
  while (length > 0) {
    ssize_t n = ::sendfile(socket, file, &offset, length);
    if (n <= 0) std::abort();
    length -= static_cast<uint64_t>(n);
  }
}

// range(0): 0 = pread into a buffer + write, 1 = sendfile from the segment fd;
// range(1): max_bytes of each Log::read. Each iteration sends the whole
// 256 MiB log (page cache warm) range by range and waits until the far end
// has read it all. CPU columns: the sending thread (Google Benchmark's CPU
// time) and the draining thread (counter drain_cpu_ms per iteration).
void BM_send_ranges_to_socket(benchmark::State& state) {
  const bool use_sendfile = state.range(0) != 0;
  const uint64_t max_bytes = static_cast<uint64_t>(state.range(1));
  SendFixture& fixture = SendFixture::get();
  std::vector<FileRange> ranges = fixture.ranges(max_bytes);
  uint64_t bytes_per_pass = 0;
  for (const FileRange& range : ranges) bytes_per_pass += range.length;
  std::vector<uint8_t> buffer(max_bytes);
  DrainedConnection connection;
  uint64_t sent = 0;
  for (auto _ : state) {
    for (const FileRange& range : ranges) {
      if (use_sendfile) {
        sendfile_all(connection.sender(), range.file->native_handle(), range.position, range.length);
      } else {
        auto n = range.file->pread(range.position, std::span<uint8_t>(buffer.data(), range.length));
        if (!n || *n != range.length) std::abort();
        send_all(connection.sender(), buffer.data(), range.length);
      }
    }
    sent += bytes_per_pass;
    connection.wait_received(sent);
  }
  const double iterations = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(sent));
  state.counters["ranges"] = static_cast<double>(ranges.size());
  state.counters["drain_cpu_ms"] = connection.drainer_cpu_seconds() * 1e3 / iterations;
  state.counters["drain_reads"] = static_cast<double>(connection.drainer_reads()) / iterations;
  state.SetLabel(use_sendfile ? "sendfile" : "pread+write");
}

}  // namespace

BENCHMARK(BM_plain_write_loop)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->Iterations(8)->Repetitions(3)->ReportAggregatesOnly();
BENCHMARK(BM_log_append_no_fsync)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(8)->Repetitions(3)->ReportAggregatesOnly();
BENCHMARK(BM_log_append_group_commit_1mib)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_plain_write_fdatasync_1mib)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();
BENCHMARK(BM_group_commit_producers)->Args({1, 1})->Args({8, 1})->Args({8, 8})->Args({32, 4})
    ->Unit(benchmark::kMillisecond)->Iterations(1)->UseRealTime();
BENCHMARK(BM_read_range_by_offset);
BENCHMARK(BM_find_offset_by_time);
BENCHMARK(BM_recovery_scan_256mib)->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK(BM_read_by_offset_segments)->ArgsProduct({{512 << 20, 256 << 10, 64 << 10}, {1, 1 << 20}})
    ->Repetitions(3)->ReportAggregatesOnly();
BENCHMARK(BM_find_by_time_segments)->Arg(512 << 20)->Arg(256 << 10)->Arg(64 << 10)->Repetitions(3)->ReportAggregatesOnly();
BENCHMARK(BM_recovery_scan_1gib)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(2)->Repetitions(3)->UseRealTime();
BENCHMARK(BM_memory_per_gib_of_log)->Arg(16)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_memory_per_open_segment)->Args({1000, 0})->Args({1000, 1})->Args({5000, 0})->Iterations(1)->Unit(benchmark::kMillisecond);
// Interleave pread/sendfile runs: --benchmark_filter=BM_send --benchmark_enable_random_interleaving=true
BENCHMARK(BM_send_ranges_to_socket)->Args({0, 1 << 20})->Args({1, 1 << 20})->Args({0, 64 << 10})->Args({1, 64 << 10})
    ->Unit(benchmark::kMillisecond)->Iterations(4)->Repetitions(5)->UseRealTime();
