#include "record/record_reader.h"

#include <string>

#include "record/compression.h"

namespace sluice::record {
namespace {

// Kafka's arithmetic on offsets and timestamps wraps; C++'s signed overflow is
// undefined, and inputs are untrusted.
int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// A varint length then that many bytes; -1 is null when `nullable`.
std::optional<Bytes> read_sized(WireReader& reader, bool nullable, const char* what) {
  int32_t length = reader.read_varint();
  if (!reader.ok()) return std::nullopt;
  if (length == -1 && nullable) return std::nullopt;
  if (length < 0) {
    reader.fail(Errc::invalid_length, std::string(what) + " length " + std::to_string(length));
    return std::nullopt;
  }
  if (static_cast<size_t>(length) > reader.remaining()) {
    reader.fail(Errc::invalid_length, std::string(what) + " length " + std::to_string(length) +
                                          " exceeds the " + std::to_string(reader.remaining()) +
                                          " bytes left in the record");
    return std::nullopt;
  }
  return reader.read_bytes(static_cast<size_t>(length));
}

void read_headers(WireReader& reader, std::vector<RecordHeader>& headers) {
  headers.clear();
  int32_t count = reader.read_varint();
  if (!reader.ok()) return;
  // A header takes at least two bytes (two one-byte lengths).
  if (count < 0 || static_cast<size_t>(count) > reader.remaining() / 2) {
    reader.fail(Errc::invalid_length, "header count " + std::to_string(count) + " with " +
                                          std::to_string(reader.remaining()) + " bytes left");
    return;
  }
  headers.reserve(static_cast<size_t>(count));
  for (int32_t i = 0; i < count && reader.ok(); ++i) {
    std::optional<Bytes> key = read_sized(reader, false, "header key");
    std::optional<Bytes> value = read_sized(reader, true, "header value");
    if (!reader.ok()) return;
    headers.push_back({std::string_view(reinterpret_cast<const char*>(key->data()), key->size()),
                       value});
  }
}

// The framing of uncompressed records, checked in one tight pass with no
// Status, string or vector built per record: the common case of a leader
// append. It accepts exactly what RecordReader::next accepts (same varint
// limits, length rules, header-count bound and offset-delta order), so
// validate_records may trust a `true`; on `false` the caller re-reads with
// RecordReader for the precise error.
class FramingWalk {
 public:
  FramingWalk(const uint8_t* begin, const uint8_t* end) : position_(begin), end_(end) {}

  bool records_are_well_formed(const BatchHeader& header) {
    int64_t previous_offset_delta = -1;
    for (int32_t i = 0; i < header.record_count; ++i) {
      int64_t length;
      if (!varint(5, 32, length) || length < 0 || length > end_ - position_) return false;
      const uint8_t* record_end = position_ + length;
      FramingWalk record(position_, record_end);
      int64_t offset_delta;
      if (!record.record_body(offset_delta)) return false;
      if (offset_delta <= previous_offset_delta || offset_delta > header.last_offset_delta) return false;
      previous_offset_delta = offset_delta;
      position_ = record_end;
    }
    return position_ == end_;
  }

 private:
  // attributes, timestampDelta, offsetDelta, key, value, headers; nothing after.
  bool record_body(int64_t& offset_delta) {
    if (position_ == end_) return false;
    ++position_;  // attributes
    int64_t ignored;
    if (!varint(10, 64, ignored) || !varint(5, 32, offset_delta)) return false;
    if (!sized(true) || !sized(true)) return false;
    int64_t header_count;
    if (!varint(5, 32, header_count)) return false;
    if (header_count < 0 || header_count > (end_ - position_) / 2) return false;
    for (int64_t h = 0; h < header_count; ++h)
      if (!sized(false) || !sized(true)) return false;
    return position_ == end_;
  }

  // A zig-zag varint of at most `max_bytes`, rejected as WireReader rejects
  // it (past the end, more than `bits` bits, too long).
  bool varint(int max_bytes, int bits, int64_t& out) {
    if (position_ != end_ && *position_ < 0x80) {  // one byte: most lengths and deltas
      uint64_t raw = *position_++;
      out = static_cast<int64_t>((raw >> 1) ^ (~(raw & 1) + 1));
      return true;
    }
    uint64_t raw = 0;
    for (int i = 0; i < max_bytes; ++i) {
      if (position_ == end_) return false;
      uint8_t byte = *position_++;
      uint64_t chunk = byte & 0x7f;
      int shift = 7 * i;
      if (shift + 7 > bits && (chunk >> (bits - shift)) != 0) return false;
      raw |= chunk << shift;
      if ((byte & 0x80) == 0) {
        uint64_t decoded = (raw >> 1) ^ (~(raw & 1) + 1);
        out = bits == 32 ? static_cast<int32_t>(static_cast<uint32_t>(decoded)) : static_cast<int64_t>(decoded);
        return true;
      }
    }
    return false;
  }

  // A varint length then that many bytes (-1: null, when `nullable`).
  bool sized(bool nullable) {
    int64_t length;
    if (!varint(5, 32, length)) return false;
    if (length == -1 && nullable) return true;
    if (length < 0 || length > end_ - position_) return false;
    position_ += length;
    return true;
  }

  const uint8_t* position_;
  const uint8_t* end_;
};

}  // namespace

Result<RecordReader> RecordReader::open(Bytes batch, size_t decompressed_bytes_max) {
  Result<BatchHeader> header = read_batch_header(batch);
  if (!header) return header.status();
  if (header->size_bytes() > batch.size())
    return Status(Errc::truncated, "batchLength says " + std::to_string(header->size_bytes()) +
                                       " bytes, buffer has " + std::to_string(batch.size()));
  // Without this a negative count would read as an empty batch, status ok.
  if (header->record_count < 0)
    return Status(Errc::invalid_value,
                  "record count " + std::to_string(header->record_count) + " is negative");
  RecordReader reader;
  reader.header_ = *header;
  Bytes records = batch.subspan(batch_header_bytes, header->size_bytes() - batch_header_bytes);
  if (header->compression() == Compression::none) {
    reader.reader_ = WireReader(records);
    return reader;
  }
  Result<std::vector<uint8_t>> plain =
      decompress(header->compression(), records, decompressed_bytes_max);
  if (!plain) return plain.status();
  reader.decompressed_ = std::move(plain).value();
  reader.reader_ = WireReader(reader.decompressed_);
  return reader;
}

bool RecordReader::fail(Errc code, std::string message) {
  if (status_.is_ok())
    status_ = Status(code, "record " + std::to_string(records_read_) + ": " + message);
  return false;
}

bool RecordReader::finish() {
  if (!reader_.at_end())
    return fail(Errc::invalid_length, std::to_string(reader_.remaining()) +
                                          " bytes follow the last of " +
                                          std::to_string(header_.record_count) + " records");
  return false;
}

bool RecordReader::next(Record& out) {
  if (!status_.is_ok()) return false;
  if (records_read_ >= header_.record_count) return finish();
  if (reader_.at_end())
    return fail(Errc::truncated, "batch declares " + std::to_string(header_.record_count) +
                                     " records, data ends after " + std::to_string(records_read_));
  int32_t length = reader_.read_varint();
  if (reader_.ok() && (length < 0 || static_cast<size_t>(length) > reader_.remaining()))
    return fail(Errc::invalid_length, "length " + std::to_string(length) + " with " +
                                          std::to_string(reader_.remaining()) + " bytes left");
  WireReader record = reader_.sub_reader(static_cast<size_t>(length));
  if (!reader_.ok()) return fail(reader_.status().code(), reader_.status().message());

  out.attributes = record.read_int8();
  int64_t timestamp_delta = record.read_varlong();
  out.offset_delta = record.read_varint();
  out.key = read_sized(record, true, "key");
  out.value = read_sized(record, true, "value");
  read_headers(record, out.headers);
  if (!record.ok()) return fail(record.status().code(), record.status().message());
  if (!record.at_end())
    return fail(Errc::invalid_length, std::to_string(record.remaining()) +
                                          " bytes left inside the record after its headers");
  if (out.offset_delta <= previous_offset_delta_ || out.offset_delta > header_.last_offset_delta)
    return fail(Errc::invalid_value, "offset delta " + std::to_string(out.offset_delta) +
                                         " after " + std::to_string(previous_offset_delta_) +
                                         " (lastOffsetDelta " +
                                         std::to_string(header_.last_offset_delta) + ")");
  previous_offset_delta_ = out.offset_delta;
  out.offset = wrapping_add(header_.base_offset, out.offset_delta);
  out.timestamp_ms = header_.timestamp_type() == TimestampType::log_append_time
                         ? header_.max_timestamp
                         : wrapping_add(header_.base_timestamp, timestamp_delta);
  ++records_read_;
  return true;
}

Status validate_records(Bytes batch, size_t decompressed_bytes_max) {
  Result<BatchHeader> header = validate_batch_header(batch);
  if (!header) return header.status();
  if (header->compression() == Compression::none && header->record_count >= 0) {
    Bytes records = batch.subspan(batch_header_bytes, header->size_bytes() - batch_header_bytes);
    if (FramingWalk(records.data(), records.data() + records.size()).records_are_well_formed(*header))
      return Status::ok();
  }
  // Compressed, or malformed: the reader decompresses, or names the problem.
  Result<RecordReader> reader = RecordReader::open(batch, decompressed_bytes_max);
  if (!reader) return reader.status();
  Record record;
  while (reader->next(record)) {
  }
  return reader->status();
}

Result<ControlRecordKey> parse_control_key(Bytes key) {
  WireReader reader(key);
  ControlRecordKey parsed;
  parsed.version = reader.read_int16();
  parsed.type = static_cast<ControlType>(reader.read_int16());
  if (!reader.ok()) return Status(Errc::truncated, "control record key needs 4 bytes");
  if (parsed.version < 0)
    return Status(Errc::invalid_value,
                  "control record key version " + std::to_string(parsed.version));
  return parsed;
}

Result<EndTxnMarker> parse_end_txn_marker(Bytes value) {
  WireReader reader(value);
  EndTxnMarker marker;
  marker.version = reader.read_int16();
  marker.coordinator_epoch = reader.read_int32();
  if (!reader.ok()) return Status(Errc::truncated, "transaction marker needs 6 bytes");
  if (marker.version < 0)
    return Status(Errc::invalid_value, "transaction marker version " +
                                           std::to_string(marker.version));
  return marker;
}

}  // namespace sluice::record
