#pragma once
// The leader-epoch cache of one partition: for each leader epoch, the first
// offset written in it (Kafka's LeaderEpochFileCache), persisted in the
// partition's leader-epoch-checkpoint after every change.
//
// Invariant: entries strictly increase in both epoch and start offset.
// Not thread-safe: owned by the Log, used under the partition lock.

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

class LeaderEpochCache {
 public:
  LeaderEpochCache(FileSystem& fs, std::string path) : fs_(fs), path_(std::move(path)) {}

  // Reads the checkpoint; a missing file is an empty cache.
  Status load();

  // Records that `epoch` starts at `start_offset`. A no-op for a negative
  // epoch or an epoch already recorded at or before that offset; entries that
  // would break monotonicity (epoch >= `epoch` or start >= `start_offset`)
  // are dropped first, as Kafka does.
  Status assign(int32_t epoch, int64_t start_offset);

  // What OffsetForLeaderEpoch answers for `requested_epoch`: the largest
  // known epoch <= requested and the start offset of the next epoch above
  // it (the log end offset if requested is the latest epoch); undefined for
  // an unknown epoch above every entry or an undefined request.
  EpochEndOffset end_offset_for(int32_t requested_epoch, int64_t log_end_offset) const;

  // Drops entries starting at or after `end_offset` (log truncated there).
  Status truncate_from_end(int64_t end_offset);
  // The log now starts at `start_offset`: entries wholly before it go, and
  // the one covering it is moved up to start there.
  Status truncate_from_start(int64_t start_offset);
  Status clear();

  std::optional<int32_t> latest_epoch() const;
  const std::vector<EpochEntry>& entries() const { return entries_; }

 private:
  Status persist() { return write_leader_epoch_checkpoint(fs_, path_, entries_); }

  FileSystem& fs_;
  std::string path_;
  std::vector<EpochEntry> entries_;
};

}  // namespace sluice::storage
