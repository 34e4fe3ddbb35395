#pragma once
// What a client is told when this broker cannot serve a partition (issue 16,
// point 2), so that it finds the leader as it does with Kafka:
// - missing_partition_error: Kafka's ReplicaManager.getPartitionOrError for a
//   partition this broker does not host;
// - KIP-951: Produce v10+ and Fetch v16+ answers whose partition error is
//   NOT_LEADER_OR_FOLLOWER (Fetch: or FENCED_LEADER_EPOCH) carry the current
//   leader and epoch, and the response the leaders' endpoints on the
//   request's listener, so a client moves at once, without a Metadata round
//   (Kafka's KafkaApis.getCurrentLeader).
// Called on whichever thread answers (a reactor, an append lane, a
// fetch-read worker): they read the applied metadata image and the
// partition table, both immutable snapshots.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error_code.h"
#include "cluster/metadata_image.h"
#include "protocol/messages.h"

namespace sluice::broker {

class Broker;

// NOT_LEADER_OR_FOLLOWER when the metadata knows the partition (another
// broker holds it: the client looks again), else UNKNOWN_TOPIC_OR_PARTITION.
ErrorCode missing_partition_error(const cluster::MetadataImage& image, std::string_view topic,
                                  int32_t partition);

// Produce v10+: fills CurrentLeader of each NOT_LEADER_OR_FOLLOWER
// partition and NodeEndpoints; older versions are left as they are.
void add_leader_hints(Broker& broker, const std::string& listener_name, int16_t version,
                      protocol::ProduceResponse& response);
// Fetch v16+ (consumers and followers): the same for NOT_LEADER_OR_FOLLOWER
// and FENCED_LEADER_EPOCH. Topics are named by name, or by id when the
// name is empty (v13+ requests).
void add_leader_hints(Broker& broker, const std::string& listener_name, int16_t version,
                      protocol::FetchResponse& response);

}  // namespace sluice::broker
