// Partition::replication_status(): what the replication metrics and the
// admin API read (a copy under the partition's lock, so a scrape never
// holds it longer than the copy).
#include <algorithm>

#include "cluster/partition.h"

namespace sluice::cluster {

ReplicationStatus Partition::replication_status() const {
  ReplicationStatus status;
  std::lock_guard lock(log_->mutex());
  status.leader = leads_locked();
  status.replicas = replicas_;
  status.isr = isr_;
  status.min_insync_replicas = policy_.min_insync_replicas;
  status.log_end_offset = log_->usable() ? log_->log().log_end_offset() : -1;
  if (!status.leader || status.log_end_offset < 0) return status;
  for (int32_t replica : replicas_) {
    if (replica == local_node_id_) continue;
    auto follower = followers_.find(replica);
    const int64_t end = follower == followers_.end() ? -1 : follower->second.log_end_offset;
    status.follower_lag_records.emplace_back(
        replica, std::max<int64_t>(0, status.log_end_offset - std::max<int64_t>(end, 0)));
  }
  return status;
}

}  // namespace sluice::cluster
