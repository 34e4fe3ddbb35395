#pragma once
// Constants of Kafka's record batch v2 ("magic 2") and its attribute bits.
// The byte layout of the batch header (all big-endian):
//
//   offset size field
//        0    8 baseOffset            \ not covered by the CRC: the broker
//        8    4 batchLength            | rewrites baseOffset and the epoch
//       12    4 partitionLeaderEpoch  /  on append without recomputing it
//       16    1 magic (= 2)
//       17    4 crc (CRC32C of bytes 21 .. end)
//       21    2 attributes
//       23    4 lastOffsetDelta
//       27    8 baseTimestamp
//       35    8 maxTimestamp
//       43    8 producerId
//       51    2 producerEpoch
//       53    4 baseSequence
//       57    4 recordCount
//       61      records...
//
// batchLength counts the bytes after itself, so a batch occupies
// 12 + batchLength bytes. Each record is:
//   length varint, attributes int8, timestampDelta varlong, offsetDelta varint,
//   keyLength varint (-1 = null), key, valueLength varint (-1 = null), value,
//   headerCount varint, then per header: keyLength varint (>= 0), key,
//   valueLength varint (-1 = null), value.

#include <cstddef>
#include <cstdint>

namespace sluice::record {

enum class Compression : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };
enum class TimestampType : uint8_t { create_time = 0, log_append_time = 1 };
// The `type` in a control record's key: transaction markers (abort, commit)
// and the KRaft control records Kafka defines after them.
enum class ControlType : int16_t {
  abort = 0,
  commit = 1,
  leader_change = 2,
  snapshot_header = 3,
  snapshot_footer = 4,
};

const char* compression_name(Compression codec);

namespace layout {
constexpr size_t base_offset = 0;
constexpr size_t batch_length = 8;
constexpr size_t partition_leader_epoch = 12;
constexpr size_t magic = 16;
constexpr size_t crc = 17;
constexpr size_t attributes = 21;
constexpr size_t last_offset_delta = 23;
constexpr size_t base_timestamp = 27;
constexpr size_t max_timestamp = 35;
constexpr size_t producer_id = 43;
constexpr size_t producer_epoch = 51;
constexpr size_t base_sequence = 53;
constexpr size_t record_count = 57;
constexpr size_t records = 61;
}  // namespace layout

// Bytes before batchLength's count starts (baseOffset + batchLength); the
// same 12 bytes (offset + size) head a legacy message (Kafka's LOG_OVERHEAD).
constexpr size_t log_overhead_bytes = 12;
// The whole fixed header; an empty batch is exactly this long.
constexpr size_t batch_header_bytes = layout::records;
// The smallest legal batchLength.
constexpr int32_t batch_length_min = static_cast<int32_t>(batch_header_bytes - log_overhead_bytes);
// The smallest encoding of one record: seven one-byte fields.
constexpr size_t record_bytes_min = 7;
constexpr int8_t current_magic = 2;

namespace attribute_bits {
constexpr int16_t compression_mask = 0x07;
constexpr int16_t timestamp_type = 0x08;
constexpr int16_t transactional = 0x10;
constexpr int16_t control = 0x20;
constexpr int16_t delete_horizon = 0x40;
}  // namespace attribute_bits

// Values meaning "none" in the producer fields and the leader epoch.
constexpr int64_t no_producer_id = -1;
constexpr int16_t no_producer_epoch = -1;
constexpr int32_t no_sequence = -1;
constexpr int32_t no_partition_leader_epoch = -1;

// Decompressed batches larger than this are rejected unless the caller
// passes another bound (a defence against decompression bombs).
constexpr size_t default_decompressed_bytes_max = 64u << 20;

}  // namespace sluice::record
