// Kafka's RackAwareReplicaSelector (replica_selector.h).
#include "cluster/replica_selector.h"

namespace sluice::cluster {

namespace {

// Kafka's ReplicaView.comparator: the larger log end, then the shorter time
// since caught up, is better.
bool better(const ReadReplica& a, const ReadReplica& b) {
  if (a.log_end_offset != b.log_end_offset) return a.log_end_offset > b.log_end_offset;
  if (a.time_since_caught_up_ms != b.time_since_caught_up_ms)
    return a.time_since_caught_up_ms < b.time_since_caught_up_ms;
  return a.node_id < b.node_id;
}

}  // namespace

int32_t select_read_replica(const std::string& client_rack, const ReadReplica& leader,
                            const std::vector<ReadReplica>& followers) {
  if (client_rack.empty() || leader.rack == client_rack) return leader.node_id;
  const ReadReplica* chosen = nullptr;
  for (const ReadReplica& follower : followers)
    if (follower.rack == client_rack && (chosen == nullptr || better(follower, *chosen)))
      chosen = &follower;
  return chosen ? chosen->node_id : leader.node_id;
}

}  // namespace sluice::cluster
