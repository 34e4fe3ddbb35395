#pragma once
// Producer state snapshots in Kafka's layout (docs/storage.md, "Producer
// snapshots"): <20-digit offset>.snapshot beside the segments, holding the
// producer state as of that offset (the state covers every batch below it).
// Kafka's ProducerSnapshot message, version 1, big-endian:
//   snapshot  = version:int16(1) crc:uint32 count:int32 entry*count
//   entry     = producerId:int64 epoch:int16 lastSequence:int32
//               lastOffset:int64 offsetDelta:int32 timestamp:int64
//               coordinatorEpoch:int32 currentTxnFirstOffset:int64(-1: none)
//   crc       = CRC32C of every byte after the crc field
// Only the last batch of each producer is kept (as in Kafka), so after a
// load only that batch is recognised as a duplicate, until later batches
// are replayed from the log.
//
// Thread-compatible free functions; the files are written with
// write_file_atomically (tmp, fsync, rename, dir fsync).

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "storage/file_system.h"
#include "storage/producer_state.h"

namespace sluice::storage {

inline constexpr std::string_view producer_snapshot_suffix = ".snapshot";
inline constexpr int16_t producer_snapshot_version = 1;

std::string producer_snapshot_name(int64_t offset);
// The offset of "<20 digits>.snapshot", else nullopt.
std::optional<int64_t> parse_producer_snapshot_name(const std::string& name);

std::vector<uint8_t> encode_producer_snapshot(const std::map<int64_t, ProducerEntry>& producers);
// Errc::corrupt_crc / invalid_value / truncated for a file that is not a
// whole, valid snapshot.
Result<std::vector<ProducerEntry>> decode_producer_snapshot(Bytes bytes);

// Orders snapshot writes (off the partition lock) against truncations
// (under it), so that a write planned before a truncation never leaves a
// file for offsets the truncation removed: the truncation bumps the
// generation under the mutex; a write of an older generation is skipped.
struct ProducerSnapshotGuard {
  std::mutex mutex;
  uint64_t generation = 0;
  void invalidate() {
    std::lock_guard lock(mutex);
    ++generation;
  }
};

// A snapshot taken under the partition lock, to be written off it.
struct ProducerSnapshotWrite {
  std::shared_ptr<ProducerSnapshotGuard> guard;
  uint64_t generation = 0;
  std::string path;
  int64_t offset = 0;
  std::vector<uint8_t> bytes;
  Status write(FileSystem& fs) const;
};

}  // namespace sluice::storage
