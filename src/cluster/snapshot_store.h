#pragma once
// The metadata snapshots of this node on disk: Kafka's
// `<metadata.log.dir>/__cluster_metadata-0/<end offset %020d>-<epoch %010d>.checkpoint`
// files, in Kafka's checkpoint format (snapshot_format.h). The quorum's
// raft::SnapshotStore.
//
// Writes go to `<id>.checkpoint.part`, are fsynced, then renamed to
// `<id>.checkpoint` and the directory fsynced (Kafka's FileRawSnapshotWriter
// freeze), so a crash leaves either the whole snapshot or none; leftover
// `.part` files are removed at open. Older snapshots are deleted once a
// newer one is committed (delete_before).
//
// Bad input (Kafka's rules): at open every checkpoint is checked newest
// first (CRCs, header first, footer last); a corrupt or truncated one is
// logged, renamed to `<name>.corrupt` (kept for the operator, never read
// again) and the next older one is used, or none (the quorum then uses
// the log). Nothing here asserts on file contents.
//
// A write, sync or rename that fails calls the fatal hook (the controller
// halts, as Kafka does on a raft I/O error): the quorum would otherwise
// trim its log behind a snapshot that is not on disk.
//
// Threads: the quorum thread (raft_manager), after open. Not thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "cluster/raft/raft.h"
#include "cluster/snapshot_format.h"
#include "cluster/voter_set.h"
#include "storage/file_system.h"

namespace sluice::cluster {

class FileSnapshotStore final : public raft::SnapshotStore {
 public:
  // `dir`: the metadata log's partition dir (created if missing).
  static Result<std::unique_ptr<FileSnapshotStore>> open(storage::FileSystem& fs, std::string dir,
                                                         const Clock* clock = &system_clock());

  // Kafka's name of the snapshot `id`: %020d-%010d.checkpoint.
  static std::string file_name(const raft::SnapshotId& id);
  // The id a `.checkpoint` file name stands for; nullopt for other names.
  static std::optional<raft::SnapshotId> parse_file_name(const std::string& name);

  // --- raft::SnapshotStore ---
  std::optional<raft::SnapshotId> latest() const override;
  int64_t size(const raft::SnapshotId& id) const override;
  std::string read(const raft::SnapshotId& id, int64_t position, size_t max_bytes) const override;
  void begin_write(const raft::SnapshotId& id) override;
  void append(std::string_view chunk) override;
  void commit() override;
  void delete_before(const raft::SnapshotId& id) override;
  // Kafka's checkpoint: `application` is data batches (snapshot_data_batches).
  std::string encode(const raft::SnapshotId& id, const std::set<raft::NodeId>& voters,
                     std::string_view application) const override;
  std::optional<std::set<raft::NodeId>> voters(const raft::SnapshotId& id) const override;
  // The voter set of snapshot `id` with what its VotersRecord holds of each
  // voter (endpoints, directory id); nullopt without one or on a bad file.
  std::optional<VoterSet> voter_set(const raft::SnapshotId& id) const;
  // What a new snapshot says of each voter beyond its id (the quorum's
  // driver knows the endpoints); without it, ids only.
  void set_voter_details(std::function<VoterSet(const std::set<raft::NodeId>&)> details) {
    voter_details_ = std::move(details);
  }

  // The whole snapshot `id`, checked and split (the controller loads it).
  Result<CheckpointContent> load(const raft::SnapshotId& id) const;
  // Every snapshot held, oldest first.
  std::set<raft::SnapshotId> snapshots() const { return snapshots_; }
  const std::string& dir() const { return dir_; }
  std::string path(const raft::SnapshotId& id) const;
  void set_fatal_hook(std::function<void(const std::string&)> hook) { fatal_ = std::move(hook); }

 private:
  FileSnapshotStore(storage::FileSystem& fs, std::string dir, const Clock* clock)
      : fs_(fs), dir_(std::move(dir)), clock_(clock) {}
  Status scan();
  Result<std::string> read_all(const raft::SnapshotId& id) const;
  void drop_write();
  void fail(const std::string& what, const Status& status);

  storage::FileSystem& fs_;
  std::string dir_;
  const Clock* clock_;
  std::function<void(const std::string&)> fatal_;
  std::function<VoterSet(const std::set<raft::NodeId>&)> voter_details_;
  std::set<raft::SnapshotId> snapshots_;
  // The snapshot being written and its `.part` file (null once it failed:
  // commit then leaves the store as it was).
  struct Write {
    raft::SnapshotId id;
    storage::FileHandle file;
    bool failed = false;
  };
  std::optional<Write> write_;
  // Reads of the same snapshot (a follower's chunks) reuse its handle.
  mutable std::map<raft::SnapshotId, storage::FileHandle> readers_;
};

}  // namespace sluice::cluster
