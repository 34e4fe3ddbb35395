#pragma once
// KIP-392 follower fetching: Kafka's RackAwareReplicaSelector
// (replica.selector.class), as a pure function the Fetch handler calls on
// the leader for a consumer that names its rack (Fetch v11+ RackId,
// librdkafka's client.rack).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::cluster {

// A replica a consumer may read from (Kafka's ReplicaView): the leader, or
// an in-sync follower whose log reaches the fetch offset.
struct ReadReplica {
  int32_t node_id = -1;
  std::optional<std::string> rack;  // nullopt: no rack, or no endpoint for the client
  int64_t log_end_offset = -1;
  int64_t time_since_caught_up_ms = 0;
};

// Kafka's RackAwareReplicaSelector.select: no client rack, or none of the
// replicas in it: the leader; the leader in it: the leader; else the most
// caught-up replica in it (largest log end, then the most recently caught
// up; ties to the lowest id, so the choice is stable).
int32_t select_read_replica(const std::string& client_rack, const ReadReplica& leader,
                            const std::vector<ReadReplica>& followers);

}  // namespace sluice::cluster
