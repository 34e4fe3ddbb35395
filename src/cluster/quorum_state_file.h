#pragma once
// The `quorum-state` file beside the metadata log
// (<metadata.log.dir>/__cluster_metadata-0/quorum-state), in Kafka's JSON
// layout (data_version 0): the epoch, the leader this node knows in it and
// the candidate it voted for. Raft writes it before acting on a change
// (a vote is durable before it is granted); writes are atomic and synced
// (write_file_atomically), so a crash leaves the old or the new state.
//
// A write that fails cannot be undone by the quorum (it may already have
// promised), so it calls the fatal hook: Kafka halts then too.

#include <functional>
#include <string>

#include "cluster/raft/raft.h"
#include "storage/file_system.h"

namespace sluice::cluster {

inline constexpr char quorum_state_file_name[] = "quorum-state";

std::string encode_quorum_state(const raft::QuorumState& state, const std::string& cluster_id);
// Fails on text that is not the layout above.
Result<raft::QuorumState> decode_quorum_state(const std::string& text);

class QuorumStateFile final : public raft::QuorumStateStore {
 public:
  // `path`: the file. A missing file reads as epoch `minimum_epoch` with no
  // leader or vote: a log written before the quorum existed (a single
  // node's, in epoch 1) must not see its epochs reused.
  QuorumStateFile(storage::FileSystem& fs, std::string path, std::string cluster_id,
                  raft::Epoch minimum_epoch, std::function<void(const std::string&)> on_fatal);

  // Reads the file; a file that does not decode is an error naming it.
  Status load();
  raft::QuorumState read() const override { return state_; }
  void write(const raft::QuorumState& state) override;

 private:
  storage::FileSystem& fs_;
  std::string path_;
  std::string cluster_id_;
  raft::QuorumState state_;
  std::function<void(const std::string&)> on_fatal_;
};

}  // namespace sluice::cluster
