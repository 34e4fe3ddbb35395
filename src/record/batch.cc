#include "record/batch.h"

#include <limits>
#include <string>

#include "base/crc32c.h"

namespace sluice::record {
namespace {

template <class U>
void store_big_endian(std::span<uint8_t> batch, size_t offset, U value) {
  U wire = to_big_endian(value);
  std::memcpy(batch.data() + offset, &wire, sizeof(wire));
}

Status invalid(Errc code, std::string message) { return Status(code, std::move(message)); }

Status check_offsets_and_count(const BatchHeader& header, size_t records_bytes) {
  if (header.record_count < 0)
    return invalid(Errc::invalid_value,
                   "record count " + std::to_string(header.record_count) + " is negative");
  if (header.last_offset_delta < 0)
    return invalid(Errc::invalid_value, "lastOffsetDelta " +
                                            std::to_string(header.last_offset_delta) +
                                            " is negative");
  // Offset deltas are distinct and increasing, so n records span >= n offsets
  // (compaction may leave gaps, hence not ==).
  if (header.record_count > 0 && header.last_offset_delta < header.record_count - 1)
    return invalid(Errc::invalid_value,
                   "lastOffsetDelta " + std::to_string(header.last_offset_delta) + " < " +
                       std::to_string(header.record_count) + " records - 1");
  if (header.compression() == Compression::none &&
      static_cast<uint64_t>(header.record_count) * record_bytes_min > records_bytes)
    return invalid(Errc::invalid_length, std::to_string(header.record_count) +
                                             " records cannot fit in " +
                                             std::to_string(records_bytes) + " bytes");
  if (header.record_count == 0 && header.compression() == Compression::none &&
      records_bytes != 0)
    return invalid(Errc::invalid_length, "an empty batch carries " +
                                             std::to_string(records_bytes) + " record bytes");
  return Status::ok();
}

}  // namespace

const char* compression_name(Compression codec) {
  switch (codec) {
    case Compression::none: return "none";
    case Compression::gzip: return "gzip";
    case Compression::snappy: return "snappy";
    case Compression::lz4: return "lz4";
    case Compression::zstd: return "zstd";
  }
  return "unknown";
}

int32_t BatchHeader::last_sequence() const {
  if (base_sequence == no_sequence) return no_sequence;
  constexpr int32_t sequence_max = std::numeric_limits<int32_t>::max();
  if (base_sequence > sequence_max - last_offset_delta)
    return last_offset_delta - (sequence_max - base_sequence) - 1;
  return base_sequence + last_offset_delta;
}

Result<BatchHeader> read_batch_header(Bytes bytes) {
  WireReader reader(bytes);
  BatchHeader header;
  header.base_offset = reader.read_int64();
  header.batch_length = reader.read_int32();
  header.partition_leader_epoch = reader.read_int32();
  header.magic = reader.read_int8();
  header.crc = reader.read_uint32();
  header.attributes = reader.read_int16();
  header.last_offset_delta = reader.read_int32();
  header.base_timestamp = reader.read_int64();
  header.max_timestamp = reader.read_int64();
  header.producer_id = reader.read_int64();
  header.producer_epoch = reader.read_int16();
  header.base_sequence = reader.read_int32();
  header.record_count = reader.read_int32();
  // The first two checks can be made on a partial header, so a caller framing
  // batches learns about a lying length or an old magic as early as possible.
  if (bytes.size() >= layout::partition_leader_epoch && header.batch_length < batch_length_min)
    return invalid(Errc::invalid_length, "batchLength " + std::to_string(header.batch_length) +
                                             " is below the minimum " +
                                             std::to_string(batch_length_min));
  if (bytes.size() > layout::magic && header.magic != current_magic)
    return invalid(Errc::invalid_value, "magic " + std::to_string(header.magic) +
                                            " is not supported (only record batch v2)");
  if (!reader.ok())
    return invalid(Errc::truncated, "batch header needs " + std::to_string(batch_header_bytes) +
                                        " bytes, got " + std::to_string(bytes.size()));
  if ((header.attributes & attribute_bits::compression_mask) > 4)
    return invalid(Errc::unsupported_compression,
                   "compression codec " +
                       std::to_string(header.attributes & attribute_bits::compression_mask) +
                       " is unknown");
  return header;
}

Status validate_batch(Bytes batch) { return validate_batch_header(batch).status(); }

Result<BatchHeader> validate_batch_header(Bytes batch) {
  Result<BatchHeader> parsed = read_batch_header(batch);
  if (!parsed) return parsed.status();
  const BatchHeader& header = *parsed;
  if (header.size_bytes() > batch.size())
    return invalid(Errc::truncated, "batchLength says " + std::to_string(header.size_bytes()) +
                                        " bytes, buffer has " + std::to_string(batch.size()));
  if (header.size_bytes() < batch.size())
    return invalid(Errc::invalid_length, "batchLength says " +
                                             std::to_string(header.size_bytes()) +
                                             " bytes, buffer has " + std::to_string(batch.size()));
  uint32_t actual_crc = compute_batch_crc(batch);
  if (actual_crc != header.crc)
    return invalid(Errc::corrupt_crc, "CRC32C is " + std::to_string(actual_crc) +
                                          ", header says " + std::to_string(header.crc));
  Status counts = check_offsets_and_count(header, batch.size() - batch_header_bytes);
  if (!counts) return counts;
  if (header.max_timestamp != -1 && header.max_timestamp < header.base_timestamp &&
      header.timestamp_type() == TimestampType::create_time && header.record_count > 0 &&
      !header.has_delete_horizon())  // baseTimestamp holds the delete horizon then
    return invalid(Errc::invalid_value, "maxTimestamp " + std::to_string(header.max_timestamp) +
                                            " < baseTimestamp " +
                                            std::to_string(header.base_timestamp));
  return header;
}

uint32_t compute_batch_crc(Bytes batch) {
  SLUICE_ASSERT(batch.size() >= batch_header_bytes, "a batch is at least its header");
  return crc32c(batch.subspan(layout::attributes));
}

void set_base_offset(std::span<uint8_t> batch, int64_t base_offset) {
  SLUICE_ASSERT(batch.size() >= batch_header_bytes, "a batch is at least its header");
  store_big_endian(batch, layout::base_offset, static_cast<uint64_t>(base_offset));
}

void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch) {
  SLUICE_ASSERT(batch.size() >= batch_header_bytes, "a batch is at least its header");
  store_big_endian(batch, layout::partition_leader_epoch, static_cast<uint32_t>(epoch));
}

void set_log_append_time(std::span<uint8_t> batch, int64_t timestamp_ms) {
  SLUICE_ASSERT(batch.size() >= batch_header_bytes, "a batch is at least its header");
  uint16_t attributes;
  std::memcpy(&attributes, batch.data() + layout::attributes, sizeof(attributes));
  attributes = to_big_endian(attributes);
  attributes |= static_cast<uint16_t>(attribute_bits::timestamp_type);
  store_big_endian(batch, layout::attributes, attributes);
  store_big_endian(batch, layout::max_timestamp, static_cast<uint64_t>(timestamp_ms));
  store_big_endian(batch, layout::crc, compute_batch_crc(batch));
}

}  // namespace sluice::record
