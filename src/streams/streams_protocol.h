#pragma once
// Kafka Streams' group protocol bytes. A Streams member joins its group
// (`application.id`) with protocol type "consumer" and protocol name
// "stream", so tools see an ordinary consumer group:
// - its JoinGroup metadata is a consumer protocol Subscription (the source
//   topics, the partitions it owns) whose user data is Kafka's
//   SubscriptionInfo, version 11:
//     version int32, latestSupportedVersion int32, processId uuid,
//     userEndPoint bytes (int32 length), taskOffsetSums [topicGroupId int32,
//     partition int32, offsetSum int64, namedTopology nullable string
//     (int16 length)], uniqueField int8, errorCode int32,
//     clientTags [key bytes, value bytes]    (arrays: int32 count)
//   an offset sum of -2 (Task.LATEST_OFFSET) marks a task running active
//   on the member; any other value is a standby's sum of changelog offsets;
// - the leader's SyncGroup assignment for it is a consumer protocol
//   Assignment (the active tasks' partitions) whose user data is Kafka's
//   AssignmentInfo, version 11:
//     version int32, commonlySupportedVersion int32,
//     activeTasks [TaskId] (one per assigned partition, in its order),
//     standbyTasks [TaskId, [topic utf, partition int32]],
//     topic dictionary [index int32, topic utf],
//     partitionsByHost [host utf, port int32, [topic index int32, partition int32]],
//     standbyPartitionsByHost (same), errorCode int32, nextRebalanceMs int64
//   where TaskId is subtopology int32, partition int32, named topology
//   int32 character count (0 here) and utf is Java's writeUTF (uint16 length).
// Big-endian throughout, as Java's DataOutputStream.

#include <compare>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/uuid.h"
#include "streams/topic_partition.h"

namespace sluice::streams {

inline constexpr int32_t kStreamsProtocolVersion = 11;  // LATEST_SUPPORTED_VERSION
inline constexpr int64_t kLatestOffset = -2;            // Task.LATEST_OFFSET: running active
inline constexpr int64_t kNoRebalance = std::numeric_limits<int64_t>::max();
inline constexpr const char* kStreamsProtocolName = "stream";

// A task: one sub-topology (Kafka's topic group) for one partition.
struct TaskId {
  int32_t subtopology = 0;
  int32_t partition = 0;
  auto operator<=>(const TaskId&) const = default;
  // Kafka's "0_1".
  std::string to_string() const;
};

// Kafka's HostInfo: an instance's `application.server`, what the host
// maps of AssignmentInfo are keyed by.
struct HostInfo {
  std::string host;
  int32_t port = 0;
  auto operator<=>(const HostInfo&) const = default;
  // Kafka's HostInfo.unavailable(): the host of a key while the metadata
  // is not known yet (during a rebalance).
  static HostInfo unavailable() { return {"unavailable", -1}; }
  std::string to_string() const { return host + ":" + std::to_string(port); }
};

// Kafka's HostInfo.buildFromEndpoint: "host:port" as Kafka's Utils.getHost
// and getPort read it (an optional "protocol://" prefix, an IPv6 host in
// brackets); nullopt for a blank endpoint; std::invalid_argument with
// Kafka's message ("Error parsing host address X. Expected format
// host:port.") for anything else, a port beyond int32 included.
std::optional<HostInfo> host_info_from_endpoint(const std::string& endpoint);

struct SubscriptionInfo {
  int32_t version = kStreamsProtocolVersion;
  int32_t latest_supported_version = kStreamsProtocolVersion;
  Uuid process_id;
  std::string user_endpoint;  // application.server, "host:port" (empty: none)
  std::map<TaskId, int64_t> task_offset_sums;
  int8_t unique_field = 0;
  int32_t error_code = 0;
  bool operator==(const SubscriptionInfo&) const = default;

  std::set<TaskId> active_tasks() const;   // offset sum kLatestOffset
  std::set<TaskId> standby_tasks() const;  // every other
};

struct AssignmentInfo {
  int32_t version = kStreamsProtocolVersion;
  int32_t commonly_supported_version = kStreamsProtocolVersion;
  std::vector<TaskId> active_tasks;  // parallel to the assignment's partitions
  std::map<TaskId, std::vector<TopicPartition>> standby_tasks;
  std::map<HostInfo, std::vector<TopicPartition>> partitions_by_host;
  std::map<HostInfo, std::vector<TopicPartition>> standby_partitions_by_host;
  int32_t error_code = 0;
  int64_t next_rebalance_ms = kNoRebalance;  // wall clock; kNoRebalance: none scheduled
  bool operator==(const AssignmentInfo&) const = default;
};

std::vector<uint8_t> encode_subscription_info(const SubscriptionInfo& info);
// Versions 10 and 11; a newer one decodes to its version fields only (a
// future member: Kafka's version probing), an older one is refused.
Result<SubscriptionInfo> decode_subscription_info(Bytes bytes);
std::vector<uint8_t> encode_assignment_info(const AssignmentInfo& info);
Result<AssignmentInfo> decode_assignment_info(Bytes bytes);

// The consumer protocol around them (ConsumerProtocolSubscription and
// ConsumerProtocolAssignment, version 1: int16 version, then the body).
struct ConsumerSubscription {
  std::vector<std::string> topics;
  std::vector<uint8_t> user_data;
  std::vector<TopicPartition> owned_partitions;
};
struct ConsumerAssignment {
  std::vector<TopicPartition> partitions;  // sorted (encoded and decoded so)
  std::vector<uint8_t> user_data;
};
std::vector<uint8_t> encode_consumer_subscription(const ConsumerSubscription& subscription);
Result<ConsumerSubscription> decode_consumer_subscription(Bytes bytes);
std::vector<uint8_t> encode_consumer_assignment(const ConsumerAssignment& assignment);
Result<ConsumerAssignment> decode_consumer_assignment(Bytes bytes);

}  // namespace sluice::streams
