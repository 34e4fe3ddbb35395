#pragma once
// Converting between legacy message sets (legacy.h) and record batches v2,
// as Kafka's broker does: up-conversion of what Produce v0-2 clients send
// (LogValidator), down-conversion of what Fetch v0-3 clients read
// (RecordsUtil.downConvert). Both copy; neither touches the caller's bytes.

#include <cstdint>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "record/legacy.h"
#include "record/types.h"

namespace sluice::record {

// The record batch v2 Kafka stores for a Produce message set: the records
// at offset deltas 0..n-1 (the log assigns the base offset; the client's
// offsets are ignored), timestamps as the client gave them (none for magic
// 0), no producer id, compressed with `compression`. A topic's log append
// time is applied by the append like for any batch.
Result<std::vector<uint8_t>> up_convert(const LegacyRecords& records, Compression compression);

// A Fetch answer for an old client: the complete batches of `record_set`
// as a message set of `to_magic` (0 or 1). Control batches are dropped, and
// headers (no place for them below magic 2); a compressed batch becomes one
// wrapper of the same codec holding all its records; an uncompressed one,
// one message per record at or after `first_offset`. Log-append-time
// batches keep that timestamp type (magic 1). The set stops before the
// first entry that would take it beyond `bytes_max`, but holds at least one.
// A zstd batch is unsupported_compression (zstd does not exist below magic
// 2: Kafka answers UNSUPPORTED_COMPRESSION_TYPE).
Result<std::vector<uint8_t>> down_convert(Bytes record_set, int8_t to_magic, int64_t first_offset,
                                          size_t bytes_max);

}  // namespace sluice::record
