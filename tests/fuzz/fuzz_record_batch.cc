// Fuzz target: the input is a record set, the `records` bytes of a Produce
// request or a Fetch response (batches back to back, possibly cut short).
//
// Every batch is validated and its records iterated with a small
// decompression bound (so a bomb is an error quickly, not an allocation).
// Properties checked besides ASan+UBSan:
// - the record set reader advances by exactly each batch's size and never
//   returns a batch beyond the input;
// - a batch that validate_records accepts iterates to record_count records
//   with increasing offsets inside [base offset, last offset];
// - those records, rebuilt with BatchBuilder, give a valid batch that reads
//   back to the same records (the builder and the reader agree);
// - read as a legacy message set (magic 0/1, Produce v0-2), an accepted set
//   written again uncompressed reads back to the same messages, and its
//   up-conversion is a valid batch; down-converting the input (Fetch v0-3)
//   only has to be safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "base/assert.h"
#include "record/batch.h"
#include "record/batch_builder.h"
#include "record/legacy_convert.h"
#include "record/record_reader.h"
#include "record/record_set.h"

namespace {

using namespace sluice;
using namespace sluice::record;

constexpr size_t decompressed_bytes_max = 1 << 20;

// One record with its views copied, so it outlives the reader it came from.
struct OwnedRecord {
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  int32_t offset_delta = 0;
  std::optional<std::vector<uint8_t>> key;
  std::optional<std::vector<uint8_t>> value;
  std::vector<std::pair<std::string, std::optional<std::vector<uint8_t>>>> headers;
  bool operator==(const OwnedRecord&) const = default;
};

std::optional<std::vector<uint8_t>> own(const std::optional<Bytes>& bytes) {
  if (!bytes) return std::nullopt;
  return std::vector<uint8_t>(bytes->begin(), bytes->end());
}

OwnedRecord own(const Record& record) {
  OwnedRecord owned{record.offset, record.timestamp_ms, record.offset_delta,
                    own(record.key), own(record.value), {}};
  for (const RecordHeader& header : record.headers)
    owned.headers.emplace_back(std::string(header.key), own(header.value));
  return owned;
}

// Iterates every record; returns them if the batch's records are well formed.
std::optional<std::vector<OwnedRecord>> read_all(Bytes batch) {
  Result<RecordReader> reader = RecordReader::open(batch, decompressed_bytes_max);
  if (!reader) return std::nullopt;
  std::vector<OwnedRecord> records;
  Record record;
  while (reader->next(record)) {
    SLUICE_ASSERT(record.offset_delta >= 0 && record.offset_delta <= reader->header().last_offset_delta,
                  "an offset delta the reader returns lies within lastOffsetDelta");
    SLUICE_ASSERT(records.empty() || record.offset_delta > records.back().offset_delta,
                  "offset deltas the reader returns increase");
    records.push_back(own(record));
  }
  if (!reader->status()) return std::nullopt;
  SLUICE_ASSERT(reader->records_read() == reader->header().record_count,
                "a batch read without error yields record_count records");
  return records;
}

std::vector<uint8_t> rebuild(const BatchHeader& header, const std::vector<OwnedRecord>& records) {
  BatchOptions options;
  options.base_offset = header.base_offset;
  BatchBuilder builder(options);
  for (const OwnedRecord& record : records) {
    std::vector<RecordHeader> headers;
    for (const auto& [key, value] : record.headers)
      headers.push_back({key, value ? std::optional<Bytes>(Bytes(*value)) : std::nullopt});
    auto view = [](const std::optional<std::vector<uint8_t>>& bytes) {
      return bytes ? std::optional<Bytes>(Bytes(*bytes)) : std::nullopt;
    };
    builder.append_at(record.offset_delta, record.timestamp_ms, view(record.key), view(record.value),
                      headers);
  }
  Result<std::vector<uint8_t>> built = builder.build();
  SLUICE_ASSERT(built.is_ok(), "an uncompressed rebuild of at most 1 MiB of records cannot fail");
  return std::move(built).value();
}

void check_batch(const BatchView& view) {
  bool valid = validate_batch(view.bytes).is_ok();
  std::optional<std::vector<OwnedRecord>> records = read_all(view.bytes);
  if (!valid || !records) return;

  // The rebuilt batch keeps offsets and timestamps (a log-append-time batch's
  // records all carry maxTimestamp, which the rebuild stores as create time).
  std::vector<uint8_t> rebuilt = rebuild(view.header, *records);
  SLUICE_ASSERT(validate_records(rebuilt).is_ok(), "a rebuilt batch must validate");
  if (records->empty()) return;  // an empty rebuild has last_offset_delta -1: nothing to compare
  std::optional<std::vector<OwnedRecord>> again = read_all(rebuilt);
  SLUICE_ASSERT(again.has_value() && *again == *records,
                "records rebuilt with BatchBuilder must read back the same");
}

using OwnedLegacy = std::tuple<int64_t, int64_t, std::optional<std::vector<uint8_t>>,
                               std::optional<std::vector<uint8_t>>>;

std::vector<OwnedLegacy> own(const std::vector<LegacyRecord>& records) {
  std::vector<OwnedLegacy> owned;
  for (const LegacyRecord& record : records)
    owned.emplace_back(record.offset, record.timestamp_ms, own(record.key), own(record.value));
  return owned;
}

void check_legacy(Bytes input) {
  Result<LegacyRecords> legacy = read_legacy_records(input, decompressed_bytes_max);
  if (legacy) {
    std::vector<uint8_t> written;
    LegacyWriteOptions options;
    options.magic = legacy->magic;
    SLUICE_ASSERT(write_legacy_message_set(legacy->records, options, written).is_ok(),
                  "an uncompressed write cannot fail");
    Result<LegacyRecords> again = read_legacy_records(written, decompressed_bytes_max);
    SLUICE_ASSERT(again.is_ok() && own(again->records) == own(legacy->records),
                  "legacy messages written again must read back the same");
    Result<std::vector<uint8_t>> batch = up_convert(*legacy, Compression::none);
    SLUICE_ASSERT(batch.is_ok() && validate_records(*batch).is_ok(),
                  "an up-converted set must be a valid batch");
  }
  // Half of the inputs (by size), one magic each: down-conversion decompresses
  // every batch again, which doubled the replay test's time when done always.
  if (input.size() % 4 < 2)
    (void)down_convert(input, static_cast<int8_t>(input.size() % 2), 0, input.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes input(data, size);
  RecordSetReader set(input);
  BatchView view;
  size_t end = 0;
  while (set.next(view)) {
    SLUICE_ASSERT(view.bytes.data() == data + end, "batches follow each other without gaps");
    SLUICE_ASSERT(view.bytes.size() == view.header.size_bytes(), "a batch view is its whole batch");
    end += view.bytes.size();
    SLUICE_ASSERT(end <= size && set.position() == end, "the set reader stays inside the input");
    check_batch(view);
  }
  (void)validate_record_set(input);
  check_legacy(input);
  return 0;
}
