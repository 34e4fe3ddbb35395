#pragma once
// Kafka's legacy message sets: magic 0 (Kafka 0.8) and magic 1 (0.10,
// KIP-31/32), what Produce v0-2 may carry and what Fetch v0-3 must return.
// Kafka's reference: LegacyRecord, AbstractLegacyRecordBatch.
//
// A message set is entries back to back; one entry (all big-endian):
//
//   offset size field
//        0    8 offset
//        8    4 size (bytes after this field)
//       12    4 crc (CRC32, not CRC32C, of bytes 16 .. end)
//       16    1 magic (0 or 1)
//       17    1 attributes: bits 0-2 codec (none, gzip, snappy, lz4; zstd does
//                not exist below magic 2), bit 3 LogAppendTime (magic 1 only)
//       18    8 timestamp (magic 1 only)
//             key   (int32 length, -1 = null, then the bytes)
//             value (int32 length, -1 = null, then the bytes)
//
// A compressed entry (a "wrapper") has a null key and, as its value, the
// compressed message set of its inner messages (uncompressed themselves).
// The wrapper's offset is the last inner message's. Inner offsets are
// absolute for magic 0, relative to the first (0, 1, ...) for magic 1. A
// magic 1 wrapper's timestamp is the inner maximum (CreateTime) or the log
// append time (LogAppendTime, then inner timestamps are the wrapper's).
// Snappy is written with the xerial framing, lz4 with the descriptor
// checksum of its magic (compression.h, KAFKA-3160).
//
// Every read is bounds-checked; malformed input gives an Errc, never a
// crash: corrupt_crc for a checksum mismatch, invalid_length / truncated for
// sizes, invalid_value for what Kafka rejects as an invalid record (magic
// mismatch, nested compression, an empty or null wrapper).

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "record/types.h"

namespace sluice::record {

namespace legacy_layout {
constexpr size_t offset = 0;
constexpr size_t size = 8;
constexpr size_t crc = 12;
constexpr size_t magic = 16;
constexpr size_t attributes = 17;
constexpr size_t timestamp = 18;
}  // namespace legacy_layout

// crc, magic, attributes, [timestamp], key length, value length.
constexpr size_t legacy_record_overhead_v0 = 14;
constexpr size_t legacy_record_overhead_v1 = 22;
constexpr int8_t legacy_timestamp_type_bit = 0x08;
// Kafka's "no timestamp": every magic 0 message.
constexpr int64_t no_timestamp = -1;

size_t legacy_record_overhead(int8_t magic);

// One entry as stored (a plain message or a wrapper).
struct LegacyMessage {
  int64_t offset = 0;
  int8_t magic = 0;
  int8_t attributes = 0;
  int64_t timestamp_ms = no_timestamp;  // always no_timestamp for magic 0
  std::optional<Bytes> key;
  std::optional<Bytes> value;
  size_t size_bytes = 0;  // the whole entry, log overhead included

  Compression compression() const {
    return static_cast<Compression>(attributes & attribute_bits::compression_mask);
  }
  TimestampType timestamp_type() const {
    return magic > 0 && (attributes & legacy_timestamp_type_bit) ? TimestampType::log_append_time
                                                                 : TimestampType::create_time;
  }
};

// Reads the entry at the start of `bytes` and checks it: its size against
// the record overhead of its magic (invalid_length), magic 0 or 1
// (invalid_value), the CRC (corrupt_crc), a codec legacy messages have
// (unsupported_compression), the key and value lengths against the size.
// `truncated` if `bytes` ends before the entry does.
Result<LegacyMessage> read_legacy_message(Bytes bytes);

// True if `bytes` starts with a legacy entry (magic 0 or 1 at byte 16),
// rather than a record batch.
bool is_legacy_message_set(Bytes bytes);

// One message with its wrapper opened: what a consumer sees.
struct LegacyRecord {
  int64_t offset = 0;  // absolute
  int64_t timestamp_ms = no_timestamp;
  std::optional<Bytes> key;
  std::optional<Bytes> value;
};

// The messages of a Produce message set, wrappers opened (Kafka's deep
// iteration). Keys and values are views into the caller's bytes or into
// `inflated`, which this object owns: they live as long as both.
struct LegacyRecords {
  int8_t magic = 0;
  Compression compression = Compression::none;  // the wrapper's codec
  // A client's entry (or wrapper) carried the LogAppendTime bit.
  bool client_log_append_time = false;
  std::vector<LegacyRecord> records;
  std::vector<std::vector<uint8_t>> inflated;
};

// Reads a whole Produce message set as Kafka's broker does: every entry
// complete and valid (a partial one is `truncated`), all of one magic
// (invalid_value), at most one entry when it is a wrapper (invalid_value),
// inner messages valid, of the wrapper's magic and uncompressed.
// Decompression is bounded by `decompressed_bytes_max`.
Result<LegacyRecords> read_legacy_records(
    Bytes message_set, size_t decompressed_bytes_max = default_decompressed_bytes_max);

// How to write a message set.
struct LegacyWriteOptions {
  int8_t magic = 1;
  Compression compression = Compression::none;  // not zstd
  TimestampType timestamp_type = TimestampType::create_time;
  int64_t log_append_time_ms =
      no_timestamp;  // the timestamp of every message under log_append_time
};

// Appends `records` to `out` as a message set: one entry each when
// uncompressed, else one wrapper (offset of the last record, inner offsets
// as the magic wants). Fails only if compression fails.
Status write_legacy_message_set(std::span<const LegacyRecord> records,
                                const LegacyWriteOptions& options, std::vector<uint8_t>& out);

}  // namespace sluice::record
