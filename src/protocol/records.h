#pragma once
// The value of a `records` field (Produce, Fetch, FetchSnapshot, Envelope
// payloads): a record set carried as opaque bytes. The codec never copies it.
//
// Decoding points `bytes` INTO the decoder's input buffer; the caller keeps
// that buffer alive as long as the message is used (or sets `owner`).
// Encoding references `bytes` through WireWriter::write_external, so the bytes
// (kept alive by `owner` or by the caller) must outlive the writer's output.

#include <algorithm>
#include <cstdint>
#include <memory>

#include "base/bytes.h"

namespace sluice::protocol {

struct Records {
  Bytes bytes;
  // Keeps the storage behind `bytes` alive when the message owns it (a log
  // segment read, a buffer built by a producer). Empty when borrowed.
  std::shared_ptr<const void> owner;

  size_t size() const { return bytes.size(); }

  // Compares contents, not storage: two views of equal bytes are equal.
  friend bool operator==(const Records& a, const Records& b) {
    return std::ranges::equal(a.bytes, b.bytes);
  }
};

}  // namespace sluice::protocol
