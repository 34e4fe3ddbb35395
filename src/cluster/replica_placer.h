#pragma once
// Replica placement for new partitions (CreateTopics, CreatePartitions):
// Kafka's StripedReplicaPlacer. Brokers are grouped by rack; each partition
// starts at the next rack (from a random one) and takes its first replica,
// the leader, from an unfenced broker there, then one replica per rack in
// turn, so replicas alternate racks and leaders spread over brokers and
// racks. After as many partitions as there are unfenced brokers, racks and
// brokers are shuffled so the same lists do not repeat.
//
// Pure: the result depends only on the brokers and the RandomSource (a
// SeededRandom makes it reproducible). Not thread-safe; one per request.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/random.h"
#include "base/result.h"

namespace sluice::cluster {

struct UsableBroker {
  int32_t id = 0;
  std::optional<std::string> rack;
  // A fenced broker may hold a follower replica, never the first (leader).
  bool fenced = false;
};

// The checks place_replicas makes first, alone (ok or the same message).
Status check_placement(const std::vector<UsableBroker>& brokers, int32_t replication_factor);

// The replicas of `partitions` new partitions, `replication_factor` each.
// Fails (Errc::invalid_value) with Kafka's InvalidReplicationFactorException
// message: "Invalid replication factor N: the replication factor must be
// positive.", "All brokers are currently fenced.", or "The target
// replication factor of N cannot be reached because only M broker(s) are
// registered." The controller prefixes "Unable to replicate the partition N
// time(s): " and answers INVALID_REPLICATION_FACTOR.
Result<std::vector<std::vector<int32_t>>> place_replicas(RandomSource& random,
                                                         const std::vector<UsableBroker>& brokers,
                                                         int32_t partitions,
                                                         int32_t replication_factor);

}  // namespace sluice::cluster
