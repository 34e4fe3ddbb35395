#include "record/record_reader.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "record/batch_builder.h"
#include "record/record_set.h"
#include "test_bytes.h"

namespace sluice::record {
namespace {

using testing::all_codecs;
using testing::as_bytes;
using testing::as_string;

std::vector<uint8_t> build_or_die(const BatchBuilder& builder) {
  Result<std::vector<uint8_t>> batch = builder.build();
  SLUICE_ASSERT(batch.is_ok(), "build failed");
  return std::move(batch).value();
}

// The records of a batch plus the reader they point into (a compressed
// batch's views live in the reader's buffer).
struct Decoded {
  std::optional<RecordReader> reader;
  std::vector<Record> records;
  Status status;
};

Decoded decode(Bytes batch) {
  Decoded out;
  Result<RecordReader> reader = RecordReader::open(batch);
  if (!reader) {
    out.status = reader.status();
    return out;
  }
  out.reader.emplace(std::move(reader).value());
  Record record;
  while (out.reader->next(record)) out.records.push_back(record);
  out.status = out.reader->status();
  return out;
}

TEST(RecordRoundTrip, EveryCodecWithHeadersAndNulls) {
  for (Compression codec : all_codecs) {
    BatchOptions options;
    options.compression = codec;
    options.base_offset = 1000;
    options.partition_leader_epoch = 3;
    options.producer_id = 42;
    options.producer_epoch = 5;
    options.base_sequence = 7;
    BatchBuilder builder(options);
    const RecordHeader headers[] = {{"h1", as_bytes("v1")}, {"h2", std::nullopt}, {"", as_bytes("")}};
    builder.append(1700000000000, as_bytes("key-0"), as_bytes("value-0"), headers);
    builder.append(1699999999000, std::nullopt, as_bytes("value-1"));
    builder.append(1700000005000, as_bytes("key-2"), std::nullopt);
    builder.append(1700000001000, as_bytes(""), as_bytes(""));
    std::vector<uint8_t> batch = build_or_die(builder);
    ASSERT_TRUE(validate_records(batch).is_ok()) << compression_name(codec);

    Result<BatchHeader> header = read_batch_header(batch);
    ASSERT_TRUE(header.is_ok());
    EXPECT_EQ(header->compression(), codec);
    EXPECT_EQ(header->base_offset, 1000);
    EXPECT_EQ(header->partition_leader_epoch, 3);
    EXPECT_EQ(header->record_count, 4);
    EXPECT_EQ(header->last_offset_delta, 3);
    EXPECT_EQ(header->base_timestamp, 1700000000000);
    EXPECT_EQ(header->max_timestamp, 1700000005000);
    EXPECT_EQ(header->producer_id, 42);
    EXPECT_EQ(header->producer_epoch, 5);
    EXPECT_EQ(header->base_sequence, 7);
    EXPECT_EQ(header->last_sequence(), 10);

    Decoded decoded = decode(batch);
    ASSERT_TRUE(decoded.status.is_ok()) << decoded.status.to_string();
    const std::vector<Record>& records = decoded.records;
    ASSERT_EQ(records.size(), 4u);
    EXPECT_EQ(records[0].offset, 1000);
    EXPECT_EQ(records[0].timestamp_ms, 1700000000000);
    EXPECT_EQ(as_string(*records[0].key), "key-0");
    EXPECT_EQ(as_string(*records[0].value), "value-0");
    ASSERT_EQ(records[0].headers.size(), 3u);
    EXPECT_EQ(records[0].headers[0].key, "h1");
    EXPECT_EQ(as_string(*records[0].headers[0].value), "v1");
    EXPECT_EQ(records[0].headers[1].key, "h2");
    EXPECT_FALSE(records[0].headers[1].value.has_value());
    EXPECT_EQ(records[0].headers[2].key, "");
    EXPECT_TRUE(records[0].headers[2].value.has_value());
    EXPECT_EQ(records[1].offset, 1001);
    EXPECT_EQ(records[1].timestamp_ms, 1699999999000);  // negative delta
    EXPECT_FALSE(records[1].key.has_value());
    EXPECT_TRUE(records[1].headers.empty());
    EXPECT_FALSE(records[2].value.has_value());
    EXPECT_TRUE(records[3].key.has_value());
    EXPECT_TRUE(records[3].key->empty());
    EXPECT_EQ(records[3].offset, 1003);
  }
}

TEST(RecordRoundTrip, UncompressedViewsPointIntoTheBatch) {
  BatchBuilder builder;
  builder.append(1, as_bytes("k"), as_bytes("v"));
  std::vector<uint8_t> batch = build_or_die(builder);
  Decoded decoded = decode(batch);
  const std::vector<Record>& records = decoded.records;
  ASSERT_EQ(records.size(), 1u);
  EXPECT_GE(records[0].value->data(), batch.data());
  EXPECT_LT(records[0].value->data(), batch.data() + batch.size());
}

TEST(RecordRoundTrip, GapsInOffsetDeltasAndEmptyBatches) {
  BatchBuilder builder;
  builder.append_at(2, 10, std::nullopt, as_bytes("a"));
  builder.append_at(9, 11, std::nullopt, as_bytes("b"));
  std::vector<uint8_t> batch = build_or_die(builder);
  EXPECT_TRUE(validate_records(batch).is_ok());
  Decoded decoded = decode(batch);
  const std::vector<Record>& records = decoded.records;
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].offset, 2);
  EXPECT_EQ(records[1].offset, 9);
  EXPECT_EQ(read_batch_header(batch)->last_offset_delta, 9);

  std::vector<uint8_t> empty = build_or_die(BatchBuilder());
  EXPECT_EQ(empty.size(), batch_header_bytes);
  EXPECT_TRUE(validate_records(empty).is_ok());
  EXPECT_EQ(read_batch_header(empty)->max_timestamp, -1);
}

TEST(RecordRoundTrip, LogAppendTimeGivesEveryRecordTheBatchTime) {
  BatchBuilder builder;
  builder.append(5, std::nullopt, as_bytes("a"));
  builder.append(6, std::nullopt, as_bytes("b"));
  std::vector<uint8_t> batch = build_or_die(builder);
  set_log_append_time(batch, 99);
  Decoded decoded = decode(batch);
  for (const Record& record : decoded.records) EXPECT_EQ(record.timestamp_ms, 99);
}

TEST(ControlBatch, CommitAndAbortMarkers) {
  for (ControlType type : {ControlType::commit, ControlType::abort}) {
    BatchOptions options;
    options.producer_id = 77;
    options.producer_epoch = 2;
    Result<std::vector<uint8_t>> batch = build_end_txn_marker(type, 12, 1700000000000, options);
    ASSERT_TRUE(batch.is_ok());
    ASSERT_TRUE(validate_records(*batch).is_ok());
    Result<BatchHeader> header = read_batch_header(*batch);
    EXPECT_TRUE(header->is_control());
    EXPECT_TRUE(header->is_transactional());
    EXPECT_EQ(header->producer_id, 77);
    EXPECT_EQ(header->producer_epoch, 2);
    EXPECT_EQ(header->base_sequence, -1);
    Decoded decoded = decode(*batch);
    const std::vector<Record>& records = decoded.records;
    ASSERT_EQ(records.size(), 1u);
    // Key bytes per Kafka: int16 version 0, int16 type.
    EXPECT_EQ(as_string(*records[0].key),
              std::string({0, 0, 0, static_cast<char>(type)}));
    Result<ControlRecordKey> key = parse_control_key(*records[0].key);
    ASSERT_TRUE(key.is_ok());
    EXPECT_EQ(key->type, type);
    Result<EndTxnMarker> marker = parse_end_txn_marker(*records[0].value);
    ASSERT_TRUE(marker.is_ok());
    EXPECT_EQ(marker->coordinator_epoch, 12);
  }
  EXPECT_EQ(parse_control_key(as_bytes("\x00")).status().code(), Errc::truncated);
  EXPECT_EQ(parse_end_txn_marker(as_bytes(std::string_view("\x00\x00\x00", 3))).status().code(),
            Errc::truncated);
}

// ---- Corruption: records are re-encoded by hand, then the CRC fixed, so the
// record decoder (not the CRC) must catch each problem.

// A batch header (via the builder, 0 records) followed by `records` bytes,
// with count and lastOffsetDelta patched and the CRC recomputed.
std::vector<uint8_t> batch_with_raw_records(const std::vector<uint8_t>& records, int32_t count,
                                            int32_t last_offset_delta) {
  std::vector<uint8_t> batch = build_or_die(BatchBuilder());
  batch.insert(batch.end(), records.begin(), records.end());
  WireWriter patch;
  patch.write_int32(static_cast<int32_t>(batch.size() - log_overhead_bytes));
  std::vector<uint8_t> length = patch.to_vector();
  std::copy(length.begin(), length.end(), batch.begin() + layout::batch_length);
  WireWriter fields;
  fields.write_int32(last_offset_delta);
  std::vector<uint8_t> delta = fields.to_vector();
  std::copy(delta.begin(), delta.end(), batch.begin() + layout::last_offset_delta);
  WireWriter counts;
  counts.write_int32(count);
  std::vector<uint8_t> count_bytes = counts.to_vector();
  std::copy(count_bytes.begin(), count_bytes.end(), batch.begin() + layout::record_count);
  uint32_t crc = to_big_endian(compute_batch_crc(batch));
  std::memcpy(batch.data() + layout::crc, &crc, 4);
  return batch;
}

// One record body encoded field by field.
std::vector<uint8_t> raw_record(int32_t offset_delta, int32_t key_length, int32_t value_length,
                                int32_t header_count, std::vector<uint8_t> tail = {}) {
  WireWriter body;
  body.write_int8(0);
  body.write_varlong(0);
  body.write_varint(offset_delta);
  body.write_varint(key_length);
  for (int32_t i = 0; i < key_length; ++i) body.write_int8('k');
  body.write_varint(value_length);
  for (int32_t i = 0; i < value_length; ++i) body.write_int8('v');
  body.write_varint(header_count);
  body.write_raw(Bytes(tail));
  std::vector<uint8_t> bytes = body.to_vector();
  WireWriter framed;
  framed.write_varint(static_cast<int32_t>(bytes.size()));
  framed.write_raw(Bytes(bytes));
  return framed.to_vector();
}

Status decode_status(const std::vector<uint8_t>& batch) { return decode(batch).status; }

TEST(RecordCorruption, HandEncodedBaselineIsValid) {
  std::vector<uint8_t> batch = batch_with_raw_records(raw_record(0, 1, 1, 0), 1, 0);
  EXPECT_TRUE(validate_records(batch).is_ok()) << validate_records(batch).to_string();
}

TEST(RecordCorruption, NegativeLengths) {
  EXPECT_EQ(decode_status(batch_with_raw_records(raw_record(0, -2, 1, 0), 1, 0)).code(),
            Errc::invalid_length);
  EXPECT_EQ(decode_status(batch_with_raw_records(raw_record(0, 1, -5, 0), 1, 0)).code(),
            Errc::invalid_length);
  EXPECT_EQ(decode_status(batch_with_raw_records(raw_record(0, 1, 1, -1), 1, 0)).code(),
            Errc::invalid_length);
  // A header key may not be null.
  std::vector<uint8_t> null_header_key = {0x01, 0x00};
  EXPECT_EQ(decode_status(batch_with_raw_records(raw_record(0, 1, 1, 1, null_header_key), 1, 0))
                .code(),
            Errc::invalid_length);
  // A negative record length.
  std::vector<uint8_t> negative = {0x03, 0, 0, 0};
  for (int i = 0; i < 6; ++i) negative.push_back(0);
  EXPECT_EQ(decode_status(batch_with_raw_records(negative, 1, 0)).code(), Errc::invalid_length);
}

TEST(RecordCorruption, LengthsBeyondTheData) {
  // Key length says 100, record has 1 byte of key.
  std::vector<uint8_t> record = raw_record(0, 1, 1, 0);
  record[4] = 200;  // zig-zag 100: key length field (after len, attrs, ts, delta)
  EXPECT_EQ(decode_status(batch_with_raw_records(record, 1, 0)).code(), Errc::invalid_length);
  // A huge header count must not allocate or loop.
  EXPECT_EQ(decode_status(batch_with_raw_records(raw_record(0, 1, 1, 0x3fffffff), 1, 0)).code(),
            Errc::invalid_length);
  // Record length beyond the batch.
  std::vector<uint8_t> long_record = raw_record(0, 1, 1, 0);
  long_record[0] = 0x7e;
  EXPECT_EQ(decode_status(batch_with_raw_records(long_record, 1, 0)).code(),
            Errc::invalid_length);
}

TEST(RecordCorruption, CountsAndOffsetsMustAgreeWithTheData) {
  std::vector<uint8_t> two = raw_record(0, 1, 1, 0);
  std::vector<uint8_t> second = raw_record(1, 1, 1, 0);
  two.insert(two.end(), second.begin(), second.end());
  EXPECT_TRUE(validate_records(batch_with_raw_records(two, 2, 1)).is_ok());
  // More records declared than present (compressed batches pass validate_batch's size check).
  std::vector<uint8_t> three_declared = batch_with_raw_records(two, 3, 2);
  EXPECT_EQ(decode_status(three_declared).code(), Errc::truncated);
  // Fewer declared than present: trailing bytes.
  EXPECT_EQ(decode_status(batch_with_raw_records(two, 1, 1)).code(), Errc::invalid_length);
  // Offset deltas not increasing, or beyond lastOffsetDelta.
  std::vector<uint8_t> repeated = raw_record(0, 1, 1, 0);
  repeated.insert(repeated.end(), repeated.begin(), repeated.end());
  EXPECT_EQ(decode_status(batch_with_raw_records(repeated, 2, 1)).code(), Errc::invalid_value);
  EXPECT_EQ(decode_status(batch_with_raw_records(raw_record(5, 1, 1, 0), 1, 0)).code(),
            Errc::invalid_value);
  // Extra bytes inside a record after its headers.
  EXPECT_EQ(decode_status(batch_with_raw_records(raw_record(0, 1, 1, 0, {9, 9}), 1, 0)).code(),
            Errc::invalid_length);
  // Header check: a record count that cannot fit uncompressed.
  EXPECT_EQ(validate_batch(batch_with_raw_records(two, 1000, 999)).code(), Errc::invalid_length);
}

TEST(RecordCorruption, TruncatedCompressedBatchAtEveryLength) {
  for (Compression codec : all_codecs) {
    BatchOptions options;
    options.compression = codec;
    BatchBuilder builder(options);
    for (int i = 0; i < 20; ++i) builder.append(i, as_bytes("key"), as_bytes("some value"));
    std::vector<uint8_t> batch = build_or_die(builder);
    for (size_t size = 0; size < batch.size(); ++size) {
      Bytes cut = Bytes(batch).first(size);
      ASSERT_FALSE(validate_records(cut).is_ok()) << compression_name(codec) << size;
      // The reader alone (no CRC check) must also stop cleanly.
      Result<RecordReader> reader = RecordReader::open(cut);
      if (reader.is_ok()) {
        Record record;
        int guard = 0;
        while (reader->next(record)) ASSERT_LT(++guard, 100);
      }
    }
  }
}

TEST(RecordCorruption, CompressedPayloadGarbageWithValidCrc) {
  for (Compression codec : {Compression::gzip, Compression::snappy, Compression::lz4,
                            Compression::zstd}) {
    std::vector<uint8_t> garbage(64, 0xa5);
    std::vector<uint8_t> batch = batch_with_raw_records(garbage, 1, 0);
    batch[layout::attributes + 1] = static_cast<uint8_t>(codec);
    uint32_t crc = to_big_endian(compute_batch_crc(batch));
    std::memcpy(batch.data() + layout::crc, &crc, 4);
    ASSERT_TRUE(validate_batch(batch).is_ok());
    EXPECT_EQ(validate_records(batch).code(), Errc::compression_error) << compression_name(codec);
  }
}

TEST(RecordCorruption, DecompressionBombIsRejected) {
  for (Compression codec : {Compression::gzip, Compression::snappy, Compression::lz4,
                            Compression::zstd}) {
    BatchOptions options;
    options.compression = codec;
    BatchBuilder builder(options);
    std::vector<uint8_t> zeros(4 << 20, 0);
    builder.append(0, std::nullopt, Bytes(zeros));
    std::vector<uint8_t> batch = build_or_die(builder);
    EXPECT_LT(batch.size(), 300u << 10) << compression_name(codec);
    EXPECT_TRUE(validate_records(batch, 8 << 20).is_ok());
    Status status = validate_records(batch, 1 << 20);
    EXPECT_EQ(status.code(), Errc::compression_error) << compression_name(codec);
  }
}

// ---- Property: what goes in comes out, for any records and codec.

struct InputRecord {
  int64_t timestamp_ms;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::optional<Bytes> view(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  return as_bytes(*text);
}

// Null one time in five, else any string (rapidcheck's Maybe is not std::optional).
std::optional<std::string> maybe_string() {
  if (*rc::gen::inRange(0, 5) == 0) return std::nullopt;
  return *rc::gen::arbitrary<std::string>();
}

RC_GTEST_PROP(RecordProperty, BuildThenIterateGivesTheSameRecords, ()) {
  const auto codec = *rc::gen::element(Compression::none, Compression::gzip, Compression::snappy,
                                       Compression::lz4, Compression::zstd);
  const auto base_offset = *rc::gen::inRange<int64_t>(0, int64_t{1} << 50);
  const auto count = *rc::gen::inRange(0, 40);
  std::vector<InputRecord> inputs;
  for (int i = 0; i < count; ++i) {
    InputRecord input;
    input.timestamp_ms = *rc::gen::inRange<int64_t>(0, int64_t{1} << 42);
    input.key = maybe_string();
    input.value = maybe_string();
    const auto header_count = *rc::gen::inRange(0, 4);
    for (int h = 0; h < header_count; ++h)
      input.headers.emplace_back(*rc::gen::arbitrary<std::string>(),
                                 maybe_string());
    inputs.push_back(std::move(input));
  }
  BatchOptions options;
  options.compression = codec;
  options.base_offset = base_offset;
  BatchBuilder builder(options);
  for (const InputRecord& input : inputs) {
    std::vector<RecordHeader> headers;
    for (const auto& [key, value] : input.headers) headers.push_back({key, view(value)});
    builder.append(input.timestamp_ms, view(input.key), view(input.value), headers);
  }
  std::vector<uint8_t> batch = build_or_die(builder);
  RC_ASSERT(validate_records(batch).is_ok());
  Decoded decoded = decode(batch);
  RC_ASSERT(decoded.status.is_ok());
  const std::vector<Record>& records = decoded.records;
  RC_ASSERT(records.size() == inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    RC_ASSERT(records[i].offset == base_offset + static_cast<int64_t>(i));
    RC_ASSERT(records[i].timestamp_ms == inputs[i].timestamp_ms);
    RC_ASSERT(records[i].key.has_value() == inputs[i].key.has_value());
    if (inputs[i].key) RC_ASSERT(as_string(*records[i].key) == *inputs[i].key);
    RC_ASSERT(records[i].value.has_value() == inputs[i].value.has_value());
    if (inputs[i].value) RC_ASSERT(as_string(*records[i].value) == *inputs[i].value);
    RC_ASSERT(records[i].headers.size() == inputs[i].headers.size());
    for (size_t h = 0; h < inputs[i].headers.size(); ++h) {
      RC_ASSERT(std::string(records[i].headers[h].key) == inputs[i].headers[h].first);
      const auto& value = inputs[i].headers[h].second;
      RC_ASSERT(records[i].headers[h].value.has_value() == value.has_value());
      if (value) RC_ASSERT(as_string(*records[i].headers[h].value) == *value);
    }
  }
}

}  // namespace
}  // namespace sluice::record

namespace sluice::record {
namespace {

// What validate_records must agree with: the header and CRC checks, then
// RecordReader over every record (its slow, error-naming path).
bool accepted_by_reader(Bytes batch) {
  if (!validate_batch(batch)) return false;
  return decode(batch).status.is_ok();
}

// validate_records checks uncompressed records with a separate, tight
// framing walk; it must accept exactly what RecordReader accepts. Valid
// batches are mangled (bytes set to random values, cut, extended, record
// count and lastOffsetDelta moved) with the CRC fixed, so the records'
// framing is what decides.
RC_GTEST_PROP(RecordProperty, FramingWalkAgreesWithTheReader, ()) {
  BatchBuilder builder;
  const auto count = *rc::gen::inRange(0, 8);
  for (int i = 0; i < count; ++i) {
    std::vector<RecordHeader> headers;
    const auto header_value = *rc::gen::container<std::string>(*rc::gen::inRange(0, 3), rc::gen::arbitrary<char>());
    for (int h = *rc::gen::inRange(0, 3); h > 0; --h) headers.push_back({"h", as_bytes(header_value)});
    const auto key = maybe_string();
    const auto value = *rc::gen::container<std::string>(*rc::gen::inRange(0, 300), rc::gen::arbitrary<char>());
    builder.append(*rc::gen::inRange<int64_t>(-5, int64_t{1} << 40), view(key), as_bytes(value), headers);
  }
  std::vector<uint8_t> built = build_or_die(builder);
  std::vector<uint8_t> records(built.begin() + batch_header_bytes, built.end());
  const auto edits = *rc::gen::inRange(0, 4);
  for (int e = 0; e < edits && !records.empty(); ++e) {
    const auto at = *rc::gen::inRange<size_t>(0, records.size());
    switch (*rc::gen::inRange(0, 4)) {
      case 0: records[at] = *rc::gen::arbitrary<uint8_t>(); break;
      case 1: records[at] = *rc::gen::element<uint8_t>(0x00, 0x01, 0x7f, 0x80, 0xff); break;
      case 2: records.resize(at); break;
      default: records.insert(records.begin() + static_cast<std::ptrdiff_t>(at), *rc::gen::arbitrary<uint8_t>());
    }
  }
  const int32_t declared = std::max(0, count + *rc::gen::inRange(-1, 2));
  const int32_t last_delta = std::max(declared - 1, 0) + *rc::gen::inRange(0, 2);
  std::vector<uint8_t> batch = batch_with_raw_records(records, declared, last_delta);
  const bool accepted = accepted_by_reader(batch);
  RC_TAG(accepted ? "accepted" : "rejected");
  RC_ASSERT(validate_records(batch).is_ok() == accepted);
}

}  // namespace
}  // namespace sluice::record
