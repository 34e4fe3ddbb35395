#pragma once
// One clean of one log (Kafka's Cleaner.clean): the algorithm behind
// LogCleaner (cleaner.h), which picks the log and holds the locks.
//
//  1. Offset map: every keyed, non-transactional record of the dirty section
//     [first dirty, first uncleanable) goes into the map key digest -> latest
//     offset, until the map is full; the clean then ends at that record
//     (`end_offset`, the next cleaner checkpoint).
//  2. Every inactive segment with a base offset below end_offset, from the
//     oldest, is rewritten in groups of consecutive segments that fit one
//     segment (segment.bytes, 2^31 offsets) into a "<base>.*.cleaned" segment:
//     a record is dropped if the map holds a later offset for its key, or if
//     it is a tombstone in a batch whose delete horizon has passed. Kept
//     records keep their offsets, order, timestamps and headers; a rebuilt
//     batch keeps its base offset, lastOffsetDelta, producer id/epoch/base
//     sequence, leader epoch, timestamp type and codec; a batch that loses
//     nothing (and needs no delete horizon) is copied byte for byte.
//  3. Each cleaned segment is synced and handed to `swap` (the cleaner's
//     three steps, Log::begin_segment_swap, each under the partition lock).
// Left as found: control batches and transactional batches (no aborted
// transaction removal yet), and records without a key.
//
// Not thread-safe: one Compactor per cleaner thread (it owns the map).

#include <functional>
#include <memory>

#include "record/record_set.h"
#include "storage/log.h"
#include "storage/offset_map.h"

namespace sluice::storage {

struct CompactionPlan {
  std::string partition_dir;
  LogConfig config;
  std::vector<SegmentSnapshot> segments;  // the inactive segments, oldest first
  uint64_t truncation_generation = 0;
  int64_t first_dirty_offset = 0;
  int64_t first_uncleanable_offset = 0;
};

struct CleanStats {
  TopicPartition topic_partition;
  std::string log_dir;
  double dirty_ratio = 0;
  int64_t first_dirty_offset = 0;
  int64_t end_offset = 0;  // offsets below are cleaned: the new checkpoint
  bool aborted = false;    // the log changed (truncation, retention): nothing swapped after that point
  size_t segments_replaced = 0;
  size_t segments_written = 0;
  uint64_t bytes_read = 0;
  uint64_t bytes_written = 0;
  uint64_t records_read = 0;
  uint64_t records_removed = 0;
  uint64_t tombstones_removed = 0;
  // The earliest delete horizon of a tombstone left in the log (INT64_MAX: none).
  int64_t tombstone_due_ms = INT64_MAX;
};

// Swaps a cleaned segment in for `replaced`; false if the log changed.
using SwapSegments =
    std::function<Result<bool>(std::unique_ptr<Segment> cleaned, const std::vector<SegmentSnapshot>& replaced)>;

class Compactor {
 public:
  // dedupe_buffer_bytes sizes the offset map; io_buffer_bytes is split
  // between the read and the write buffer (log.cleaner.io.buffer.size).
  Compactor(FileSystem& fs, size_t dedupe_buffer_bytes, double load_factor, size_t io_buffer_bytes);

  // `aborted` is polled between segments and before each swap.
  Result<CleanStats> compact(const CompactionPlan& plan, int64_t now_ms, const SwapSegments& swap,
                             const std::function<bool()>& aborted);

  const OffsetMap& offset_map() const { return map_; }

 private:
  struct Pass;
  Result<int64_t> build_offset_map(const CompactionPlan& plan, CleanStats& stats);
  Result<bool> clean_group(Pass& pass, const std::vector<SegmentSnapshot>& group);
  Status filter_batch(Pass& pass, const record::BatchView& batch, std::vector<uint8_t>& out,
                      std::vector<record::BatchHeader>& headers, bool& changed);

  FileSystem& fs_;
  OffsetMap map_;
  KeyHasher hasher_;
  size_t io_buffer_bytes_;
};

}  // namespace sluice::storage
