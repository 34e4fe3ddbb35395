#pragma once
// The lock that keeps two brokers off one directory (Kafka's `.lock` file in
// every log dir, LogManager.lockLogDirs): two processes appending to the
// same segment files would overwrite each other's acknowledged records.
//
// `.lock` is held with flock(LOCK_EX) for as long as the DirLock lives (the
// process's life, for a broker); the kernel drops it when the process dies,
// so a crash never leaves a stale lock. The holder writes its pid into the
// file so that a second process can say who holds it (Kafka's file is
// empty; Kafka ignores the content). Format: docs/storage.md.
//
// Real directories only (POSIX): the in-memory file system of the tests has
// no other process to keep out.

#include <string>

#include "base/result.h"

namespace sluice::storage {

inline constexpr char dir_lock_file[] = ".lock";

class DirLock {
 public:
  // Creates `dir` if missing, then takes its lock without waiting.
  // Errc::invalid_value naming the dir and the holder's pid if another
  // process (or another DirLock of this one) holds it; Errc::io_error if
  // the file cannot be created or locked.
  static Result<DirLock> acquire(const std::string& dir);

  DirLock(DirLock&& other) noexcept : fd_(other.fd_), dir_(std::move(other.dir_)) { other.fd_ = -1; }
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();  // releases the lock (the file stays, as Kafka's does)

  const std::string& dir() const { return dir_; }

 private:
  DirLock(int fd, std::string dir) : fd_(fd), dir_(std::move(dir)) {}
  int fd_ = -1;
  std::string dir_;
};

}  // namespace sluice::storage
