#include "storage/compactor.h"

#include <algorithm>
#include <limits>
#include <map>

#include "record/batch_builder.h"
#include "record/record_reader.h"
#include "storage/segment_swap.h"

namespace sluice::storage {
namespace {

// Reads the batches of a segment file in order through one buffer (grown for
// a batch larger than it), checking each batch's header and CRC.
class BatchFileReader {
 public:
  BatchFileReader(const SegmentSnapshot& segment, size_t buffer_bytes)
      : file_(segment.log_file), end_(segment.size_bytes),
        buffer_(std::max(buffer_bytes, record::batch_header_bytes)) {}

  // The next batch (a view valid until the next call), or nullopt at the end.
  Result<std::optional<record::BatchView>> next() {
    if (position_ >= end_) return std::optional<record::BatchView>();
    if (Status s = ensure(record::batch_header_bytes); !s) return s;
    auto header = record::read_batch_header(view(record::batch_header_bytes));
    if (!header) return header.status();
    if (Status s = ensure(header->size_bytes()); !s) return s;
    Bytes bytes = view(header->size_bytes());
    if (Status s = record::validate_batch(bytes); !s)
      return Status(s.code(), file_->path() + " at position " + std::to_string(position_) + ": " + s.message());
    position_ += bytes.size();
    return std::optional<record::BatchView>(record::BatchView{*header, bytes});
  }

 private:
  Bytes view(size_t length) const {
    return Bytes(buffer_.data() + (position_ - buffer_start_), length);
  }
  // Makes [position_, position_ + length) present in the buffer.
  Status ensure(size_t length) {
    if (position_ + length > end_)
      return Status(Errc::truncated, file_->path() + ": batch at position " + std::to_string(position_) +
                                         " runs past the segment's end");
    if (position_ >= buffer_start_ && position_ + length <= buffer_start_ + filled_) return Status::ok();
    if (length > buffer_.size()) buffer_.resize(length);
    buffer_start_ = position_;
    size_t wanted = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), end_ - position_));
    auto read = file_->pread(position_, std::span<uint8_t>(buffer_.data(), wanted));
    if (!read) return read.status();
    filled_ = *read;
    if (filled_ < length) return Status(Errc::truncated, file_->path() + ": short read");
    return Status::ok();
  }

  FileHandle file_;
  uint64_t end_;
  std::vector<uint8_t> buffer_;
  uint64_t buffer_start_ = 0;
  size_t filled_ = 0;
  uint64_t position_ = 0;
};

// Kafka's groupSegmentsBySize: consecutive segments whose sum fits one
// segment (bytes, index entries, and offsets relative to the first).
std::vector<std::vector<SegmentSnapshot>> group_segments(const std::vector<SegmentSnapshot>& segments,
                                                         const LogConfig& config) {
  std::vector<std::vector<SegmentSnapshot>> groups;
  uint64_t group_bytes = 0;
  for (const auto& segment : segments) {
    bool fits = !groups.empty() && group_bytes + segment.size_bytes <= config.segment_bytes &&
                segment.next_offset - 1 - groups.back().front().base_offset <= std::numeric_limits<int32_t>::max() &&
                (group_bytes + segment.size_bytes) / std::max<uint32_t>(config.index_interval_bytes, 1) <
                    config.offset_index_entries_max();
    if (!fits) {
      groups.emplace_back();
      group_bytes = 0;
    }
    groups.back().push_back(segment);
    group_bytes += segment.size_bytes;
  }
  return groups;
}

// The base offset of the last batch of each producer in `segments`: an
// idempotent producer's last batch is kept (empty if need be) so its last
// sequence number survives compaction, as Kafka does.
Result<std::map<int64_t, int64_t>> last_batch_of_producers(const std::vector<SegmentSnapshot>& segments) {
  std::map<int64_t, int64_t> last;
  for (const auto& segment : segments) {
    uint64_t position = 0;
    uint8_t raw[record::batch_header_bytes];
    while (position + record::batch_header_bytes <= segment.size_bytes) {
      auto read = segment.log_file->pread(position, raw);
      if (!read) return read.status();
      auto header = record::read_batch_header(Bytes(raw, *read));
      if (!header) return header.status();
      if (header->producer_id >= 0) last[header->producer_id] = header->base_offset;
      position += header->size_bytes();
    }
  }
  return last;
}

void remove_cleaned_files(FileSystem& fs, const std::string& dir, int64_t base_offset) {
  std::string stem = join_path(dir, segment_file_stem(base_offset));
  for (const char* suffix : {".log", ".index", ".timeindex"}) (void)fs.remove(stem + suffix + cleaned_file_suffix);
}

}  // namespace

// State of one compact() call, shared by its groups.
struct Compactor::Pass {
  const CompactionPlan& plan;
  int64_t now_ms;
  int64_t end_offset;
  std::map<int64_t, int64_t> last_batch_of_producer;
  const SwapSegments& swap;
  const std::function<bool()>& aborted;
  CleanStats& stats;
};

Compactor::Compactor(FileSystem& fs, size_t dedupe_buffer_bytes, double load_factor, size_t io_buffer_bytes)
    : fs_(fs), map_(dedupe_buffer_bytes, load_factor), io_buffer_bytes_(std::max<size_t>(io_buffer_bytes, 2)) {}

Result<CleanStats> Compactor::compact(const CompactionPlan& plan, int64_t now_ms, const SwapSegments& swap,
                                      const std::function<bool()>& aborted) {
  CleanStats stats;
  stats.first_dirty_offset = plan.first_dirty_offset;
  map_.clear();
  auto end = build_offset_map(plan, stats);
  if (!end) return end.status();
  stats.end_offset = *end;
  std::vector<SegmentSnapshot> to_clean;
  for (const auto& segment : plan.segments)
    if (segment.base_offset < *end) to_clean.push_back(segment);
  auto producers = last_batch_of_producers(to_clean);
  if (!producers) return producers.status();
  Pass pass{plan, now_ms, *end, std::move(*producers), swap, aborted, stats};
  for (const auto& group : group_segments(to_clean, plan.config)) {
    auto done = clean_group(pass, group);
    if (!done) return done.status();
    if (!*done) {
      stats.aborted = true;
      break;
    }
  }
  return stats;
}

Result<int64_t> Compactor::build_offset_map(const CompactionPlan& plan, CleanStats& stats) {
  const int64_t dirty = plan.first_dirty_offset, uncleanable = plan.first_uncleanable_offset;
  for (const auto& segment : plan.segments) {
    if (segment.next_offset <= dirty) continue;
    if (segment.base_offset >= uncleanable) break;
    BatchFileReader reader(segment, io_buffer_bytes_ / 2);
    while (true) {
      auto batch = reader.next();
      if (!batch) return batch.status();
      if (!*batch) break;
      const record::BatchHeader& header = (*batch)->header;
      if (header.next_offset() <= dirty) continue;
      if (header.base_offset >= uncleanable) return uncleanable;
      // Transactional records may belong to an aborted transaction: they must
      // not supersede anything (aborted-transaction removal is future work).
      if (header.is_control() || header.is_transactional()) continue;
      auto records = record::RecordReader::open((*batch)->bytes);
      if (!records) return records.status();
      record::Record record;
      while (records->next(record)) {
        if (record.offset < dirty || record.offset >= uncleanable || !record.key) continue;
        if (!map_.put(hasher_.digest(*record.key), record.offset)) {
          if (record.offset == dirty)
            return Status(Errc::invalid_value, "log.cleaner.dedupe.buffer.size holds no key at all");
          return record.offset;  // the map is full: this clean ends here
        }
      }
      if (!records->status()) return records->status();
    }
  }
  (void)stats;
  return uncleanable;
}

// Cleans one group into a ".cleaned" segment and swaps it in. False if the
// swap was refused or the clean aborted.
Result<bool> Compactor::clean_group(Pass& pass, const std::vector<SegmentSnapshot>& group) {
  const CompactionPlan& plan = pass.plan;
  int64_t base = group.front().base_offset;
  auto cleaned = Segment::create(fs_, plan.partition_dir, base, plan.config, pass.now_ms, cleaned_file_suffix);
  if (!cleaned) return cleaned.status();
  bool changed = group.size() > 1;  // merging small segments is worth a swap too
  std::vector<uint8_t> out;
  std::vector<record::BatchHeader> headers;
  uint64_t written = 0;
  auto write_out = [&]() -> Status {
    if (out.empty()) return Status::ok();
    if (Status s = (*cleaned)->append(out, headers); !s) return s;
    written += out.size();
    out.clear();
    headers.clear();
    return Status::ok();
  };
  Status status;
  for (const auto& segment : group) {
    if (pass.aborted()) {
      remove_cleaned_files(fs_, plan.partition_dir, base);
      return false;
    }
    BatchFileReader reader(segment, io_buffer_bytes_ / 2);
    while (status.is_ok()) {
      auto batch = reader.next();
      if (!batch) status = batch.status();
      if (!batch || !*batch) break;
      pass.stats.bytes_read += (*batch)->bytes.size();
      status = filter_batch(pass, **batch, out, headers, changed);
      if (status.is_ok() && out.size() >= io_buffer_bytes_ / 2) status = write_out();
    }
  }
  if (status.is_ok()) status = write_out();
  if (status.is_ok()) status = (*cleaned)->on_become_inactive();
  if (status.is_ok() && changed) status = (*cleaned)->sync();
  if (!status.is_ok() || !changed || pass.aborted()) {
    cleaned->reset();
    remove_cleaned_files(fs_, plan.partition_dir, base);
    if (!status.is_ok()) return status;
    return !pass.aborted();
  }
  auto swapped = pass.swap(std::move(*cleaned), group);
  if (!swapped) return swapped.status();
  if (!*swapped) {
    remove_cleaned_files(fs_, plan.partition_dir, base);
    return false;
  }
  pass.stats.segments_replaced += group.size();
  pass.stats.segments_written += 1;
  pass.stats.bytes_written += written;
  return true;
}

// Appends what survives of one batch to `out` (with its header to `headers`);
// sets `changed` if that differs from the batch.
Status Compactor::filter_batch(Pass& pass, const record::BatchView& batch, std::vector<uint8_t>& out,
                               std::vector<record::BatchHeader>& headers, bool& changed) {
  const record::BatchHeader& header = batch.header;
  auto copy_as_is = [&] {
    out.insert(out.end(), batch.bytes.begin(), batch.bytes.end());
    headers.push_back(header);
    return Status::ok();
  };
  pass.stats.records_read += static_cast<uint64_t>(header.record_count);
  if (header.is_control() || header.is_transactional() || header.base_offset >= pass.end_offset) return copy_as_is();
  auto records = record::RecordReader::open(batch.bytes);
  if (!records) return records.status();
  bool horizon_passed = header.has_delete_horizon() && pass.now_ms >= header.base_timestamp;
  struct Kept {
    record::Record record;
    std::vector<record::RecordHeader> headers;
  };
  std::vector<Kept> kept;
  bool kept_tombstone = false;
  record::Record record;
  while (records->next(record)) {
    if (record.key) {
      auto latest = map_.get(hasher_.digest(*record.key));
      if (latest && *latest > record.offset) continue;  // a later record has this key
      if (!record.value && horizon_passed) {
        ++pass.stats.tombstones_removed;
        continue;
      }
    }
    kept_tombstone |= !record.value;
    kept.push_back({record, record.headers});
  }
  if (!records->status()) return records->status();
  pass.stats.records_removed += static_cast<uint64_t>(header.record_count) - kept.size();
  // Kafka's delete horizon (KIP-534): the first clean that keeps a tombstone
  // stamps its batch with now + delete.retention.ms; a later clean past that
  // time drops it.
  bool needs_horizon = kept_tombstone && !header.has_delete_horizon();
  std::optional<int64_t> horizon;
  if (header.has_delete_horizon()) horizon = header.base_timestamp;
  if (needs_horizon) horizon = pass.now_ms + pass.plan.config.delete_retention_ms;
  if (kept_tombstone) pass.stats.tombstone_due_ms = std::min(pass.stats.tombstone_due_ms, *horizon);
  if (kept.size() == static_cast<size_t>(header.record_count) && !needs_horizon) return copy_as_is();
  changed = true;
  bool last_of_producer = header.producer_id >= 0 &&
                          pass.last_batch_of_producer[header.producer_id] == header.base_offset;
  if (kept.empty() && !last_of_producer) return Status::ok();

  record::BatchOptions options;
  options.compression = header.compression();
  options.timestamp_type = header.timestamp_type();
  options.base_offset = header.base_offset;
  options.partition_leader_epoch = header.partition_leader_epoch;
  options.producer_id = header.producer_id;
  options.producer_epoch = header.producer_epoch;
  options.base_sequence = header.base_sequence;
  options.last_offset_delta = header.last_offset_delta;
  options.delete_horizon_ms = horizon;
  record::BatchBuilder builder(options);
  for (const Kept& k : kept)
    builder.append_at(k.record.offset_delta, k.record.timestamp_ms, k.record.key, k.record.value, k.headers);
  auto built = builder.build();
  if (!built) return built.status();
  auto built_header = record::read_batch_header(*built);
  if (!built_header) return built_header.status();
  out.insert(out.end(), built->begin(), built->end());
  headers.push_back(*built_header);
  return Status::ok();
}

}  // namespace sluice::storage
