#pragma once
// The two sparse per-segment indexes, in Kafka's file formats (docs/storage.md):
//   <base>.index      entries of 8 bytes:  int32 relative offset, int32 position
//   <base>.timeindex  entries of 12 bytes: int64 timestamp, int32 relative offset
// Big-endian, no header, entries strictly increasing (offset index: by
// offset; time index: by timestamp and by offset).
//
// The entries are kept in memory; new ones are buffered and written to the
// file in one append when index_write_batch_bytes of them are pending, and
// by write_buffered() / sync() (the segment calls them when it rolls, is
// flushed or closes). A per-entry write() was a second syscall on every
// appended batch. The file is thus a prefix of the entries: still a valid,
// sparser index of the same .log (lookups scan forward from the last entry
// on file), and after an unclean stop every segment past the recovery point
// is re-indexed from its .log anyway. The file is not preallocated, so its
// size is always a whole number of entries unless a crash tore the last one;
// load() rejects such a file (the caller then rebuilds the index from the
// log). Index files are not synced on every append: they need only be as
// durable as the log they describe (sync() is called when the log is flushed).
//
// Not thread-safe: owned by one Segment, used under the partition lock.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/file_system.h"

namespace sluice::storage {

// Pending index entries are written once they reach this many bytes.
inline constexpr size_t index_write_batch_bytes = 4096;

struct OffsetPosition {
  int64_t offset = 0;     // absolute; Kafka's convention: the last offset of the batch at `position`
  uint32_t position = 0;  // byte position of that batch in the .log file
};

struct TimestampOffset {
  int64_t timestamp_ms = -1;
  int64_t offset = 0;  // absolute; the last offset of the batch holding timestamp_ms
};

// What the two indexes share: the entries in memory, the file holding a
// prefix of them, buffered appends, truncation and reset. `Format` says how
// an entry is laid out in the file (entry_bytes, encode, decode) and how it
// is ordered (increasing). Used under the partition lock like its owners.
template <class Format>
class SparseIndex {
 public:
  using Entry = typename Format::Entry;
  static constexpr size_t entry_bytes = Format::entry_bytes;

  SparseIndex(FileHandle file, int64_t base_offset, size_t max_entries)
      : file_(std::move(file)), base_offset_(base_offset), max_entries_(max_entries) {}

  // Empties the file and the entries (also a file load() rejected).
  Status reset();
  // Appends the buffered entries to the file.
  Status write_buffered();
  Status sync() {
    if (Status s = write_buffered(); !s) return s;
    return file_->sync();
  }

  bool is_full() const { return entries_.size() >= max_entries_; }
  size_t entry_count() const { return entries_.size(); }
  size_t buffered_count() const { return entries_.size() - written_count_; }
  // Frees the spare capacity once no more entries come (the segment rolled).
  void shrink() { entries_.shrink_to_fit(); }
  const std::string& path() const { return file_->path(); }
  const FileHandle& file() const { return file_; }

 protected:
  // Reads the file's entries: at most `entries_allowed`, each accepted by
  // `valid` (else "entry out of range") and increasing over the previous
  // one (Format::increasing); Errc::invalid_value names the file otherwise.
  template <class Valid>
  Status load_entries(size_t entries_allowed, Valid valid);
  // Buffers an entry; writes the buffer once it holds index_write_batch_bytes.
  Status append_entry(const Entry& entry);
  // Keeps the first `count` entries. Buffered entries are dropped in memory
  // only; the file is cut only when written entries go.
  Status truncate_entries(size_t count);

  FileHandle file_;
  int64_t base_offset_;
  size_t max_entries_;
  std::vector<Entry> entries_;
  size_t written_count_ = 0;  // entries_[0, written_count_) are on file
};

// <base>.index: int32 relative offset, int32 position. In memory as in the
// file (8 bytes, the offset relative to the segment's base): every open
// segment holds its entries, half the memory of OffsetPosition.
struct OffsetIndexFormat {
  struct Entry {
    uint32_t relative_offset;
    uint32_t position;
  };
  static constexpr size_t entry_bytes = 8;
  static void encode(WireWriter& writer, const Entry& entry, int64_t base_offset);
  static Entry decode(WireReader& reader, int64_t base_offset);
  static bool increasing(const Entry& previous, const Entry& next) {
    return next.relative_offset > previous.relative_offset && next.position > previous.position;
  }
};

// <base>.timeindex: int64 timestamp, int32 relative offset.
struct TimeIndexFormat {
  using Entry = TimestampOffset;
  static constexpr size_t entry_bytes = 12;
  static void encode(WireWriter& writer, const Entry& entry, int64_t base_offset);
  static Entry decode(WireReader& reader, int64_t base_offset);
  static bool increasing(const Entry& previous, const Entry& next) {
    return next.timestamp_ms > previous.timestamp_ms && next.offset >= previous.offset;
  }
};

class OffsetIndex : public SparseIndex<OffsetIndexFormat> {
 public:
  using SparseIndex::SparseIndex;

  // Reads the file's entries; fails (Errc::invalid_value) if the file is not a
  // valid index for a log of `log_size_bytes`: torn entry, offsets not
  // increasing or below the base offset, positions past the log's end.
  Status load(uint64_t log_size_bytes);

  // Precondition: offset > last entry's offset, offset - base fits in int32.
  // Buffered: written to the file in batches (see above).
  Status append(int64_t offset, uint32_t position);
  // The entry with the largest offset <= target, or {base_offset, 0}.
  OffsetPosition lookup(int64_t target_offset) const;
  // The start of an indexed batch after `from` that ends at or before
  // `limit` and whose offsets are below `max_offset` (its entry and the
  // next one both lie within the bounds), the farthest such; nullopt if
  // none. Entries name the start of the batch holding their offset.
  std::optional<uint64_t> farthest_batch_within(uint64_t from, uint64_t limit, int64_t max_offset) const;
  // Drops every entry with offset >= `offset`.
  Status truncate_to(int64_t offset);
  std::optional<OffsetPosition> last_entry() const {
    if (entries_.empty()) return std::nullopt;
    return unpack(entries_.back());
  }

 private:
  OffsetPosition unpack(Entry e) const { return {base_offset_ + e.relative_offset, e.position}; }
};

class TimeIndex : public SparseIndex<TimeIndexFormat> {
 public:
  using SparseIndex::SparseIndex;

  // As OffsetIndex::load; also rejects entries past `next_offset`.
  Status load(int64_t next_offset);

  // Appends only if timestamp_ms is larger than the last entry's (Kafka's
  // maybeAppend); `allow_when_full` lets a closing segment record its final
  // max timestamp. Buffered like OffsetIndex::append.
  Status maybe_append(TimestampOffset entry, bool allow_when_full = false);
  // The entry with the largest timestamp <= target, or {-1, base_offset}.
  TimestampOffset lookup(int64_t target_timestamp_ms) const;
  Status truncate_to(int64_t offset);
  std::optional<TimestampOffset> last_entry() const {
    if (entries_.empty()) return std::nullopt;
    return entries_.back();
  }
};

}  // namespace sluice::storage
