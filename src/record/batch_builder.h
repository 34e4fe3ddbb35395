#pragma once
// Building record batches v2: producers (the CLI, tests, benchmarks), the
// coordinators writing __consumer_offsets / __transaction_state, and
// transaction markers.
//
// Records are encoded as they are appended; build() compresses them (if a
// codec is set), writes the header and the CRC. The builder copies keys,
// values and headers, so the caller's buffers may go away after append().
// Not thread-safe.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "record/compression.h"
#include "record/record_reader.h"
#include "record/types.h"

namespace sluice::record {

struct BatchOptions {
  Compression compression = Compression::none;
  CompressionOptions compression_options;
  TimestampType timestamp_type = TimestampType::create_time;
  bool transactional = false;
  bool control = false;
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = no_partition_leader_epoch;
  int64_t producer_id = no_producer_id;
  int16_t producer_epoch = no_producer_epoch;
  int32_t base_sequence = no_sequence;
  // Log compaction (storage/cleaner.h): keep the original batch's
  // lastOffsetDelta even when its last records were removed, so the
  // producer's last sequence stays visible (Kafka's overrideLastOffset).
  // Must be >= the last appended record's delta.
  std::optional<int32_t> last_offset_delta;
  // Log compaction: sets the delete-horizon attribute bit and stores the
  // horizon in baseTimestamp; record timestamp deltas are taken from it.
  std::optional<int64_t> delete_horizon_ms;
};

class BatchBuilder {
 public:
  explicit BatchBuilder(BatchOptions options = {});

  // Appends a record at the next offset delta (one past the previous record's).
  void append(int64_t timestamp_ms, std::optional<Bytes> key, std::optional<Bytes> value,
              std::span<const RecordHeader> headers = {});
  // Appends at an explicit offset delta, which must exceed every earlier one
  // (compacted batches keep the gaps).
  void append_at(int32_t offset_delta, int64_t timestamp_ms, std::optional<Bytes> key,
                 std::optional<Bytes> value, std::span<const RecordHeader> headers = {});

  int32_t record_count() const { return record_count_; }
  // Encoded size of the records so far, before compression.
  size_t records_bytes() const { return records_.size() - batch_header_bytes; }

  // The finished batch. Fails only if compression fails or the batch would
  // exceed INT32_MAX bytes. An empty builder gives an empty batch (timestamps -1).
  Result<std::vector<uint8_t>> build() const;

 private:
  BatchOptions options_;
  WireWriter records_;  // starts with room for the header, so build() copies once
  int32_t record_count_ = 0;
  int32_t next_offset_delta_ = 0;
  int64_t base_timestamp_ms_ = -1;
  int64_t max_timestamp_ms_ = -1;
};

// The key of a control record: {int16 version 0, int16 type}.
std::vector<uint8_t> control_record_key(int16_t type);

// One record of a control batch: its key's type and its value.
struct ControlRecord {
  int16_t type;
  std::vector<uint8_t> value;
};
// A control batch (not transactional, uncompressed) of `records`, as KRaft
// writes its leader-change, voters and snapshot header/footer batches.
// Base offset and leader epoch are the log's to stamp.
std::vector<uint8_t> build_control_batch(const std::vector<ControlRecord>& records,
                                         int64_t timestamp_ms);

// A transaction marker: a control batch (transactional + control bits) with
// one record whose key is {version 0, type} and whose value is {version 0,
// coordinator_epoch}. `options` gives the producer id/epoch, base offset and
// leader epoch; its codec, sequence and flags are overridden.
Result<std::vector<uint8_t>> build_end_txn_marker(ControlType type, int32_t coordinator_epoch,
                                                  int64_t timestamp_ms, BatchOptions options);

}  // namespace sluice::record
