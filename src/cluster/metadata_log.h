#pragma once
// The local metadata log: <metadata.log.dir>/__cluster_metadata-0/, a
// partition log in Kafka's format (storage::Log) whose record values are
// framed metadata records (protocol/record_framing.h) with null keys, as
// in Kafka's KRaft log. A single node is a quorum of one: the controller
// appends, fsyncs, and the records are committed. A Raft quorum later
// replaces what happens between append() and "committed", not the format.
//
// Retention never runs on this log (there are no snapshots yet); it is
// replayed from offset 0 at every start, recovering torn tails first.
//
// Space: the active segment keeps 1 MiB allocated past its end
// (File::reserve), so admin changes, deleting a topic to free space
// above all, still commit when the data partitions fill the disk.
//
// Thread contract: one caller at a time (the controller's thread).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/result.h"
#include "storage/log.h"

namespace sluice::cluster {

inline constexpr char metadata_topic_name[] = "__cluster_metadata";

class MetadataLog {
 public:
  static Result<std::unique_ptr<MetadataLog>> open(storage::FileSystem& fs,
                                                   const std::string& metadata_log_dir,
                                                   const Clock* clock = &system_clock());
  ~MetadataLog();

  // Calls `f(offset, value)` for every record, in offset order; stops at the
  // first error `f` returns. Control batches are skipped.
  Status replay(const std::function<Status(int64_t offset, Bytes value)>& f);

  // Appends `values` as one batch (atomically: after a crash either all of
  // them or none are in the log) with leader epoch `epoch`, and fsyncs
  // before returning. Returns the offset of the first value.
  //
  // On failure (a write or the fsync) the batch is undone: the log is cut
  // back to where it began and that cut synced, so the log and the image
  // (which the caller did not change) agree and a retry writes its records
  // once. If the undo fails too, failed() is true from then on: the log may
  // hold the batch, so nothing more may be appended (Kafka halts then; the
  // controller calls its fatal hook) and only a restart, which replays
  // what is on disk, makes them agree again.
  Result<int64_t> append(const std::vector<std::vector<uint8_t>>& values, int32_t epoch);
  bool failed() const { return !failed_.empty(); }
  // Why failed(), naming the dir, the failure and the undo's failure.
  const std::string& failure() const { return failed_; }

  int64_t end_offset() const { return log_->log_end_offset(); }
  const std::string& dir() const { return log_->dir(); }
  Status close() { return log_->close(); }

 private:
  explicit MetadataLog(std::unique_ptr<storage::Log> log) : log_(std::move(log)) {}
  Status replay_range(const storage::ReadResult& range,
                      const std::function<Status(int64_t, Bytes)>& f);
  Status undo_to(int64_t end_offset);
  void reserve_headroom();

  std::unique_ptr<storage::Log> log_;
  const Clock* clock_ = nullptr;
  std::string failed_;  // see failed()
};

}  // namespace sluice::cluster
