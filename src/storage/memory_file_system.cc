#include "storage/memory_file_system.h"

#include <algorithm>
#include <cstring>

namespace sluice::storage {
namespace {

Status not_found(const std::string& what, const std::string& path) {
  return Status(Errc::io_error, what + " " + path + ": No such file or directory");
}
Status injected(const std::string& what, const std::string& path) {
  return Status(Errc::io_error, what + " " + path + ": Input/output error (injected)");
}
Status no_space(const std::string& what, const std::string& path) {
  return Status(Errc::no_space, what + " " + path + ": No space left on device (capacity reached)");
}

class MemoryFile final : public File {
 public:
  MemoryFile(MemoryFileSystem& fs, std::shared_ptr<MemoryFileSystem::Inode> inode, std::string path,
             bool writable)
      : fs_(fs), inode_(std::move(inode)), path_(std::move(path)), writable_(writable) {}

  Result<size_t> pread(uint64_t position, std::span<uint8_t> out) override {
    std::lock_guard lock(fs_.mutex());
    inode_->cold = false;
    const auto& data = inode_->data;
    if (position >= data.size()) return size_t{0};
    size_t n = std::min<size_t>(out.size(), data.size() - position);
    if (n > 0) std::memcpy(out.data(), data.data() + position, n);  // out may be empty (null data)
    return n;
  }

  Result<size_t> pread_nowait(uint64_t position, std::span<uint8_t> out) override {
    {
      std::lock_guard lock(fs_.mutex());
      if (inode_->cold)
        return Status(Errc::would_block, "pread " + path_ + ": not in the page cache (evicted)");
    }
    return pread(position, out);
  }

  bool cached(uint64_t /*position*/, uint64_t /*length*/) override {
    std::lock_guard lock(fs_.mutex());
    return !inode_->cold;
  }

  Status append(Bytes data) override {
    std::lock_guard lock(fs_.mutex());
    if (Status s = check_write("append"); !s) return s;
    return write_locked("append", inode_->data.size(), data);
  }

  Status pwrite(uint64_t position, Bytes data) override {
    std::lock_guard lock(fs_.mutex());
    if (Status s = check_write("pwrite"); !s) return s;
    return write_locked("pwrite", position, data);
  }

  Status truncate(uint64_t size_bytes) override {
    std::lock_guard lock(fs_.mutex());
    if (Status s = check_write("ftruncate"); !s) return s;
    inode_->data.resize(size_bytes);
    inode_->reserved_bytes = 0;
    return Status::ok();
  }

  // As fallocate(KEEP_SIZE): best effort, all or nothing.
  void reserve(uint64_t bytes) override {
    std::lock_guard lock(fs_.mutex());
    const uint64_t held = std::max<uint64_t>(inode_->data.size(), inode_->reserved_bytes);
    if (bytes > held && bytes - held <= fs_.free_bytes_locked()) inode_->reserved_bytes = bytes;
  }

  Status sync() override {
    std::lock_guard lock(fs_.mutex());
    if (fs_.writes_failing()) return injected("fdatasync", path_);
    inode_->synced_data = inode_->data;
    return Status::ok();
  }

  Result<uint64_t> size() override {
    std::lock_guard lock(fs_.mutex());
    return static_cast<uint64_t>(inode_->data.size());
  }

  const std::string& path() const override { return path_; }

 private:
  // A full file system takes the part that fits, then fails (a short write
  // followed by ENOSPC).
  Status write_locked(const char* what, uint64_t position, Bytes data) {
    auto& bytes = inode_->data;
    const uint64_t end = position + data.size();
    const uint64_t held = std::max<uint64_t>(bytes.size(), inode_->reserved_bytes);
    const uint64_t growth = end > held ? end - held : 0;
    const uint64_t free_bytes = fs_.free_bytes_locked();
    Bytes fitting = data;
    if (growth > free_bytes) {
      const uint64_t room = held + free_bytes > position ? held + free_bytes - position : 0;
      fitting = data.first(static_cast<size_t>(std::min<uint64_t>(room, data.size())));
    }
    if (bytes.size() < position + fitting.size()) bytes.resize(position + fitting.size());
    std::copy(fitting.begin(), fitting.end(), bytes.begin() + static_cast<ptrdiff_t>(position));
    if (fitting.size() < data.size()) return no_space(what, path_);
    return Status::ok();
  }

  Status check_write(const char* what) {
    if (!writable_)
      return Status(Errc::io_error, std::string(what) + " " + path_ + ": Bad file descriptor");
    if (fs_.writes_failing()) return injected(what, path_);
    return Status::ok();
  }

  MemoryFileSystem& fs_;
  std::shared_ptr<MemoryFileSystem::Inode> inode_;
  std::string path_;
  bool writable_;
};

// "/a/b/" and "a/b" name the same directory as "/a/b".
std::string normalize(std::string path) {
  if (path.empty() || path[0] != '/') path = "/" + path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

Status MemoryFileSystem::check_parent(const std::string& path) const {
  if (!is_dir(parent_path(path))) return not_found("open", path);
  return Status::ok();
}

Result<FileHandle> MemoryFileSystem::open(const std::string& raw_path, OpenMode mode) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  auto it = files_.find(path);
  bool creates = mode == OpenMode::create || mode == OpenMode::create_truncate;
  if (it == files_.end()) {
    if (!creates) return not_found("open", path);
    if (fail_writes_) return injected("open", path);
    if (Status s = check_parent(path); !s) return s;
    it = files_.emplace(path, std::make_shared<Inode>()).first;
  } else if (mode == OpenMode::create_truncate) {
    if (fail_writes_) return injected("open", path);
    it->second->data.clear();
    it->second->reserved_bytes = 0;
  }
  bool writable = mode != OpenMode::read_only;
  return FileHandle(std::make_shared<MemoryFile>(*this, it->second, path, writable));
}

Status MemoryFileSystem::rename(const std::string& raw_from, const std::string& raw_to) {
  std::string from = normalize(raw_from), to = normalize(raw_to);
  std::lock_guard lock(mutex_);
  if (fail_writes_) return injected("rename", from);
  if (is_dir(from)) return rename_dir(from, to);
  auto it = files_.find(from);
  if (it == files_.end()) return not_found("rename", from);
  if (Status s = check_parent(to); !s) return s;
  InodePtr inode = it->second;
  files_.erase(it);
  files_[to] = inode;
  return Status::ok();
}

// Moves a directory and everything under it. The durable copy of the
// subtree moves with it when the parent is dir-synced (see sync_dir), as a
// journaled file system makes a directory rename durable as one entry.
Status MemoryFileSystem::rename_dir(const std::string& from, const std::string& to) {
  if (Status s = check_parent(to); !s) return s;
  if (is_dir(to) || files_.count(to))
    return Status(Errc::io_error, "rename " + from + " to " + to + ": File exists");
  auto moved = [&](const std::string& path) { return to + path.substr(from.size()); };
  std::map<std::string, InodePtr> files;
  for (auto& [name, inode] : files_)
    files[name.starts_with(from + "/") ? moved(name) : name] = inode;
  files_ = std::move(files);
  std::set<std::string> dirs;
  for (const auto& dir : dirs_)
    dirs.insert(dir == from || dir.starts_with(from + "/") ? moved(dir) : dir);
  dirs_ = std::move(dirs);
  pending_dir_renames_.emplace_back(from, to);
  return Status::ok();
}

Status MemoryFileSystem::remove(const std::string& raw_path) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  if (fail_writes_) return injected("unlink", path);
  if (files_.erase(path) == 0) return not_found("unlink", path);
  return Status::ok();
}

Status MemoryFileSystem::remove_dir(const std::string& raw_path) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  if (fail_writes_) return injected("rmdir", path);
  if (!is_dir(path)) return not_found("rmdir", path);
  std::string prefix = path + "/";
  for (const auto& [name, inode] : files_)
    if (name.starts_with(prefix))
      return Status(Errc::io_error, "rmdir " + path + ": Directory not empty");
  for (const auto& dir : dirs_)
    if (dir.starts_with(prefix))
      return Status(Errc::io_error, "rmdir " + path + ": Directory not empty");
  dirs_.erase(path);
  return Status::ok();
}

Result<std::vector<std::string>> MemoryFileSystem::list_dir(const std::string& raw_path) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  if (!is_dir(path)) return not_found("opendir", path);
  std::vector<std::string> names;
  for (const auto& [name, inode] : files_)
    if (parent_path(name) == path) names.push_back(file_name(name));
  for (const auto& dir : dirs_)
    if (dir != "/" && parent_path(dir) == path) names.push_back(file_name(dir));
  std::sort(names.begin(), names.end());
  return names;
}

Status MemoryFileSystem::make_dirs(const std::string& raw_path) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  if (files_.count(path))
    return Status(Errc::io_error, "mkdir " + path + ": exists and is not a directory");
  std::vector<std::string> missing;
  for (std::string dir = path; !is_dir(dir); dir = parent_path(dir)) missing.push_back(dir);
  if (!missing.empty() && fail_writes_) return injected("mkdir", path);
  dirs_.insert(missing.begin(), missing.end());
  return Status::ok();
}

Status MemoryFileSystem::sync_dir(const std::string& raw_path) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  if (!is_dir(path)) return not_found("fsync directory", path);
  if (fail_writes_) return injected("fsync directory", path);
  // Directory renames within this directory carry their durable subtree.
  for (const auto& [from, to] : pending_dir_renames_) {
    if (parent_path(to) != path) continue;
    // Captured by name: clang before 16 refuses to capture structured bindings.
    auto moved = [&to = to, &from = from](const std::string& p) {
      return to + p.substr(from.size());
    };
    std::map<std::string, InodePtr> files;
    for (auto& [name, inode] : durable_files_)
      files[name.starts_with(from + "/") ? moved(name) : name] = inode;
    durable_files_ = std::move(files);
    std::set<std::string> dirs;
    for (const auto& dir : durable_dirs_)
      dirs.insert(dir.starts_with(from + "/") ? moved(dir) : dir);
    durable_dirs_ = std::move(dirs);
  }
  std::erase_if(pending_dir_renames_,
                [&](const auto& rename) { return parent_path(rename.second) == path; });
  // The durable entries of this directory become its current entries.
  std::erase_if(durable_files_,
                [&](const auto& entry) { return parent_path(entry.first) == path; });
  for (const auto& [name, inode] : files_)
    if (parent_path(name) == path) durable_files_[name] = inode;
  std::erase_if(durable_dirs_, [&](const std::string& dir) {
    return dir != "/" && parent_path(dir) == path && !is_dir(dir);
  });
  for (const auto& dir : dirs_)
    if (dir != "/" && parent_path(dir) == path) durable_dirs_.insert(dir);
  return Status::ok();
}

Result<bool> MemoryFileSystem::exists(const std::string& raw_path) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  return files_.count(path) != 0 || is_dir(path);
}

Result<uint64_t> MemoryFileSystem::file_size(const std::string& raw_path) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  auto it = files_.find(path);
  if (it == files_.end()) return not_found("stat", path);
  return static_cast<uint64_t>(it->second->data.size());
}

void MemoryFileSystem::simulate_crash(CrashMode mode) {
  std::lock_guard lock(mutex_);
  // A directory survives only if it and all its ancestors were dir-synced.
  std::set<std::string> dirs{"/"};
  for (const auto& dir : durable_dirs_) {
    bool reachable = true;
    for (std::string d = dir; d != "/"; d = parent_path(d))
      reachable = reachable && durable_dirs_.count(d);
    if (reachable) dirs.insert(dir);
  }
  std::map<std::string, InodePtr> files;
  for (const auto& [name, inode] : durable_files_)
    if (dirs.count(parent_path(name))) files[name] = inode;
  for (auto& [name, inode] : files) {
    std::vector<uint8_t> kept = inode->synced_data;
    const auto& data = inode->data;
    bool appended_only =
        data.size() > kept.size() && std::equal(kept.begin(), kept.end(), data.begin());
    if (mode == CrashMode::keep_random_prefix && appended_only) {
      size_t extra = random_() % (data.size() - kept.size() + 1);
      kept.insert(kept.end(), data.begin() + static_cast<ptrdiff_t>(kept.size()),
                  data.begin() + static_cast<ptrdiff_t>(kept.size() + extra));
    }
    inode->data = kept;
    inode->synced_data = std::move(kept);
  }
  files_ = files;
  durable_files_ = std::move(files);
  pending_dir_renames_.clear();
  dirs_ = dirs;
  durable_dirs_ = std::move(dirs);
}

void MemoryFileSystem::set_capacity_bytes(uint64_t bytes) {
  std::lock_guard lock(mutex_);
  capacity_bytes_ = bytes;
}

uint64_t MemoryFileSystem::free_bytes_locked() const {
  if (capacity_bytes_ == UINT64_MAX) return UINT64_MAX;
  std::set<const Inode*> counted;
  uint64_t used = 0;
  for (const auto& [name, inode] : files_)
    if (counted.insert(inode.get()).second)
      used += std::max<uint64_t>(inode->data.size(), inode->reserved_bytes);
  return used >= capacity_bytes_ ? 0 : capacity_bytes_ - used;
}

void MemoryFileSystem::evict_page_cache() {
  std::lock_guard lock(mutex_);
  for (auto& [path, inode] : files_) inode->cold = true;
}

void MemoryFileSystem::fail_writes(bool on) {
  std::lock_guard lock(mutex_);
  fail_writes_ = on;
}

std::vector<uint8_t> MemoryFileSystem::contents(const std::string& raw_path) {
  std::lock_guard lock(mutex_);
  auto it = files_.find(normalize(raw_path));
  return it == files_.end() ? std::vector<uint8_t>{} : it->second->data;
}

void MemoryFileSystem::set_contents(const std::string& raw_path, std::vector<uint8_t> data,
                                    bool synced) {
  std::string path = normalize(raw_path);
  std::lock_guard lock(mutex_);
  auto& inode = files_[path];
  if (!inode) inode = std::make_shared<Inode>();
  inode->data = data;
  if (synced) {
    inode->synced_data = std::move(data);
    durable_files_[path] = inode;
  }
}

}  // namespace sluice::storage
