#pragma once
// The worker's Admin API calls (librdkafka). A sink connector's offsets are
// its consumer group's (`connect-<name>`): read, altered and reset here, in
// the shapes the REST API shows them ({"kafka_topic", "kafka_partition"} ->
// {"kafka_offset"}). A sink's dead-letter topic is created here.

#include <string>
#include <vector>

#include "base/result.h"
#include "connect/config.h"
#include "connect/runtime/herder.h"

namespace sluice::connect {

std::string sink_group_id(const std::string& connector);  // connect-<connector>

// `settings`: an admin client's settings (kafka_clients.h client_settings).
Result<std::vector<ConnectorOffset>> list_group_offsets(const Properties& settings,
                                                        const std::string& group);
// A null offset removes the partition's committed offset.
Status alter_group_offsets(const Properties& settings, const std::string& group,
                           const std::vector<ConnectorOffset>& offsets);
// Every committed offset of the group (the group is deleted; an unknown
// group is not an error).
Status reset_group_offsets(const Properties& settings, const std::string& group);

// Creates `topic` unless it exists, as Kafka's worker does for a
// dead-letter topic (one partition) and its internal topics (compacted);
// the error names the topic and the broker's reason. A replication factor
// of -1 is the broker's default.
Status ensure_topic(const Properties& settings, const std::string& topic, int replication_factor,
                    int partitions = 1, const Properties& configs = {});
// The cluster's id (GET /'s kafka_cluster_id), empty when unknown.
std::string cluster_id(const Properties& settings);

// The partition map of a sink offset entry, and its offset; errors name the
// REST API's expectations (KIP-875).
Result<std::pair<std::string, int32_t>> sink_partition_of(const Map& partition);
Result<int64_t> sink_offset_of(const Map& offset);

}  // namespace sluice::connect
