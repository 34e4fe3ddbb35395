#pragma once
// KIP-853's voter set as the metadata log stores it: each voter's id, its
// directory id and the endpoints of its controller listeners, written as
// Kafka's VotersRecord in a KRAFT_VOTERS control batch. The Raft state
// machine (raft/raft.h) knows voters by id only; the quorum's driver
// (raft_manager) reads these entries to know where to dial each voter and
// builds the batches of the changes it asks for.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/uuid.h"
#include "net/transport.h"
#include "protocol/messages.h"

namespace sluice::cluster {

// One listener of a voter (VotersRecord's Endpoint, AddRaftVoter's Listener).
struct VoterEndpoint {
  std::string name;  // the listener name, e.g. CONTROLLER
  std::string host;
  uint16_t port = 0;
  bool operator==(const VoterEndpoint&) const = default;
};

struct VoterNode {
  int32_t id = -1;
  Uuid directory_id;  // zero: not known (a voter of controller.quorum.voters)
  std::vector<VoterEndpoint> endpoints;
  // KRaftVersionFeature: the kraft.version range the voter supports.
  int16_t kraft_version_min = 0;
  int16_t kraft_version_max = 1;
  bool operator==(const VoterNode&) const = default;
  // The endpoint of `listener`, else the first one; nullopt without any.
  std::optional<net::Endpoint> endpoint(const std::string& listener) const;
};

using VoterSet = std::map<int32_t, VoterNode>;

// Kafka's VotersRecord (v0) of `voters`, and back: the one mapping the
// log's voters entries and the snapshots' header batches share.
protocol::VotersRecord voters_record(const VoterSet& voters);
VoterSet voter_set(const protocol::VotersRecord& record);
std::set<int32_t> voter_ids(const VoterSet& voters);
// A VoterSet of `ids` without endpoints or directory ids (a set known by id
// only: the state machine's, the simulation's).
VoterSet voter_set(const std::set<int32_t>& ids);

// The KRAFT_VOTERS control batch (control record type 6, VotersRecord v0)
// of `voters`, timestamped `now_ms`; base offset and leader epoch are the
// log's to stamp.
std::vector<uint8_t> encode_voters_batch(const VoterSet& voters, int64_t now_ms);
// The voter set of a KRAFT_VOTERS control batch; nullopt for any other batch.
std::optional<VoterSet> decode_voters_batch(Bytes batch);

// The Kafka control record type of a control batch's first record (2
// LEADER_CHANGE, 6 KRAFT_VOTERS); nullopt if it has none.
std::optional<int16_t> control_type(Bytes batch);
inline constexpr int16_t leader_change_control_type = 2;
inline constexpr int16_t voters_control_type = 6;

// "1@host:port[dir],2@..." for log lines and errors.
std::string describe(const VoterSet& voters);

}  // namespace sluice::cluster
