#pragma once
// Metrics read at scrape time (metrics::Registry collectors), for values that
// live in the broker's state rather than in counters:
//   - per partition: sluice_log_start_offset, sluice_log_end_offset,
//     sluice_log_high_watermark, sluice_log_size_bytes {topic, partition};
//   - per consumer group: sluice_consumer_group_committed_offset and
//     sluice_consumer_group_lag {group, topic, partition} (lag against the
//     high watermark, as `sluice group describe` computes it), and
//     sluice_consumer_groups {state};
//   - the metadata quorum (this node's view, RaftManager::status()):
//     sluice_quorum_role {role} (1 for the current role, 0 for the others),
//     sluice_quorum_epoch, sluice_quorum_leader_id (-1: none known),
//     sluice_quorum_high_watermark (-1: not known yet),
//     sluice_quorum_log_end_offset, sluice_quorum_leader_changes_total,
//     sluice_metadata_applied_offset (the image's end), and from the image
//     sluice_brokers_registered and sluice_brokers_fenced;
//     (sluice_metadata_commit_seconds, the controller's commit latency, and
//     sluice_broker_session_fences_total are recorded by the controller
//     itself, cluster/controller.cc and controller_brokers.cc);
//   - the process, from /proc/self: process_resident_memory_bytes,
//     process_virtual_memory_bytes, process_cpu_seconds_total,
//     process_open_fds, process_start_time_seconds (the standard names every
//     Prometheus client library exports, so stock dashboards work).
// Each collector lives as long as its handle.

#include "base/metrics.h"

namespace sluice::broker {
class Broker;
}

namespace sluice::admin {

[[nodiscard]] metrics::CollectorHandle add_partition_collector(metrics::Registry& registry, broker::Broker& broker);
[[nodiscard]] metrics::CollectorHandle add_group_collector(metrics::Registry& registry, broker::Broker& broker);
[[nodiscard]] metrics::CollectorHandle add_process_collector(metrics::Registry& registry);

[[nodiscard]] metrics::CollectorHandle add_quorum_collector(metrics::Registry& registry,
                                                            broker::Broker& broker);
}  // namespace sluice::admin
