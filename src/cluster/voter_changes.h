#pragma once
// KIP-853's voter changes as the quorum's driver runs them (Kafka's
// AddVoterHandler, RemoveVoterHandler, UpdateVoterHandler): validation of
// AddRaftVoter/RemoveRaftVoter/UpdateRaftVoter with Kafka's error codes,
// the voters entry built with every voter's endpoints and directory id,
// handed to the state machine (raft::RaftReplica::add_voter and friends),
// and the answer once that entry is committed. Also keeps the voters entry
// in effect (read back from the log) in the QuorumEndpoints, and says when
// this voter must tell the leader its new endpoints (UpdateRaftVoter).
//
// Owned by raft_manager's Impl; every call on the quorum thread.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "base/uuid.h"
#include "cluster/quorum_endpoints.h"
#include "cluster/raft/raft.h"
#include "cluster/voter_set.h"
#include "protocol/messages.h"

namespace sluice::cluster {

struct VoterChangeOptions {
  int32_t node_id = -1;
  std::vector<VoterEndpoint> endpoints;  // this node's advertised controller listeners
  Uuid directory_id;
  int64_t retry_interval_ms = 1000;  // between two UpdateRaftVoter of this voter
  // The voter set of the latest snapshot, as its VotersRecord has it: where
  // the voters entry in effect went once the log's prefix was deleted.
  std::function<std::optional<VoterSet>()> snapshot_voters;
};

class VoterChanges {
 public:
  using Done = std::function<void(ErrorCode error, std::string message)>;

  VoterChanges(VoterChangeOptions options, QuorumEndpoints& endpoints, const raft::RaftLog& log,
               std::function<int64_t()> wall_clock_ms);

  // After every event of the state machine: re-reads the voters entry in
  // effect when it moved, answers the changes that committed (NONE), whose
  // leader lost its epoch (NOT_LEADER_OR_FOLLOWER) or whose time ran out
  // (REQUEST_TIMED_OUT), and tries again those the state machine put off
  // (REQUEST_TIMED_OUT: a change pending, the epoch not committed, the new
  // voter not caught up; Kafka's KAFKA-17147 lets them wait).
  void after_event(raft::RaftReplica& replica, int64_t now_ms);
  // Stops: every change waiting is answered `error`.
  void fail_all(ErrorCode error, const std::string& message);

  // A replica's directory id, from its Fetch (ReplicaDirectoryId): filled in
  // for voters of controller.quorum.voters when the first voters entry is written.
  void note_directory(int32_t id, const Uuid& directory_id);

  void add(raft::RaftReplica& replica, const protocol::AddRaftVoterRequest& request, int64_t now_ms,
           Done done);
  void remove(raft::RaftReplica& replica, const protocol::RemoveRaftVoterRequest& request,
              int64_t now_ms, Done done);
  // Answers at once (Kafka does not wait for the commit of an update).
  std::pair<ErrorCode, std::string> update(raft::RaftReplica& replica, int32_t id,
                                           const Uuid& directory_id,
                                           std::vector<VoterEndpoint> endpoints,
                                           int16_t kraft_version_min, int16_t kraft_version_max,
                                           int64_t now_ms);

  // The UpdateRaftVoter this voter should send its leader now: it is a
  // voter of a voters entry in the log whose endpoints for it differ from
  // the advertised ones (at most once per retry interval). A leader in that
  // case updates itself (in after_event).
  std::optional<protocol::UpdateRaftVoterRequest> self_update(const raft::RaftReplica& replica,
                                                              int64_t now_ms);

  const std::map<int32_t, Uuid>& directory_ids() const { return directory_ids_; }
  // The voter set in effect with every voter's endpoints and directory id
  // as known here (this node's own from its options).
  VoterSet current(const raft::RaftReplica& replica) const;

 private:
  struct Change {
    bool adding = true;
    int32_t id = -1;
    VoterNode node;  // adding: the new voter
    Uuid directory_id;
    int64_t deadline_ms = 0;
    Done done;
    raft::Offset offset = -1;  // the voters entry, once appended
    raft::Epoch epoch = 0;
    std::string last_error;
  };
  void refresh(const raft::RaftReplica& replica);
  // Appends the change's voters entry, or says why not yet (`retry`) or not at all.
  void attempt(raft::RaftReplica& replica, Change& change, int64_t now_ms, bool& finished);
  bool self_differs(const raft::RaftReplica& replica) const;

  VoterChangeOptions options_;
  QuorumEndpoints& endpoints_;
  const raft::RaftLog& log_;
  std::function<int64_t()> wall_clock_ms_;
  std::map<int32_t, Uuid> directory_ids_;
  std::vector<Change> changes_;
  raft::Offset voters_offset_ = -2;  // the entry read into endpoints_
  raft::Epoch voters_epoch_ = -1;
  int64_t next_self_update_ms_ = 0;
};

}  // namespace sluice::cluster
