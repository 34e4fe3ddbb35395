#pragma once
// Kafka's metadata snapshot format (`<end offset>-<epoch>.checkpoint`, the
// bytes Kafka's RecordsSnapshotWriter writes), described in
// docs/storage.md:
//
//   checkpoint := header-batch data-batch* footer-batch
//   header-batch := control batch, records:
//                     SnapshotHeaderRecord (type 3, v0: LastContainedLogTimestamp)
//                     KRaftVersionRecord   (type 5, v0: kraft.version 1)
//                     VotersRecord         (type 6, v0: the voter set at the end)
//   data-batch := batch of framed metadata records (record_framing.h), null keys
//   footer-batch := control batch, one record: SnapshotFooterRecord (type 4, v0)
//
// Every batch is record batch v2 with its CRC; offsets run from 0 across
// the batches (Kafka's BatchAccumulator starts a snapshot at offset 0) and
// the partition leader epoch is the snapshot's epoch. A control record's
// key is {int16 version 0, int16 type}.
//
// Decoding follows Kafka's rules on bad input: a batch that does not parse
// or fails its CRC, a first batch that is not the header, a missing footer
// or bytes after it are errors (the caller logs them and uses an older
// snapshot or the log); nothing here asserts on input.

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "cluster/voter_set.h"

namespace sluice::cluster {

struct SnapshotFormatOptions {
  int64_t end_offset = 0;  // the snapshot id (records below it)
  int32_t epoch = 0;
  int64_t last_contained_log_timestamp_ms = 0;
  int64_t now_ms = 0;  // the control batches' timestamps
};

// The data batches of a snapshot: `records` (framed metadata records) in
// batches of at most `batch_bytes_max` encoded bytes each (at least one
// record per batch). Offsets are fixed by encode_checkpoint. Cheap to call
// on any thread (the loader builds them, not the quorum thread).
std::string snapshot_data_batches(const std::vector<std::vector<uint8_t>>& records,
                                  int64_t timestamp_ms, size_t batch_bytes_max = 1 << 20);

// The whole checkpoint: header batch (with `voters`, endpoints and directory
// ids as known), `data_batches` (as
// snapshot_data_batches made them; their base offsets and epochs are
// rewritten here, outside the CRC), footer batch.
std::string encode_checkpoint(const SnapshotFormatOptions& options, const VoterSet& voters,
                              std::string_view data_batches);

struct CheckpointContent {
  int64_t last_contained_log_timestamp_ms = -1;
  int16_t kraft_version = 0;
  std::optional<VoterSet> voters;  // absent: no VotersRecord (kraft.version 0)
  std::string data_batches;        // the data batches as stored
  int64_t record_count = 0;        // metadata records in them
  int32_t batch_epoch = -1;        // the header batch's partition leader epoch
};

// Checks and splits a checkpoint. With `header_only`, stops after the
// header batch (the voter set) without reading the rest.
Result<CheckpointContent> decode_checkpoint(Bytes bytes, bool header_only = false);

// Calls `f(value)` for each framed metadata record of `data_batches`, in
// order; stops at the first error.
Status for_each_snapshot_record(Bytes data_batches, const std::function<Status(Bytes)>& f);

}  // namespace sluice::cluster
