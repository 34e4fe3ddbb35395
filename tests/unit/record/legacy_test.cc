#include "record/legacy.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "record/batch_builder.h"
#include "record/compression.h"
#include "record/legacy_convert.h"
#include "record/record_reader.h"
#include "record/record_set.h"
#include "test_bytes.h"

namespace sluice::record {
namespace {

using testing::as_bytes;
using testing::as_string;

constexpr Compression legacy_codecs[] = {Compression::none, Compression::gzip, Compression::snappy,
                                         Compression::lz4};

std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

// Message sets written by kafka-python 2.0.2's LegacyRecordBatchBuilder
// (an independent implementation): records (0, ts 1700000000000, "k1",
// "value-one") and (1, ts 1700000000005, null, "value-two").
const char* const kafka_python_magic0_none =
    "0000000000000000000000199e04fd590000000000026b310000000976616c75652d6f6e6500000000000000010000"
    "0017750d90d40000ff"
    "ffffff0000000976616c75652d74776f";
const char* const kafka_python_magic0_gzip =
    "00000000000000000000004ed4021d0c0001ffffffff000000401f8b080054de126b02ff63608003c9792c7f23c12c"
    "a66c4320c9599698"
    "539aaa9b9f970a55c008c4e2a5bc13ae3030fc0702849292f27c00d7a8b3a548000000";
const char* const kafka_python_magic0_snappy =
    "000000000000000000000061ab7083770002ffffffff0000005382534e415050590000000001000000010000003f48"
    "0000190110199e04fd"
    "59050f3c026b310000000976616c75652d6f6e6505157400000100000017750d90d40000ffffffff0000000976616c"
    "75652d74776f";
const char* const kafka_python_magic1_none =
    "000000000000000000000021ad4242ae01000000018bcfe56800000000026b310000000976616c75652d6f6e650000"
    "0000000000010000"
    "001fecb9e91e01000000018bcfe56805ffffffff0000000976616c75652d74776f";
const char* const kafka_python_magic1_gzip =
    "00000000000000000000005fd3558a4501010000000000000000ffffffff000000491f8b08005ade126b02ff636080"
    "03c5b54e4eeb18810c"
    "c6eef34f3340224cd9864092b32c31a73455373f2f15aa10a446fecdce977270c5acff8100a1b4a43c1f00f0543313"
    "58000000";
const char* const kafka_python_magic1_snappy =
    "00000000000000000000007604643dc101020000000000000000ffffffff0000006082534e41505059000000000100"
    "0000010000004c5800"
    "0019013421ad4242ae01000000018bcfe56801183c026b310000000976616c75652d6f6e650114080000000124101f"
    "ecb9e91e0109052d44"
    "05ffffffff0000000976616c75652d74776f";
const char* const kafka_python_magic1_lz4 =
    "000000000000000000000072129d58b201030000000000000000ffffffff0000005c04224d18684058000000000000"
    "002c450000001600"
    "0100e021ad4242ae01000000018bcfe5681800f001026b310000000976616c75652d6f6e651400002000850000001f"
    "ecb9e91e2d005405ff"
    "ffffff2b0050652d74776f00000000";

std::vector<LegacyRecord> two_records(int64_t first_offset = 0) {
  return {{first_offset, 1700000000000, as_bytes("k1"), as_bytes("value-one")},
          {first_offset + 1, 1700000000005, std::nullopt, as_bytes("value-two")}};
}

void expect_two_records(const LegacyRecords& read, bool timestamps) {
  ASSERT_EQ(read.records.size(), 2u);
  EXPECT_EQ(as_string(*read.records[0].key), "k1");
  EXPECT_EQ(as_string(*read.records[0].value), "value-one");
  EXPECT_FALSE(read.records[1].key.has_value());
  EXPECT_EQ(as_string(*read.records[1].value), "value-two");
  EXPECT_EQ(read.records[0].timestamp_ms, timestamps ? 1700000000000 : no_timestamp);
  EXPECT_EQ(read.records[1].timestamp_ms, timestamps ? 1700000000005 : no_timestamp);
}

TEST(LegacyMessageSet, ReadsWhatKafkaPythonWrites) {
  struct Case {
    const char* hex;
    int8_t magic;
    Compression codec;
  };
  const Case cases[] = {{kafka_python_magic0_none, 0, Compression::none},
                        {kafka_python_magic0_gzip, 0, Compression::gzip},
                        {kafka_python_magic0_snappy, 0, Compression::snappy},
                        {kafka_python_magic1_none, 1, Compression::none},
                        {kafka_python_magic1_gzip, 1, Compression::gzip},
                        {kafka_python_magic1_snappy, 1, Compression::snappy},
                        {kafka_python_magic1_lz4, 1, Compression::lz4}};
  for (const Case& c : cases) {
    SCOPED_TRACE(c.hex);
    std::vector<uint8_t> bytes = from_hex(c.hex);
    ASSERT_TRUE(is_legacy_message_set(bytes));
    auto read = read_legacy_records(bytes);
    ASSERT_TRUE(read.is_ok()) << read.status().to_string();
    EXPECT_EQ(read->magic, c.magic);
    EXPECT_EQ(read->compression, c.codec);
    expect_two_records(*read, c.magic == 1);
  }
}

TEST(LegacyMessageSet, WritesUncompressedSetsByteForByteAsKafkaPython) {
  for (int8_t magic : {0, 1}) {
    std::vector<LegacyRecord> records = two_records();
    LegacyWriteOptions options;
    options.magic = magic;
    std::vector<uint8_t> out;
    ASSERT_TRUE(write_legacy_message_set(records, options, out));
    EXPECT_EQ(out, from_hex(magic == 0 ? kafka_python_magic0_none : kafka_python_magic1_none));
  }
}

TEST(LegacyMessageSet, RoundTripsEveryMagicCodecAndTimestampType) {
  for (int8_t magic : {0, 1}) {
    for (Compression codec : legacy_codecs) {
      for (TimestampType type : {TimestampType::create_time, TimestampType::log_append_time}) {
        SCOPED_TRACE(std::to_string(magic) + " " + compression_name(codec) + " " +
                     std::to_string(int(type)));
        LegacyWriteOptions options{magic, codec, type, 1800000000000};
        std::vector<uint8_t> out;
        ASSERT_TRUE(write_legacy_message_set(two_records(500), options, out));
        auto shallow = read_legacy_message(out);
        ASSERT_TRUE(shallow.is_ok()) << shallow.status().to_string();
        // The first message, or the wrapper, which has the last offset.
        EXPECT_EQ(shallow->offset, codec == Compression::none ? 500 : 501);
        if (codec != Compression::none) {
          EXPECT_FALSE(shallow->key.has_value());
          EXPECT_EQ(shallow->size_bytes, out.size());
        }
        auto read = read_legacy_records(out);
        ASSERT_TRUE(read.is_ok()) << read.status().to_string();
        EXPECT_EQ(read->compression, codec);
        ASSERT_EQ(read->records.size(), 2u);
        EXPECT_EQ(read->records[0].offset, 500);
        EXPECT_EQ(read->records[1].offset, 501);
        bool log_append = magic == 1 && type == TimestampType::log_append_time;
        EXPECT_EQ(read->client_log_append_time, log_append);
        if (log_append) {
          EXPECT_EQ(read->records[0].timestamp_ms, 1800000000000);
          EXPECT_EQ(shallow->timestamp_ms, 1800000000000);
        } else {
          expect_two_records(*read, magic == 1);
          if (magic == 1 && codec != Compression::none) {
            EXPECT_EQ(shallow->timestamp_ms, 1700000000005);  // the max
          }
        }
      }
    }
  }
}

TEST(LegacyMessageSet, InnerOffsetsAreRelativeForMagic1AndAbsoluteForMagic0) {
  for (int8_t magic : {0, 1}) {
    std::vector<uint8_t> out;
    ASSERT_TRUE(write_legacy_message_set(two_records(70), {magic, Compression::gzip}, out));
    auto wrapper = read_legacy_message(out);
    ASSERT_TRUE(wrapper.is_ok());
    auto inner = decompress(Compression::gzip, *wrapper->value, 1 << 20);
    ASSERT_TRUE(inner.is_ok());
    auto first_inner = read_legacy_message(*inner);
    ASSERT_TRUE(first_inner.is_ok());
    EXPECT_EQ(first_inner->offset, magic == 0 ? 70 : 0);
  }
}

TEST(LegacyLz4, XxHash32KnownVectors) {
  EXPECT_EQ(xxhash32({}, 0), 0x02CC5D05u);
  EXPECT_EQ(xxhash32(as_bytes("abc"), 0), 0x32D153FFu);
}

TEST(LegacyLz4, StandardChecksumIsWhatTheLz4LibraryWrites) {
  for (size_t size : {0, 10, 100000}) {
    std::string input(size, 'x');
    auto frame = compress(Compression::lz4, as_bytes(input));
    ASSERT_TRUE(frame.is_ok());
    std::vector<uint8_t> rewritten = *frame;
    ASSERT_TRUE(set_lz4_header_checksum(rewritten, Lz4HeaderChecksum::standard));
    EXPECT_EQ(rewritten, *frame);
    ASSERT_TRUE(set_lz4_header_checksum(rewritten, Lz4HeaderChecksum::kafka_magic0));
    EXPECT_NE(rewritten, *frame);  // the lz4 library rejects this one
    EXPECT_FALSE(decompress(Compression::lz4, rewritten, 1 << 20).is_ok());
  }
  std::vector<uint8_t> not_a_frame = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_FALSE(set_lz4_header_checksum(not_a_frame, Lz4HeaderChecksum::standard));
}

TEST(LegacyLz4, Magic0WrappersCarryKafkasBrokenChecksumAndMagic1TheRightOne) {
  for (int8_t magic : {0, 1}) {
    std::vector<uint8_t> out;
    ASSERT_TRUE(write_legacy_message_set(two_records(), {magic, Compression::lz4}, out));
    auto wrapper = read_legacy_message(out);
    ASSERT_TRUE(wrapper.is_ok());
    std::vector<uint8_t> frame(wrapper->value->begin(), wrapper->value->end());
    std::vector<uint8_t> expected = frame;
    set_lz4_header_checksum(
        expected, magic == 0 ? Lz4HeaderChecksum::kafka_magic0 : Lz4HeaderChecksum::standard);
    EXPECT_EQ(frame, expected);
    EXPECT_EQ(decompress(Compression::lz4, frame, 1 << 20).is_ok(), magic == 1);
    auto read = read_legacy_records(out);  // the broker reads both
    ASSERT_TRUE(read.is_ok()) << read.status().to_string();
    expect_two_records(*read, magic == 1);
  }
}

TEST(LegacyCorruption, EveryFlippedByteUnderTheCrcIsRejected) {
  for (const char* hex : {kafka_python_magic0_none, kafka_python_magic1_gzip}) {
    std::vector<uint8_t> good = from_hex(hex);
    auto first = read_legacy_message(good);
    ASSERT_TRUE(first.is_ok());
    for (size_t i = legacy_layout::crc; i < first->size_bytes; ++i) {
      std::vector<uint8_t> bad = good;
      bad[i] ^= 0x01;
      auto read = read_legacy_records(bad);
      ASSERT_FALSE(read.is_ok()) << "byte " << i;
      if (i != legacy_layout::magic) {
        EXPECT_EQ(read.status().code(), Errc::corrupt_crc)
            << "byte " << i << ": " << read.status().to_string();
      }
    }
  }
}

TEST(LegacyCorruption, EveryTruncationIsRejectedWithoutACrash) {
  std::vector<uint8_t> good = from_hex(kafka_python_magic1_snappy);
  for (size_t length = 1; length < good.size(); ++length) {
    auto read = read_legacy_records(Bytes(good.data(), length));
    ASSERT_FALSE(read.is_ok()) << length;
    EXPECT_EQ(read.status().code(), Errc::truncated) << length;
  }
}

TEST(LegacyCorruption, LyingSizesAndLengths) {
  std::vector<uint8_t> good = from_hex(kafka_python_magic0_none);
  std::vector<uint8_t> small = good;
  small[11] = 5;  // size below the record overhead
  EXPECT_EQ(read_legacy_records(small).status().code(), Errc::invalid_length);
  std::vector<uint8_t> negative = good;
  negative[8] = 0xff;
  EXPECT_EQ(read_legacy_records(negative).status().code(), Errc::invalid_length);
  EXPECT_EQ(read_legacy_message(Bytes(good.data(), 5)).status().code(), Errc::truncated);
}

// Builds a one-entry message set from raw fields, CRC computed right.
std::vector<uint8_t> single_entry(int8_t magic, int8_t attributes, std::optional<Bytes> value) {
  LegacyRecord record{0, 5, std::nullopt, value};
  std::vector<uint8_t> out;
  EXPECT_TRUE(write_legacy_message_set(std::span(&record, 1), {magic, Compression::none}, out));
  out[legacy_layout::attributes] = static_cast<uint8_t>(attributes);
  Bytes covered(out.data() + legacy_layout::magic, out.size() - legacy_layout::magic);
  uint32_t crc =
      static_cast<uint32_t>(crc32(0, covered.data(), static_cast<unsigned>(covered.size())));
  for (int i = 0; i < 4; ++i)
    out[legacy_layout::crc + i] = static_cast<uint8_t>(crc >> (24 - 8 * i));
  return out;
}

TEST(LegacyInvalid, WhatKafkaRejectsAsAnInvalidRecord) {
  // A wrapper inside a wrapper.
  std::vector<uint8_t> inner_wrapper;
  ASSERT_TRUE(write_legacy_message_set(two_records(), {1, Compression::gzip}, inner_wrapper));
  auto nested = compress(Compression::gzip, inner_wrapper);
  ASSERT_TRUE(nested.is_ok());
  EXPECT_EQ(read_legacy_records(single_entry(1, 1, Bytes(*nested))).status().code(),
            Errc::invalid_value);
  // A wrapper with a null value, and one with nothing inside.
  EXPECT_EQ(read_legacy_records(single_entry(1, 1, std::nullopt)).status().code(),
            Errc::invalid_value);
  auto empty = compress(Compression::gzip, {});
  ASSERT_TRUE(empty.is_ok());
  EXPECT_EQ(read_legacy_records(single_entry(0, 1, Bytes(*empty))).status().code(),
            Errc::invalid_value);
  // Inner messages of another magic than the wrapper's.
  std::vector<uint8_t> magic0_inner;
  ASSERT_TRUE(write_legacy_message_set(two_records(), {0, Compression::none}, magic0_inner));
  auto magic0_compressed = compress(Compression::gzip, magic0_inner);
  ASSERT_TRUE(magic0_compressed.is_ok());
  EXPECT_EQ(read_legacy_records(single_entry(1, 1, Bytes(*magic0_compressed))).status().code(),
            Errc::invalid_value);
  // Two wrappers, mixed magics, a record batch after messages.
  std::vector<uint8_t> two_wrappers = inner_wrapper;
  two_wrappers.insert(two_wrappers.end(), inner_wrapper.begin(), inner_wrapper.end());
  EXPECT_EQ(read_legacy_records(two_wrappers).status().code(), Errc::invalid_value);
  std::vector<uint8_t> mixed = from_hex(kafka_python_magic0_none);
  std::vector<uint8_t> magic1 = from_hex(kafka_python_magic1_none);
  mixed.insert(mixed.end(), magic1.begin(), magic1.end());
  EXPECT_EQ(read_legacy_records(mixed).status().code(), Errc::invalid_value);
  auto batch = BatchBuilder().build();
  ASSERT_TRUE(batch.is_ok());
  std::vector<uint8_t> with_batch = from_hex(kafka_python_magic0_none);
  with_batch.insert(with_batch.end(), batch->begin(), batch->end());
  EXPECT_EQ(read_legacy_records(with_batch).status().code(), Errc::invalid_value);
  // zstd (codec 4) does not exist below magic 2.
  EXPECT_EQ(read_legacy_records(single_entry(1, 4, as_bytes("x"))).status().code(),
            Errc::unsupported_compression);
  std::vector<uint8_t> out;
  EXPECT_FALSE(write_legacy_message_set(two_records(), {1, Compression::zstd}, out));
}

TEST(LegacyUpConversion, MessagesBecomeOneRecordBatchV2) {
  for (const char* hex : {kafka_python_magic0_none, kafka_python_magic1_snappy}) {
    std::vector<uint8_t> bytes = from_hex(hex);
    auto legacy = read_legacy_records(bytes);
    ASSERT_TRUE(legacy.is_ok());
    for (Compression codec : {Compression::none, Compression::lz4, Compression::zstd}) {
      auto batch = up_convert(*legacy, codec);
      ASSERT_TRUE(batch.is_ok());
      ASSERT_TRUE(validate_records(*batch));
      auto reader = RecordReader::open(*batch);
      ASSERT_TRUE(reader.is_ok());
      EXPECT_EQ(reader->header().compression(), codec);
      EXPECT_EQ(reader->header().record_count, 2);
      EXPECT_EQ(reader->header().producer_id, no_producer_id);
      Record record;
      ASSERT_TRUE(reader->next(record));
      EXPECT_EQ(as_string(*record.key), "k1");
      EXPECT_EQ(record.timestamp_ms, legacy->magic == 0 ? no_timestamp : 1700000000000);
      ASSERT_TRUE(reader->next(record));
      EXPECT_EQ(record.offset, 1);
      EXPECT_FALSE(record.key.has_value());
    }
  }
}

std::vector<uint8_t> stored_batch(int64_t base_offset, Compression codec, int count,
                                  bool log_append = false) {
  BatchOptions options;
  options.base_offset = base_offset;
  options.compression = codec;
  options.timestamp_type = log_append ? TimestampType::log_append_time : TimestampType::create_time;
  BatchBuilder builder(options);
  const RecordHeader header{"h", as_bytes("dropped")};
  for (int i = 0; i < count; ++i) {
    std::string value = "v" + std::to_string(base_offset + i);
    builder.append(1000 + i, as_bytes("k"), as_bytes(value), std::span(&header, 1));
  }
  auto batch = builder.build();
  SLUICE_ASSERT(batch.is_ok(), "build failed");
  if (log_append) set_log_append_time(*batch, 9000);
  return std::move(batch).value();
}

TEST(LegacyDownConversion, UncompressedBatchesFromTheFetchOffsetOnCompressedOnesWhole) {
  for (int8_t magic : {0, 1}) {
    std::vector<uint8_t> set = stored_batch(10, Compression::none, 3);
    std::vector<uint8_t> gzipped = stored_batch(13, Compression::gzip, 3);
    set.insert(set.end(), gzipped.begin(), gzipped.end());
    auto converted = down_convert(set, magic, 11, 1 << 20);
    ASSERT_TRUE(converted.is_ok()) << converted.status().to_string();
    // Shallow: two plain messages (11, 12), then one gzip wrapper (last offset 15).
    auto first = read_legacy_message(*converted);
    ASSERT_TRUE(first.is_ok());
    EXPECT_EQ(first->offset, 11);
    EXPECT_EQ(first->magic, magic);
    EXPECT_EQ(first->timestamp_ms, magic == 0 ? no_timestamp : 1001);
    auto second = read_legacy_message(Bytes(*converted).subspan(first->size_bytes));
    ASSERT_TRUE(second.is_ok());
    auto wrapper =
        read_legacy_message(Bytes(*converted).subspan(first->size_bytes + second->size_bytes));
    ASSERT_TRUE(wrapper.is_ok());
    EXPECT_EQ(wrapper->compression(), Compression::gzip);
    EXPECT_EQ(wrapper->offset, 15);
    auto deep =
        read_legacy_records(Bytes(*converted).subspan(first->size_bytes + second->size_bytes));
    ASSERT_TRUE(deep.is_ok());
    ASSERT_EQ(deep->records.size(), 3u);
    EXPECT_EQ(deep->records[0].offset, 13);
    EXPECT_EQ(as_string(*deep->records[2].value), "v15");
  }
}

TEST(LegacyDownConversion, DropsControlBatchesAndRefusesZstd) {
  BatchOptions marker_options;
  marker_options.base_offset = 0;
  marker_options.producer_id = 7;
  marker_options.producer_epoch = 0;
  auto marker = build_end_txn_marker(ControlType::commit, 0, 5, marker_options);
  ASSERT_TRUE(marker.is_ok());
  std::vector<uint8_t> set = *marker;
  std::vector<uint8_t> data = stored_batch(1, Compression::none, 1);
  set.insert(set.end(), data.begin(), data.end());
  auto converted = down_convert(set, 1, 0, 1 << 20);
  ASSERT_TRUE(converted.is_ok());
  auto only = read_legacy_message(*converted);
  ASSERT_TRUE(only.is_ok());
  EXPECT_EQ(only->offset, 1);
  EXPECT_EQ(only->size_bytes, converted->size());

  std::vector<uint8_t> zstd = stored_batch(0, Compression::zstd, 2);
  EXPECT_EQ(down_convert(zstd, 1, 0, 1 << 20).status().code(), Errc::unsupported_compression);
}

TEST(LegacyDownConversion, LogAppendTimeSurvivesInMagic1) {
  std::vector<uint8_t> set = stored_batch(0, Compression::none, 2, true);
  auto converted = down_convert(set, 1, 0, 1 << 20);
  ASSERT_TRUE(converted.is_ok());
  auto first = read_legacy_message(*converted);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->timestamp_type(), TimestampType::log_append_time);
  EXPECT_EQ(first->timestamp_ms, 9000);
}

TEST(LegacyDownConversion, StopsAtTheByteLimitButSendsOneMessage) {
  std::vector<uint8_t> set = stored_batch(0, Compression::none, 10);
  auto one = down_convert(set, 0, 0, 1);
  ASSERT_TRUE(one.is_ok());
  auto first = read_legacy_message(*one);
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->size_bytes, one->size());
  auto three = down_convert(set, 0, 0, 3 * first->size_bytes + 5);
  ASSERT_TRUE(three.is_ok());
  EXPECT_EQ(three->size(), 3 * first->size_bytes);
  auto all = down_convert(set, 0, 0, 1 << 20);
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ(all->size(), 10 * first->size_bytes);
}

}  // namespace
}  // namespace sluice::record
