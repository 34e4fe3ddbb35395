#pragma once
// An in-memory FileSystem for tests and simulation. It remembers, per file,
// the contents as of the last sync and, per directory, the entries as of the
// last sync_dir, so simulate_crash() can throw away exactly what a power
// loss may throw away:
//   - file data written but not synced (or, with CrashMode::keep_random_prefix,
//     a random prefix of the unsynced appended tail survives: a torn write);
//   - directory entries created, renamed or removed but not dir-synced
//     (a new file not yet dir-synced vanishes; a rename not yet dir-synced is
//     undone). A directory can be renamed (with all it holds) like a file.
// Fault injection: fail_writes(true) makes every mutating call fail with
// Errc::io_error, as a failing disk would; set_capacity_bytes(n) makes the
// file system full at n bytes of file data: a write that does not fit writes
// what fits and fails with Errc::no_space, as a full disk does (ENOSPC
// after a short write); File::reserve holds space as fallocate(KEEP_SIZE)
// does (writes into it need no more; a truncate gives it back).
//
// Page cache: evict_page_cache() makes files cold for File::pread_nowait.
//
// Thread-safe: one mutex guards the whole file system.

#include <map>
#include <mutex>
#include <random>
#include <set>

#include "storage/file_system.h"

namespace sluice::storage {

enum class CrashMode { drop_unsynced, keep_random_prefix };

class MemoryFileSystem final : public FileSystem {
 public:
  struct Inode {
    std::vector<uint8_t> data;
    std::vector<uint8_t> synced_data;
    uint64_t reserved_bytes = 0;  // File::reserve: space held past the data (until a truncate)
    bool cold = false;            // evict_page_cache(): pread_nowait would block until a pread
  };

  explicit MemoryFileSystem(uint64_t seed = 1) : random_(seed) {}

  Result<FileHandle> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status remove(const std::string& path) override;
  Status remove_dir(const std::string& path) override;
  Result<std::vector<std::string>> list_dir(const std::string& path) override;
  Status make_dirs(const std::string& path) override;
  Status sync_dir(const std::string& path) override;
  Result<bool> exists(const std::string& path) override;
  Result<uint64_t> file_size(const std::string& path) override;

  // Loses everything not synced. Handles opened before stay usable but see
  // the post-crash contents; callers normally drop them and reopen.
  void simulate_crash(CrashMode mode = CrashMode::drop_unsynced);
  void fail_writes(bool on);
  // Total bytes of the files' data the file system holds at most (files
  // removed but still open are not counted); UINT64_MAX: no limit.
  void set_capacity_bytes(uint64_t bytes);
  // As if the page cache dropped every file's pages: File::pread_nowait
  // answers Errc::would_block and File::cached false for a file until a
  // (blocking) pread of it reads it in again (the whole file, simplified).
  void evict_page_cache();

  // Test helpers: direct access to the current contents.
  std::vector<uint8_t> contents(const std::string& path);
  void set_contents(const std::string& path, std::vector<uint8_t> data, bool synced);

  // Used by the file handles.
  std::mutex& mutex() { return mutex_; }
  bool writes_failing() const { return fail_writes_; }
  // With mutex() held: how many more bytes of file data fit.
  uint64_t free_bytes_locked() const;

 private:
  using InodePtr = std::shared_ptr<Inode>;
  bool is_dir(const std::string& path) const { return dirs_.count(path) != 0; }
  Status check_parent(const std::string& path) const;
  Status rename_dir(const std::string& from, const std::string& to);

  std::mutex mutex_;
  std::map<std::string, InodePtr> files_;          // current directory entries
  std::map<std::string, InodePtr> durable_files_;  // entries as of the last sync_dir
  std::set<std::string> dirs_{"/"};
  std::set<std::string> durable_dirs_{"/"};
  std::vector<std::pair<std::string, std::string>> pending_dir_renames_;  // not yet dir-synced
  std::mt19937_64 random_;
  bool fail_writes_ = false;
  uint64_t capacity_bytes_ = UINT64_MAX;
};

}  // namespace sluice::storage
