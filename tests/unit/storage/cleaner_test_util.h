#pragma once
// Keyed batches and reading a log back record by record, for the compaction
// tests (cleaner_test.cc, log_manager_cleaner_test.cc).

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "record/batch_builder.h"
#include "record/record_reader.h"
#include "record/record_set.h"
#include "storage/log.h"
#include "test_util.h"

namespace sluice::storage::testing {

struct Rec {
  int64_t offset = 0;
  std::string key;  // "" with has_key false: a null key
  bool has_key = true;
  std::optional<std::string> value;  // nullopt: tombstone
  friend bool operator==(const Rec&, const Rec&) = default;
};

inline std::ostream& operator<<(std::ostream& out, const Rec& r) {
  return out << r.offset << ":" << (r.has_key ? r.key : "<null>") << "=" << (r.value ? *r.value : "<tombstone>");
}

struct Put {
  std::optional<std::string> key;
  std::optional<std::string> value;
};

inline std::vector<uint8_t> keyed_batch(const std::vector<Put>& puts, int64_t timestamp_ms,
                                        record::Compression codec = record::Compression::none,
                                        int64_t producer_id = -1, int32_t base_sequence = 0) {
  record::BatchOptions options;
  options.compression = codec;
  options.producer_id = producer_id;
  if (producer_id >= 0) {
    options.producer_epoch = 0;
    options.base_sequence = base_sequence;
  }
  record::BatchBuilder builder(options);
  for (const auto& put : puts) {
    std::optional<Bytes> key, value;
    if (put.key) key = as_bytes(*put.key);
    if (put.value) value = as_bytes(*put.value);
    builder.append(timestamp_ms, key, value);
  }
  auto built = builder.build();
  SLUICE_ASSERT(built.is_ok(), "test batch builds");
  return std::move(built).value();
}

// Every record of the log, in order, read through Log::read.
inline std::vector<Rec> read_all(Log& log, std::vector<record::BatchHeader>* headers_out = nullptr) {
  std::vector<Rec> records;
  int64_t offset = log.log_start_offset();
  while (offset < log.log_end_offset()) {
    auto read = log.read(Offset{offset}, 1 << 20, Offset{INT64_MAX});
    EXPECT_TRUE(read) << read.status().to_string();
    if (!read || read->range.length == 0) break;
    std::vector<uint8_t> bytes(read->range.length);
    EXPECT_TRUE(read->range.file->pread(read->range.position, bytes));
    record::RecordSetReader set(bytes);
    record::BatchView view;
    while (set.next(view)) {
      EXPECT_TRUE(record::validate_records(view.bytes));
      if (headers_out) headers_out->push_back(view.header);
      auto reader = record::RecordReader::open(view.bytes);
      EXPECT_TRUE(reader);
      record::Record record;
      while (reader->next(record)) {
        Rec r;
        r.offset = record.offset;
        r.has_key = record.key.has_value();
        if (record.key) r.key.assign(record.key->begin(), record.key->end());
        if (record.value) r.value = std::string(record.value->begin(), record.value->end());
        records.push_back(r);
      }
      offset = view.header.next_offset();
    }
    EXPECT_TRUE(set.status());
  }
  return records;
}

// What a clean of [0, end) must leave: the last record per key below `end`
// (tombstones included unless `drop_tombstones`), records without a key,
// and everything at or above `end`.
inline std::vector<Rec> model_clean(const std::vector<Rec>& all, int64_t end, bool drop_tombstones) {
  std::map<std::string, int64_t> last;
  for (const auto& r : all)
    if (r.offset < end && r.has_key) last[r.key] = r.offset;
  std::vector<Rec> kept;
  for (const auto& r : all) {
    bool superseded = r.offset < end && r.has_key && last[r.key] != r.offset;
    bool dropped_tombstone = r.offset < end && r.has_key && !r.value && drop_tombstones;
    if (!superseded && !dropped_tombstone) kept.push_back(r);
  }
  return kept;
}

}  // namespace sluice::storage::testing
