#pragma once
// The file-system interface all storage I/O goes through (DESIGN.md:
// "simulation-ready from day one"). Two implementations:
//   - PosixFileSystem (posix_file_system.h): the real disk.
//   - MemoryFileSystem (memory_file_system.h): tests and simulation; it keeps
//     what is synced apart from what is not, and simulate_crash() drops every
//     write (and every directory entry) not yet synced.
//
// Durability contract, the same for both:
//   - File::append/pwrite/truncate are durable only after File::sync().
//   - A created, renamed or removed directory entry is durable only after
//     FileSystem::sync_dir() of its parent directory.
// Errors are values: Errc::io_error with the path and the errno text.
//
// Concurrency: a File may be shared (std::shared_ptr) between a writer and
// readers; pread and sync may run on other threads concurrently with append
// (POSIX guarantees this; MemoryFileSystem locks internally). A removed file
// stays readable through handles opened before the removal, as on POSIX, so
// readers holding a file range never see garbage.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"

namespace sluice::storage {

class File {
 public:
  virtual ~File() = default;

  // Reads up to out.size() bytes at `position`; fewer only at end of file.
  virtual Result<size_t> pread(uint64_t position, std::span<uint8_t> out) = 0;
  // The same without waiting on a device, for reactor threads: Errc::would_block
  // when a page of the range is not in the page cache (preadv2 RWF_NOWAIT),
  // and nothing read then. Files that never wait (in memory) just read.
  virtual Result<size_t> pread_nowait(uint64_t position, std::span<uint8_t> out) {
    return pread(position, out);
  }
  // Whether every page of [position, position + length) is in the page
  // cache (cachestat), so that sendfile of it will not wait on the device.
  // True when the kernel cannot tell.
  virtual bool cached(uint64_t /*position*/, uint64_t /*length*/) { return true; }
  // Writes at the end of the file. A file has one writing handle at a time
  // (PosixFileSystem tracks the end per handle instead of asking the kernel
  // on every append).
  virtual Status append(Bytes data) = 0;
  // Writes at `position`, extending the file if needed.
  virtual Status pwrite(uint64_t position, Bytes data) = 0;
  virtual Status truncate(uint64_t size_bytes) = 0;
  // Makes the data written so far durable (fdatasync).
  virtual Status sync() = 0;
  virtual Result<uint64_t> size() = 0;
  virtual const std::string& path() const = 0;
  // The descriptor for sendfile, or -1 when the file is not a real one.
  virtual int native_handle() const { return -1; }
  // Best effort: allocates disk blocks up to `bytes` without changing the
  // size (fallocate KEEP_SIZE), so later appends skip the file system's
  // block allocation. truncate() to the current size gives them back.
  virtual void reserve(uint64_t /*bytes*/) {}
};

using FileHandle = std::shared_ptr<File>;

enum class OpenMode {
  read_only,       // must exist
  read_write,      // must exist
  create,          // read-write, created empty when missing
  create_truncate  // read-write, emptied if it exists
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Result<FileHandle> open(const std::string& path, OpenMode mode) = 0;
  // Atomically replaces `to` with `from` (POSIX rename).
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  // Removes a file (not a directory).
  virtual Status remove(const std::string& path) = 0;
  // Removes an empty directory.
  virtual Status remove_dir(const std::string& path) = 0;
  // Names (not paths) of the entries of a directory, sorted.
  virtual Result<std::vector<std::string>> list_dir(const std::string& path) = 0;
  // Creates a directory and its missing parents; ok if it exists.
  virtual Status make_dirs(const std::string& path) = 0;
  // Makes the entries of a directory durable (fsync of the directory).
  virtual Status sync_dir(const std::string& path) = 0;
  virtual Result<bool> exists(const std::string& path) = 0;
  virtual Result<uint64_t> file_size(const std::string& path) = 0;
};

// Path helpers ('/' separated).
std::string join_path(const std::string& dir, const std::string& name);
std::string parent_path(const std::string& path);
std::string file_name(const std::string& path);

// Reads a whole file (small files: checkpoints, indexes).
Result<std::vector<uint8_t>> read_whole_file(FileSystem& fs, const std::string& path);

// Replaces `path` with `contents` atomically and durably: write `path`.tmp,
// sync it, rename over `path`, sync the directory. After a crash the file
// holds either the old or the new contents, never a mix.
Status write_file_atomically(FileSystem& fs, const std::string& path, Bytes contents);

}  // namespace sluice::storage
