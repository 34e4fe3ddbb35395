#pragma once
// A record set: the `records` bytes of a Produce request or Fetch response,
// i.e. record batches back to back. A Fetch response may end with a partial
// batch (the broker cuts at max.bytes); that is reported as `incomplete()`,
// not as an error. Produce requests should reject incomplete sets.

#include "base/bytes.h"
#include "base/result.h"
#include "record/batch.h"

namespace sluice::record {

struct BatchView {
  BatchHeader header;
  Bytes bytes;  // the whole batch, log overhead included; a view into the set
};

class RecordSetReader {
 public:
  explicit RecordSetReader(Bytes records) : records_(records) {}

  // The next complete batch, framed by its batchLength, with its header read
  // (read_batch_header's checks; not the CRC: call validate_batch for that).
  // Returns false at the end, at a partial trailing batch, or on an error.
  bool next(BatchView& out);

  // After next() returned false: a partial batch ended the set.
  bool incomplete() const { return incomplete_; }
  // After next() returned false: why, if the set is malformed.
  const Status& status() const { return status_; }
  // Bytes of complete batches returned so far.
  size_t position() const { return position_; }

 private:
  Bytes records_;
  size_t position_ = 0;
  bool incomplete_ = false;
  Status status_;
};

// Validates every batch of a Produce record set with validate_batch; a
// partial batch is an error here. Returns the number of batches via `count`.
Status validate_record_set(Bytes records, size_t* batch_count = nullptr);

}  // namespace sluice::record
