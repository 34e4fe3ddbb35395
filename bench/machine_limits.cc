// The machine's own ceilings for the paths a broker's data takes, measured
// with no broker and no Kafka client: loopback TCP from a buffer and from the
// page cache (what a Fetch can reach at best), page-cache writes into memory
// the kernel must first obtain versus memory it just freed (what a Produce
// pays per new byte), fdatasync every MiB (acks=all), first touch of
// anonymous memory and a cached-memory copy. bench/run.sh prints these beside
// the `sluice bench` table so each figure has the floor it stands on.
//
//   machine_limits [--dir DIR] [--mib N] [--json]
//
// DIR is where the scratch files go (use the broker's data dir file system);
// N MiB is the size of each measurement (default 1024). Figures are MB/s
// (10^6 bytes) of wall time, one pass each, and a CPU probe: a reading of
// the machine now.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t kMiB = 1 << 20;
constexpr size_t kSendChunk = kMiB;  // the bench consumer's 1 MiB per-partition fetch
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "machine_limits: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

double mb_per_sec(size_t bytes, Clock::time_point start) {
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(bytes) / seconds / 1e6;
}

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t written = ::write(fd, data, size);
    if (written <= 0) die("write");
    data += written;
    size -= static_cast<size_t>(written);
  }
}

// A connected loopback pair: `sender` for the measured side; a thread drains
// the other end into a 1 MiB buffer (a reader doing no work of its own).
struct LoopbackPair {
  int sender = -1;
  std::thread reader;

  explicit LoopbackPair(size_t expected_bytes) {
    int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      die("loopback listener");
    int receiver = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(receiver, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) die("connect");
    sender = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    int one = 1;
    ::setsockopt(sender, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    reader = std::thread([receiver, expected_bytes] {
      std::vector<char> buffer(kMiB);
      size_t received = 0;
      while (received < expected_bytes) {
        ssize_t got = ::read(receiver, buffer.data(), buffer.size());
        if (got <= 0) break;
        received += static_cast<size_t>(got);
      }
      ::close(receiver);
    });
  }
  // Waits for the reader to have everything: the figure is delivery, not queueing.
  void finish() {
    reader.join();
    ::close(sender);
  }
};

// A file of `bytes` in `dir`, written and read once so it sits in the page cache.
int cached_file(const std::string& dir, size_t bytes) {
  std::string path = dir + "/machine_limits.cached";
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) die("open " + path);
  ::unlink(path.c_str());
  std::vector<char> block(kMiB, 'x');
  for (size_t at = 0; at < bytes; at += kMiB) write_all(fd, block.data(), kMiB);
  for (size_t at = 0; at < bytes; at += kMiB) (void)::pread(fd, block.data(), kMiB, static_cast<off_t>(at));
  return fd;
}

double loopback_from_buffer(size_t bytes) {
  std::vector<char> buffer(kSendChunk, 'x');
  LoopbackPair pair(bytes);
  Clock::time_point start = Clock::now();
  for (size_t sent = 0; sent < bytes; sent += kSendChunk) write_all(pair.sender, buffer.data(), kSendChunk);
  pair.finish();
  return mb_per_sec(bytes, start);
}

// Sends `bytes` out of the cached file `fd` of `file_bytes`, wrapping around,
// by sendfile (zero copy) or by pread into a buffer then write.
double loopback_from_page_cache(int fd, size_t file_bytes, size_t bytes, bool use_sendfile) {
  std::vector<char> buffer(kMiB);
  LoopbackPair pair(bytes);
  Clock::time_point start = Clock::now();
  for (size_t sent = 0; sent < bytes;) {
    off_t offset = static_cast<off_t>(sent % file_bytes);
    if (use_sendfile) {
      ssize_t done = ::sendfile(pair.sender, fd, &offset, kSendChunk);
      if (done <= 0) die("sendfile");
      sent += static_cast<size_t>(done);
    } else {
      ssize_t got = ::pread(fd, buffer.data(), buffer.size(), offset);
      if (got <= 0) die("pread");
      write_all(pair.sender, buffer.data(), static_cast<size_t>(got));
      sent += static_cast<size_t>(got);
    }
  }
  pair.finish();
  return mb_per_sec(bytes, start);
}

// Buffered 1 MiB writes to a new file, no sync: the page cache's rate of
// taking memory. The file is removed after, which frees its pages.
double page_cache_write(const std::string& dir, size_t bytes, bool sync_every_mib) {
  std::string path = dir + "/machine_limits.write";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) die("open " + path);
  std::vector<char> block(kMiB, 'y');
  Clock::time_point start = Clock::now();
  for (size_t at = 0; at < bytes; at += kMiB) {
    write_all(fd, block.data(), kMiB);
    if (sync_every_mib && ::fdatasync(fd) != 0) die("fdatasync");
  }
  double rate = mb_per_sec(bytes, start);
  ::close(fd);
  ::unlink(path.c_str());
  return rate;
}

double anonymous_first_touch(size_t bytes) {
  Clock::time_point start = Clock::now();
  void* memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) die("mmap");
  auto* bytes_at = static_cast<volatile char*>(memory);
  for (size_t at = 0; at < bytes; at += 4096) bytes_at[at] = 1;
  double rate = mb_per_sec(bytes, start);
  ::munmap(memory, bytes);
  return rate;
}

double memory_copy(size_t bytes) {
  std::vector<char> from(bytes, 'z'), to(bytes, 0);
  Clock::time_point start = Clock::now();
  std::memcpy(to.data(), from.data(), bytes);
  double rate = mb_per_sec(bytes, start);
  if (to[bytes / 2] != 'z') die("memcpy");
  return rate;
}

// A fixed chain of dependent multiply-xorshift steps: the core's speed now.
// On a shared VM it drifts with the host's load; the figure beside a table
// says how fast the machine was when the table was taken.
double cpu_probe_million_steps_per_sec() {
  constexpr uint64_t kSteps = 200'000'000;
  uint64_t state = 0x9E3779B97F4A7C15ULL;
  Clock::time_point start = Clock::now();
  for (uint64_t i = 0; i < kSteps; ++i) {
    state ^= state >> 29;
    state *= 0xBF58476D1CE4E5B9ULL;
  }
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (state == 0) die("cpu probe");  // keeps the loop
  return static_cast<double>(kSteps) / seconds / 1e6;
}

// `label` and `unit` are what bench/run.sh prints: the one place they are named.
struct Figure {
  const char* key;
  const char* label;
  double value;
  const char* unit = "MB/s";
};

}  // namespace

int main(int argc, char** argv) {
  std::string dir = ".";
  size_t mib = 1024;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (arg == "--mib" && i + 1 < argc) {
      mib = std::strtoul(argv[++i], nullptr, 10);
    } else if (arg == "--json") {
      json = true;
    } else {
      std::fprintf(stderr, "usage: machine_limits [--dir DIR] [--mib N] [--json]\n");
      return 2;
    }
  }
  if (mib < 8) mib = 8;
  const size_t bytes = mib * kMiB;
  const size_t cached_bytes = std::min<size_t>(bytes, 256 * kMiB);
  std::vector<Figure> figures;
  figures.push_back({"cpu_probe_msteps", "CPU probe, dependent multiply-xorshift steps",
                     cpu_probe_million_steps_per_sec(), "million/s"});
  // First, before this program has freed anything: the page cache takes
  // memory as the machine has it free. On a VM whose free memory the host
  // reclaims (free page reporting), every new page is a host fault.
  figures.push_back({"page_cache_new_memory", "buffered 1 MiB writes to a new file, memory taken from the free pool",
                     page_cache_write(dir, bytes, false)});
  // At once again: the pages the first file just freed are reused.
  figures.push_back({"page_cache_recycled_memory", "the same right after a file was deleted (recycled memory)",
                     page_cache_write(dir, bytes, false)});
  figures.push_back({"fdatasync_every_mib", "write + fdatasync every 1 MiB",
                     page_cache_write(dir, std::min<size_t>(bytes, 256 * kMiB), true)});
  figures.push_back({"anonymous_first_touch", "first touch of fresh anonymous memory", anonymous_first_touch(bytes)});
  figures.push_back({"memory_copy", "memcpy between two touched buffers", memory_copy(std::min(bytes, 512 * kMiB))});
  figures.push_back({"loopback_from_buffer", "loopback TCP, write() of a 1 MiB buffer to a reader that only reads", loopback_from_buffer(2 * bytes)});
  int fd = cached_file(dir, cached_bytes);
  figures.push_back({"loopback_sendfile", "loopback TCP, sendfile() of a cached file, 1 MiB calls",
                     loopback_from_page_cache(fd, cached_bytes, 2 * bytes, true)});
  figures.push_back({"loopback_pread_write", "loopback TCP, pread() 1 MiB of a cached file + write()",
                     loopback_from_page_cache(fd, cached_bytes, 2 * bytes, false)});
  ::close(fd);
  if (json) {  // the labels hold no character JSON would need escaped
    std::string line = "{";
    for (const Figure& figure : figures) {
      if (line.size() > 1) line += ",";
      line += "\"" + std::string(figure.key) + "\":{\"label\":\"" + figure.label + "\",\"unit\":\"" +
              figure.unit + "\",\"value\":" + std::to_string(figure.value) + "}";
    }
    std::printf("%s}\n", line.c_str());
  } else {
    for (const Figure& figure : figures)
      std::printf("%-72s %9.0f %s\n", figure.label, figure.value, figure.unit);
  }
  return 0;
}
