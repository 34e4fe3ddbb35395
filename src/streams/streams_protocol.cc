#include "streams/streams_protocol.h"

#include <algorithm>
#include <charconv>
#include <regex>
#include <stdexcept>

#include "protocol/messages/consumer_protocol_assignment.h"
#include "protocol/messages/consumer_protocol_subscription.h"

namespace sluice::streams {
namespace {

constexpr int32_t kMinDecodedSubscriptionVersion = 10;  // offset sums per task, flat
constexpr int16_t kConsumerProtocolVersion = 1;
// Bounds on counts read from a peer: nothing it sends may make us allocate
// without limit (each element takes at least this many bytes).
bool count_fits(const WireReader& reader, int32_t count, size_t element_bytes) {
  return count >= 0 && static_cast<size_t>(count) <= reader.remaining() / element_bytes;
}

void write_utf(WireWriter& out, const std::string& text) {
  out.write_uint16(static_cast<uint16_t>(std::min<size_t>(text.size(), 65535)));
  out.write_raw(std::string_view(text).substr(0, 65535));
}

std::string read_utf(WireReader& in) {
  uint16_t size = in.read_uint16();
  return std::string(in.read_string_view(size));
}

void write_task(WireWriter& out, const TaskId& task) {
  out.write_int32(task.subtopology);
  out.write_int32(task.partition);
  out.write_int32(0);  // no named topology
}

Result<TaskId> read_task(WireReader& in) {
  TaskId task;
  task.subtopology = in.read_int32();
  task.partition = in.read_int32();
  int32_t named_topology_chars = in.read_int32();
  if (!in.ok()) return in.status();
  if (named_topology_chars != 0) {
    return Status(Errc::invalid_value, "named topologies are not supported");
  }
  return task;
}

void write_partitions(WireWriter& out, const std::vector<TopicPartition>& partitions) {
  out.write_int32(static_cast<int32_t>(partitions.size()));
  for (const TopicPartition& partition : partitions) {
    write_utf(out, partition.topic);
    out.write_int32(partition.partition);
  }
}

Result<std::vector<TopicPartition>> read_partitions(WireReader& in) {
  int32_t count = in.read_int32();
  if (!in.ok()) return in.status();
  if (!count_fits(in, count, 6)) return Status(Errc::invalid_length, "partition count");
  std::vector<TopicPartition> partitions;
  for (int32_t i = 0; i < count && in.ok(); ++i) {
    TopicPartition partition;
    partition.topic = read_utf(in);
    partition.partition = in.read_int32();
    partitions.push_back(std::move(partition));
  }
  if (!in.ok()) return in.status();
  return partitions;
}

// The topic dictionary and the two host maps (AssignmentInfo 6+).
void write_host_maps(WireWriter& out, const AssignmentInfo& info) {
  std::map<std::string, int32_t> index;
  for (const auto* hosts : {&info.partitions_by_host, &info.standby_partitions_by_host}) {
    for (const auto& [host, partitions] : *hosts) {
      for (const TopicPartition& partition : partitions) {
        index.emplace(partition.topic, static_cast<int32_t>(index.size()));
      }
    }
  }
  out.write_int32(static_cast<int32_t>(index.size()));
  for (const auto& [topic, number] : index) {
    out.write_int32(number);
    write_utf(out, topic);
  }
  for (const auto* hosts : {&info.partitions_by_host, &info.standby_partitions_by_host}) {
    out.write_int32(static_cast<int32_t>(hosts->size()));
    for (const auto& [host, partitions] : *hosts) {
      write_utf(out, host.host);
      out.write_int32(host.port);
      out.write_int32(static_cast<int32_t>(partitions.size()));
      for (const TopicPartition& partition : partitions) {
        out.write_int32(index.at(partition.topic));
        out.write_int32(partition.partition);
      }
    }
  }
}

Status read_host_maps(WireReader& in, AssignmentInfo& info) {
  int32_t topics = in.read_int32();
  if (!in.ok()) return in.status();
  if (!count_fits(in, topics, 6)) return Status(Errc::invalid_length, "topic dictionary size");
  std::map<int32_t, std::string> names;
  for (int32_t i = 0; i < topics && in.ok(); ++i) {
    int32_t number = in.read_int32();
    names[number] = read_utf(in);
  }
  for (auto* hosts : {&info.partitions_by_host, &info.standby_partitions_by_host}) {
    int32_t entries = in.read_int32();
    if (!in.ok()) return in.status();
    if (!count_fits(in, entries, 10)) return Status(Errc::invalid_length, "host count");
    for (int32_t i = 0; i < entries && in.ok(); ++i) {
      HostInfo host;
      host.host = read_utf(in);
      host.port = in.read_int32();
      int32_t count = in.read_int32();
      if (!in.ok()) return in.status();
      if (!count_fits(in, count, 8)) return Status(Errc::invalid_length, "partition count");
      std::vector<TopicPartition>& partitions = (*hosts)[host];
      for (int32_t j = 0; j < count && in.ok(); ++j) {
        int32_t number = in.read_int32();
        int32_t partition = in.read_int32();
        auto name = names.find(number);
        if (name == names.end()) return Status(Errc::invalid_value, "unknown topic index");
        partitions.push_back({name->second, partition});
      }
    }
  }
  return in.status();
}

}  // namespace

std::string TaskId::to_string() const {
  return std::to_string(subtopology) + "_" + std::to_string(partition);
}

std::set<TaskId> SubscriptionInfo::active_tasks() const {
  std::set<TaskId> tasks;
  for (const auto& [task, sum] : task_offset_sums) {
    if (sum == kLatestOffset) tasks.insert(task);
  }
  return tasks;
}

std::set<TaskId> SubscriptionInfo::standby_tasks() const {
  std::set<TaskId> tasks;
  for (const auto& [task, sum] : task_offset_sums) {
    if (sum != kLatestOffset) tasks.insert(task);
  }
  return tasks;
}

std::vector<uint8_t> encode_subscription_info(const SubscriptionInfo& info) {
  WireWriter out;
  out.write_int32(kStreamsProtocolVersion);
  out.write_int32(info.latest_supported_version);
  out.write_uuid(info.process_id);
  out.write_int32(static_cast<int32_t>(info.user_endpoint.size()));
  out.write_raw(info.user_endpoint);
  out.write_int32(static_cast<int32_t>(info.task_offset_sums.size()));
  for (const auto& [task, sum] : info.task_offset_sums) {
    out.write_int32(task.subtopology);
    out.write_int32(task.partition);
    out.write_int64(sum);
    out.write_int16(-1);  // namedTopology: null
  }
  out.write_int8(info.unique_field);
  out.write_int32(info.error_code);
  out.write_int32(0);  // no client tags
  return out.to_vector();
}

Result<SubscriptionInfo> decode_subscription_info(Bytes bytes) {
  WireReader in(bytes);
  SubscriptionInfo info;
  info.version = in.read_int32();
  info.latest_supported_version = in.read_int32();
  if (!in.ok()) return in.status();
  if (info.version > kStreamsProtocolVersion) return info;  // a future member: versions only
  if (info.version < kMinDecodedSubscriptionVersion) {
    return Status(Errc::unsupported_version,
                  "subscription info version " + std::to_string(info.version));
  }
  info.process_id = in.read_uuid();
  int32_t endpoint_size = in.read_int32();
  if (!in.ok()) return in.status();
  if (endpoint_size > 0) {
    if (static_cast<size_t>(endpoint_size) > in.remaining())
      return Status(Errc::invalid_length, "user endpoint");
    info.user_endpoint = std::string(in.read_string_view(static_cast<size_t>(endpoint_size)));
  }
  int32_t tasks = in.read_int32();
  if (!in.ok()) return in.status();
  if (!count_fits(in, tasks, 18)) return Status(Errc::invalid_length, "task offset sums");
  for (int32_t i = 0; i < tasks && in.ok(); ++i) {
    TaskId task;
    task.subtopology = in.read_int32();
    task.partition = in.read_int32();
    int64_t sum = in.read_int64();
    int16_t named_topology = in.read_int16();
    if (named_topology > 0) in.skip(static_cast<size_t>(named_topology));
    info.task_offset_sums[task] = sum;
  }
  info.unique_field = in.read_int8();
  info.error_code = in.read_int32();
  if (info.version >= 11) {
    int32_t tags = in.read_int32();
    for (int32_t i = 0; i < tags && in.ok(); ++i) {
      for (int side = 0; side < 2; ++side) {  // key, value
        int32_t size = in.read_int32();
        if (size > 0) in.skip(static_cast<size_t>(size));
      }
    }
  }
  if (!in.ok()) return in.status();
  return info;
}

std::vector<uint8_t> encode_assignment_info(const AssignmentInfo& info) {
  WireWriter out;
  out.write_int32(kStreamsProtocolVersion);
  out.write_int32(info.commonly_supported_version);
  out.write_int32(static_cast<int32_t>(info.active_tasks.size()));
  for (const TaskId& task : info.active_tasks) write_task(out, task);
  out.write_int32(static_cast<int32_t>(info.standby_tasks.size()));
  for (const auto& [task, partitions] : info.standby_tasks) {
    write_task(out, task);
    write_partitions(out, partitions);
  }
  write_host_maps(out, info);
  out.write_int32(info.error_code);
  out.write_int64(info.next_rebalance_ms);
  return out.to_vector();
}

Result<AssignmentInfo> decode_assignment_info(Bytes bytes) {
  WireReader in(bytes);
  AssignmentInfo info;
  info.version = in.read_int32();
  info.commonly_supported_version = in.read_int32();
  if (!in.ok()) return in.status();
  if (info.version < 10 || info.version > kStreamsProtocolVersion) {
    return Status(Errc::unsupported_version,
                  "assignment info version " + std::to_string(info.version));
  }
  int32_t active = in.read_int32();
  if (!in.ok()) return in.status();
  if (!count_fits(in, active, 12)) return Status(Errc::invalid_length, "active task count");
  for (int32_t i = 0; i < active; ++i) {
    Result<TaskId> task = read_task(in);
    if (!task.is_ok()) return task.status();
    info.active_tasks.push_back(*task);
  }
  int32_t standby = in.read_int32();
  if (!in.ok()) return in.status();
  if (!count_fits(in, standby, 16)) return Status(Errc::invalid_length, "standby task count");
  for (int32_t i = 0; i < standby; ++i) {
    Result<TaskId> task = read_task(in);
    if (!task.is_ok()) return task.status();
    Result<std::vector<TopicPartition>> partitions = read_partitions(in);
    if (!partitions.is_ok()) return partitions.status();
    info.standby_tasks[*task] = std::move(*partitions);
  }
  if (Status hosts = read_host_maps(in, info); !hosts.is_ok()) return hosts;
  info.error_code = in.read_int32();
  info.next_rebalance_ms = in.read_int64();
  if (!in.ok()) return in.status();
  return info;
}

std::vector<uint8_t> encode_consumer_subscription(const ConsumerSubscription& subscription) {
  protocol::ConsumerProtocolSubscription message;
  message.topics = subscription.topics;
  message.user_data = subscription.user_data;
  std::map<std::string, std::vector<int32_t>> owned;
  for (const TopicPartition& partition : subscription.owned_partitions) {
    owned[partition.topic].push_back(partition.partition);
  }
  for (auto& [topic, partitions] : owned) {
    protocol::ConsumerProtocolSubscription::TopicPartition entry;
    entry.topic = topic;
    entry.partitions = std::move(partitions);
    message.owned_partitions.push_back(std::move(entry));
  }
  WireWriter out;
  out.write_int16(kConsumerProtocolVersion);
  message.encode(out, kConsumerProtocolVersion);
  return out.to_vector();
}

Result<ConsumerSubscription> decode_consumer_subscription(Bytes bytes) {
  WireReader in(bytes);
  int16_t version = in.read_int16();
  if (!in.ok()) return in.status();
  if (version < 0) return Status(Errc::unsupported_version, "consumer protocol version");
  protocol::ConsumerProtocolSubscription message;
  // Newer versions only add fields at the end: read what we know.
  if (Status decoded = message.decode(
          in, std::min(version, protocol::ConsumerProtocolSubscription::max_version));
      !decoded.is_ok()) {
    return decoded;
  }
  ConsumerSubscription subscription;
  subscription.topics = std::move(message.topics);
  subscription.user_data = message.user_data.value_or(std::vector<uint8_t>{});
  for (const auto& topic : message.owned_partitions) {
    for (int32_t partition : topic.partitions) {
      subscription.owned_partitions.push_back({topic.topic, partition});
    }
  }
  return subscription;
}

std::vector<uint8_t> encode_consumer_assignment(const ConsumerAssignment& assignment) {
  protocol::ConsumerProtocolAssignment message;
  // Sorted by topic and partition: the AssignmentInfo's active tasks are
  // parallel to that order (Kafka's PARTITION_COMPARATOR, both sides).
  std::vector<TopicPartition> sorted = assignment.partitions;
  std::sort(sorted.begin(), sorted.end());
  for (const TopicPartition& partition : sorted) {
    if (message.assigned_partitions.empty() ||
        message.assigned_partitions.back().topic != partition.topic) {
      protocol::ConsumerProtocolAssignment::TopicPartition entry;
      entry.topic = partition.topic;
      message.assigned_partitions.push_back(std::move(entry));
    }
    message.assigned_partitions.back().partitions.push_back(partition.partition);
  }
  message.user_data = assignment.user_data;
  WireWriter out;
  out.write_int16(kConsumerProtocolVersion);
  message.encode(out, kConsumerProtocolVersion);
  return out.to_vector();
}

Result<ConsumerAssignment> decode_consumer_assignment(Bytes bytes) {
  WireReader in(bytes);
  int16_t version = in.read_int16();
  if (!in.ok()) return in.status();
  if (version < 0) return Status(Errc::unsupported_version, "consumer protocol version");
  protocol::ConsumerProtocolAssignment message;
  if (Status decoded =
          message.decode(in, std::min(version, protocol::ConsumerProtocolAssignment::max_version));
      !decoded.is_ok()) {
    return decoded;
  }
  ConsumerAssignment assignment;
  for (const auto& topic : message.assigned_partitions) {
    for (int32_t partition : topic.partitions) {
      assignment.partitions.push_back({topic.topic, partition});
    }
  }
  std::sort(assignment.partitions.begin(), assignment.partitions.end());
  assignment.user_data = message.user_data.value_or(std::vector<uint8_t>{});
  return assignment;
}

std::optional<HostInfo> host_info_from_endpoint(const std::string& endpoint) {
  if (endpoint.find_first_not_of(" \t\n\r\f\v") == std::string::npos) return std::nullopt;
  // Kafka's Utils.HOST_PORT_PATTERN, matched against the whole endpoint.
  static const std::regex kHostPort(
      R"(^(?:[0-9a-zA-Z%._-]*://)?\[?([0-9a-zA-Z%._:-]*)\]?:([0-9]+)$)");
  std::smatch match;
  int32_t port = 0;
  if (std::regex_match(endpoint, match, kHostPort)) {
    const std::string digits = match[2].str();
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (error == std::errc() && end == digits.data() + digits.size()) {
      return HostInfo{match[1].str(), port};
    }
  }
  throw std::invalid_argument("Error parsing host address " + endpoint +
                              ". Expected format host:port.");
}

}  // namespace sluice::streams
