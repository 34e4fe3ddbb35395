#include "storage/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/posix_file_system.h"

namespace sluice::storage {
namespace {

Status lock_io_error(const std::string& what, const std::string& path, int error_number) {
  return Status(Errc::io_error, what + " " + path + ": " + std::strerror(error_number));
}

// The pid the holder wrote, or "unknown" (it may not have written it yet).
std::string holder_pid(int fd) {
  char text[32] = {};
  ssize_t n = ::pread(fd, text, sizeof text - 1, 0);
  std::string pid = n > 0 ? std::string(text, static_cast<size_t>(n)) : "";
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  bool digits = !pid.empty() && pid.find_first_not_of("0123456789") == std::string::npos;
  return digits ? pid : "unknown";
}

// Not synced: the pid only names the holder while it holds the lock, and
// the lock itself needs nothing on disk.
void write_own_pid(int fd) {
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
}

}  // namespace

Result<DirLock> DirLock::acquire(const std::string& dir) {
  PosixFileSystem fs;
  if (Status made = fs.make_dirs(dir); !made) return made;
  std::string path = join_path(dir, dir_lock_file);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return lock_io_error("open", path, errno);
  int rc;
  do rc = ::flock(fd, LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int error_number = errno;
    std::string holder = error_number == EWOULDBLOCK ? holder_pid(fd) : "";
    ::close(fd);
    if (error_number != EWOULDBLOCK) return lock_io_error("flock", path, error_number);
    if (holder == std::to_string(::getpid()))
      return Status(Errc::invalid_value, "directory " + dir + " is configured twice (this process already holds " +
                                             path + ")");
    return Status(Errc::invalid_value, "directory " + dir + " is in use by another broker (process " + holder +
                                           " holds " + path + "); two brokers must not share a directory");
  }
  write_own_pid(fd);
  return DirLock(fd, dir);
}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    dir_ = std::move(other.dir_);
    other.fd_ = -1;
  }
  return *this;
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the only descriptor releases the flock
}

}  // namespace sluice::storage
