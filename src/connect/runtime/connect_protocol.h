#pragma once
// Kafka Connect's group protocol bytes (IncrementalCooperativeConnectProtocol,
// protocols "sessioned" (version 2) and "compatible" (version 1); the eager
// protocol is not offered). A member's JoinGroup metadata:
//   Version int16, Url string, ConfigOffset int64, Allocation nullable bytes
// where Allocation is the member's current assignment in the assignment
// layout; the leader's SyncGroup assignment for each member:
//   Version int16, Error int16, Leader string, LeaderUrl string,
//   ConfigOffset int64, Assignment [Connector string, Tasks [int32]] (nullable),
//   Revoked [same] (nullable), ScheduledDelay int32
// Strings are int16 length + bytes, arrays int32 count (-1: null), big-endian.
// Task -1 in a connector's list stands for the Connector object itself.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sluice::connect {

inline constexpr int16_t kConnectProtocolCompatible = 1;
inline constexpr int16_t kConnectProtocolSessioned = 2;
inline constexpr int32_t kConnectorTask = -1;  // Kafka's CONNECTOR_TASK sentinel
// Kafka's ConnectProtocol.Assignment error codes.
inline constexpr int16_t kAssignmentNoError = 0;
inline constexpr int16_t kAssignmentConfigMismatch = 1;

// What a member runs (or is told to start or stop): connector names and
// (connector, task) pairs.
struct Allocation {
  std::set<std::string> connectors;
  std::set<std::pair<std::string, int>> tasks;
  bool empty() const { return connectors.empty() && tasks.empty(); }
  size_t size() const { return connectors.size() + tasks.size(); }
  bool operator==(const Allocation&) const = default;
};

struct ConnectAssignment {
  int16_t version = kConnectProtocolSessioned;
  int16_t error = kAssignmentNoError;
  std::string leader;
  std::string leader_url;
  int64_t config_offset = -1;
  Allocation assigned;
  Allocation revoked;
  int32_t delay_ms = 0;
  bool operator==(const ConnectAssignment&) const = default;
};

struct WorkerMetadata {
  int16_t version = kConnectProtocolSessioned;
  std::string url;
  int64_t config_offset = -1;
  // The member's current assignment as it last knew it (nullopt: none yet).
  std::optional<ConnectAssignment> allocation;
  bool operator==(const WorkerMetadata&) const = default;
};

std::vector<uint8_t> encode_assignment(const ConnectAssignment& assignment);
Result<ConnectAssignment> decode_assignment(const std::vector<uint8_t>& bytes);
std::vector<uint8_t> encode_metadata(const WorkerMetadata& metadata);
Result<WorkerMetadata> decode_metadata(const std::vector<uint8_t>& bytes);

}  // namespace sluice::connect
