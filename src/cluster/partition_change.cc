#include "cluster/partition_change.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::cluster {
bool contains(const std::vector<int32_t>& replicas, int32_t id) {
  return std::find(replicas.begin(), replicas.end(), id) != replicas.end();
}

namespace {

struct Elected {
  int32_t leader = -1;
  bool unclean = false;
};

class Builder {
 public:
  explicit Builder(const PartitionChange& change)
      : change_(change),
        partition_(*change.partition),
        isr_(change.target_isr.value_or(partition_.isr)),
        replicas_(change.target_replicas.value_or(partition_.replicas)),
        adding_(change.target_adding.value_or(partition_.adding_replicas)),
        removing_(change.target_removing.value_or(partition_.removing_replicas)) {
    complete_reassignment();
  }

  Elected elect() const {
    if (change_.election == Election::preferred && !replicas_.empty() &&
        valid_leader(replicas_.front()))
      return {replicas_.front()};
    if (valid_leader(partition_.leader)) return {partition_.leader};
    for (int32_t replica : replicas_)
      if (valid_leader(replica)) return {replica};
    if (change_.election == Election::unclean)
      for (int32_t replica : replicas_)
        if (change_.acceptable_leader(replica)) return {replica, true};
    return {};
  }

  std::optional<protocol::metadata::PartitionChangeRecord> build() const {
    protocol::metadata::PartitionChangeRecord record;
    record.topic_id = change_.topic_id;
    record.partition_id = partition_.partition;
    const Elected elected = elect();
    if (elected.leader != partition_.leader) {
      record.leader = elected.leader;
      if (elected.unclean) {
        spdlog::info("metadata: partition {} of topic {} elects {} uncleanly (outside the ISR)",
                     partition_.partition, change_.topic_name, elected.leader);
        record.isr = std::vector<int32_t>{elected.leader};
        if (partition_.leader_recovery_state != leader_recovering)
          record.leader_recovery_state = leader_recovering;
      }
    }
    // A leader removed from the replicas starts a new epoch even when it
    // leads on (Kafka bumps the epoch by restating the leader).
    if (record.leader == -2 && change_.target_replicas) {
      for (int32_t replica : partition_.replicas)
        if (!contains(replicas_, replica)) {
          record.leader = partition_.leader;
          break;
        }
    }
    if (!record.isr && !isr_.empty() && isr_ != partition_.isr) record.isr = isr_;
    if (replicas_ != partition_.replicas) record.replicas = replicas_;
    if (adding_ != partition_.adding_replicas) record.adding_replicas = adding_;
    if (removing_ != partition_.removing_replicas) record.removing_replicas = removing_;
    if (change_.target_leader_recovery_state &&
        *change_.target_leader_recovery_state != partition_.leader_recovery_state &&
        record.leader_recovery_state == -1)
      record.leader_recovery_state = *change_.target_leader_recovery_state;
    const bool no_op = record.leader == -2 && !record.isr && !record.replicas &&
                       !record.adding_replicas && !record.removing_replicas &&
                       record.leader_recovery_state == -1;
    if (no_op) return std::nullopt;
    return record;
  }

 private:
  // Kafka's maybeCompleteReassignment: done once the ISR (without the
  // replicas being removed) is not empty and holds every remaining replica.
  void complete_reassignment() {
    if (adding_.empty() && removing_.empty()) return;
    std::vector<int32_t> isr;
    for (int32_t replica : isr_)
      if (!contains(removing_, replica)) isr.push_back(replica);
    std::vector<int32_t> replicas;
    for (int32_t replica : replicas_)
      if (!contains(removing_, replica)) replicas.push_back(replica);
    if (isr.empty() || replicas.empty()) return;
    for (int32_t replica : replicas)
      if (!contains(isr, replica)) return;
    spdlog::info("metadata: partition {} of topic {} completes its reassignment to {}",
                 partition_.partition, change_.topic_name, fmt::join(replicas, ","));
    isr_ = std::move(isr);
    replicas_ = std::move(replicas);
    adding_.clear();
    removing_.clear();
  }

  bool valid_leader(int32_t replica) const {
    return replica >= 0 && contains(isr_, replica) && change_.acceptable_leader(replica);
  }

  const PartitionChange& change_;
  const PartitionImage& partition_;
  std::vector<int32_t> isr_;
  std::vector<int32_t> replicas_;
  std::vector<int32_t> adding_;
  std::vector<int32_t> removing_;
};

std::vector<int32_t> sorted_difference(const std::vector<int32_t>& a,
                                       const std::vector<int32_t>& b) {
  std::vector<int32_t> out;
  for (int32_t id : a)
    if (!contains(b, id) && !contains(out, id)) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::optional<protocol::metadata::PartitionChangeRecord> build_partition_change(
    const PartitionChange& change) {
  return Builder(change).build();
}

int32_t elect_leader(const PartitionChange& change) { return Builder(change).elect().leader; }

ReassignmentPlan plan_reassignment(const std::vector<int32_t>& current,
                                   const std::vector<int32_t>& target) {
  ReassignmentPlan plan;
  plan.removing = sorted_difference(current, target);
  plan.adding = sorted_difference(target, current);
  plan.replicas = target;
  plan.replicas.insert(plan.replicas.end(), plan.removing.begin(), plan.removing.end());
  return plan;
}

ReassignmentRevert revert_reassignment(const PartitionImage& partition) {
  ReassignmentRevert revert;
  for (int32_t replica : partition.replicas)
    if (!contains(partition.adding_replicas, replica)) revert.replicas.push_back(replica);
  for (int32_t replica : partition.isr)
    if (!contains(partition.adding_replicas, replica)) revert.isr.push_back(replica);
  if (revert.isr.empty() && !revert.replicas.empty()) {
    revert.isr.push_back(revert.replicas.front());
    revert.unclean = true;
  }
  return revert;
}

}  // namespace sluice::cluster
