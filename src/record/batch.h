#pragma once
// One record batch v2 seen as bytes: read its header, validate it, and
// rewrite the fields the broker assigns on append. See types.h for the layout.
//
// Nothing here allocates or copies the batch; the functions are safe on any
// input (every read is bounds-checked) and thread-compatible.

#include <cstdint>
#include <span>

#include "base/bytes.h"
#include "base/result.h"
#include "record/types.h"

namespace sluice::record {

struct BatchHeader {
  int64_t base_offset = 0;
  int32_t batch_length = 0;  // bytes after this field
  int32_t partition_leader_epoch = no_partition_leader_epoch;
  int8_t magic = current_magic;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = 0;
  int64_t max_timestamp = 0;
  int64_t producer_id = no_producer_id;
  int16_t producer_epoch = no_producer_epoch;
  int32_t base_sequence = no_sequence;
  int32_t record_count = 0;

  // Codec bits as stored; values 5..7 are rejected by read_batch_header.
  Compression compression() const {
    return static_cast<Compression>(attributes & attribute_bits::compression_mask);
  }
  TimestampType timestamp_type() const {
    return (attributes & attribute_bits::timestamp_type) ? TimestampType::log_append_time
                                                         : TimestampType::create_time;
  }
  bool is_transactional() const { return attributes & attribute_bits::transactional; }
  bool is_control() const { return attributes & attribute_bits::control; }
  bool has_delete_horizon() const { return attributes & attribute_bits::delete_horizon; }

  int64_t last_offset() const { return base_offset + last_offset_delta; }
  int64_t next_offset() const { return last_offset() + 1; }
  // Total bytes of the batch, log overhead included.
  size_t size_bytes() const { return log_overhead_bytes + static_cast<size_t>(batch_length); }
  // Sequence of the last record (wraps at INT32_MAX as Kafka's does), or -1.
  int32_t last_sequence() const;
};

// Reads the 61-byte header at the start of `bytes` (which may be longer or
// shorter than the batch). Checks only what the header itself says: at least
// 61 bytes present (else truncated), batchLength >= 49 (invalid_length), magic
// 2 (invalid_value), a known codec (unsupported_compression). No CRC check.
Result<BatchHeader> read_batch_header(Bytes bytes);

// Full validation of one batch, `batch` being exactly its bytes: the header
// checks above, batchLength matching the buffer (truncated if short,
// invalid_length if long), the CRC (corrupt_crc), a non-negative record count
// that fits the bytes when uncompressed, a consistent lastOffsetDelta
// (invalid_value), and maxTimestamp >= baseTimestamp unless -1. Does not
// decode the records (see record_reader.h for validate_records).
Status validate_batch(Bytes batch);
// validate_batch, returning the header it read.
Result<BatchHeader> validate_batch_header(Bytes batch);

// The CRC the batch should carry: CRC32C of bytes [21, end).
// Precondition: batch.size() >= batch_header_bytes.
uint32_t compute_batch_crc(Bytes batch);

// Rewrites the fields a leader assigns on append. These are outside the CRC,
// so the batch stays valid; constant time.
// Precondition: batch.size() >= batch_header_bytes.
void set_base_offset(std::span<uint8_t> batch, int64_t base_offset);
void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch);

// Marks the batch as log-append-time with the given maxTimestamp (a topic with
// message.timestamp.type=LogAppendTime) and recomputes the CRC, which covers
// both fields: O(batch size). Precondition: batch.size() >= batch_header_bytes.
void set_log_append_time(std::span<uint8_t> batch, int64_t timestamp_ms);

}  // namespace sluice::record
