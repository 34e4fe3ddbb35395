#include "record/batch.h"

#include <gtest/gtest.h>

#include <vector>

#include "record/record_set.h"

namespace sluice::record {
namespace {

// One uncompressed record (null key, value "hi", no headers) at offset 0, built
// by hand from Kafka's record batch v2 description. The CRC was computed
// independently with a bitwise CRC32C in Python.
const std::vector<uint8_t> known_batch = {
    0, 0, 0, 0, 0, 0, 0, 0,                          // baseOffset 0
    0, 0, 0, 58,                                     // batchLength
    0xff, 0xff, 0xff, 0xff,                          // partitionLeaderEpoch -1
    2,                                               // magic
    0xbb, 0xcc, 0x41, 0x15,                          // crc
    0, 0,                                            // attributes
    0, 0, 0, 0,                                      // lastOffsetDelta
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,        // baseTimestamp 1700000000000
    0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,        // maxTimestamp
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producerId -1
    0xff, 0xff,                                      // producerEpoch -1
    0xff, 0xff, 0xff, 0xff,                          // baseSequence -1
    0, 0, 0, 1,                                      // record count
    0x10,                                            // record length 8
    0,                                               // record attributes
    0,                                               // timestampDelta 0
    0,                                               // offsetDelta 0
    0x01,                                            // key length -1 (null)
    0x04, 'h', 'i',                                  // value length 2, "hi"
    0,                                               // header count
};

TEST(BatchHeader, ReadsEveryFieldOfAKnownBatch) {
  Result<BatchHeader> header = read_batch_header(known_batch);
  ASSERT_TRUE(header.is_ok()) << header.status().to_string();
  EXPECT_EQ(header->base_offset, 0);
  EXPECT_EQ(header->batch_length, 58);
  EXPECT_EQ(header->partition_leader_epoch, -1);
  EXPECT_EQ(header->magic, 2);
  EXPECT_EQ(header->crc, 0xbbcc4115u);
  EXPECT_EQ(header->compression(), Compression::none);
  EXPECT_EQ(header->timestamp_type(), TimestampType::create_time);
  EXPECT_FALSE(header->is_transactional());
  EXPECT_FALSE(header->is_control());
  EXPECT_EQ(header->last_offset_delta, 0);
  EXPECT_EQ(header->base_timestamp, 1700000000000);
  EXPECT_EQ(header->max_timestamp, 1700000000000);
  EXPECT_EQ(header->producer_id, -1);
  EXPECT_EQ(header->producer_epoch, -1);
  EXPECT_EQ(header->base_sequence, -1);
  EXPECT_EQ(header->last_sequence(), -1);
  EXPECT_EQ(header->record_count, 1);
  EXPECT_EQ(header->size_bytes(), known_batch.size());
  EXPECT_TRUE(validate_batch(known_batch).is_ok());
}

TEST(BatchHeader, RewritingOffsetAndEpochKeepsTheCrcValid) {
  std::vector<uint8_t> batch = known_batch;
  set_base_offset(batch, 0x0102030405060708);
  set_partition_leader_epoch(batch, 7);
  Result<BatchHeader> header = read_batch_header(batch);
  ASSERT_TRUE(header.is_ok());
  EXPECT_EQ(header->base_offset, 0x0102030405060708);
  EXPECT_EQ(header->partition_leader_epoch, 7);
  EXPECT_EQ(header->last_offset(), 0x0102030405060708);
  EXPECT_EQ(batch[0], 0x01);
  EXPECT_EQ(batch[7], 0x08);
  EXPECT_TRUE(validate_batch(batch).is_ok());
}

TEST(BatchHeader, LogAppendTimeRewriteRecomputesTheCrc) {
  std::vector<uint8_t> batch = known_batch;
  set_log_append_time(batch, 1800000000000);
  Result<BatchHeader> header = read_batch_header(batch);
  ASSERT_TRUE(header.is_ok());
  EXPECT_EQ(header->timestamp_type(), TimestampType::log_append_time);
  EXPECT_EQ(header->max_timestamp, 1800000000000);
  EXPECT_NE(header->crc, 0xbbcc4115u);
  EXPECT_TRUE(validate_batch(batch).is_ok());
}

TEST(BatchHeader, LastSequenceWrapsLikeKafka) {
  BatchHeader header;
  header.base_sequence = 10;
  header.last_offset_delta = 4;
  EXPECT_EQ(header.last_sequence(), 14);
  header.base_sequence = 0x7fffffff - 1;
  EXPECT_EQ(header.last_sequence(), 2);  // MAX-1, MAX, 0, 1, 2
}

TEST(ValidateBatch, FlippedBitInEveryCoveredByteIsACrcError) {
  for (size_t i = layout::attributes; i < known_batch.size(); ++i) {
    std::vector<uint8_t> batch = known_batch;
    batch[i] ^= 0x01;
    Status status = validate_batch(batch);
    ASSERT_FALSE(status.is_ok()) << i;
    // A flipped codec bit is reported as such before the CRC is checked.
    if (i != layout::attributes + 1) {
      EXPECT_EQ(status.code(), Errc::corrupt_crc) << i;
    }
  }
  std::vector<uint8_t> batch = known_batch;
  batch[layout::crc + 3] ^= 0x80;
  Status status = validate_batch(batch);
  EXPECT_EQ(status.code(), Errc::corrupt_crc);
  EXPECT_NE(status.message().find("CRC"), std::string::npos);
}

TEST(ValidateBatch, TruncatedAtEveryLength) {
  for (size_t size = 0; size < known_batch.size(); ++size) {
    Status status = validate_batch(Bytes(known_batch).first(size));
    ASSERT_FALSE(status.is_ok()) << size;
    EXPECT_EQ(status.code(), Errc::truncated) << size;
  }
}

TEST(ValidateBatch, LyingBatchLength) {
  std::vector<uint8_t> batch = known_batch;
  batch[11] = 59;  // one more than present
  EXPECT_EQ(validate_batch(batch).code(), Errc::truncated);
  batch[11] = 57;  // one less than present
  EXPECT_EQ(validate_batch(batch).code(), Errc::invalid_length);
  batch[11] = 48;  // below the header
  EXPECT_EQ(validate_batch(batch).code(), Errc::invalid_length);
  batch[8] = 0x80;  // negative
  EXPECT_EQ(validate_batch(batch).code(), Errc::invalid_length);
}

TEST(ValidateBatch, WrongMagicAndUnknownCodec) {
  std::vector<uint8_t> batch = known_batch;
  batch[layout::magic] = 1;
  Status status = validate_batch(batch);
  EXPECT_EQ(status.code(), Errc::invalid_value);
  EXPECT_NE(status.message().find("magic 1"), std::string::npos);
  batch = known_batch;
  batch[layout::attributes + 1] = 5;
  EXPECT_EQ(validate_batch(batch).code(), Errc::unsupported_compression);
}

TEST(RecordSet, IteratesBatchesAndReportsAPartialTail) {
  std::vector<uint8_t> set = known_batch;
  set.insert(set.end(), known_batch.begin(), known_batch.end());
  set_base_offset(std::span<uint8_t>(set).subspan(known_batch.size()), 1);
  for (size_t cut = 0; cut < known_batch.size(); ++cut) {
    std::vector<uint8_t> partial = set;
    partial.insert(partial.end(), known_batch.begin(), known_batch.begin() + cut);
    RecordSetReader reader(partial);
    BatchView batch;
    ASSERT_TRUE(reader.next(batch));
    EXPECT_EQ(batch.header.base_offset, 0);
    EXPECT_TRUE(validate_batch(batch.bytes).is_ok());
    ASSERT_TRUE(reader.next(batch));
    EXPECT_EQ(batch.header.base_offset, 1);
    EXPECT_FALSE(reader.next(batch));
    EXPECT_EQ(reader.incomplete(), cut != 0) << cut;
    EXPECT_TRUE(reader.status().is_ok()) << reader.status().to_string();
    EXPECT_EQ(reader.position(), set.size());
    if (cut == 0) {
      EXPECT_TRUE(validate_record_set(partial).is_ok());
    } else {
      EXPECT_EQ(validate_record_set(partial).code(), Errc::truncated);
    }
  }
}

TEST(RecordSet, AMalformedBatchLengthIsAnErrorNotATail) {
  std::vector<uint8_t> set = known_batch;
  set.insert(set.end(), known_batch.begin(), known_batch.begin() + 14);
  set[known_batch.size() + 11] = 3;  // batchLength 3 < 49
  RecordSetReader reader(set);
  BatchView batch;
  ASSERT_TRUE(reader.next(batch));
  EXPECT_FALSE(reader.next(batch));
  EXPECT_FALSE(reader.incomplete());
  EXPECT_EQ(reader.status().code(), Errc::invalid_length);
}

}  // namespace
}  // namespace sluice::record
