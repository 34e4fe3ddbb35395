#include "cluster/partition_change.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::cluster {
namespace {

bool contains(const std::vector<int32_t>& list, int32_t id) {
  return std::find(list.begin(), list.end(), id) != list.end();
}

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
        replicas_(change.target_replicas.value_or(partition_.replicas)) {}

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
    if (change_.target_leader_recovery_state &&
        *change_.target_leader_recovery_state != partition_.leader_recovery_state &&
        record.leader_recovery_state == -1)
      record.leader_recovery_state = *change_.target_leader_recovery_state;
    const bool no_op = record.leader == -2 && !record.isr && !record.replicas &&
                       record.leader_recovery_state == -1;
    if (no_op) return std::nullopt;
    return record;
  }

 private:
  bool valid_leader(int32_t replica) const {
    return replica >= 0 && contains(isr_, replica) && change_.acceptable_leader(replica);
  }

  const PartitionChange& change_;
  const PartitionImage& partition_;
  std::vector<int32_t> isr_;
  std::vector<int32_t> replicas_;
};

}  // namespace

std::optional<protocol::metadata::PartitionChangeRecord> build_partition_change(
    const PartitionChange& change) {
  return Builder(change).build();
}

int32_t elect_leader(const PartitionChange& change) { return Builder(change).elect().leader; }

}  // namespace sluice::cluster
