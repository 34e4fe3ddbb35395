// Record sets produced by real clients (kcat/librdkafka, kafka-python,
// kafkajs), captured as Produce request frames in tests/fixtures/clients/ (see
// its README): each must validate and iterate to the known records.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "record/record_reader.h"
#include "record/record_set.h"

namespace sluice::record {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// The `records` of the first partition of a Produce v3..v8 request frame
// (request header v1, non-flexible body).
Bytes produce_records(Bytes frame) {
  WireReader reader(frame);
  reader.read_int16();                                          // api_key
  reader.read_int16();                                          // api_version
  reader.read_int32();                                          // correlation_id
  int16_t client_id = reader.read_int16();
  if (client_id > 0) reader.skip(static_cast<size_t>(client_id));
  int16_t transactional_id = reader.read_int16();
  if (transactional_id > 0) reader.skip(static_cast<size_t>(transactional_id));
  reader.read_int16();  // acks
  reader.read_int32();  // timeout_ms
  EXPECT_EQ(reader.read_int32(), 1);  // topics
  reader.skip(static_cast<size_t>(reader.read_int16()));
  EXPECT_EQ(reader.read_int32(), 1);  // partitions
  reader.read_int32();                // partition index
  int32_t size = reader.read_int32();
  Bytes records = reader.read_bytes(static_cast<size_t>(size));
  EXPECT_TRUE(reader.ok()) << reader.status().to_string();
  EXPECT_TRUE(reader.at_end());
  return records;
}

Compression codec_named(const std::string& file_name) {
  for (Compression codec : {Compression::gzip, Compression::snappy, Compression::lz4,
                            Compression::zstd})
    if (file_name.find(std::string("-") + compression_name(codec) + ".bin") != std::string::npos)
      return codec;
  return Compression::none;
}

std::string text(Bytes bytes) { return std::string(bytes.begin(), bytes.end()); }

TEST(ClientFixtures, ProducedRecordSetsIterateToTheGoldenRecords) {
  const char* root = std::getenv("SLUICE_FIXTURES");
  if (!root || !fs::exists(fs::path(root) / "clients")) GTEST_SKIP() << "no client fixtures";
  int checked = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(fs::path(root) / "clients")) {
    std::string name = entry.path().filename().string();
    if (name.find("-produce-") == std::string::npos) continue;
    SCOPED_TRACE(name);
    std::vector<uint8_t> frame = read_file(entry.path());
    Bytes records = produce_records(frame);
    ASSERT_TRUE(validate_record_set(records).is_ok()) << validate_record_set(records).to_string();

    RecordSetReader set(records);
    BatchView batch;
    ASSERT_TRUE(set.next(batch));
    EXPECT_EQ(batch.header.compression(), codec_named(name));
    EXPECT_EQ(batch.header.record_count, 3);
    EXPECT_EQ(batch.header.last_offset_delta, 2);
    EXPECT_EQ(batch.header.producer_id, -1);
    ASSERT_TRUE(validate_records(batch.bytes).is_ok());
    Result<RecordReader> reader = RecordReader::open(batch.bytes);
    ASSERT_TRUE(reader.is_ok());
    Record record;
    for (int i = 1; i <= 3; ++i) {
      ASSERT_TRUE(reader->next(record)) << reader->status().to_string();
      EXPECT_EQ(record.offset_delta, i - 1);
      EXPECT_EQ(text(*record.key), "k" + std::to_string(i));
      EXPECT_EQ(text(*record.value), "value-" + std::to_string(i));
      ASSERT_EQ(record.headers.size(), 2u);
      EXPECT_EQ(record.headers[0].key, "hk1");
      EXPECT_EQ(text(*record.headers[0].value), "hv1");
      EXPECT_EQ(record.headers[1].key, "hk2");
      EXPECT_EQ(text(*record.headers[1].value), "hv2");
      if (name.rfind("kcat", 0) != 0) {
        EXPECT_EQ(record.timestamp_ms, 1700000000000 + i);
      }
    }
    EXPECT_FALSE(reader->next(record));
    EXPECT_TRUE(reader->status().is_ok());
    EXPECT_FALSE(set.next(batch));
    EXPECT_FALSE(set.incomplete());
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

}  // namespace
}  // namespace sluice::record
