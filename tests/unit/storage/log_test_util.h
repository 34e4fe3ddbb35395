#pragma once
// Building batches and checking a Log's contents in the storage tests.

#include <gtest/gtest.h>

#include "record/batch_builder.h"
#include "record/record_set.h"
#include "storage/log.h"

namespace sluice::storage::testing {

// A batch of `count` records with values "v<i>" and timestamps from ts.
inline std::vector<uint8_t> make_batch(int count, int64_t timestamp_ms, size_t value_bytes = 8,
                                       int64_t base_offset = 0, int32_t epoch = -1) {
  record::BatchOptions options;
  options.base_offset = base_offset;
  options.partition_leader_epoch = epoch;
  record::BatchBuilder builder(options);
  std::string value(value_bytes, 'x');
  for (int i = 0; i < count; ++i)
    builder.append(timestamp_ms + i, std::nullopt,
                   Bytes(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  auto built = builder.build();
  SLUICE_ASSERT(built.is_ok(), "test batch must build");
  return std::move(built).value();
}

// Reads the bytes of a range and returns the headers of its batches; fails
// the test if the range is not whole, valid batches.
inline std::vector<record::BatchHeader> batches_in(const FileRange& range) {
  std::vector<uint8_t> bytes(range.length);
  auto read = range.file->pread(range.position, bytes);
  EXPECT_TRUE(read);
  EXPECT_EQ(*read, range.length);
  std::vector<record::BatchHeader> headers;
  record::RecordSetReader reader(bytes);
  record::BatchView view;
  while (reader.next(view)) {
    EXPECT_TRUE(record::validate_batch(view.bytes)) << "corrupt batch in a read range";
    headers.push_back(view.header);
  }
  EXPECT_FALSE(reader.incomplete()) << "read range ends mid-batch";
  EXPECT_TRUE(reader.status());
  return headers;
}

// Every offset in [start, end) readable, batch by batch, in order.
inline std::vector<int64_t> all_base_offsets(Log& log) {
  std::vector<int64_t> bases;
  int64_t offset = log.log_start_offset();
  while (offset < log.log_end_offset()) {
    auto read = log.read(Offset{offset}, 1 << 20, Offset{INT64_MAX});
    EXPECT_TRUE(read) << read.status().to_string();
    if (!read || read->range.length == 0) break;
    auto headers = batches_in(read->range);
    if (headers.empty()) break;
    for (const auto& header : headers) bases.push_back(header.base_offset);
    offset = headers.back().next_offset();
  }
  return bases;
}

}  // namespace sluice::storage::testing
