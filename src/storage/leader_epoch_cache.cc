#include "storage/leader_epoch_cache.h"

#include <algorithm>

namespace sluice::storage {

Status EpochCheckpointFile::write(FileSystem& fs, uint64_t version,
                                  const std::vector<EpochEntry>& entries) {
  std::lock_guard lock(mutex_);
  if (version <= written_version_.load(std::memory_order_relaxed)) return Status::ok();
  if (Status s = write_leader_epoch_checkpoint(fs, path_, entries); !s) return s;
  written_version_.store(version, std::memory_order_release);
  return Status::ok();
}

Status LeaderEpochCache::persist() {
  ++version_;
  return file_->write(fs_, version_, entries_);
}

std::optional<EpochCheckpointWrite> LeaderEpochCache::unwritten() const {
  if (version_ <= file_->written_version()) return std::nullopt;
  return EpochCheckpointWrite{file_, version_, entries_};
}

Status LeaderEpochCache::load() {
  const std::string& path = file_->path();
  auto entries = read_leader_epoch_checkpoint(fs_, path);
  if (!entries) return entries.status();
  for (size_t i = 1; i < entries->size(); ++i) {
    const auto& prev = (*entries)[i - 1];
    const auto& cur = (*entries)[i];
    if (cur.epoch <= prev.epoch || cur.start_offset <= prev.start_offset)
      return Status(Errc::invalid_value, "leader epochs not increasing in " + path);
  }
  entries_ = std::move(*entries);
  return Status::ok();
}

void LeaderEpochCache::assign(int32_t epoch, int64_t start_offset) {
  if (epoch < 0) return;
  if (!entries_.empty()) {
    const EpochEntry& latest = entries_.back();
    if (latest.epoch == epoch && latest.start_offset <= start_offset) return;
  }
  std::erase_if(entries_, [&](const EpochEntry& e) { return e.epoch >= epoch || e.start_offset >= start_offset; });
  entries_.push_back({epoch, start_offset});
  ++version_;
}

EpochEndOffset LeaderEpochCache::end_offset_for(int32_t requested_epoch, int64_t log_end_offset) const {
  if (requested_epoch == undefined_epoch || entries_.empty()) return {};
  if (entries_.back().epoch == requested_epoch) return {requested_epoch, log_end_offset};
  auto higher = std::upper_bound(entries_.begin(), entries_.end(), requested_epoch,
                                 [](int32_t epoch, const EpochEntry& e) { return epoch < e.epoch; });
  if (higher == entries_.end()) return {};
  if (higher == entries_.begin()) return {requested_epoch, higher->start_offset};
  return {(higher - 1)->epoch, higher->start_offset};
}

Status LeaderEpochCache::truncate_from_end(int64_t end_offset) {
  size_t before = entries_.size();
  std::erase_if(entries_, [&](const EpochEntry& e) { return e.start_offset >= end_offset; });
  return entries_.size() == before ? Status::ok() : persist();
}

Status LeaderEpochCache::truncate_from_start(int64_t start_offset) {
  auto first_after = std::upper_bound(entries_.begin(), entries_.end(), start_offset,
                                      [](int64_t offset, const EpochEntry& e) { return offset < e.start_offset; });
  if (first_after == entries_.begin()) return Status::ok();
  auto covering = first_after - 1;
  if (covering == entries_.begin() && covering->start_offset == start_offset) return Status::ok();
  covering->start_offset = start_offset;
  entries_.erase(entries_.begin(), covering);
  // Memory only, like assign(): a file still holding the older entries is
  // trimmed the same way by open() (the log start is known there).
  ++version_;
  return Status::ok();
}

Status LeaderEpochCache::clear() {
  entries_.clear();
  return persist();
}

std::optional<int32_t> LeaderEpochCache::latest_epoch() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().epoch;
}

}  // namespace sluice::storage
