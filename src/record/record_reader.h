#pragma once
// Decoding the records of one batch.
//
// Uncompressed batches are read in place: keys, values and headers are views
// into the caller's batch bytes. A compressed batch is decompressed once, when
// the reader is opened, into one buffer the reader owns (bounded by
// `decompressed_bytes_max`); views then point into that buffer. So views are
// valid while both the batch bytes and the reader are alive. (A chunked,
// streaming decode would save that one buffer, but records could then straddle
// chunks and need copying; one buffer keeps every view zero-copy.)
//
// Every length is checked against the bytes that remain before anything is
// read or allocated; a malformed record stops iteration with an error, never
// a crash. The reader checks record structure and offsets; it does not check
// the CRC (validate_batch does, and validate_records does both).

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "record/batch.h"

namespace sluice::record {

struct RecordHeader {
  std::string_view key;
  std::optional<Bytes> value;  // nullopt: a null value
};

struct Record {
  int64_t offset = 0;        // base offset + offset delta
  int64_t timestamp_ms = 0;  // base + delta, or the batch's maxTimestamp under log-append time
  int32_t offset_delta = 0;
  int8_t attributes = 0;     // unused by Kafka so far
  std::optional<Bytes> key;  // nullopt: a null key
  std::optional<Bytes> value;
  std::vector<RecordHeader> headers;  // reused across next() calls
};

class RecordReader {
 public:
  // Reads the header of `batch` (exactly one batch, as read_batch_header) and,
  // for a compressed batch, decompresses its records.
  static Result<RecordReader> open(Bytes batch,
                                   size_t decompressed_bytes_max = default_decompressed_bytes_max);

  const BatchHeader& header() const { return header_; }

  // Decodes the next record into `out`. Returns false after the last record
  // (status() ok) or at the first malformed one (status() says why): a record
  // count that disagrees with the data, bytes left after the last record,
  // negative or oversized lengths, offset deltas not increasing or beyond
  // lastOffsetDelta.
  bool next(Record& out);
  const Status& status() const { return status_; }
  int32_t records_read() const { return records_read_; }

  RecordReader(RecordReader&&) = default;
  RecordReader& operator=(RecordReader&&) = default;

 private:
  RecordReader() = default;
  bool fail(Errc code, std::string message);
  bool finish();

  BatchHeader header_;
  std::vector<uint8_t> decompressed_;  // moving a vector keeps its storage, so reader_ stays valid
  WireReader reader_;
  int32_t records_read_ = 0;
  int64_t previous_offset_delta_ = -1;
  Status status_;
};

// validate_batch, then decodes every record (decompressing if needed): the
// check a leader makes before appending a produced batch.
Status validate_records(Bytes batch, size_t decompressed_bytes_max = default_decompressed_bytes_max);

// The key of a control record: int16 version, int16 type.
struct ControlRecordKey {
  int16_t version = 0;
  ControlType type = ControlType::abort;  // may hold values beyond the named ones
};
Result<ControlRecordKey> parse_control_key(Bytes key);

// The value of a commit/abort control record: int16 version, int32 coordinator epoch.
struct EndTxnMarker {
  int16_t version = 0;
  int32_t coordinator_epoch = 0;
};
Result<EndTxnMarker> parse_end_txn_marker(Bytes value);

}  // namespace sluice::record
