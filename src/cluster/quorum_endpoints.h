#pragma once
// Where the quorum dials each node (KIP-853): the voters entry in effect in
// the metadata log says where each voter listens; a leader named in a Fetch
// answer comes with its endpoint (NodeEndpoints); controller.quorum.voters
// is the fallback (the voter set before any voters entry), and
// controller.quorum.bootstrap.servers are dialled under negative ids (Kafka's
// -2, -3, ...) by an observer looking for the leader.
//
// A plain value owned by the quorum's thread (raft_manager); no locking.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/voter_set.h"
#include "net/transport.h"

namespace sluice::cluster {

class QuorumEndpoints {
 public:
  // `listener`: the controller listener name (the first of
  // controller.listener.names) whose endpoint is dialled.
  QuorumEndpoints(std::string listener, std::map<int32_t, net::Endpoint> configured_voters,
                  std::vector<net::Endpoint> bootstrap_servers);

  const std::string& listener() const { return listener_; }
  // The ids standing for the bootstrap servers: -2, -3, ... in their order.
  std::vector<int32_t> bootstrap_ids() const;
  // The voters entry in effect in the log; nullopt while the set is the
  // configured one (no entry, or the snapshot's, which carries ids only).
  void set_log_voters(std::optional<VoterSet> voters) { log_voters_ = std::move(voters); }
  const std::optional<VoterSet>& log_voters() const { return log_voters_; }
  // A node's endpoint as another node named it (a Fetch answer's leader).
  void learn(int32_t id, const net::Endpoint& endpoint) { learned_[id] = endpoint; }

  // Where to dial `id`: the log's voters entry, else what was learned, else
  // controller.quorum.voters, else a bootstrap server's address.
  std::optional<net::Endpoint> find(int32_t id) const;

  // The voter set to change (`ids`: the set in effect in the state
  // machine): the log's entry when it has one, else the configured voters
  // with their endpoint under the controller listener; `directory_ids`
  // fills in directory ids not known yet (Kafka's static voters have none).
  VoterSet current(const std::set<int32_t>& ids,
                   const std::map<int32_t, Uuid>& directory_ids) const;

 private:
  std::string listener_;
  std::map<int32_t, net::Endpoint> configured_;
  std::vector<net::Endpoint> bootstrap_;
  std::optional<VoterSet> log_voters_;
  std::map<int32_t, net::Endpoint> learned_;
};

// Whether two endpoint lists name the same listeners (order aside).
bool same_endpoints(std::vector<VoterEndpoint> a, std::vector<VoterEndpoint> b);

}  // namespace sluice::cluster
