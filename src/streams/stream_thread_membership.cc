#include "streams/stream_thread_membership.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>

namespace sluice::streams {
namespace {

// The assignment protocol's name in JoinGroup (Kafka's StreamsPartitionAssignor).
constexpr const char* kStreamsProtocol = "stream";

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string hex(const Uuid& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (uint8_t byte : id.bytes) {
    text += kDigits[byte >> 4];
    text += kDigits[byte & 15];
  }
  return text;
}

std::string describe(const std::set<TaskId>& tasks) {
  std::string text = "[";
  for (const TaskId& task : tasks) text += (text.size() > 1 ? ", " : "") + task.to_string();
  return text + "]";
}

std::chrono::milliseconds consumer_setting_ms(const StreamsConfig& config, const std::string& name,
                                              int64_t fallback) {
  auto found = config.consumer.find(name);
  if (found == config.consumer.end()) return std::chrono::milliseconds(fallback);
  try {
    return std::chrono::milliseconds(std::stoll(found->second));
  } catch (const std::exception&) {
    throw std::invalid_argument("Invalid value " + found->second + " for configuration " + name +
                                ": Not a number of type INT");
  }
}

// The member's application.server; one that is not host:port (a member
// configured elsewhere, unchecked) is left out with a warning, where
// Kafka's leader would fail.
std::optional<HostInfo> client_host(const SubscriptionInfo& info, const std::string& member_id) {
  try {
    return host_info_from_endpoint(info.user_endpoint);
  } catch (const std::invalid_argument& e) {
    spdlog::warn("member {}: {}; its host is left out of the assignment", member_id, e.what());
    return std::nullopt;
  }
}

}  // namespace

HostPartitions partitions_by_host(const std::map<std::string, HostInfo>& host_of_client,
                                  const AssignorInput& input, const AssignorOutput& output,
                                  const TaskLayout& layout) {
  std::map<HostInfo, std::set<TopicPartition>> active;
  std::map<HostInfo, std::set<TopicPartition>> standby;
  auto add_inputs = [&](std::set<TopicPartition>& into, const std::set<TaskId>& tasks) {
    for (const TaskId& task : tasks) {
      for (TopicPartition& partition : layout.input_partitions(task)) into.insert(partition);
    }
  };
  for (const auto& [process, host] : host_of_client) {
    auto client = input.clients.find(process);
    if (client == input.clients.end()) continue;
    std::set<TopicPartition>& host_active = active[host];
    std::set<TopicPartition>& host_standby = standby[host];
    for (const AssignorMember& member : client->second.members) {
      auto tasks = output.members.find(member.member_id);
      if (tasks == output.members.end()) continue;
      add_inputs(host_active, tasks->second.active);
      add_inputs(host_standby, tasks->second.standby);
    }
  }
  HostPartitions maps;
  for (auto& [host, partitions] : active)
    maps.active[host].assign(partitions.begin(), partitions.end());
  for (auto& [host, partitions] : standby)
    maps.standby[host].assign(partitions.begin(), partitions.end());
  return maps;
}

MembershipSettings membership_settings(const StreamsConfig& config, const std::string& client_id,
                                       const Uuid& process_id) {
  MembershipSettings settings;
  settings.group.bootstrap = net::parse_bootstrap_servers(config.bootstrap_servers);
  settings.group.group_id = config.application_id;
  settings.group.client_id = client_id + "-consumer";
  // Kafka Streams' assignor runs on the consumer protocol under its own name.
  settings.group.protocol_type = "consumer";
  settings.group.thread_name = "streams-group";
  settings.group.session_timeout = consumer_setting_ms(config, "session.timeout.ms", 45'000);
  // A long restore or a slow record must not cost the membership: Kafka's
  // consumer heartbeats from a thread of its own.
  settings.group.background_heartbeat_interval =
      consumer_setting_ms(config, "heartbeat.interval.ms", 3'000);
  settings.group.rebalance_timeout = consumer_setting_ms(config, "max.poll.interval.ms", 300'000);
  settings.assignor.num_standby_replicas = config.num_standby_replicas;
  settings.assignor.max_warmup_replicas = config.max_warmup_replicas;
  settings.assignor.acceptable_recovery_lag = config.acceptable_recovery_lag;
  settings.process_id = process_id;
  settings.probing_rebalance_interval = config.probing_rebalance_interval;
  settings.user_endpoint = config.application_server;
  settings.log_prefix = "stream-thread [" + client_id + "]";
  return settings;
}

std::set<TaskId> TaskLayout::all_tasks() const {
  std::set<TaskId> tasks;
  for (size_t s = 0; s < subtopologies.size(); ++s) {
    for (int p = 0; p < subtopologies[s].tasks; ++p) tasks.insert({static_cast<int32_t>(s), p});
  }
  return tasks;
}

std::set<TaskId> TaskLayout::stateful_tasks() const {
  std::set<TaskId> tasks;
  for (size_t s = 0; s < subtopologies.size(); ++s) {
    if (subtopologies[s].changelog_topics.empty()) continue;
    for (int p = 0; p < subtopologies[s].tasks; ++p) tasks.insert({static_cast<int32_t>(s), p});
  }
  return tasks;
}

std::vector<TopicPartition> TaskLayout::input_partitions(const TaskId& task) const {
  std::vector<TopicPartition> partitions;
  if (task.subtopology < 0 || static_cast<size_t>(task.subtopology) >= subtopologies.size())
    return partitions;
  for (const std::string& topic : subtopologies[task.subtopology].source_topics) {
    auto count = topic_partitions.find(topic);
    if (count != topic_partitions.end() && task.partition < count->second) {
      partitions.push_back({topic, task.partition});
    }
  }
  return partitions;
}

std::vector<TopicPartition> TaskLayout::changelog_partitions(const TaskId& task) const {
  std::vector<TopicPartition> partitions;
  if (task.subtopology < 0 || static_cast<size_t>(task.subtopology) >= subtopologies.size())
    return partitions;
  for (const std::string& topic : subtopologies[task.subtopology].changelog_topics) {
    partitions.push_back({topic, task.partition});
  }
  return partitions;
}

std::vector<std::string> TaskLayout::source_topics() const {
  std::set<std::string> topics;
  for (const SubtopologyLayout& subtopology : subtopologies) {
    topics.insert(subtopology.source_topics.begin(), subtopology.source_topics.end());
  }
  return {topics.begin(), topics.end()};
}

StreamThreadMembership::StreamThreadMembership(MembershipSettings settings, TaskLayout layout,
                                               EndOffsets end_offsets)
    : settings_(std::move(settings)),
      layout_(std::move(layout)),
      end_offsets_(std::move(end_offsets)),
      member_(settings_.group) {}

bool StreamThreadMembership::rejoin_needed() const {
  return !joined_ || rejoin_requested_ || member_.rejoin_needed() ||
         (next_rebalance_ms_ != kNoRebalance && wall_clock_ms() >= next_rebalance_ms_);
}

std::vector<uint8_t> StreamThreadMembership::subscription(const ThreadTasks& owned) const {
  SubscriptionInfo info;
  info.process_id = settings_.process_id;
  info.user_endpoint = settings_.user_endpoint;
  for (const TaskId& task : owned.active) info.task_offset_sums[task] = kLatestOffset;
  for (const auto& [task, sum] : owned.standby_offset_sums) {
    if (owned.active.count(task) == 0) info.task_offset_sums[task] = sum;
  }
  ConsumerSubscription consumer;
  consumer.topics = layout_.source_topics();
  consumer.user_data = encode_subscription_info(info);
  for (const TaskId& task : owned.active) {
    for (TopicPartition& partition : layout_.input_partitions(task)) {
      consumer.owned_partitions.push_back(std::move(partition));
    }
  }
  return encode_consumer_subscription(consumer);
}

Result<ThreadAssignment> StreamThreadMembership::rebalance(const ThreadTasks& owned) {
  joined_ = false;
  rejoin_requested_ = false;
  next_rebalance_ms_ = kNoRebalance;
  const std::vector<net::GroupMember::Protocol> protocols = {
      net::GroupMember::Protocol{kStreamsProtocol, subscription(owned)}};
  auto joined =
      member_.join(protocols, [this](const std::string& /*protocol*/,
                                     const std::vector<net::GroupMember::JoinedMember>& members) {
        return assign(members, wall_clock_ms());
      });
  if (!joined.is_ok()) return joined.status();
  Result<ConsumerAssignment> consumer = decode_consumer_assignment(joined->assignment);
  if (!consumer.is_ok()) return consumer.status();
  Result<AssignmentInfo> info = decode_assignment_info(consumer->user_data);
  if (!info.is_ok()) return info.status();
  if (info->error_code != 0) {
    return Status(Errc::invalid_value,
                  "the leader refused the assignment: error " + std::to_string(info->error_code));
  }
  ThreadAssignment assignment;
  assignment.generation = joined->generation;
  assignment.partitions = consumer->partitions;
  assignment.active.insert(info->active_tasks.begin(), info->active_tasks.end());
  for (const auto& [task, partitions] : info->standby_tasks) assignment.standby.insert(task);
  assignment.next_rebalance_ms = info->next_rebalance_ms;
  assignment.partitions_by_host = std::move(info->partitions_by_host);
  assignment.standby_partitions_by_host = std::move(info->standby_partitions_by_host);
  assignment.previous_tasks_lost =
      last_generation_ >= 0 && joined->generation != last_generation_ + 1;
  last_generation_ = joined->generation;
  next_rebalance_ms_ = info->next_rebalance_ms;
  joined_ = true;
  return assignment;
}

std::map<std::string, std::vector<uint8_t>> StreamThreadMembership::assign(
    const std::vector<net::GroupMember::JoinedMember>& members, int64_t now_ms) {
  AssignorInput input;
  input.tasks = layout_.all_tasks();
  input.stateful_tasks = layout_.stateful_tasks();
  std::map<std::string, std::map<TaskId, int64_t>> offset_sums;  // process -> task -> sum
  std::map<std::string, HostInfo> host_of_client;                // process -> application.server
  std::string own_process = hex(settings_.process_id);
  for (const auto& member : members) {
    std::string process = "member-" + member.id;  // a member we cannot read: a client alone
    AssignorMember entry{member.id, {}, {}};
    Result<ConsumerSubscription> consumer = decode_consumer_subscription(member.metadata);
    Result<SubscriptionInfo> info = consumer.is_ok() ? decode_subscription_info(consumer->user_data)
                                                     : Result<SubscriptionInfo>(consumer.status());
    if (info.is_ok()) {
      process = hex(info->process_id);
      if (std::optional<HostInfo> host = client_host(*info, member.id)) {
        host_of_client[process] = *host;
      }
      entry.previous_active = info->active_tasks();
      entry.previous_standby = info->standby_tasks();
      for (const auto& [task, sum] : info->task_offset_sums) {
        if (sum == kLatestOffset) continue;
        auto& known = offset_sums[process];
        auto found = known.find(task);
        if (found == known.end() || sum > found->second) known[task] = sum;
      }
    } else {
      spdlog::warn("{}: the subscription of member {} is unreadable ({}); it starts afresh",
                   settings_.log_prefix, member.id, info.status().to_string());
    }
    input.clients[process].members.push_back(std::move(entry));
  }
  // Lags: the changelogs' end offsets against what each client holds.
  std::vector<TopicPartition> changelogs;
  for (const TaskId& task : input.stateful_tasks) {
    for (TopicPartition& partition : layout_.changelog_partitions(task)) {
      changelogs.push_back(std::move(partition));
    }
  }
  std::map<TopicPartition, int64_t> ends =
      changelogs.empty() ? std::map<TopicPartition, int64_t>{} : end_offsets_(changelogs);
  for (auto& [process, client] : input.clients) {
    for (const TaskId& task : input.stateful_tasks) {
      int64_t end_sum = 0;
      for (const TopicPartition& partition : layout_.changelog_partitions(task)) {
        auto end = ends.find(partition);
        if (end != ends.end() && end->second > 0) end_sum += end->second;
      }
      auto held = offset_sums[process].find(task);
      int64_t sum = held == offset_sums[process].end() ? -1 : held->second;
      client.lags[task] = task_lag(sum, end_sum);
    }
  }
  AssignorOutput output = assign_tasks(input, settings_.assignor);
  HostPartitions hosts = partitions_by_host(host_of_client, input, output, layout_);

  const int64_t probe_at = now_ms + settings_.probing_rebalance_interval.count();
  std::set<std::string> probing_members;
  for (const auto& [process, ids] : output.warmup_members) {
    probing_members.insert(ids.begin(), ids.end());
  }
  std::map<std::string, std::vector<uint8_t>> assignments;
  for (const auto& [process, client] : input.clients) {
    std::set<TaskId> active;
    std::set<TaskId> standby;
    for (const AssignorMember& member : client.members) {
      const MemberTasks& tasks = output.members[member.member_id];
      active.insert(tasks.active.begin(), tasks.active.end());
      standby.insert(tasks.standby.begin(), tasks.standby.end());
      AssignmentInfo info;
      ConsumerAssignment consumer;
      std::vector<std::pair<TopicPartition, TaskId>> owned;
      for (const TaskId& task : tasks.active) {
        for (TopicPartition& partition : layout_.input_partitions(task)) {
          owned.emplace_back(std::move(partition), task);
        }
      }
      std::sort(owned.begin(), owned.end());
      for (auto& [partition, task] : owned) {
        consumer.partitions.push_back(partition);
        info.active_tasks.push_back(task);
      }
      for (const TaskId& task : tasks.standby) {
        info.standby_tasks[task] = layout_.input_partitions(task);
      }
      info.partitions_by_host = hosts.active;
      info.standby_partitions_by_host = hosts.standby;
      // The warming members probe; the leader's client does too when
      // tasks must move but no warm-up was left for them (Kafka's rule).
      if (probing_members.count(member.member_id) != 0 ||
          (output.probing_rebalance_needed && process == own_process &&
           &member == &client.members.front())) {
        info.next_rebalance_ms = probe_at;
      }
      consumer.user_data = encode_assignment_info(info);
      assignments[member.member_id] = encode_consumer_assignment(consumer);
    }
    spdlog::info(
        "{}: assigned client {} ({} threads): active {} standby {}{}", settings_.log_prefix,
        process, client.members.size(), describe(active), describe(standby),
        output.warmups.count(process) != 0 ? " warm-up " + describe(output.warmups.at(process))
                                           : std::string());
  }
  spdlog::info("{}: decided on the assignment with{} followup probing rebalance",
               settings_.log_prefix, output.probing_rebalance_needed ? "" : " no");
  return assignments;
}

}  // namespace sluice::streams
