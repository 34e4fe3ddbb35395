#pragma once
// The metadata image: everything the cluster knows, as an immutable value.
//
// Handlers read the current image through a shared_ptr<const MetadataImage>
// taken once per request, so a request sees one consistent state. The image
// changes only by applying metadata records (metadata_records.h) in log
// order, which yields a new image; the one node of a single-node cluster and
// a KRaft quorum later differ only in how those records are committed.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/uuid.h"

namespace sluice::cluster {

struct BrokerEndpoint {
  std::string listener_name;
  std::string host;
  uint16_t port = 0;
};

struct BrokerImage {
  int32_t node_id = 0;
  std::optional<std::string> rack;
  std::vector<BrokerEndpoint> endpoints;
  bool fenced = false;
};

struct PartitionImage {
  int32_t partition = 0;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  int32_t leader = -1;          // -1: no leader (offline)
  int32_t leader_epoch = 0;     // bumps on every leader change
  int32_t partition_epoch = 0;  // bumps on every change of the partition
};

struct TopicImage {
  std::string name;
  Uuid id;
  std::vector<PartitionImage> partitions;  // index == partition id
  std::map<std::string, std::string> configs;  // topic-level overrides only

  const PartitionImage* partition(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= partitions.size()) return nullptr;
    return &partitions[static_cast<size_t>(id)];
  }
};

struct MetadataImage {
  std::string cluster_id;
  int32_t controller_id = -1;
  int64_t offset = -1;  // the last metadata record applied
  std::map<int32_t, BrokerImage> brokers;
  std::map<std::string, TopicImage> topics;  // by name
  std::map<Uuid, std::string> topic_names;   // by id
  std::map<std::string, std::string> broker_configs;  // dynamic cluster-wide overrides

  const TopicImage* topic(const std::string& name) const {
    auto found = topics.find(name);
    return found == topics.end() ? nullptr : &found->second;
  }
  const TopicImage* topic(const Uuid& id) const {
    auto found = topic_names.find(id);
    return found == topic_names.end() ? nullptr : topic(found->second);
  }
};

using MetadataImagePtr = std::shared_ptr<const MetadataImage>;

}  // namespace sluice::cluster
