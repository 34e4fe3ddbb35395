#include "record/legacy_convert.h"

#include <string>

#include "base/assert.h"
#include "record/batch_builder.h"
#include "record/record_reader.h"
#include "record/record_set.h"

namespace sluice::record {
namespace {

// The records of one stored batch that an old client should see.
Result<std::vector<LegacyRecord>> records_to_send(RecordReader& reader, int64_t first_offset) {
  const bool compressed = reader.header().compression() != Compression::none;
  std::vector<LegacyRecord> records;
  Record record;
  while (reader.next(record)) {
    // Kafka drops earlier records of uncompressed batches only; old
    // consumers skip those before their position in a wrapper themselves.
    if (!compressed && record.offset < first_offset) continue;
    records.push_back({record.offset, record.timestamp_ms, record.key, record.value});
  }
  if (!reader.status()) return reader.status();
  return records;
}

// Appends the entries of `converted` to `out` while they fit `bytes_max`
// (the first always). False once one did not fit.
bool append_within(std::vector<uint8_t>& out, Bytes converted, size_t bytes_max) {
  for (size_t at = 0; at < converted.size();) {
    auto entry = read_legacy_message(converted.subspan(at));
    SLUICE_ASSERT(entry.is_ok(), "a message the broker just wrote does not read back");
    if (!out.empty() && out.size() + entry->size_bytes > bytes_max) return false;
    out.insert(out.end(), converted.begin() + static_cast<std::ptrdiff_t>(at),
               converted.begin() + static_cast<std::ptrdiff_t>(at + entry->size_bytes));
    at += entry->size_bytes;
  }
  return true;
}

}  // namespace

Result<std::vector<uint8_t>> up_convert(const LegacyRecords& records, Compression compression) {
  BatchOptions options;
  options.compression = compression;
  BatchBuilder builder(options);
  for (const LegacyRecord& record : records.records)
    builder.append(record.timestamp_ms, record.key, record.value);
  return builder.build();
}

Result<std::vector<uint8_t>> down_convert(Bytes record_set, int8_t to_magic, int64_t first_offset,
                                          size_t bytes_max) {
  std::vector<uint8_t> out;
  RecordSetReader batches(record_set);
  BatchView view;
  while (batches.next(view)) {
    if (view.header.is_control()) continue;
    if (view.header.compression() == Compression::zstd)
      return Status(Errc::unsupported_compression,
                    "Down-conversion of zstandard-compressed batches is not supported");
    auto reader = RecordReader::open(view.bytes);
    if (!reader) return reader.status();
    auto records = records_to_send(*reader, first_offset);
    if (!records) return records.status();
    LegacyWriteOptions options;
    options.magic = to_magic;
    options.compression = view.header.compression();
    options.timestamp_type = view.header.timestamp_type();
    options.log_append_time_ms = view.header.max_timestamp;
    std::vector<uint8_t> converted;
    if (Status status = write_legacy_message_set(*records, options, converted); !status)
      return status;
    if (!append_within(out, converted, bytes_max)) break;
  }
  if (!batches.status()) return batches.status();
  return out;
}

}  // namespace sluice::record
