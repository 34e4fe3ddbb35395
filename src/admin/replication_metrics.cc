#include "admin/replication_metrics.h"

#include <algorithm>

#include "broker/broker.h"

namespace sluice::admin {
namespace {

using metrics::MetricType;

void collect_leaders(const std::vector<HostedReplication>& hosted, metrics::CollectorSink& sink) {
  double under_replicated = 0, under_min_isr = 0, at_min_isr = 0, leaders = 0;
  int64_t max_lag = 0;
  for (const HostedReplication& replica : hosted) {
    const cluster::ReplicationStatus& status = replica.status;
    if (!status.leader) continue;
    ++leaders;
    const auto isr = static_cast<int32_t>(status.isr.size());
    if (status.isr.size() < status.replicas.size()) ++under_replicated;
    if (isr < status.min_insync_replicas) ++under_min_isr;
    if (isr == status.min_insync_replicas) ++at_min_isr;
    for (const auto& [follower, lag] : status.follower_lag_records) {
      max_lag = std::max(max_lag, lag);
      sink.add("sluice_follower_lag_records", MetricType::gauge,
               "Records a follower is behind this leader's log end.",
               {{"topic", replica.topic},
                {"partition", std::to_string(replica.partition)},
                {"replica", std::to_string(follower)}},
               static_cast<double>(lag));
    }
  }
  sink.add("sluice_under_replicated_partitions", MetricType::gauge,
           "Partitions this broker leads whose ISR is smaller than their replicas.", {},
           under_replicated);
  sink.add("sluice_under_min_isr_partitions", MetricType::gauge,
           "Partitions this broker leads whose ISR is below min.insync.replicas.", {},
           under_min_isr);
  sink.add("sluice_at_min_isr_partitions", MetricType::gauge,
           "Partitions this broker leads whose ISR is exactly min.insync.replicas.", {},
           at_min_isr);
  sink.add("sluice_leader_partitions", MetricType::gauge, "Partitions this broker leads.", {},
           leaders);
  sink.add("sluice_partitions", MetricType::gauge, "Partition replicas this broker hosts.", {},
           static_cast<double>(hosted.size()));
  sink.add("sluice_follower_max_lag_records", MetricType::gauge,
           "The largest lag of a follower of the partitions this broker leads.", {},
           static_cast<double>(max_lag));
}

void collect_cluster(const cluster::MetadataImage* image, metrics::CollectorSink& sink) {
  double offline = 0, under_replicated = 0;
  if (image != nullptr)
    for (const auto& [name, topic] : image->topics)
      for (const cluster::PartitionImage& partition : topic->partitions) {
        if (partition.leader < 0) ++offline;
        if (partition.isr.size() < partition.replicas.size()) ++under_replicated;
      }
  sink.add("sluice_offline_partitions", MetricType::gauge,
           "Partitions without a leader (the active controller's count; 0 on other nodes).", {},
           offline);
  sink.add("sluice_cluster_under_replicated_partitions", MetricType::gauge,
           "Partitions whose ISR is smaller than their replicas (the active controller's count; "
           "0 on other nodes).",
           {}, under_replicated);
  sink.add("sluice_active_controller", MetricType::gauge,
           "1 on the active controller, 0 elsewhere.", {}, image != nullptr ? 1.0 : 0.0);
}

}  // namespace

void collect_replication(const std::vector<HostedReplication>& hosted,
                         const cluster::MetadataImage* active_image, metrics::CollectorSink& sink) {
  collect_leaders(hosted, sink);
  collect_cluster(active_image, sink);
}

metrics::CollectorHandle add_replication_collector(metrics::Registry& registry,
                                                   broker::Broker& broker) {
  return registry.add_collector([&broker](metrics::CollectorSink& sink) {
    std::vector<HostedReplication> hosted;
    for (const auto& partition : broker.replica_manager().partitions()) {
      const storage::TopicPartition& tp = partition->topic_partition();
      hosted.push_back({tp.topic, tp.partition, partition->replication_status()});
    }
    cluster::MetadataImagePtr image;
    if (broker.controller().is_active()) image = broker.metadata_image();
    collect_replication(hosted, image.get(), sink);
  });
}

}  // namespace sluice::admin
