#pragma once
// A FileSystem wrapper for tests: counts syncs per file and fails every call
// on paths under chosen prefixes with Errc::io_error (a failing disk that
// holds one log dir only); while out_of_descriptors(true), every call that
// needs a new descriptor (open, list_dir, sync_dir) fails with
// Errc::too_many_open_files (EMFILE).

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

#include "storage/file_system.h"

namespace sluice::storage::testing {

class InstrumentedFileSystem final : public FileSystem {
 public:
  explicit InstrumentedFileSystem(FileSystem& inner) : inner_(inner) {}

  void fail_under(const std::string& prefix) {
    std::lock_guard lock(mutex_);
    failing_.push_back(prefix);
  }
  void out_of_descriptors(bool out) { out_of_descriptors_ = out; }
  Status check_descriptor(const char* what, const std::string& path) const {
    if (!out_of_descriptors_) return Status::ok();
    return Status(Errc::too_many_open_files,
                  std::string(what) + " " + path + ": Too many open files (test)");
  }
  // How long each File::sync takes (to let requests pile up).
  void set_sync_delay(std::chrono::microseconds delay) { sync_delay_us_ = delay.count(); }
  // Syncs of files whose path ends with `suffix`.
  uint64_t syncs_ending_with(const std::string& suffix) const {
    std::lock_guard lock(mutex_);
    uint64_t total = 0;
    for (const auto& [path, count] : syncs_)
      if (path.ends_with(suffix)) total += count;
    return total;
  }

  Status check(const char* what, const std::string& path) const {
    std::lock_guard lock(mutex_);
    for (const auto& prefix : failing_)
      if (path == prefix || path.starts_with(prefix + "/"))
        return Status(Errc::io_error,
                      std::string(what) + " " + path + ": Input/output error (test)");
    return Status::ok();
  }
  void count_sync(const std::string& path) {
    int in_flight = ++syncs_in_flight_;
    for (int most = most_syncs_in_flight_.load();
         in_flight > most && !most_syncs_in_flight_.compare_exchange_weak(most, in_flight);) {
    }
    if (sync_delay_us_ > 0)
      std::this_thread::sleep_for(std::chrono::microseconds(sync_delay_us_.load()));
    --syncs_in_flight_;
    std::lock_guard lock(mutex_);
    ++syncs_[path];
    sync_threads_[path].insert(std::this_thread::get_id());
  }
  // The threads that synced files whose path ends with `suffix`.
  std::set<std::thread::id> sync_threads_ending_with(const std::string& suffix) const {
    std::lock_guard lock(mutex_);
    std::set<std::thread::id> threads;
    for (const auto& [path, ids] : sync_threads_)
      if (path.ends_with(suffix)) threads.insert(ids.begin(), ids.end());
    return threads;
  }
  // The most File::sync calls that were running at the same time.
  int most_syncs_in_flight() const { return most_syncs_in_flight_.load(); }

  Result<FileHandle> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override {
    if (Status s = check("rename", from); !s) return s;
    return inner_.rename(from, to);
  }
  // Called before every remove (unlink), on the thread doing it.
  void set_on_remove(std::function<void(const std::string& path)> on_remove) {
    on_remove_ = std::move(on_remove);
  }
  Status remove(const std::string& path) override {
    if (on_remove_) on_remove_(path);
    if (Status s = check("unlink", path); !s) return s;
    return inner_.remove(path);
  }
  Status remove_dir(const std::string& path) override {
    if (Status s = check("rmdir", path); !s) return s;
    return inner_.remove_dir(path);
  }
  Result<std::vector<std::string>> list_dir(const std::string& path) override {
    if (Status s = check("opendir", path); !s) return s;
    if (Status s = check_descriptor("opendir", path); !s) return s;
    return inner_.list_dir(path);
  }
  Status make_dirs(const std::string& path) override {
    if (Status s = check("mkdir", path); !s) return s;
    return inner_.make_dirs(path);
  }
  Status sync_dir(const std::string& path) override {
    if (Status s = check("fsync directory", path); !s) return s;
    if (Status s = check_descriptor("open directory", path); !s) return s;
    return inner_.sync_dir(path);
  }
  Result<bool> exists(const std::string& path) override {
    if (Status s = check("stat", path); !s) return s;
    return inner_.exists(path);
  }
  Result<uint64_t> file_size(const std::string& path) override {
    if (Status s = check("stat", path); !s) return s;
    return inner_.file_size(path);
  }

 private:
  FileSystem& inner_;
  mutable std::mutex mutex_;
  std::vector<std::string> failing_;
  std::map<std::string, uint64_t> syncs_;
  std::map<std::string, std::set<std::thread::id>> sync_threads_;
  std::atomic<int64_t> sync_delay_us_{0};
  std::atomic<int> syncs_in_flight_{0};
  std::atomic<int> most_syncs_in_flight_{0};
  std::atomic<bool> out_of_descriptors_{false};
  std::function<void(const std::string& path)> on_remove_;
};

class InstrumentedFile final : public File {
 public:
  InstrumentedFile(InstrumentedFileSystem& fs, FileHandle inner)
      : fs_(fs), inner_(std::move(inner)) {}
  Result<size_t> pread(uint64_t position, std::span<uint8_t> out) override {
    if (Status s = fs_.check("pread", path()); !s) return s;
    return inner_->pread(position, out);
  }
  Result<size_t> pread_nowait(uint64_t position, std::span<uint8_t> out) override {
    if (Status s = fs_.check("pread", path()); !s) return s;
    return inner_->pread_nowait(position, out);
  }
  bool cached(uint64_t position, uint64_t length) override {
    return inner_->cached(position, length);
  }
  Status append(Bytes data) override {
    if (Status s = fs_.check("write", path()); !s) return s;
    return inner_->append(data);
  }
  Status pwrite(uint64_t position, Bytes data) override {
    if (Status s = fs_.check("pwrite", path()); !s) return s;
    return inner_->pwrite(position, data);
  }
  Status truncate(uint64_t size_bytes) override {
    if (Status s = fs_.check("ftruncate", path()); !s) return s;
    return inner_->truncate(size_bytes);
  }
  Status sync() override {
    if (Status s = fs_.check("fdatasync", path()); !s) return s;
    fs_.count_sync(path());
    return inner_->sync();
  }
  Result<uint64_t> size() override { return inner_->size(); }
  const std::string& path() const override { return inner_->path(); }

 private:
  InstrumentedFileSystem& fs_;
  FileHandle inner_;
};

inline Result<FileHandle> InstrumentedFileSystem::open(const std::string& path, OpenMode mode) {
  if (Status s = check("open", path); !s) return s;
  if (Status s = check_descriptor("open", path); !s) return s;
  auto file = inner_.open(path, mode);
  if (!file) return file.status();
  return FileHandle(std::make_shared<InstrumentedFile>(*this, std::move(*file)));
}

}  // namespace sluice::storage::testing
