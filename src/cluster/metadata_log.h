#pragma once
// The local metadata log: <metadata.log.dir>/__cluster_metadata-0/, a
// partition log in Kafka's format (storage::Log) whose record values are
// framed metadata records (protocol/record_framing.h) with null keys, as
// in Kafka's KRaft log. A single node is a quorum of one: the controller
// appends, fsyncs, and the records are committed. A Raft quorum later
// replaces what happens between append() and "committed", not the format.
//
// Retention never runs on this log: the quorum drops its prefix behind a
// snapshot (drop_prefix: whole segments below it are deleted, the log start
// moves in memory and is found again at the next start from the snapshot).
// A start replays the log after the latest snapshot, recovering torn tails
// first.
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
#include "cluster/raft/raft.h"
#include "storage/log.h"

namespace sluice::cluster {

inline constexpr char metadata_topic_name[] = "__cluster_metadata";

// Also the quorum's log (raft::RaftLog): one raft entry is one record
// batch, its payload the batch's bytes as stored (base offset and leader
// epoch included) and its record count the batch's; the leader's epoch
// marker is written as Kafka's LeaderChangeMessage control batch. Raft
// calls come from the quorum's thread only.
class MetadataLog : public raft::RaftLog {
 public:
  static Result<std::unique_ptr<MetadataLog>> open(storage::FileSystem& fs,
                                                   const std::string& metadata_log_dir,
                                                   const Clock* clock = &system_clock(),
                                                   uint64_t segment_bytes = 64ull * 1024 * 1024);
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

  // Calls `f(offset, value)` for the records of [from, to), whole batches
  // from the one holding `from` (control batches skipped).
  Status replay(int64_t from, int64_t to, const std::function<Status(int64_t, Bytes)>& f);

  // --- raft::RaftLog ---
  // A failed write or sync is undone as append() does (the log keeps its
  // end, so the quorum sees nothing appended); a failure it cannot undo
  // calls the fatal hook (Kafka halts on a raft log it cannot vouch for).
  raft::Offset start_offset() const override { return log_->log_start_offset(); }
  // After a failure that could not be undone, the end of what was synced:
  // the quorum must not count (or send) the batch whose sync failed.
  raft::Offset end_offset() const override {
    return failed() ? durable_end_ : log_->log_end_offset();
  }
  raft::Epoch last_epoch() const override;
  raft::Epoch epoch_at(raft::Offset offset) const override;
  std::vector<raft::Entry> read(raft::Offset from, size_t max_entries) const override;
  void append(const std::vector<raft::Entry>& entries) override;
  void truncate_to(raft::Offset end) override;
  void flush() override;
  // A control batch's kind (leader change, voters and their set) into `entry`.
  static void classify(Bytes batch, raft::Entry& entry);
  void drop_prefix(raft::Offset start) override;
  void reset_to(raft::Offset start) override;
  // The node whose LeaderChangeMessage this log writes for an empty entry.
  void set_local_node(int32_t node_id) { local_node_ = node_id; }
  void set_fatal_hook(std::function<void(const std::string&)> hook) { fatal_ = std::move(hook); }
  // The raw batches of [from, end), whole (tests and the quorum).
  Result<std::vector<uint8_t>> read_batches(int64_t from, uint64_t max_bytes) const;
  const std::string& dir() const { return log_->dir(); }
  Status close() { return log_->close(); }

 private:
  explicit MetadataLog(std::unique_ptr<storage::Log> log) : log_(std::move(log)) {}
  Status replay_range(const storage::ReadResult& range,
                      const std::function<Status(int64_t, Bytes)>& f);
  Status undo_to(int64_t end_offset);
  void reserve_headroom();

  void fail(const std::string& what, const Status& status);

  std::unique_ptr<storage::Log> log_;
  const Clock* clock_ = nullptr;
  storage::FileSystem* fs_ = nullptr;
  std::string failed_;  // see failed()
  int32_t local_node_ = -1;
  std::function<void(const std::string&)> fatal_;
  // The end before the raft appends not yet flushed: a failed flush cuts back to it.
  int64_t unflushed_from_ = -1;
  int64_t durable_end_ = 0;  // end_offset() once failed()
};

}  // namespace sluice::cluster
