// KIP-951 leader hints and the error for a partition not hosted here
// (leader_hints.h).
#include "broker/leader_hints.h"

#include <map>

#include "broker/broker.h"
#include "cluster/replica_manager.h"

namespace sluice::broker {
namespace {

struct CurrentLeader {
  int32_t id = -1;
  int32_t epoch = -1;
};

// Kafka's getCurrentLeader: the hosted partition's view (a follower knows
// its leader), else the metadata image's, else none (-1, -1).
CurrentLeader current_leader(Broker& broker, const cluster::MetadataImage& image,
                             const std::string& topic, int32_t partition) {
  if (auto hosted = broker.replica_manager().partition(topic, partition))
    return {hosted->leader_id(), hosted->leader_epoch()};
  const cluster::TopicImage* known = image.topic(topic);
  const cluster::PartitionImage* state = known ? known->partition(partition) : nullptr;
  if (!state) return {};
  return {state->leader, state->leader_epoch};
}

// Kafka's getAliveBrokerNode: an unfenced broker's endpoint on the listener.
template <typename Endpoint>
void add_endpoint(const cluster::MetadataImage& image, int32_t node_id,
                  const std::string& listener_name, std::map<int32_t, Endpoint>& endpoints) {
  if (node_id < 0 || endpoints.contains(node_id)) return;
  auto found = image.brokers.find(node_id);
  if (found == image.brokers.end() || found->second.fenced) return;
  for (const cluster::BrokerEndpoint& endpoint : found->second.endpoints) {
    if (endpoint.listener_name != listener_name) continue;
    Endpoint out;
    out.node_id = node_id;
    out.host = endpoint.host;
    out.port = endpoint.port;
    out.rack = found->second.rack;
    endpoints.emplace(node_id, std::move(out));
    return;
  }
}

template <typename Endpoint>
std::vector<Endpoint> in_id_order(std::map<int32_t, Endpoint> endpoints) {
  std::vector<Endpoint> out;
  out.reserve(endpoints.size());
  for (auto& [id, endpoint] : endpoints) out.push_back(std::move(endpoint));
  return out;
}

}  // namespace

ErrorCode missing_partition_error(const cluster::MetadataImage& image, std::string_view topic,
                                  int32_t partition) {
  const cluster::TopicImage* known = image.topic(std::string(topic));
  if (known && known->partition(partition)) return ErrorCode::NOT_LEADER_OR_FOLLOWER;
  return ErrorCode::UNKNOWN_TOPIC_OR_PARTITION;
}

void add_leader_hints(Broker& broker, const std::string& listener_name, int16_t version,
                      protocol::ProduceResponse& response) {
  if (version < 10) return;
  cluster::MetadataImagePtr image = broker.replica_manager().image();
  std::map<int32_t, protocol::ProduceResponse::NodeEndpoint> endpoints;
  for (auto& topic : response.responses) {
    for (auto& partition : topic.partition_responses) {
      if (partition.error_code != to_wire(ErrorCode::NOT_LEADER_OR_FOLLOWER)) continue;
      CurrentLeader leader = current_leader(broker, *image, topic.name, partition.index);
      partition.current_leader.leader_id = leader.id;
      partition.current_leader.leader_epoch = leader.epoch;
      add_endpoint(*image, leader.id, listener_name, endpoints);
    }
  }
  response.node_endpoints = in_id_order(std::move(endpoints));
}

void add_leader_hints(Broker& broker, const std::string& listener_name, int16_t version,
                      protocol::FetchResponse& response) {
  if (version < 16) return;
  cluster::MetadataImagePtr image = broker.replica_manager().image();
  std::map<int32_t, protocol::FetchResponse::NodeEndpoint> endpoints;
  for (auto& topic : response.responses) {
    std::string name = topic.topic;
    if (name.empty()) {
      const cluster::TopicImage* known = image->topic(topic.topic_id);
      if (known) name = known->name;
    }
    for (auto& partition : topic.partitions) {
      if (partition.error_code != to_wire(ErrorCode::NOT_LEADER_OR_FOLLOWER) &&
          partition.error_code != to_wire(ErrorCode::FENCED_LEADER_EPOCH))
        continue;
      CurrentLeader leader = current_leader(broker, *image, name, partition.partition_index);
      partition.current_leader.leader_id = leader.id;
      partition.current_leader.leader_epoch = leader.epoch;
      add_endpoint(*image, leader.id, listener_name, endpoints);
    }
  }
  response.node_endpoints = in_id_order(std::move(endpoints));
}

}  // namespace sluice::broker
