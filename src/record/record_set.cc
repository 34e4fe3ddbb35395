#include "record/record_set.h"

#include <string>

namespace sluice::record {

bool RecordSetReader::next(BatchView& out) {
  if (!status_.is_ok() || incomplete_) return false;
  Bytes rest = records_.subspan(position_);
  if (rest.empty()) return false;
  Result<BatchHeader> header = read_batch_header(rest);
  if (!header) {
    // A header cut short is the partial tail of a Fetch response.
    if (header.status().code() == Errc::truncated) {
      incomplete_ = true;
    } else {
      status_ = Status(header.status().code(), "batch at byte " + std::to_string(position_) +
                                                   ": " + header.status().message());
    }
    return false;
  }
  if (header->size_bytes() > rest.size()) {
    incomplete_ = true;
    return false;
  }
  out.header = *header;
  out.bytes = rest.first(header->size_bytes());
  position_ += header->size_bytes();
  return true;
}

Status validate_record_set(Bytes records, size_t* batch_count) {
  RecordSetReader reader(records);
  BatchView batch;
  size_t count = 0;
  while (reader.next(batch)) {
    Status status = validate_batch(batch.bytes);
    if (!status)
      return Status(status.code(), "batch " + std::to_string(count) + " at byte " +
                                       std::to_string(reader.position() - batch.bytes.size()) +
                                       ": " + status.message());
    ++count;
  }
  if (!reader.status()) return reader.status();
  if (reader.incomplete())
    return Status(Errc::truncated, "record set ends with a partial batch at byte " +
                                       std::to_string(reader.position()));
  if (batch_count) *batch_count = count;
  return Status::ok();
}

}  // namespace sluice::record
