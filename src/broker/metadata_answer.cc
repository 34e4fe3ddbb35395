#include "broker/metadata_answer.h"

#include "base/error_code.h"
#include "broker/admin_common.h"

namespace sluice::broker {

using protocol::MetadataResponse;

MetadataResponse::MetadataResponseTopic describe_topic(const cluster::MetadataImage& image,
                                                       const cluster::TopicImage& topic) {
  MetadataResponse::MetadataResponseTopic out;
  out.name = topic.name;
  out.topic_id = topic.id;
  out.is_internal = is_internal_topic_name(topic.name);
  out.topic_authorized_operations = authorized_operations_omitted;
  out.partitions.reserve(topic.partitions.size());
  for (const cluster::PartitionImage& partition : topic.partitions) {
    MetadataResponse::MetadataResponsePartition p;
    p.partition_index = partition.partition;
    p.leader_id = partition.leader;
    p.leader_epoch = partition.leader_epoch;
    p.replica_nodes = partition.replicas;
    p.isr_nodes = partition.isr;
    for (int32_t replica : partition.replicas) {
      auto broker = image.brokers.find(replica);
      if (broker == image.brokers.end() || broker->second.fenced)
        p.offline_replicas.push_back(replica);
    }
    if (partition.leader < 0) p.error_code = to_wire(ErrorCode::LEADER_NOT_AVAILABLE);
    out.partitions.push_back(std::move(p));
  }
  return out;
}

namespace {

// What follows the cached part of a topic's entry: topic_authorized_operations
// (v8+, int32) and the entry's tagged fields (flexible versions, v9+: none,
// one byte).
size_t topic_tail_size(int16_t version) { return (version >= 8 ? 4 : 0) + (version >= 9 ? 1 : 0); }

void write_topic_tail(WireWriter& writer, int16_t version, int32_t authorized_operations) {
  if (version >= 8) writer.write_int32(authorized_operations);
  if (version >= 9) protocol::wire::write_tagged_fields(writer, {});
}

}  // namespace

EncodedTopicPart encode_topic_part(const cluster::MetadataImage& image,
                                   const cluster::TopicImage& topic, int16_t version) {
  WireWriter writer;
  MetadataResponse::MetadataResponseTopic described = describe_topic(image, topic);
  writer.reserve(described.size(version));
  described.encode(writer, version);
  std::vector<uint8_t> bytes = writer.to_vector();
  bytes.resize(bytes.size() - topic_tail_size(version));
  return std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
}

EncodedTopicPart TopicPartCache::part(const cluster::MetadataImagePtr& image,
                                      const cluster::TopicImage& topic, int16_t version) {
  const std::pair<const cluster::TopicImage*, int16_t> key{&topic, version};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!use_image(image)) return encode_topic_part(*image, topic, version);
    if (auto found = parts_.find(key); found != parts_.end()) return found->second;
  }
  // Encoded unlocked (milliseconds for 10,000 partitions); two threads may
  // both encode a missing part, the same bytes.
  EncodedTopicPart encoded = encode_topic_part(*image, topic, version);
  std::lock_guard<std::mutex> lock(mutex_);
  if (image_.lock() == image) parts_.emplace(key, encoded);
  return encoded;
}

bool TopicPartCache::use_image(const cluster::MetadataImagePtr& image) {
  cluster::MetadataImagePtr cached = image_.lock();
  if (cached == image) return true;
  // Images only move forward; one a late request still holds does not evict
  // the current one's parts.
  if (cached != nullptr && cached->offset > image->offset) return false;
  parts_.clear();
  image_ = image;
  return true;
}

size_t TopicPartCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return parts_.size();
}

void MetadataAnswer::add_topic(EncodedTopicPart part, int32_t authorized_operations) {
  Topic& topic = topics.emplace_back();
  topic.part = std::move(part);
  topic.authorized_operations = authorized_operations;
}

void MetadataAnswer::add_error(MetadataResponse::MetadataResponseTopic error) {
  topics.emplace_back().error = std::move(error);
}

// As MetadataResponse::encode (generated from its schema), with the topics
// written from their parts.
void MetadataAnswer::encode(WireWriter& writer, int16_t version) const {
  namespace wire = protocol::wire;
  SLUICE_ASSERT(
      version >= MetadataResponse::min_version && version <= MetadataResponse::max_version,
      "MetadataAnswer: encoding a version outside validVersions");
  const bool flexible = version >= 9;
  if (version >= 3) wire::write(writer, throttle_time_ms, {version, flexible, false});
  wire::write(writer, head.brokers, {version, flexible, false});
  if (version >= 2) wire::write(writer, head.cluster_id, {version, flexible, true});
  if (version >= 1) wire::write(writer, head.controller_id, {version, flexible, false});
  wire::write_length(writer, static_cast<int64_t>(topics.size()), wire::LengthWidth::int32,
                     flexible);
  for (const Topic& topic : topics) {
    if (topic.part == nullptr) {
      topic.error.encode(writer, version);
      continue;
    }
    writer.write_external(Bytes(topic.part->data(), topic.part->size()));
    write_topic_tail(writer, version, topic.authorized_operations);
  }
  if (version >= 8 && version <= 10)
    wire::write(writer, head.cluster_authorized_operations, {version, flexible, false});
  if (flexible) wire::write_tagged_fields(writer, head.unknown_tagged_fields);
}

size_t MetadataAnswer::size(int16_t version) const {
  namespace wire = protocol::wire;
  const bool flexible = version >= 9;
  size_t total = 0;
  if (version >= 3) total += 4;
  total += wire::size(head.brokers, {version, flexible, false});
  if (version >= 2) total += wire::size(head.cluster_id, {version, flexible, true});
  if (version >= 1) total += 4;
  total +=
      wire::length_size(static_cast<int64_t>(topics.size()), wire::LengthWidth::int32, flexible);
  for (const Topic& topic : topics)
    total += topic.part == nullptr ? topic.error.size(version)
                                   : topic.part->size() + topic_tail_size(version);
  if (version >= 8 && version <= 10) total += 4;
  if (flexible) total += wire::tagged_fields_size(head.unknown_tagged_fields);
  return total;
}

std::vector<std::shared_ptr<const void>> MetadataAnswer::keep_alive() const {
  std::vector<std::shared_ptr<const void>> out;
  for (const Topic& topic : topics)
    if (topic.part != nullptr && topic.part->size() >= WireWriter::external_threshold_bytes)
      out.push_back(topic.part);
  return out;
}

}  // namespace sluice::broker
