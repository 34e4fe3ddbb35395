#pragma once
// Co-partitioning (Kafka's copartition groups and CopartitionedTopicsEnforcer):
// a join reads partition p of both its inputs in the same task, so records
// with the same key meet only if both topics have as many partitions and
// are partitioned alike. The DSL records which source nodes a join reads
// (Topology::add_copartition_group); at start the runtime checks that the
// user topics among them have equal partition counts and gives the
// repartition topics among them that count.

#include <map>
#include <set>
#include <string>
#include <vector>

#include "streams/topology.h"

namespace sluice::streams {

// The source nodes upstream of `nodes` (walking parent links).
std::set<std::string> upstream_sources(const Topology& topology,
                                       const std::vector<std::string>& nodes);

// Records that the sources feeding `nodes` must be co-partitioned.
void ensure_copartitioned(Topology& topology, const std::vector<std::string>& nodes);

// Each copartition group's topics, resolved with the application id.
std::vector<std::set<std::string>> copartition_topic_groups(const Topology& topology,
                                                            const std::string& application_id);

// Kafka's CopartitionedTopicsEnforcer.enforce for every group: user topics
// in a group must have equal partition counts (else TopologyError "Topics
// not co-partitioned: [{a=1, b=2}]"); the group's repartition topics (in
// `repartition_topics`) take that count, or the largest of theirs when the
// group has no user topic. `partitions` holds every topic's count and is
// updated.
void enforce_copartitioning(const std::vector<std::set<std::string>>& groups,
                            const std::set<std::string>& repartition_topics,
                            std::map<std::string, int>& partitions);

}  // namespace sluice::streams
