#pragma once
// Where an application's stores live across its instances (Kafka's
// StreamsMetadataState, StreamsMetadata and KeyQueryMetadata): every
// instance started with `application.server` = host:port sends it in its
// subscription; the group leader puts into every member's AssignmentInfo
// the input partitions each host runs (partitions_by_host) and keeps
// standby copies of (standby_partitions_by_host); each instance keeps the
// latest of those maps here. From them and the topology (which source
// topics feed which store) it answers which hosts have a store, and on
// which host, and partition, a key of a store lives: the default
// partitioner's partition (murmur2 of the key's bytes, as the producers
// wrote the store's input) of the store's source topic with the most
// partitions.
//
// Threads: stream threads call on_change() after each assignment, any
// thread queries; one lock guards the state.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "streams/streams_protocol.h"
#include "streams/topic_partition.h"

namespace sluice::streams {

// Kafka's StreamsMetadata: one instance (client) of the application.
struct StreamsMetadata {
  HostInfo host_info;
  std::set<std::string> state_store_names;  // of its active tasks (and every global store)
  std::set<TopicPartition> topic_partitions;
  std::set<std::string> standby_state_store_names;
  std::set<TopicPartition> standby_topic_partitions;
  bool operator==(const StreamsMetadata&) const = default;
};

// Kafka's KeyQueryMetadata: the host running the key's task, those keeping
// standby copies of it, and its partition.
struct KeyQueryMetadata {
  HostInfo active_host;
  std::set<HostInfo> standby_hosts;
  int32_t partition = -1;
  bool operator==(const KeyQueryMetadata&) const = default;
  // Kafka's KeyQueryMetadata.NOT_AVAILABLE: no assignment with hosts yet.
  static KeyQueryMetadata not_available() { return {HostInfo::unavailable(), {}, -1}; }
};

// A key's partition among `num_partitions` of `topic` (Kafka's
// StreamPartitioner#partitions with a null value): nullopt or anything but
// one partition is refused.
using KeyPartitions = std::function<std::optional<std::set<int32_t>>(const std::string& topic,
                                                                     int32_t num_partitions)>;

class StreamsMetadataState {
 public:
  // `store_source_topics`: each (non-global) store's source topics, as the
  // topology feeds it (changelogs are not sources); `global_stores` are on
  // every instance; `this_host`: this instance's application.server
  // (nullopt: none, Kafka's UNKNOWN_HOST).
  StreamsMetadataState(std::map<std::string, std::set<std::string>> store_source_topics,
                       std::set<std::string> global_stores, std::optional<HostInfo> this_host);

  // An assignment's host maps (Kafka's onChange): the metadata is rebuilt.
  void on_change(const std::map<HostInfo, std::vector<TopicPartition>>& active,
                 const std::map<HostInfo, std::vector<TopicPartition>>& standby);

  // Every instance with an endpoint, ordered by host then port (Kafka's
  // allMetadata); empty before an assignment.
  std::vector<StreamsMetadata> all_metadata() const;
  // Those with `store` active or standby (every one for a global store);
  // empty before an assignment or for a store no source feeds.
  std::vector<StreamsMetadata> all_metadata_for_store(const std::string& store) const;
  // This instance's, once an assignment came (Kafka's getLocalMetadata).
  std::optional<StreamsMetadata> local_metadata() const;
  // Kafka's keyQueryMetadataForKey: not_available() before an assignment
  // with hosts, nullopt (Kafka's null) for a store no source feeds; for a
  // global store this host (partition -1). Throws std::invalid_argument
  // when `partitions` gives no single partition.
  std::optional<KeyQueryMetadata> key_query_metadata(const std::string& store,
                                                     const KeyPartitions& partitions) const;

 private:
  bool initialized() const;
  std::set<std::string> stores_on(const std::set<TopicPartition>& partitions) const;

  const std::map<std::string, std::set<std::string>> store_source_topics_;
  const std::set<std::string> global_stores_;
  const HostInfo this_host_;
  mutable std::mutex mutex_;
  std::vector<StreamsMetadata> all_metadata_;
  std::map<std::string, int32_t> partitions_by_topic_;  // partition counts the active map shows
  std::optional<StreamsMetadata> local_metadata_;
};

}  // namespace sluice::streams
