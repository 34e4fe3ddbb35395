// The controller's partition reassignments (Kafka's
// ReplicationControlManager.alterPartitionReassignments and
// listPartitionReassignments). A reassignment is one PartitionChangeRecord
// that puts the target replicas beside the current ones (adding_replicas,
// removing_replicas); the brokers create the added replicas' logs, they
// fetch from the leader and join the ISR through AlterPartition, and the
// record that brings the last one into the ISR also completes the move
// (build_partition_change): the removed replicas leave, leadership moves if
// the leader was one of them, and their brokers delete the logs.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "base/metrics.h"
#include "cluster/controller.h"
#include "cluster/partition_change.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

void add_change(MetadataDelta& scratch, const md::PartitionChangeRecord& change,
                std::vector<std::vector<uint8_t>>& records) {
  add_checked_record(scratch, md::encode_framed(change, 0), records);
}

ApiError invalid_assignment(std::string message) {
  return ApiError{ErrorCode::INVALID_REPLICA_ASSIGNMENT, std::move(message)};
}

// Kafka's validateManualPartitionAssignment (without a replication factor
// to match: a reassignment may change it).
ApiError check_target(const MetadataDelta& scratch, const std::vector<int32_t>& replicas) {
  if (replicas.empty())
    return invalid_assignment("The manual partition assignment includes an empty replica list.");
  std::vector<int32_t> sorted = replicas;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) {
    if (!scratch.brokers().contains(sorted[i]))
      return invalid_assignment("The manual partition assignment includes broker " +
                                std::to_string(sorted[i]) + ", but no such broker is registered.");
    if (i > 0 && sorted[i] == sorted[i - 1])
      return invalid_assignment("The manual partition assignment includes the broker " +
                                std::to_string(sorted[i]) + " more than once.");
  }
  return ApiError::none();
}

}  // namespace

ApiError Controller::reassign_one(MetadataDelta& scratch, const std::string& topic_name,
                                  const ReassignmentTarget& target,
                                  std::vector<std::vector<uint8_t>>& records) const {
  const TopicImage* topic = scratch.topic(topic_name);
  if (topic == nullptr)
    return ApiError{ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    "Unable to find a topic named " + topic_name + "."};
  const PartitionImage* partition = topic->partition(target.partition);
  if (partition == nullptr)
    return ApiError{
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        "Unable to find partition " + topic_name + ":" + std::to_string(target.partition) + "."};
  PartitionChange change;
  change.topic_id = topic->id;
  change.topic_name = topic->name;
  change.partition = partition;
  change.acceptable_leader = [&scratch](int32_t id) { return broker_active(scratch, id); };
  const bool unclean = unclean_election_enabled(scratch, *topic);
  if (!target.replicas) {
    // Cancel: back to the original replicas, without the added ones.
    if (!partition->reassigning())
      return ApiError{ErrorCode::NO_REASSIGNMENT_IN_PROGRESS,
                      "No partition reassignment is in progress."};
    ReassignmentRevert revert = revert_reassignment(*partition);
    if (revert.unclean && !unclean)
      return invalid_assignment("Unable to revert partition assignment for " + topic_name + ":" +
                                std::to_string(target.partition) +
                                " because it would require an unclean leader election.");
    if (unclean) change.election = Election::unclean;
    change.target_isr = std::move(revert.isr);
    change.target_replicas = std::move(revert.replicas);
    change.target_adding = std::vector<int32_t>{};
    change.target_removing = std::vector<int32_t>{};
  } else {
    if (ApiError error = check_target(scratch, *target.replicas); !error.ok()) return error;
    // From the replicas as they are (a reassignment in progress included:
    // Kafka starts a new one from them too).
    ReassignmentPlan plan = plan_reassignment(partition->replicas, *target.replicas);
    change.target_replicas = std::move(plan.replicas);
    change.target_adding = std::move(plan.adding);
    change.target_removing = std::move(plan.removing);
  }
  if (auto record = build_partition_change(change)) add_change(scratch, *record, records);
  return ApiError::none();
}

std::vector<std::vector<ApiError>> Controller::alter_partition_reassignments(
    const std::vector<TopicReassignment>& topics) {
  std::lock_guard lock(mutex_);
  MetadataDelta scratch(image());
  std::vector<std::vector<uint8_t>> records;
  std::vector<std::vector<ApiError>> results;
  size_t succeeded = 0;
  size_t total = 0;
  for (const TopicReassignment& topic : topics) {
    auto& topic_results = results.emplace_back();
    for (const ReassignmentTarget& target : topic.partitions) {
      ApiError error = reassign_one(scratch, topic.topic, target, records);
      if (!error.ok())
        spdlog::info("metadata: unable to alter the reassignment of {}:{}: {}", topic.topic,
                     target.partition, error.message);
      succeeded += error.ok() ? 1 : 0;
      ++total;
      topic_results.push_back(std::move(error));
    }
  }
  spdlog::info("metadata: altered {} of {} partition reassignment(s)", succeeded, total);
  ApiError failure;
  if (records.size() > records_per_operation_max)
    failure = ApiError{ErrorCode::POLICY_VIOLATION,
                       "Unable to perform excessively large batch operation."};
  else if (!records.empty())
    failure = commit_or_error(std::move(records));
  if (!failure.ok())
    for (auto& topic_results : results)
      for (ApiError& result : topic_results)
        if (result.ok()) result = failure;
  return results;
}

LeaderElections count_leader_elections(const MetadataDelta& delta) {
  LeaderElections out;
  for (const auto& [name, change] : delta.changed_topics()) {
    if (change.created) continue;  // a new partition's first leader is no election
    const TopicImage* before = delta.base().topic(name);
    if (before == nullptr || before->id != change.image->id) continue;
    for (int32_t id : change.changed_partitions) {
      const PartitionImage* was = before->partition(id);
      const PartitionImage* now = change.image->partition(id);
      if (was == nullptr || now == nullptr || now->leader < 0 || now->leader == was->leader)
        continue;
      ++out.elections;
      if (now->leader_recovery_state == leader_recovering &&
          was->leader_recovery_state != leader_recovering)
        ++out.unclean;
    }
  }
  return out;
}

// Kafka's ControllerStats LeaderElectionRateAndTimeMs (its count) and
// UncleanLeaderElectionsPerSec, as counters of the active controller.
void record_leader_elections(const LeaderElections& elections) {
  static metrics::Counter& total = metrics::default_registry().counter(
      "sluice_leader_elections_total",
      "Partition leaders elected by this active controller (committed changes of leader).");
  static metrics::Counter& unclean = metrics::default_registry().counter(
      "sluice_unclean_leader_elections_total",
      "Leaders this active controller elected from outside the ISR (data may be lost).");
  if (elections.elections > 0) total.inc(static_cast<uint64_t>(elections.elections));
  if (elections.unclean > 0) unclean.inc(static_cast<uint64_t>(elections.unclean));
}

std::vector<OngoingReassignment> Controller::list_partition_reassignments(
    const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& topics) const {
  MetadataImagePtr current = image();
  std::vector<OngoingReassignment> out;
  auto add = [&out](const TopicImage& topic, const PartitionImage& partition) {
    if (!partition.reassigning()) return;
    out.push_back({topic.name, partition.partition, partition.replicas, partition.adding_replicas,
                   partition.removing_replicas});
  };
  if (!topics) {
    for (const auto& [name, topic] : current->topics)
      for (const PartitionImage& partition : topic->partitions) add(*topic, partition);
    return out;
  }
  // Unknown topics and partitions are left out (Kafka).
  for (const auto& [name, partitions] : *topics) {
    const TopicImage* topic = current->topic(name);
    if (topic == nullptr) continue;
    for (int32_t id : partitions)
      if (const PartitionImage* partition = topic->partition(id)) add(*topic, *partition);
  }
  return out;
}

}  // namespace sluice::cluster
