#pragma once
// Metrics read at scrape time (metrics::Registry collectors), for values that
// live in the broker's state rather than in counters:
//   - per partition: sluice_log_start_offset, sluice_log_end_offset,
//     sluice_log_high_watermark, sluice_log_size_bytes {topic, partition};
//   - per consumer group: sluice_consumer_group_committed_offset and
//     sluice_consumer_group_lag {group, topic, partition} (lag against the
//     high watermark, as `sluice group describe` computes it), and
//     sluice_consumer_groups {state};
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

}  // namespace sluice::admin
