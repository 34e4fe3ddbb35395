#pragma once
// The metadata image: everything the cluster knows, as an immutable value.
//
// Handlers read the current image through a shared_ptr<const MetadataImage>
// taken once per request, so a request sees one consistent state. The image
// changes only by applying metadata records (protocol/metadata_records.h,
// framed as in protocol/record_framing.h) in log order: apply_record()
// mutates a private copy, which is then published as the new image. The one
// node of a single-node cluster and a KRaft quorum later differ only in how
// those records are committed.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/uuid.h"

namespace sluice::cluster {

struct BrokerEndpoint {
  std::string listener_name;
  std::string host;
  uint16_t port = 0;
  int16_t security_protocol = 0;  // 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL
};

struct BrokerImage {
  int32_t node_id = 0;
  int64_t epoch = 0;  // the metadata offset of its registration
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

// Partition ids of a topic are 0 .. partitions_per_topic_max - 1: a
// PartitionRecord beyond is refused (a corrupt id must not size a vector of
// billions), and the controller refuses to grow a topic past it.
inline constexpr int32_t partitions_per_topic_max = 1'000'000;

// ConfigRecord resource types (Kafka's ConfigResource.Type).
inline constexpr int8_t config_resource_topic = 2;
inline constexpr int8_t config_resource_broker = 4;

struct MetadataImage {
  std::string cluster_id;
  int32_t controller_id = -1;
  int64_t offset = -1;  // the last metadata record applied
  std::map<int32_t, BrokerImage> brokers;
  std::map<std::string, TopicImage> topics;  // by name
  std::map<Uuid, std::string> topic_names;   // by id
  // Dynamic broker configs by resource name: "" is the cluster-wide
  // default, "<node id>" one broker's own.
  std::map<std::string, std::map<std::string, std::string>> broker_configs;
  std::map<std::string, int16_t> features;  // FeatureLevelRecord (metadata.version, ...)

  const TopicImage* topic(const std::string& name) const {
    auto found = topics.find(name);
    return found == topics.end() ? nullptr : &found->second;
  }
  const TopicImage* topic(const Uuid& id) const {
    auto found = topic_names.find(id);
    return found == topic_names.end() ? nullptr : topic(found->second);
  }
  // The dynamic value of a broker config for `node_id`: the broker's own,
  // else the cluster default; nullopt if neither is set.
  std::optional<std::string> dynamic_broker_config(int32_t node_id, const std::string& name) const;
};

using MetadataImagePtr = std::shared_ptr<const MetadataImage>;

// Applies one framed metadata record (the value of a metadata log record)
// at `offset`. Record types the image does not track (ACLs, quotas, SCRAM,
// producer ids, ...) are accepted and skipped. A record that does not decode,
// or that contradicts the image (a partition of an unknown topic), is an
// error: the image is then unchanged except for records applied before.
Status apply_record(MetadataImage& image, Bytes framed_value, int64_t offset);

}  // namespace sluice::cluster
