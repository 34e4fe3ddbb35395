#include "streams/copartition.h"

#include <algorithm>

namespace sluice::streams {

std::set<std::string> upstream_sources(const Topology& topology,
                                       const std::vector<std::string>& nodes) {
  std::set<std::string> sources;
  std::set<std::string> seen;
  std::vector<std::string> pending = nodes;
  while (!pending.empty()) {
    std::string name = std::move(pending.back());
    pending.pop_back();
    if (!seen.insert(name).second) continue;
    const NodeSpec* spec = topology.find(name);
    if (spec == nullptr) continue;
    if (spec->kind == NodeKind::source) sources.insert(name);
    pending.insert(pending.end(), spec->parents.begin(), spec->parents.end());
  }
  return sources;
}

void ensure_copartitioned(Topology& topology, const std::vector<std::string>& nodes) {
  std::set<std::string> sources = upstream_sources(topology, nodes);
  if (!sources.empty()) topology.add_copartition_group(std::move(sources));
}

std::vector<std::set<std::string>> copartition_topic_groups(const Topology& topology,
                                                            const std::string& application_id) {
  std::vector<std::set<std::string>> groups;
  for (const std::set<std::string>& sources : topology.copartition_groups()) {
    std::set<std::string> topics;
    for (const std::string& source : sources) {
      const NodeSpec* spec = topology.find(source);
      if (spec == nullptr) continue;
      for (const std::string& topic : spec->topics) {
        topics.insert(Topology::resolve_topic(topic, spec->internal_topics, application_id));
      }
    }
    if (topics.size() > 1) groups.push_back(std::move(topics));
  }
  return groups;
}

void enforce_copartitioning(const std::vector<std::set<std::string>>& groups,
                            const std::set<std::string>& repartition_topics,
                            std::map<std::string, int>& partitions) {
  for (const std::set<std::string>& group : groups) {
    std::map<std::string, int> user;  // sorted, as Kafka's TreeMap prints them
    int largest_repartition = 0;
    for (const std::string& topic : group) {
      int count = partitions.count(topic) != 0 ? partitions.at(topic) : 0;
      if (repartition_topics.count(topic) != 0) {
        largest_repartition = std::max(largest_repartition, count);
      } else {
        user[topic] = count;
      }
    }
    int count = largest_repartition;
    if (!user.empty()) {
      count = user.begin()->second;
      for (const auto& [topic, partitions_of_topic] : user) {
        if (partitions_of_topic == count) continue;
        std::string listed;
        for (const auto& [name, n] : user) {
          listed += (listed.empty() ? "" : ", ") + name + "=" + std::to_string(n);
        }
        throw TopologyError("Topics not co-partitioned: [{" + listed + "}]");
      }
    }
    for (const std::string& topic : group) {
      if (repartition_topics.count(topic) != 0) partitions[topic] = count;
    }
  }
}

}  // namespace sluice::streams
