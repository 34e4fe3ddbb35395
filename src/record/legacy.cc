#include "record/legacy.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "record/compression.h"

namespace sluice::record {
namespace {

Status fail(Errc code, std::string message) { return Status(code, std::move(message)); }

uint32_t legacy_crc(Bytes covered) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), covered.data(), static_cast<uInt>(covered.size())));
}

template <class U>
void append_big_endian(std::vector<uint8_t>& out, U value) {
  U wire = to_big_endian(value);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&wire);
  out.insert(out.end(), bytes, bytes + sizeof(wire));
}

template <class U>
void store_big_endian(std::vector<uint8_t>& out, size_t at, U value) {
  U wire = to_big_endian(value);
  std::memcpy(out.data() + at, &wire, sizeof(wire));
}

void append_nullable_bytes(std::vector<uint8_t>& out, const std::optional<Bytes>& bytes) {
  if (!bytes) return append_big_endian<int32_t>(out, -1);
  append_big_endian(out, static_cast<int32_t>(bytes->size()));
  out.insert(out.end(), bytes->begin(), bytes->end());
}

// Reads an int32-length-prefixed byte string (-1 = null) of a message.
Status read_nullable_bytes(WireReader& reader, const char* field, std::optional<Bytes>& out) {
  int32_t length = reader.read_int32();
  if (!reader.ok())
    return fail(Errc::invalid_length, std::string("the message ends before its ") + field);
  if (length == -1) {
    out.reset();
    return Status::ok();
  }
  if (length < 0 || static_cast<size_t>(length) > reader.remaining())
    return fail(Errc::invalid_length, std::string(field) + " length " + std::to_string(length) +
                                          " does not fit the message");
  out = reader.read_bytes(static_cast<size_t>(length));
  return Status::ok();
}

// One entry: offset, size, crc (filled in last), magic, attributes,
// [timestamp], key, value.
void append_entry(std::vector<uint8_t>& out, int64_t offset, int8_t magic, int8_t attributes,
                  int64_t timestamp_ms, const std::optional<Bytes>& key,
                  const std::optional<Bytes>& value) {
  size_t start = out.size();
  append_big_endian(out, offset);
  append_big_endian<int32_t>(out, 0);
  append_big_endian<uint32_t>(out, 0);
  out.push_back(static_cast<uint8_t>(magic));
  out.push_back(static_cast<uint8_t>(attributes));
  if (magic > 0) append_big_endian(out, timestamp_ms);
  append_nullable_bytes(out, key);
  append_nullable_bytes(out, value);
  store_big_endian(out, start + legacy_layout::size,
                   static_cast<int32_t>(out.size() - start - log_overhead_bytes));
  Bytes covered(out.data() + start + legacy_layout::magic,
                out.size() - start - legacy_layout::magic);
  store_big_endian(out, start + legacy_layout::crc, legacy_crc(covered));
}

int8_t attributes_for(const LegacyWriteOptions& options, Compression codec) {
  auto attributes = static_cast<int8_t>(codec);
  if (options.magic > 0 && options.timestamp_type == TimestampType::log_append_time)
    attributes = static_cast<int8_t>(attributes | legacy_timestamp_type_bit);
  return attributes;
}

int64_t timestamp_for(const LegacyWriteOptions& options, const LegacyRecord& record) {
  if (options.magic == 0) return no_timestamp;
  return options.timestamp_type == TimestampType::log_append_time ? options.log_append_time_ms
                                                                  : record.timestamp_ms;
}

// The wrapper's value, decompressed. Kafka ignores the lz4 descriptor
// checksum of magic 0 (written wrongly by its old clients, KAFKA-3160), so
// it is made right before the frame decoder checks it.
Result<std::vector<uint8_t>> inflate_wrapper(const LegacyMessage& wrapper,
                                             size_t decompressed_bytes_max) {
  Bytes compressed = *wrapper.value;
  if (wrapper.compression() == Compression::lz4 && wrapper.magic == 0) {
    std::vector<uint8_t> fixed(compressed.begin(), compressed.end());
    set_lz4_header_checksum(fixed, Lz4HeaderChecksum::standard);
    return decompress(Compression::lz4, fixed, decompressed_bytes_max);
  }
  return decompress(wrapper.compression(), compressed, decompressed_bytes_max);
}

// Kafka's deep iteration of one wrapper: inner messages of the wrapper's
// magic, uncompressed, at least one; magic 1 inner offsets are relative to
// the wrapper's (whose offset is the last inner message's).
Status open_wrapper(const LegacyMessage& wrapper, LegacyRecords& out,
                    size_t decompressed_bytes_max) {
  if (!wrapper.value) return fail(Errc::invalid_value, "a compressed message has a null value");
  auto inflated = inflate_wrapper(wrapper, decompressed_bytes_max);
  if (!inflated) return inflated.status();
  out.inflated.push_back(std::move(*inflated));
  Bytes inner = out.inflated.back();
  size_t first = out.records.size();
  for (size_t at = 0; at < inner.size();) {
    auto message = read_legacy_message(inner.subspan(at));
    if (!message)
      return fail(message.status().code(), "inner message: " + message.status().message());
    if (message->magic != wrapper.magic)
      return fail(Errc::invalid_value, "inner message of magic " + std::to_string(message->magic) +
                                           " in a wrapper of magic " +
                                           std::to_string(wrapper.magic));
    if (message->compression() != Compression::none)
      return fail(Errc::invalid_value,
                  "Compressed outer record should not have an inner record with a compression "
                  "attribute set");
    bool log_append_time = wrapper.timestamp_type() == TimestampType::log_append_time;
    out.records.push_back({message->offset,
                           log_append_time ? wrapper.timestamp_ms : message->timestamp_ms,
                           message->key, message->value});
    at += message->size_bytes;
  }
  if (out.records.size() == first)
    return fail(Errc::invalid_value, "a compressed message holds no inner messages");
  if (wrapper.magic > 0) {
    int64_t base = wrapper.offset - out.records.back().offset;
    for (size_t i = first; i < out.records.size(); ++i) out.records[i].offset += base;
  }
  return Status::ok();
}

}  // namespace

size_t legacy_record_overhead(int8_t magic) {
  return magic == 0 ? legacy_record_overhead_v0 : legacy_record_overhead_v1;
}

bool is_legacy_message_set(Bytes bytes) {
  return bytes.size() > legacy_layout::magic &&
         (bytes[legacy_layout::magic] == 0 || bytes[legacy_layout::magic] == 1);
}

Result<LegacyMessage> read_legacy_message(Bytes bytes) {
  if (bytes.size() < log_overhead_bytes)
    return fail(Errc::truncated, "a message ends inside its offset and size");
  WireReader reader(bytes);
  LegacyMessage message;
  message.offset = reader.read_int64();
  int32_t size = reader.read_int32();
  if (size < static_cast<int32_t>(legacy_record_overhead_v0))
    return fail(Errc::invalid_length,
                "message size " + std::to_string(size) + " is below the minimum record overhead");
  if (reader.remaining() < static_cast<size_t>(size))
    return fail(Errc::truncated, "message of " + std::to_string(size) + " bytes, " +
                                     std::to_string(reader.remaining()) + " left");
  message.size_bytes = log_overhead_bytes + static_cast<size_t>(size);
  WireReader body = reader.sub_reader(static_cast<size_t>(size));
  uint32_t crc = body.read_uint32();
  message.magic = body.read_int8();
  if (message.magic != 0 && message.magic != 1)
    return fail(Errc::invalid_value,
                "magic " + std::to_string(message.magic) + " in a legacy message set");
  if (static_cast<size_t>(size) < legacy_record_overhead(message.magic))
    return fail(Errc::invalid_length, "message size " + std::to_string(size) +
                                          " is below the record overhead of magic " +
                                          std::to_string(message.magic));
  Bytes covered = bytes.subspan(legacy_layout::magic, message.size_bytes - legacy_layout::magic);
  if (uint32_t computed = legacy_crc(covered); computed != crc)
    return fail(Errc::corrupt_crc, "message CRC " + std::to_string(crc) +
                                       " does not match its bytes (" + std::to_string(computed) +
                                       ")");
  message.attributes = body.read_int8();
  if (message.compression() > Compression::lz4)
    return fail(Errc::unsupported_compression,
                "codec " + std::to_string(message.attributes & attribute_bits::compression_mask) +
                    " in a legacy message");
  if (message.magic > 0) message.timestamp_ms = body.read_int64();
  if (Status status = read_nullable_bytes(body, "key", message.key); !status) return status;
  if (Status status = read_nullable_bytes(body, "value", message.value); !status) return status;
  if (!body.at_end())
    return fail(Errc::invalid_length,
                std::to_string(body.remaining()) + " bytes after the message's value");
  return message;
}

Result<LegacyRecords> read_legacy_records(Bytes message_set, size_t decompressed_bytes_max) {
  LegacyRecords out;
  size_t entries = 0;
  bool wrapped = false;
  for (size_t at = 0; at < message_set.size(); ++entries) {
    Bytes rest = message_set.subspan(at);
    // A record batch (magic 2) among messages: Kafka's "Batch magic is not
    // the same as the first batch's" (InvalidRecordException).
    if (entries > 0 && rest.size() > legacy_layout::magic &&
        rest[legacy_layout::magic] == current_magic)
      return fail(Errc::invalid_value,
                  "a record batch of magic 2 after messages of magic " + std::to_string(out.magic));
    auto message = read_legacy_message(rest);
    if (!message) return message.status();
    if (entries == 0) out.magic = message->magic;
    if (message->magic != out.magic)
      return fail(Errc::invalid_value, "message of magic " + std::to_string(message->magic) +
                                           " after messages of magic " + std::to_string(out.magic));
    if (message->timestamp_type() == TimestampType::log_append_time)
      out.client_log_append_time = true;
    if (message->compression() != Compression::none) {
      wrapped = true;
      out.compression = message->compression();
      if (Status status = open_wrapper(*message, out, decompressed_bytes_max); !status)
        return status;
    } else {
      out.records.push_back({message->offset, message->timestamp_ms, message->key, message->value});
    }
    at += message->size_bytes;
  }
  // Kafka: a compressed message set is one wrapper ("Compressed outer
  // record has more than one batch").
  if (wrapped && entries > 1)
    return fail(Errc::invalid_value,
                "a compressed message set holds " + std::to_string(entries) + " entries, not one");
  return out;
}

Status write_legacy_message_set(std::span<const LegacyRecord> records,
                                const LegacyWriteOptions& options, std::vector<uint8_t>& out) {
  if (options.magic != 0 && options.magic != 1)
    return fail(Errc::invalid_value, "legacy messages have magic 0 or 1");
  if (options.compression == Compression::zstd)
    return fail(Errc::unsupported_compression, "zstd does not exist below magic 2");
  const int8_t plain_attributes = attributes_for(options, Compression::none);
  if (options.compression == Compression::none) {
    for (const LegacyRecord& record : records)
      append_entry(out, record.offset, options.magic, plain_attributes,
                   timestamp_for(options, record), record.key, record.value);
    return Status::ok();
  }
  if (records.empty()) return Status::ok();
  std::vector<uint8_t> inner;
  int64_t max_timestamp_ms = no_timestamp;
  for (const LegacyRecord& record : records) {
    int64_t inner_offset =
        options.magic == 0 ? record.offset : record.offset - records.front().offset;
    int64_t timestamp_ms = timestamp_for(options, record);
    max_timestamp_ms = std::max(max_timestamp_ms, timestamp_ms);
    append_entry(inner, inner_offset, options.magic, plain_attributes, timestamp_ms, record.key,
                 record.value);
  }
  std::vector<uint8_t> compressed;
  CompressionOptions codec_options;
  codec_options.snappy_framing = SnappyFraming::xerial;  // what Kafka writes below magic 2
  if (Status status = compress_append(options.compression, inner, compressed, codec_options);
      !status)
    return status;
  if (options.compression == Compression::lz4 && options.magic == 0)
    set_lz4_header_checksum(compressed, Lz4HeaderChecksum::kafka_magic0);
  append_entry(out, records.back().offset, options.magic,
               attributes_for(options, options.compression), max_timestamp_ms, std::nullopt,
               Bytes(compressed));
  return Status::ok();
}

}  // namespace sluice::record
