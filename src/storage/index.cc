#include "storage/index.h"

#include <algorithm>
#include <limits>

namespace sluice::storage {
namespace {

Status corrupt(const std::string& path, const std::string& why) {
  return Status(Errc::invalid_value, "corrupt index " + path + ": " + why);
}

// A failed append (a full disk) may have written part of the entries: cut
// the file back to the entries written before, so it stays whole entries
// and the next write lands right after them. The entries stay buffered.
Status cut_torn_write(File& file, uint64_t written_bytes, const Status& error) {
  if (Status cut = file.truncate(written_bytes); !cut)
    return Status(Errc::io_error, error.message() + "; cutting the torn index write failed: " + cut.message());
  return error;
}

bool fits_relative(int64_t offset, int64_t base_offset) {
  int64_t relative = offset - base_offset;
  return relative >= 0 && relative <= std::numeric_limits<int32_t>::max();
}

}  // namespace

Status OffsetIndex::load(uint64_t log_size_bytes) {
  entries_.clear();
  auto size = file_->size();
  if (!size) return size.status();
  if (*size % entry_bytes != 0) return corrupt(path(), "size " + std::to_string(*size) + " is not a multiple of 8");
  if (*size / entry_bytes > max_entries_) return corrupt(path(), "more entries than segment.index.bytes allows");
  std::vector<uint8_t> raw(*size);
  auto read = file_->pread(0, raw);
  if (!read) return read.status();
  WireReader reader(Bytes(raw.data(), *read));
  std::vector<Entry> entries;
  entries.reserve(*read / entry_bytes);
  while (reader.remaining() >= entry_bytes) {
    int32_t relative = reader.read_int32();
    int32_t position = reader.read_int32();
    if (relative < 0 || position < 0 || static_cast<uint64_t>(position) >= log_size_bytes)
      return corrupt(path(), "entry out of range");
    Entry entry{static_cast<uint32_t>(relative), static_cast<uint32_t>(position)};
    if (!entries.empty() &&
        (entry.relative_offset <= entries.back().relative_offset || entry.position <= entries.back().position))
      return corrupt(path(), "entries not increasing");
    entries.push_back(entry);
  }
  entries_ = std::move(entries);
  written_count_ = entries_.size();
  return Status::ok();
}

std::optional<uint64_t> OffsetIndex::farthest_batch_within(uint64_t from, uint64_t limit, int64_t max_offset) const {
  // Entries [0, within_limit) start at or before `limit`; the batch of entry
  // i ends where entry i + 1's batch starts, so i + 1 < within_limit.
  auto within_limit = std::upper_bound(entries_.begin(), entries_.end(), limit,
                                       [](uint64_t value, const Entry& e) { return value < e.position; });
  auto below_max = std::lower_bound(entries_.begin(), entries_.end(), max_offset,
                                    [this](const Entry& e, int64_t value) { return unpack(e).offset < value; });
  auto count = std::min(within_limit - entries_.begin() - 1, below_max - entries_.begin());
  if (count <= 0) return std::nullopt;
  uint64_t position = entries_[static_cast<size_t>(count - 1)].position;
  if (position <= from) return std::nullopt;
  return position;
}

Status OffsetIndex::append(int64_t offset, uint32_t position) {
  SLUICE_ASSERT(!is_full(), "append to a full offset index");
  SLUICE_ASSERT(fits_relative(offset, base_offset_), "offset index entry outside the segment's range");
  SLUICE_ASSERT(entries_.empty() || offset > unpack(entries_.back()).offset, "offset index entries must increase");
  entries_.push_back({static_cast<uint32_t>(offset - base_offset_), position});
  if (buffered_count() * entry_bytes >= index_write_batch_bytes) return write_buffered();
  return Status::ok();
}

Status OffsetIndex::write_buffered() {
  if (written_count_ == entries_.size()) return Status::ok();
  WireWriter writer;
  for (size_t i = written_count_; i < entries_.size(); ++i) {
    writer.write_int32(static_cast<int32_t>(entries_[i].relative_offset));
    writer.write_int32(static_cast<int32_t>(entries_[i].position));
  }
  if (Status s = file_->append(writer.to_vector()); !s) return cut_torn_write(*file_, written_count_ * entry_bytes, s);
  written_count_ = entries_.size();
  return Status::ok();
}

Status OffsetIndex::reset() {
  if (Status s = file_->truncate(0); !s) return s;
  entries_.clear();
  written_count_ = 0;
  return Status::ok();
}

OffsetPosition OffsetIndex::lookup(int64_t target_offset) const {
  auto after = std::upper_bound(entries_.begin(), entries_.end(), target_offset,
                                [this](int64_t target, const Entry& e) { return target < unpack(e).offset; });
  if (after == entries_.begin()) return {base_offset_, 0};
  return unpack(*(after - 1));
}

Status OffsetIndex::truncate_to(int64_t offset) {
  auto first_dropped = std::lower_bound(entries_.begin(), entries_.end(), offset,
                                        [this](const Entry& e, int64_t o) { return unpack(e).offset < o; });
  return truncate_entries(static_cast<size_t>(first_dropped - entries_.begin()));
}

// Buffered entries are dropped in memory only; the file is cut only when
// written entries go.
Status OffsetIndex::truncate_entries(size_t count) {
  if (count < written_count_) {
    if (Status s = file_->truncate(count * entry_bytes); !s) return s;
    written_count_ = count;
  }
  entries_.resize(std::min(count, entries_.size()));
  return Status::ok();
}

Status TimeIndex::load(int64_t next_offset) {
  entries_.clear();
  auto size = file_->size();
  if (!size) return size.status();
  if (*size % entry_bytes != 0) return corrupt(path(), "size " + std::to_string(*size) + " is not a multiple of 12");
  if (*size / entry_bytes > max_entries_ + 1) return corrupt(path(), "more entries than segment.index.bytes allows");
  std::vector<uint8_t> raw(*size);
  auto read = file_->pread(0, raw);
  if (!read) return read.status();
  WireReader reader(Bytes(raw.data(), *read));
  std::vector<TimestampOffset> entries;
  entries.reserve(*read / entry_bytes);
  while (reader.remaining() >= entry_bytes) {
    int64_t timestamp = reader.read_int64();
    int32_t relative = reader.read_int32();
    int64_t offset = base_offset_ + relative;
    if (relative < 0 || offset >= next_offset) return corrupt(path(), "entry out of range");
    if (!entries.empty() && (timestamp <= entries.back().timestamp_ms || offset < entries.back().offset))
      return corrupt(path(), "entries not increasing");
    entries.push_back({timestamp, offset});
  }
  entries_ = std::move(entries);
  written_count_ = entries_.size();
  return Status::ok();
}

Status TimeIndex::maybe_append(TimestampOffset entry, bool allow_when_full) {
  // As Kafka: an empty index's last timestamp is "no timestamp" (-1), so a
  // segment without batches (or without timestamps) gets no entry; one would
  // point at no batch and make the next load reject the file.
  const int64_t last_timestamp_ms = entries_.empty() ? -1 : entries_.back().timestamp_ms;
  if (entry.timestamp_ms <= last_timestamp_ms) return Status::ok();
  if (is_full() && !allow_when_full) return Status::ok();
  SLUICE_ASSERT(fits_relative(entry.offset, base_offset_), "time index entry outside the segment's range");
  SLUICE_ASSERT(entries_.empty() || entry.offset >= entries_.back().offset, "time index offsets must not decrease");
  entries_.push_back(entry);
  if (buffered_count() * entry_bytes >= index_write_batch_bytes) return write_buffered();
  return Status::ok();
}

Status TimeIndex::write_buffered() {
  if (written_count_ == entries_.size()) return Status::ok();
  WireWriter writer;
  for (size_t i = written_count_; i < entries_.size(); ++i) {
    writer.write_int64(entries_[i].timestamp_ms);
    writer.write_int32(static_cast<int32_t>(entries_[i].offset - base_offset_));
  }
  if (Status s = file_->append(writer.to_vector()); !s) return cut_torn_write(*file_, written_count_ * entry_bytes, s);
  written_count_ = entries_.size();
  return Status::ok();
}

Status TimeIndex::reset() {
  if (Status s = file_->truncate(0); !s) return s;
  entries_.clear();
  written_count_ = 0;
  return Status::ok();
}

TimestampOffset TimeIndex::lookup(int64_t target_timestamp_ms) const {
  auto after = std::upper_bound(entries_.begin(), entries_.end(), target_timestamp_ms,
                                [](int64_t target, const TimestampOffset& e) { return target < e.timestamp_ms; });
  if (after == entries_.begin()) return {-1, base_offset_};
  return *(after - 1);
}

Status TimeIndex::truncate_to(int64_t offset) {
  auto first_dropped = std::find_if(entries_.begin(), entries_.end(),
                                    [&](const TimestampOffset& e) { return e.offset >= offset; });
  return truncate_entries(static_cast<size_t>(first_dropped - entries_.begin()));
}

Status TimeIndex::truncate_entries(size_t count) {
  if (count < written_count_) {
    if (Status s = file_->truncate(count * entry_bytes); !s) return s;
    written_count_ = count;
  }
  entries_.resize(std::min(count, entries_.size()));
  return Status::ok();
}

}  // namespace sluice::storage
