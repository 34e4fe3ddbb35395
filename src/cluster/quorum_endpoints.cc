#include "cluster/quorum_endpoints.h"

#include <algorithm>
#include <tuple>

namespace sluice::cluster {

QuorumEndpoints::QuorumEndpoints(std::string listener,
                                 std::map<int32_t, net::Endpoint> configured_voters,
                                 std::vector<net::Endpoint> bootstrap_servers)
    : listener_(std::move(listener)),
      configured_(std::move(configured_voters)),
      bootstrap_(std::move(bootstrap_servers)) {}

std::vector<int32_t> QuorumEndpoints::bootstrap_ids() const {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < bootstrap_.size(); ++i) ids.push_back(-2 - static_cast<int32_t>(i));
  return ids;
}

std::optional<net::Endpoint> QuorumEndpoints::find(int32_t id) const {
  if (id <= -2) {
    const size_t index = static_cast<size_t>(-2 - id);
    if (index < bootstrap_.size()) return bootstrap_[index];
    return std::nullopt;
  }
  if (log_voters_) {
    auto voter = log_voters_->find(id);
    if (voter != log_voters_->end())
      if (auto endpoint = voter->second.endpoint(listener_)) return endpoint;
  }
  if (auto learned = learned_.find(id); learned != learned_.end()) return learned->second;
  // A lone node's own entry has no address (port 0): nothing to dial.
  if (auto configured = configured_.find(id);
      configured != configured_.end() && configured->second.port != 0)
    return configured->second;
  return std::nullopt;
}

VoterSet QuorumEndpoints::current(const std::set<int32_t>& ids,
                                  const std::map<int32_t, Uuid>& directory_ids) const {
  VoterSet voters;
  for (int32_t id : ids) {
    VoterNode node;
    if (log_voters_ && log_voters_->count(id)) {
      node = log_voters_->at(id);
    } else {
      node.id = id;
      if (auto endpoint = find(id))
        node.endpoints.push_back({listener_, endpoint->host, endpoint->port});
    }
    if (node.directory_id.is_zero())
      if (auto known = directory_ids.find(id); known != directory_ids.end())
        node.directory_id = known->second;
    voters[id] = std::move(node);
  }
  return voters;
}

bool same_endpoints(std::vector<VoterEndpoint> a, std::vector<VoterEndpoint> b) {
  auto order = [](const VoterEndpoint& x, const VoterEndpoint& y) {
    return std::tie(x.name, x.host, x.port) < std::tie(y.name, y.host, y.port);
  };
  std::sort(a.begin(), a.end(), order);
  std::sort(b.begin(), b.end(), order);
  return a == b;
}

}  // namespace sluice::cluster
