#include "streams/streams_metadata.h"

#include <stdexcept>
#include <utility>

namespace sluice::streams {

StreamsMetadataState::StreamsMetadataState(
    std::map<std::string, std::set<std::string>> store_source_topics,
    std::set<std::string> global_stores, std::optional<HostInfo> this_host)
    : store_source_topics_(std::move(store_source_topics)),
      global_stores_(std::move(global_stores)),
      this_host_(this_host.value_or(HostInfo::unavailable())) {}

// The stores fed by any of `partitions`' topics (Kafka's getStoresOnHost).
std::set<std::string> StreamsMetadataState::stores_on(
    const std::set<TopicPartition>& partitions) const {
  std::set<std::string> stores;
  for (const auto& [store, topics] : store_source_topics_) {
    for (const TopicPartition& partition : partitions) {
      if (topics.count(partition.topic) != 0) {
        stores.insert(store);
        break;
      }
    }
  }
  return stores;
}

void StreamsMetadataState::on_change(
    const std::map<HostInfo, std::vector<TopicPartition>>& active,
    const std::map<HostInfo, std::vector<TopicPartition>>& standby) {
  std::set<HostInfo> hosts;  // ordered by host, then port: Kafka's order
  for (const auto& [host, partitions] : active) hosts.insert(host);
  for (const auto& [host, partitions] : standby) hosts.insert(host);
  std::vector<StreamsMetadata> rebuilt;
  std::optional<StreamsMetadata> local;
  for (const HostInfo& host : hosts) {
    StreamsMetadata metadata;
    metadata.host_info = host;
    if (auto found = active.find(host); found != active.end()) {
      metadata.topic_partitions.insert(found->second.begin(), found->second.end());
      metadata.state_store_names = stores_on(metadata.topic_partitions);
    }
    metadata.state_store_names.insert(global_stores_.begin(), global_stores_.end());
    if (auto found = standby.find(host); found != standby.end()) {
      metadata.standby_topic_partitions.insert(found->second.begin(), found->second.end());
      metadata.standby_state_store_names = stores_on(metadata.standby_topic_partitions);
    }
    if (host == this_host_) local = metadata;
    rebuilt.push_back(std::move(metadata));
  }
  // Kafka's partitionsByTopic comes from the active map (no other topic
  // metadata reaches the assignment): a topic counts the partitions it shows.
  std::map<std::string, std::set<int32_t>> partitions_seen;
  for (const auto& [host, partitions] : active) {
    for (const TopicPartition& partition : partitions)
      partitions_seen[partition.topic].insert(partition.partition);
  }
  std::map<std::string, int32_t> counts;
  for (const auto& [topic, partitions] : partitions_seen)
    counts[topic] = static_cast<int32_t>(partitions.size());
  // Without hosts, this instance is known with nothing on it (Kafka's rule).
  if (hosts.empty()) local = StreamsMetadata{this_host_, {}, {}, {}, {}};

  std::lock_guard lock(mutex_);
  all_metadata_ = std::move(rebuilt);
  partitions_by_topic_ = std::move(counts);
  // Kafka's localMetadata is only ever replaced, never cleared.
  if (local) local_metadata_ = std::move(local);
}

bool StreamsMetadataState::initialized() const {
  return !partitions_by_topic_.empty() && local_metadata_.has_value();
}

std::vector<StreamsMetadata> StreamsMetadataState::all_metadata() const {
  std::lock_guard lock(mutex_);
  return all_metadata_;
}

std::vector<StreamsMetadata> StreamsMetadataState::all_metadata_for_store(
    const std::string& store) const {
  std::lock_guard lock(mutex_);
  if (!initialized()) return {};
  if (global_stores_.count(store) != 0) return all_metadata_;
  if (store_source_topics_.count(store) == 0) return {};
  std::vector<StreamsMetadata> found;
  for (const StreamsMetadata& metadata : all_metadata_) {
    if (metadata.state_store_names.count(store) != 0 ||
        metadata.standby_state_store_names.count(store) != 0) {
      found.push_back(metadata);
    }
  }
  return found;
}

std::optional<StreamsMetadata> StreamsMetadataState::local_metadata() const {
  std::lock_guard lock(mutex_);
  return local_metadata_;
}

std::optional<KeyQueryMetadata> StreamsMetadataState::key_query_metadata(
    const std::string& store, const KeyPartitions& partitions) const {
  std::lock_guard lock(mutex_);
  if (!initialized()) return KeyQueryMetadata::not_available();
  if (global_stores_.count(store) != 0) {
    // On every instance; without an endpoint of its own, the first one.
    if (this_host_ == HostInfo::unavailable())
      return KeyQueryMetadata{all_metadata_.front().host_info, {}, -1};
    return KeyQueryMetadata{local_metadata_->host_info, {}, -1};
  }
  auto sources = store_source_topics_.find(store);
  if (sources == store_source_topics_.end() || sources->second.empty()) return std::nullopt;
  // Kafka's SourceTopicsInfo: the source topic with the most partitions.
  std::string widest_topic;
  int32_t max_partitions = 0;
  for (const std::string& topic : sources->second) {
    auto count = partitions_by_topic_.find(topic);
    if (count != partitions_by_topic_.end() && count->second > max_partitions) {
      max_partitions = count->second;
      widest_topic = topic;
    }
  }
  // No partition of its sources on a known host (their tasks run on
  // instances without application.server): nowhere to point at (Kafka's
  // partitioner would divide by zero).
  if (max_partitions == 0) return KeyQueryMetadata::not_available();
  std::optional<std::set<int32_t>> chosen = partitions(widest_topic, max_partitions);
  if (!chosen || chosen->size() != 1) {
    throw std::invalid_argument(
        "The partitions returned by StreamPartitioner#partitions method when used for fetching "
        "KeyQueryMetadata for key should be a singleton set");
  }
  const int32_t partition = *chosen->begin();
  KeyQueryMetadata result{HostInfo::unavailable(), {}, partition};
  for (const StreamsMetadata& metadata : all_metadata_) {
    auto holds = [&](const std::set<TopicPartition>& held) {
      for (const std::string& topic : sources->second) {
        if (held.count(TopicPartition{topic, partition}) != 0) return true;
      }
      return false;
    };
    if (metadata.state_store_names.count(store) != 0 && holds(metadata.topic_partitions)) {
      result.active_host = metadata.host_info;
    }
    if (metadata.standby_state_store_names.count(store) != 0 &&
        holds(metadata.standby_topic_partitions)) {
      result.standby_hosts.insert(metadata.host_info);
    }
  }
  return result;
}

}  // namespace sluice::streams
