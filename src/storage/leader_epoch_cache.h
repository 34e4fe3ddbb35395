#pragma once
// The leader-epoch cache of one partition: for each leader epoch, the first
// offset written in it (Kafka's LeaderEpochFileCache), persisted in the
// partition's leader-epoch-checkpoint.
//
// When the file is written: truncate_from_end() and clear() write it (and
// sync it) before returning. assign() - the append path's change, on the
// first append to a partition and at every epoch change - and
// truncate_from_start() (DeleteRecords, retention: open() trims the file
// the same way) only change memory: the Log's next flush writes and syncs
// the file (unwritten() in
// prepare_flush, EpochCheckpointWrite::write in execute_flush, off the
// partition lock, on the flusher's thread) before that flush moves the
// recovery point. So an entry is durable no later than the batches it
// describes; until then a crash may lose it, and open() re-assigns it from
// the batches it re-scans above the recovery point. (Kafka, KAFKA-15046 and
// KAFKA-16541, writes truncations in the background but still fsyncs on
// assign, so its file never misses an entry; here the flush ordering gives
// that for every offset below the recovery point, and recovery covers the
// rest.)
//
// Invariant: entries strictly increase in both epoch and start offset.
// Not thread-safe: owned by the Log, used under the partition lock, except
// EpochCheckpointWrite::write, which may run on any thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/checkpoint_file.h"

namespace sluice::storage {

inline constexpr int32_t undefined_epoch = -1;
inline constexpr int64_t undefined_epoch_offset = -1;

struct EpochEndOffset {
  int32_t epoch = undefined_epoch;
  int64_t end_offset = undefined_epoch_offset;
  friend bool operator==(const EpochEndOffset&, const EpochEndOffset&) = default;
};

// The checkpoint file of one cache: serialises its writers (the partition
// lock's holder and the flusher) and keeps an older state from replacing a
// newer one.
class EpochCheckpointFile {
 public:
  explicit EpochCheckpointFile(std::string path) : path_(std::move(path)) {}
  // Writes and syncs `entries`, the cache's state at `version`, unless a
  // state at least as new is already written. Any thread.
  Status write(FileSystem& fs, uint64_t version, const std::vector<EpochEntry>& entries);
  uint64_t written_version() const { return written_version_.load(std::memory_order_acquire); }
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  std::mutex mutex_;  // one writer of the file (and its .tmp) at a time
  std::atomic<uint64_t> written_version_{0};
};

// A state of the cache not yet in its file, to be written off the lock.
struct EpochCheckpointWrite {
  std::shared_ptr<EpochCheckpointFile> file;
  uint64_t version = 0;
  std::vector<EpochEntry> entries;
  Status write(FileSystem& fs) const { return file->write(fs, version, entries); }
};

class LeaderEpochCache {
 public:
  LeaderEpochCache(FileSystem& fs, std::string path)
      : fs_(fs), file_(std::make_shared<EpochCheckpointFile>(std::move(path))) {}

  // Reads the checkpoint; a missing file is an empty cache.
  Status load();

  // Records that `epoch` starts at `start_offset`. A no-op for a negative
  // epoch or an epoch already recorded at or before that offset; entries that
  // would break monotonicity (epoch >= `epoch` or start >= `start_offset`)
  // are dropped first, as Kafka does. Memory only: no I/O, the file is
  // written by the next flush (unwritten()).
  void assign(int32_t epoch, int64_t start_offset);

  // The current state if the file does not hold it yet (assign() since the
  // last write), for the flush to write; nullopt if the file is current.
  std::optional<EpochCheckpointWrite> unwritten() const;

  // What OffsetForLeaderEpoch answers for `requested_epoch`: the largest
  // known epoch <= requested and the start offset of the next epoch above
  // it (the log end offset if requested is the latest epoch); undefined for
  // an unknown epoch above every entry or an undefined request.
  EpochEndOffset end_offset_for(int32_t requested_epoch, int64_t log_end_offset) const;

  // Drops entries starting at or after `end_offset` (log truncated there).
  Status truncate_from_end(int64_t end_offset);
  // The log now starts at `start_offset`: entries wholly before it go, and
  // the one covering it is moved up to start there. Memory only (above).
  Status truncate_from_start(int64_t start_offset);
  Status clear();

  std::optional<int32_t> latest_epoch() const;
  const std::vector<EpochEntry>& entries() const { return entries_; }

 private:
  // Writes the current state now (truncations, clear).
  Status persist();

  FileSystem& fs_;
  std::shared_ptr<EpochCheckpointFile> file_;
  std::vector<EpochEntry> entries_;
  uint64_t version_ = 0;  // one per change of entries_; the file holds file_->written_version()
};

}  // namespace sluice::storage
