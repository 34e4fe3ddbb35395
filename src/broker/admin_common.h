#pragma once
// Pieces shared by the metadata and admin handlers (metadata.cc, topics.cc,
// configs.cc, describe_cluster.cc): the brokers as a client of a given
// listener sees them, and the authorized-operations bitfields Kafka sends
// when a client asks for them (everything is allowed until ACLs exist).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cluster/metadata_image.h"

namespace sluice::broker {

// Kafka's "not requested" value of the *_authorized_operations fields.
inline constexpr int32_t authorized_operations_omitted = INT32_MIN;
// AclOperation bits: READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE,
// DESCRIBE_CONFIGS, ALTER_CONFIGS.
inline constexpr int32_t topic_authorized_operations_all =
    (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS,
// IDEMPOTENT_WRITE, CREATE_TOKENS, DESCRIBE_TOKENS.
inline constexpr int32_t cluster_authorized_operations_all =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 13) |
    (1 << 14);

struct BrokerAddress {
  int32_t node_id = 0;
  std::string host;
  int32_t port = 0;
  std::optional<std::string> rack;
};

// The unfenced brokers with their endpoint on `listener_name` (a broker
// without one is left out, as Kafka does).
std::vector<BrokerAddress> brokers_for_listener(const cluster::MetadataImage& image,
                                                const std::string& listener_name);

// The controller id Metadata and DescribeCluster give clients: in KRaft mode
// Kafka names an alive broker (clients cannot reach the quorum), -1 if none.
// The image's id when it is among `listed`, else the first listed broker: a
// node that is not yet registered (or is fenced) must not name itself, or
// librdkafka's admin client waits for a controller it cannot find.
int32_t controller_id_for_clients(const cluster::MetadataImage& image,
                                  const std::vector<BrokerAddress>& listed);

bool is_internal_topic_name(const std::string& name);

}  // namespace sluice::broker
