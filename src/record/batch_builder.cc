#include "record/batch_builder.h"

#include <algorithm>
#include <limits>
#include <string>

#include "base/assert.h"

namespace sluice::record {
namespace {

size_t sized_bytes(const std::optional<Bytes>& field) {
  if (!field) return varint_size(-1);
  return varint_size(static_cast<int32_t>(field->size())) + field->size();
}

void write_sized(WireWriter& writer, const std::optional<Bytes>& field) {
  if (!field) {
    writer.write_varint(-1);
    return;
  }
  writer.write_varint(static_cast<int32_t>(field->size()));
  writer.write_raw(*field);
}

Bytes as_bytes(std::string_view text) {
  return Bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

int16_t attributes_of(const BatchOptions& options) {
  int16_t attributes = static_cast<int16_t>(options.compression);
  if (options.timestamp_type == TimestampType::log_append_time)
    attributes |= attribute_bits::timestamp_type;
  if (options.transactional) attributes |= attribute_bits::transactional;
  if (options.control) attributes |= attribute_bits::control;
  if (options.delete_horizon_ms) attributes |= attribute_bits::delete_horizon;
  return attributes;
}

}  // namespace

BatchBuilder::BatchBuilder(BatchOptions options) : options_(options) {
  static constexpr uint8_t header_room[batch_header_bytes] = {};
  records_.write_raw(Bytes(header_room, sizeof(header_room)));
  if (options_.delete_horizon_ms) base_timestamp_ms_ = *options_.delete_horizon_ms;
}

void BatchBuilder::append(int64_t timestamp_ms, std::optional<Bytes> key,
                          std::optional<Bytes> value, std::span<const RecordHeader> headers) {
  append_at(next_offset_delta_, timestamp_ms, key, value, headers);
}

void BatchBuilder::append_at(int32_t offset_delta, int64_t timestamp_ms, std::optional<Bytes> key,
                             std::optional<Bytes> value, std::span<const RecordHeader> headers) {
  SLUICE_ASSERT(offset_delta >= next_offset_delta_, "offset deltas must increase");
  SLUICE_ASSERT(record_count_ < std::numeric_limits<int32_t>::max(), "too many records");
  if (record_count_ == 0 && !options_.delete_horizon_ms) base_timestamp_ms_ = timestamp_ms;
  max_timestamp_ms_ = record_count_ == 0 ? timestamp_ms : std::max(max_timestamp_ms_, timestamp_ms);
  int64_t timestamp_delta = static_cast<int64_t>(static_cast<uint64_t>(timestamp_ms) -
                                                 static_cast<uint64_t>(base_timestamp_ms_));

  size_t body_bytes = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta) +
                      sized_bytes(key) + sized_bytes(value) +
                      varint_size(static_cast<int32_t>(headers.size()));
  for (const RecordHeader& header : headers)
    body_bytes += sized_bytes(as_bytes(header.key)) + sized_bytes(header.value);
  SLUICE_ASSERT(body_bytes <= static_cast<size_t>(std::numeric_limits<int32_t>::max()),
                "a record above 2 GiB");

  records_.write_varint(static_cast<int32_t>(body_bytes));
  records_.write_int8(0);  // record attributes: unused
  records_.write_varlong(timestamp_delta);
  records_.write_varint(offset_delta);
  write_sized(records_, key);
  write_sized(records_, value);
  records_.write_varint(static_cast<int32_t>(headers.size()));
  for (const RecordHeader& header : headers) {
    write_sized(records_, as_bytes(header.key));
    write_sized(records_, header.value);
  }
  ++record_count_;
  next_offset_delta_ = offset_delta + 1;
}

Result<std::vector<uint8_t>> BatchBuilder::build() const {
  std::vector<uint8_t> batch = records_.to_vector();
  if (options_.compression != Compression::none) {
    std::vector<uint8_t> plain = std::move(batch);
    batch.assign(plain.begin(), plain.begin() + batch_header_bytes);
    Status status = compress_append(options_.compression, Bytes(plain).subspan(batch_header_bytes),
                                    batch, options_.compression_options);
    if (!status) return status;
  }
  size_t batch_length = batch.size() - log_overhead_bytes;
  if (batch_length > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    return Status(Errc::invalid_length,
                  "batch of " + std::to_string(batch.size()) + " bytes exceeds INT32_MAX");

  WireWriter header;
  header.write_int64(options_.base_offset);
  header.write_int32(static_cast<int32_t>(batch_length));
  header.write_int32(options_.partition_leader_epoch);
  header.write_int8(current_magic);
  header.write_uint32(0);  // crc, computed below
  header.write_int16(attributes_of(options_));
  int32_t last_offset_delta = record_count_ == 0 ? 0 : next_offset_delta_ - 1;
  if (options_.last_offset_delta) {
    SLUICE_ASSERT(*options_.last_offset_delta >= last_offset_delta,
                  "lastOffsetDelta below the last record");
    last_offset_delta = *options_.last_offset_delta;
  }
  header.write_int32(last_offset_delta);
  header.write_int64(base_timestamp_ms_);
  header.write_int64(max_timestamp_ms_);
  header.write_int64(options_.producer_id);
  header.write_int16(options_.producer_epoch);
  header.write_int32(options_.base_sequence);
  header.write_int32(record_count_);
  std::vector<uint8_t> header_bytes = header.to_vector();
  SLUICE_ASSERT(header_bytes.size() == batch_header_bytes, "header layout");
  std::copy(header_bytes.begin(), header_bytes.end(), batch.begin());

  uint32_t crc = to_big_endian(compute_batch_crc(batch));
  std::memcpy(batch.data() + layout::crc, &crc, sizeof(crc));
  return batch;
}

std::vector<uint8_t> control_record_key(int16_t type) {
  WireWriter key;
  key.write_int16(0);  // version
  key.write_int16(type);
  return key.to_vector();
}

std::vector<uint8_t> build_control_batch(const std::vector<ControlRecord>& records,
                                         int64_t timestamp_ms) {
  BatchOptions options;
  options.control = true;
  BatchBuilder builder(options);
  for (const ControlRecord& record : records) {
    const std::vector<uint8_t> key = control_record_key(record.type);
    builder.append(timestamp_ms, Bytes(key), Bytes(record.value));
  }
  auto batch = builder.build();
  SLUICE_ASSERT(batch.is_ok(), "an uncompressed control batch always builds");
  return std::move(batch.value());
}

Result<std::vector<uint8_t>> build_end_txn_marker(ControlType type, int32_t coordinator_epoch,
                                                  int64_t timestamp_ms, BatchOptions options) {
  SLUICE_ASSERT(type == ControlType::abort || type == ControlType::commit,
                "a transaction marker commits or aborts");
  options.compression = Compression::none;
  options.transactional = true;
  options.control = true;
  options.base_sequence = no_sequence;
  WireWriter value;
  value.write_int16(0);  // version
  value.write_int32(coordinator_epoch);
  std::vector<uint8_t> key_bytes = control_record_key(static_cast<int16_t>(type));
  std::vector<uint8_t> value_bytes = value.to_vector();
  BatchBuilder builder(options);
  builder.append(timestamp_ms, Bytes(key_bytes), Bytes(value_bytes));
  return builder.build();
}

}  // namespace sluice::record
