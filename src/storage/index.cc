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
  // Out of descriptors, the closed file could not reopen: nothing was
  // written, and a cut would fail the same way (and read as a lost disk).
  if (error.code() == Errc::too_many_open_files) return error;
  if (Status cut = file.truncate(written_bytes); !cut)
    return Status(Errc::io_error, error.message() + "; cutting the torn index write failed: " + cut.message());
  return error;
}

bool fits_relative(int64_t offset, int64_t base_offset) {
  int64_t relative = offset - base_offset;
  return relative >= 0 && relative <= std::numeric_limits<int32_t>::max();
}

}  // namespace

template <class Format>
template <class Valid>
Status SparseIndex<Format>::load_entries(size_t entries_allowed, Valid valid) {
  entries_.clear();
  written_count_ = 0;
  auto size = file_->size();
  if (!size) return size.status();
  if (*size % entry_bytes != 0)
    return corrupt(path(), "size " + std::to_string(*size) + " is not a multiple of " + std::to_string(entry_bytes));
  if (*size / entry_bytes > entries_allowed) return corrupt(path(), "more entries than segment.index.bytes allows");
  std::vector<uint8_t> raw(*size);
  auto read = file_->pread(0, raw);
  if (!read) return read.status();
  WireReader reader(Bytes(raw.data(), *read));
  std::vector<Entry> entries;
  entries.reserve(*read / entry_bytes);
  while (reader.remaining() >= entry_bytes) {
    Entry entry = Format::decode(reader, base_offset_);
    if (!valid(entry)) return corrupt(path(), "entry out of range");
    if (!entries.empty() && !Format::increasing(entries.back(), entry)) return corrupt(path(), "entries not increasing");
    entries.push_back(entry);
  }
  entries_ = std::move(entries);
  written_count_ = entries_.size();
  return Status::ok();
}

// A full batch of buffered entries is written as the segment appends; out
// of descriptors (the index file is closed while idle and must reopen), the
// entries stay buffered for the next write (the next batch, a flush, the
// roll) instead of failing an append whose bytes are already in the .log.
template <class Format>
Status SparseIndex<Format>::append_entry(const Entry& entry) {
  entries_.push_back(entry);
  if (buffered_count() * entry_bytes < index_write_batch_bytes) return Status::ok();
  Status written = write_buffered();
  return written.code() == Errc::too_many_open_files ? Status::ok() : written;
}

template <class Format>
Status SparseIndex<Format>::write_buffered() {
  if (written_count_ == entries_.size()) return Status::ok();
  WireWriter writer;
  for (size_t i = written_count_; i < entries_.size(); ++i) Format::encode(writer, entries_[i], base_offset_);
  if (Status s = file_->append(writer.to_vector()); !s) return cut_torn_write(*file_, written_count_ * entry_bytes, s);
  written_count_ = entries_.size();
  return Status::ok();
}

template <class Format>
Status SparseIndex<Format>::reset() {
  if (Status s = file_->truncate(0); !s) return s;
  entries_.clear();
  written_count_ = 0;
  return Status::ok();
}

template <class Format>
Status SparseIndex<Format>::truncate_entries(size_t count) {
  if (count < written_count_) {
    if (Status s = file_->truncate(count * entry_bytes); !s) return s;
    written_count_ = count;
  }
  entries_.resize(std::min(count, entries_.size()));
  return Status::ok();
}

template class SparseIndex<OffsetIndexFormat>;
template class SparseIndex<TimeIndexFormat>;

void OffsetIndexFormat::encode(WireWriter& writer, const Entry& entry, int64_t) {
  writer.write_int32(static_cast<int32_t>(entry.relative_offset));
  writer.write_int32(static_cast<int32_t>(entry.position));
}

// Negative fields come back as values above INT32_MAX: load() rejects them.
OffsetIndexFormat::Entry OffsetIndexFormat::decode(WireReader& reader, int64_t) {
  uint32_t relative = static_cast<uint32_t>(reader.read_int32());
  uint32_t position = static_cast<uint32_t>(reader.read_int32());
  return {relative, position};
}

void TimeIndexFormat::encode(WireWriter& writer, const Entry& entry, int64_t base_offset) {
  writer.write_int64(entry.timestamp_ms);
  writer.write_int32(static_cast<int32_t>(entry.offset - base_offset));
}

TimeIndexFormat::Entry TimeIndexFormat::decode(WireReader& reader, int64_t base_offset) {
  int64_t timestamp = reader.read_int64();
  int32_t relative = reader.read_int32();
  return {timestamp, base_offset + relative};
}

Status OffsetIndex::load(uint64_t log_size_bytes) {
  constexpr uint32_t int32_max = std::numeric_limits<int32_t>::max();
  return load_entries(max_entries_, [&](const Entry& e) {
    return e.relative_offset <= int32_max && e.position <= int32_max && e.position < log_size_bytes;
  });
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
  return append_entry({static_cast<uint32_t>(offset - base_offset_), position});
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

// One entry more than max_entries: a closing segment may record its final
// max timestamp in a full index (maybe_append's allow_when_full).
Status TimeIndex::load(int64_t next_offset) {
  return load_entries(max_entries_ + 1, [&](const TimestampOffset& e) {
    return e.offset >= base_offset_ && e.offset < next_offset;
  });
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
  return append_entry(entry);
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

}  // namespace sluice::storage
