#pragma once
// Replication metrics read at scrape time (Kafka's names as the base):
//   - of the partitions this broker leads (Kafka's ReplicaManager gauges):
//     sluice_under_replicated_partitions (UnderReplicatedPartitions: ISR
//     smaller than the replicas), sluice_under_min_isr_partitions
//     (UnderMinIsrPartitionCount: ISR below min.insync.replicas, acks=all
//     refused), sluice_at_min_isr_partitions (AtMinIsrPartitionCount),
//     sluice_leader_partitions (LeaderCount), sluice_partitions
//     (PartitionCount: hosted replicas, led or not);
//   - followers' lag as the leader sees it: sluice_follower_lag_records
//     {topic, partition, replica} (this log's end minus the follower's) and
//     sluice_follower_max_lag_records (the largest; Kafka's MaxLag, which
//     Kafka measures on the follower side);
//   - on the active controller only, from its image (Kafka's
//     KafkaController gauges, 0 elsewhere so a sum over nodes is the
//     cluster's): sluice_offline_partitions (OfflinePartitionsCount: no
//     leader), sluice_cluster_under_replicated_partitions, and
//     sluice_active_controller (ActiveControllerCount).
// (ISR shrinks/expands and leader elections are counters recorded where
// they happen: cluster/isr_manager.cc, cluster/controller_reassignments.cc.)

#include <string>
#include <vector>

#include "base/metrics.h"
#include "cluster/metadata_image.h"
#include "cluster/partition.h"

namespace sluice::broker {
class Broker;
}

namespace sluice::admin {

struct HostedReplication {
  std::string topic;
  int32_t partition = -1;
  cluster::ReplicationStatus status;
};

// Pure: the samples for `hosted` (this broker's partitions) and, when this
// node is the active controller, `active_image` (else null).
void collect_replication(const std::vector<HostedReplication>& hosted,
                         const cluster::MetadataImage* active_image, metrics::CollectorSink& sink);

[[nodiscard]] metrics::CollectorHandle add_replication_collector(metrics::Registry& registry,
                                                                 broker::Broker& broker);

}  // namespace sluice::admin
