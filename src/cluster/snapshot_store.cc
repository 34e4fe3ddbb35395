#include "cluster/snapshot_store.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdio>

#include "storage/log.h"

namespace sluice::cluster {
namespace {

constexpr std::string_view checkpoint_suffix = ".checkpoint";
constexpr std::string_view part_suffix = ".checkpoint.part";
constexpr std::string_view deleted_suffix = ".checkpoint.deleted";  // Kafka's, removed at open
constexpr std::string_view corrupt_suffix = ".corrupt";

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

}  // namespace

std::string FileSnapshotStore::file_name(const raft::SnapshotId& id) {
  char name[64];
  std::snprintf(name, sizeof(name), "%020lld-%010d.checkpoint",
                static_cast<long long>(id.end_offset), id.epoch);
  return name;
}

std::optional<raft::SnapshotId> FileSnapshotStore::parse_file_name(const std::string& name) {
  // 20 digits, '-', 10 digits, ".checkpoint": exactly Kafka's width.
  if (name.size() != 20 + 1 + 10 + checkpoint_suffix.size() ||
      !ends_with(name, checkpoint_suffix) || name[20] != '-')
    return std::nullopt;
  raft::SnapshotId id;
  const char* begin = name.data();
  auto [offset_end, offset_error] = std::from_chars(begin, begin + 20, id.end_offset);
  auto [epoch_end, epoch_error] = std::from_chars(begin + 21, begin + 31, id.epoch);
  if (offset_error != std::errc{} || offset_end != begin + 20 || epoch_error != std::errc{} ||
      epoch_end != begin + 31 || id.end_offset < 0 || id.epoch < 0)
    return std::nullopt;
  return id;
}

std::string FileSnapshotStore::path(const raft::SnapshotId& id) const {
  return storage::join_path(dir_, file_name(id));
}

Result<std::unique_ptr<FileSnapshotStore>> FileSnapshotStore::open(storage::FileSystem& fs,
                                                                   std::string dir,
                                                                   const Clock* clock) {
  if (Status s = fs.make_dirs(dir); !s) return s;
  std::unique_ptr<FileSnapshotStore> store(new FileSnapshotStore(fs, std::move(dir), clock));
  if (Status s = store->scan(); !s) return s;
  return store;
}

// Removes unfinished writes, then keeps the checkpoints from the newest
// that decodes down (a corrupt newer one is set aside with a log line).
Status FileSnapshotStore::scan() {
  auto names = fs_.list_dir(dir_);
  if (!names) return names.status();
  for (const std::string& name : *names) {
    if (!ends_with(name, part_suffix) && !ends_with(name, deleted_suffix)) continue;
    spdlog::info("metadata: removing the unfinished snapshot {}/{}", dir_, name);
    if (Status s = fs_.remove(storage::join_path(dir_, name)); !s) return s;
  }
  for (const std::string& name : *names)
    if (auto id = parse_file_name(name)) snapshots_.insert(*id);
  while (!snapshots_.empty()) {
    const raft::SnapshotId newest = *snapshots_.rbegin();
    auto bytes = read_all(newest);
    Status status = bytes ? Status::ok() : bytes.status();
    if (bytes) {
      auto content =
          decode_checkpoint(Bytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
      if (content) return Status::ok();
      status = content.status();
    }
    const std::string file = path(newest);
    spdlog::error(
        "metadata: the snapshot {} is unusable ({}); it is renamed {}{} and the {} is used", file,
        status.to_string(), file_name(newest), corrupt_suffix,
        snapshots_.size() > 1 ? "next older snapshot" : "metadata log");
    snapshots_.erase(newest);
    readers_.erase(newest);
    if (Status s = fs_.rename(file, file + std::string(corrupt_suffix)); !s) return s;
  }
  return fs_.sync_dir(dir_);
}

std::optional<raft::SnapshotId> FileSnapshotStore::latest() const {
  if (snapshots_.empty()) return std::nullopt;
  return *snapshots_.rbegin();
}

int64_t FileSnapshotStore::size(const raft::SnapshotId& id) const {
  if (!snapshots_.count(id)) return -1;
  auto bytes = fs_.file_size(path(id));
  return bytes ? static_cast<int64_t>(*bytes) : -1;
}

std::string FileSnapshotStore::read(const raft::SnapshotId& id, int64_t position,
                                    size_t max_bytes) const {
  if (!snapshots_.count(id) || position < 0) return {};
  auto found = readers_.find(id);
  if (found == readers_.end()) {
    auto file = fs_.open(path(id), storage::OpenMode::read_only);
    if (!file) {
      spdlog::error("metadata: opening the snapshot {}: {}", path(id), file.status().to_string());
      return {};
    }
    found = readers_.emplace(id, std::move(*file)).first;
  }
  std::string out(max_bytes, '\0');
  auto read =
      found->second->pread(static_cast<uint64_t>(position),
                           std::span<uint8_t>(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  if (!read) {
    spdlog::error("metadata: reading the snapshot {}: {}", path(id), read.status().to_string());
    return {};
  }
  out.resize(*read);
  return out;
}

Result<std::string> FileSnapshotStore::read_all(const raft::SnapshotId& id) const {
  auto size = fs_.file_size(path(id));
  if (!size) return size.status();
  std::string bytes;
  while (bytes.size() < *size) {
    std::string chunk = read(id, static_cast<int64_t>(bytes.size()), *size - bytes.size());
    if (chunk.empty()) return Status(Errc::truncated, path(id) + ": a short read");
    bytes += chunk;
  }
  return bytes;
}

Result<CheckpointContent> FileSnapshotStore::load(const raft::SnapshotId& id) const {
  if (!snapshots_.count(id)) return Status(Errc::invalid_value, "no snapshot " + file_name(id));
  auto bytes = read_all(id);
  if (!bytes) return bytes.status();
  return decode_checkpoint(Bytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size()));
}

void FileSnapshotStore::begin_write(const raft::SnapshotId& id) {
  drop_write();
  const std::string part = storage::join_path(dir_, file_name(id) + "." + "part");
  auto file = fs_.open(part, storage::OpenMode::create_truncate);
  if (!file) return fail("creating " + part, file.status());
  write_ = Write{id, std::move(*file)};
}

void FileSnapshotStore::append(std::string_view chunk) {
  if (!write_ || write_->failed) return;
  Status s =
      write_->file->append(Bytes(reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()));
  if (!s) {
    write_->failed = true;
    fail("writing " + write_->file->path(), s);
  }
}

void FileSnapshotStore::commit() {
  if (!write_) return;
  Write write = std::move(*write_);
  write_.reset();
  if (write.failed) return;
  const std::string part = write.file->path();
  const std::string final_path = path(write.id);
  if (Status s = write.file->sync(); !s) return fail("syncing " + part, s);
  write.file.reset();
  if (Status s = fs_.rename(part, final_path); !s) return fail("renaming " + part, s);
  if (Status s = fs_.sync_dir(dir_); !s) return fail("syncing " + dir_, s);
  readers_.erase(write.id);
  snapshots_.insert(write.id);
}

void FileSnapshotStore::delete_before(const raft::SnapshotId& id) {
  while (!snapshots_.empty() && *snapshots_.begin() < id) {
    const raft::SnapshotId old = *snapshots_.begin();
    snapshots_.erase(snapshots_.begin());
    readers_.erase(old);
    // Best effort: a file left behind is deleted by the next delete_before
    // after a restart (scan lists it) and never read meanwhile.
    if (Status s = fs_.remove(path(old)); !s)
      spdlog::warn("metadata: deleting the old snapshot {}: {}", path(old), s.to_string());
  }
}

void FileSnapshotStore::drop_write() {
  if (!write_) return;
  const std::string part = write_->file ? write_->file->path() : std::string();
  write_.reset();
  if (!part.empty()) (void)fs_.remove(part);
}

void FileSnapshotStore::fail(const std::string& what, const Status& status) {
  const std::string message = "metadata snapshot: " + what + " failed: " + status.to_string();
  spdlog::error("{}", message);
  if (write_) write_->failed = true;
  if (fatal_) fatal_(message);
}

std::string FileSnapshotStore::encode(const raft::SnapshotId& id,
                                      const std::set<raft::NodeId>& voters,
                                      std::string_view application) const {
  SnapshotFormatOptions options;
  options.end_offset = id.end_offset;
  options.epoch = id.epoch;
  options.now_ms = clock_->now_ms();
  options.last_contained_log_timestamp_ms = options.now_ms;
  return encode_checkpoint(
      options, voter_details_ ? voter_details_(voters) : cluster::voter_set(voters), application);
}

std::optional<std::set<raft::NodeId>> FileSnapshotStore::voters(const raft::SnapshotId& id) const {
  std::optional<VoterSet> voters = voter_set(id);
  if (!voters) return std::nullopt;
  return voter_ids(*voters);
}

std::optional<VoterSet> FileSnapshotStore::voter_set(const raft::SnapshotId& id) const {
  // The header batch is the first: read until it is whole.
  std::string head;
  for (size_t want = 4096;; want *= 4) {
    head = read(id, 0, want);
    auto content =
        decode_checkpoint(Bytes(reinterpret_cast<const uint8_t*>(head.data()), head.size()), true);
    if (content) return content->voters;
    if (content.status().code() != Errc::truncated || head.size() < want) return std::nullopt;
  }
}

}  // namespace sluice::cluster
