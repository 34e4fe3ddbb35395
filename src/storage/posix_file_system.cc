#include "storage/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

namespace sluice::storage {
namespace {

// Running out of descriptors is the process's limit, not the disk failing:
// it gets its own code so that it never takes a log dir offline. A full
// file system (or quota) is Errc::no_space: the dir is not lost, and the
// write may succeed once space is freed. fsync reports errors through
// sync_error() as a plain io_error: after a failed fsync the kernel may have
// dropped the dirty pages, so what was written is no longer known to be there.
Status io_error(const std::string& what, const std::string& path, int error_number) {
  Errc code = Errc::io_error;
  if (error_number == EMFILE || error_number == ENFILE) code = Errc::too_many_open_files;
  if (error_number == ENOSPC || error_number == EDQUOT) code = Errc::no_space;
  return Status(code, what + " " + path + ": " + std::strerror(error_number));
}

// cachestat(2) (Linux 6.5) has no glibc wrapper yet; 451 on every
// architecture that uses the generic syscall table, x86-64 included.
#if !defined(__NR_cachestat) && (defined(__x86_64__) || defined(__aarch64__))
#define __NR_cachestat 451
#endif

Status sync_error(const std::string& what, const std::string& path, int error_number) {
  return Status(Errc::io_error, what + " " + path + ": " + std::strerror(error_number));
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  Result<size_t> pread(uint64_t position, std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n =
          ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(position + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return io_error("pread", path_, errno);
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  // RWF_NOWAIT: the kernel answers EAGAIN instead of reading from the
  // device. A file system without it (EOPNOTSUPP: tmpfs before 6.6) keeps
  // its pages in memory anyway, so a plain pread cannot wait there.
  Result<size_t> pread_nowait(uint64_t position, std::span<uint8_t> out) override {
    if (!nowait_supported_.load(std::memory_order_relaxed)) return pread(position, out);
    size_t done = 0;
    while (done < out.size()) {
      struct iovec part {
        out.data() + done, out.size() - done
      };
      ssize_t n = ::preadv2(fd_, &part, 1, static_cast<off_t>(position + done), RWF_NOWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN)
        return Status(Errc::would_block, "pread " + path_ + ": not in the page cache");
      if (n < 0 && errno == EOPNOTSUPP) {
        nowait_supported_.store(false, std::memory_order_relaxed);
        return pread(position, out);
      }
      if (n < 0) return io_error("pread", path_, errno);
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    return done;
  }

  bool cached(uint64_t position, uint64_t length) override {
#ifdef __NR_cachestat
    if (length == 0) return true;
    struct {
      uint64_t offset, length;
    } range{position, length};
    struct {
      uint64_t cache, dirty, writeback, evicted, recently_evicted;
    } pages{};
    if (::syscall(__NR_cachestat, fd_, &range, &pages, 0) != 0)
      return true;  // cannot tell (ENOSYS)
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    return pages.cache >= (position + length - 1) / page - position / page + 1;
#else
    (void)position;
    (void)length;
    return true;
#endif
  }

  // The end is asked of the kernel once, then tracked: an fstat() per
  // append was a second syscall on every appended batch.
  Status append(Bytes data) override {
    if (end_ == unknown_end) {
      struct stat st;
      if (::fstat(fd_, &st) != 0) return io_error("fstat", path_, errno);
      end_ = static_cast<uint64_t>(st.st_size);
    }
    return pwrite(end_, data);
  }

  Status pwrite(uint64_t position, Bytes data) override {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                           static_cast<off_t>(position + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        end_ = unknown_end;  // a partial write: ask again next time
        return io_error("pwrite", path_, errno);
      }
      done += static_cast<size_t>(n);
    }
    if (end_ != unknown_end) end_ = std::max(end_, position + data.size());
    return Status::ok();
  }

  Status truncate(uint64_t size_bytes) override {
    end_ = unknown_end;
    if (::ftruncate(fd_, static_cast<off_t>(size_bytes)) != 0)
      return io_error("ftruncate", path_, errno);
    end_ = size_bytes;
    return Status::ok();
  }

  // Failure (a file system without fallocate, no space) only loses the
  // speed-up: appends allocate as they go and report their own errors.
  void reserve(uint64_t bytes) override {
    (void)::fallocate(fd_, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(bytes));
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return sync_error("fdatasync", path_, errno);
    return Status::ok();
  }

  Result<uint64_t> size() override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return io_error("fstat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  const std::string& path() const override { return path_; }
  int native_handle() const override { return fd_; }

 private:
  static constexpr uint64_t unknown_end = UINT64_MAX;
  int fd_;
  std::string path_;
  std::atomic<bool> nowait_supported_{true};
  uint64_t end_ = unknown_end;  // where the next append goes; the writer's only
};

int open_flags(OpenMode mode) {
  switch (mode) {
    case OpenMode::read_only:
      return O_RDONLY;
    case OpenMode::read_write:
      return O_RDWR;
    case OpenMode::create:
      return O_RDWR | O_CREAT;
    case OpenMode::create_truncate:
      return O_RDWR | O_CREAT | O_TRUNC;
  }
  return O_RDONLY;
}

}  // namespace

Result<FileHandle> PosixFileSystem::open(const std::string& path, OpenMode mode) {
  int fd = ::open(path.c_str(), open_flags(mode) | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("open", path, errno);
  return FileHandle(std::make_shared<PosixFile>(fd, path));
}

Status PosixFileSystem::rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return io_error("rename " + from + " to", to, errno);
  return Status::ok();
}

Status PosixFileSystem::remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return io_error("unlink", path, errno);
  return Status::ok();
}

Status PosixFileSystem::remove_dir(const std::string& path) {
  if (::rmdir(path.c_str()) != 0) return io_error("rmdir", path, errno);
  return Status::ok();
}

Result<std::vector<std::string>> PosixFileSystem::list_dir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return io_error("opendir", path, errno);
  std::vector<std::string> names;
  while (dirent* entry = ::readdir(dir)) {
    std::string name = entry->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

Status PosixFileSystem::make_dirs(const std::string& path) {
  if (path.empty() || path == "/" || path == ".") return Status::ok();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::ok();
    return Status(Errc::io_error, "mkdir " + path + ": exists and is not a directory");
  }
  if (Status s = make_dirs(parent_path(path)); !s) return s;
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return io_error("mkdir", path, errno);
  return Status::ok();
}

Status PosixFileSystem::sync_dir(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("open directory", path, errno);
  int rc = ::fsync(fd);
  int error_number = errno;
  ::close(fd);
  if (rc != 0) return sync_error("fsync directory", path, error_number);
  return Status::ok();
}

Result<bool> PosixFileSystem::exists(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return io_error("stat", path, errno);
}

Result<uint64_t> PosixFileSystem::file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return io_error("stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace sluice::storage
