#include "streams/topology.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <sstream>

namespace sluice::streams {
namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

// Union-find over node indexes.
struct Components {
  std::vector<size_t> parent;
  explicit Components(size_t count) : parent(count) {
    std::iota(parent.begin(), parent.end(), size_t{0});
  }
  size_t root(size_t index) {
    while (parent[index] != index) index = parent[index] = parent[parent[index]];
    return index;
  }
  void unite(size_t a, size_t b) { parent[root(a)] = root(b); }
};

}  // namespace

std::string Topology::resolve_topic(const std::string& topic, bool internal,
                                    const std::string& application_id) {
  return internal ? application_id + "-" + topic : topic;
}

const NodeSpec* Topology::find(const std::string& name) const {
  for (const NodeSpec& spec : nodes_) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

Topology& Topology::add_node(NodeSpec spec) {
  if (spec.name.empty()) throw TopologyError("a node needs a name");
  if (find(spec.name) != nullptr) {
    throw TopologyError("Processor " + spec.name + " is already added.");
  }
  if (spec.kind != NodeKind::source && spec.parents.empty()) {
    throw TopologyError("Processor " + spec.name + " must have at least one parent");
  }
  for (const std::string& parent : spec.parents) {
    if (parent == spec.name)
      throw TopologyError("Processor " + spec.name + " cannot be a parent of itself.");
    const NodeSpec* found = find(parent);
    if (found == nullptr) {
      throw TopologyError("Parent processor " + parent + " is not added yet for " + spec.name);
    }
    if (found->kind == NodeKind::sink) {
      throw TopologyError("Sink " + parent + " cannot be used a parent.");
    }
  }
  nodes_.push_back(std::move(spec));
  return *this;
}

Topology& Topology::add_source_spec(
    const std::string& name, std::vector<std::string> topics, bool internal,
    std::function<std::unique_ptr<NodeBase>(const std::string&)> make) {
  if (topics.empty()) throw TopologyError("You must provide at least one topic");
  for (const std::string& topic : topics) {
    for (const NodeSpec& spec : nodes_) {
      if (spec.kind == NodeKind::source &&
          std::find(spec.topics.begin(), spec.topics.end(), topic) != spec.topics.end()) {
        throw TopologyError("Topic " + topic + " has already been registered by another source.");
      }
    }
  }
  NodeSpec spec;
  spec.name = name;
  spec.kind = NodeKind::source;
  spec.topics = std::move(topics);
  spec.internal_topics = internal;
  spec.make = std::move(make);
  return add_node(std::move(spec));
}

Topology& Topology::add_sink_spec(
    const std::string& name, const std::string& topic, bool internal,
    std::vector<std::string> parents,
    std::function<std::unique_ptr<NodeBase>(const std::string&)> make) {
  if (topic.empty()) throw TopologyError("Sink " + name + " needs a topic");
  NodeSpec spec;
  spec.name = name;
  spec.kind = NodeKind::sink;
  spec.parents = std::move(parents);
  spec.topics = {topic};
  spec.internal_topics = internal;
  spec.make = std::move(make);
  return add_node(std::move(spec));
}

Topology& Topology::add_state_store(StoreBuilder builder, std::vector<std::string> processors) {
  if (!builder.build) throw TopologyError("StateStore " + builder.name + " has no supplier");
  if (stores_.count(builder.name) != 0) {
    throw TopologyError("StateStore " + builder.name + " is already added.");
  }
  std::string name = builder.name;
  stores_.emplace(name, std::move(builder));
  for (const std::string& processor : processors) {
    connect_processor_and_state_stores(processor, {name});
  }
  return *this;
}

Topology& Topology::connect_processor_and_state_stores(const std::string& processor,
                                                       std::vector<std::string> stores) {
  auto node = std::find_if(nodes_.begin(), nodes_.end(),
                           [&](const NodeSpec& spec) { return spec.name == processor; });
  if (node == nodes_.end() || node->kind != NodeKind::processor) {
    throw TopologyError("Processor " + processor + " is not added yet.");
  }
  for (const std::string& store : stores) {
    if (stores_.count(store) == 0)
      throw TopologyError("StateStore " + store + " is not added yet.");
    if (std::find(node->stores.begin(), node->stores.end(), store) == node->stores.end()) {
      node->stores.push_back(store);
    }
  }
  return *this;
}

Topology& Topology::add_global_state_store(StoreBuilder builder, const std::string& processor) {
  if (builder.logging_enabled) {
    throw TopologyError("global store " + builder.name +
                        " cannot have a changelog: its source topic is one");
  }
  std::string name = builder.name;
  add_state_store(std::move(builder), {processor});
  global_stores_.insert(name);
  return *this;
}

bool Topology::is_global(const std::vector<std::string>& subtopology) const {
  for (const std::string& name : subtopology) {
    const NodeSpec* spec = find(name);
    if (spec == nullptr) continue;
    for (const std::string& store : spec->stores) {
      if (global_stores_.count(store) != 0) return true;
    }
  }
  return false;
}

std::vector<std::string> Topology::children_of(const std::string& name) const {
  std::vector<std::string> children;
  for (const NodeSpec& spec : nodes_) {
    if (std::find(spec.parents.begin(), spec.parents.end(), name) != spec.parents.end()) {
      children.push_back(spec.name);
    }
  }
  return children;
}

std::vector<std::vector<std::string>> Topology::subtopologies() const {
  Components components(nodes_.size());
  std::map<std::string, size_t> index_of;
  std::map<std::string, size_t> first_user_of_store;
  for (size_t i = 0; i < nodes_.size(); ++i) index_of[nodes_[i].name] = i;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const std::string& parent : nodes_[i].parents) components.unite(i, index_of.at(parent));
    for (const std::string& store : nodes_[i].stores) {
      auto [it, first] = first_user_of_store.emplace(store, i);
      if (!first) components.unite(i, it->second);
    }
  }
  std::vector<std::vector<std::string>> groups;
  std::map<size_t, size_t> group_of_root;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    size_t root = components.root(i);
    auto [it, added] = group_of_root.emplace(root, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(nodes_[i].name);
  }
  return groups;
}

std::set<std::string> Topology::source_topics(const std::string& application_id) const {
  std::set<std::string> topics;
  for (const NodeSpec& spec : nodes_) {
    if (spec.kind != NodeKind::source) continue;
    for (const std::string& topic : spec.topics) {
      topics.insert(resolve_topic(topic, spec.internal_topics, application_id));
    }
  }
  return topics;
}

// Kafka's TopologyDescription order: nodes with more below them first
// (the number of paths from a node down, itself included), ties by name.
std::vector<std::string> Topology::in_description_order(std::vector<std::string> names) const {
  std::map<std::string, size_t> paths;
  std::function<size_t(const std::string&)> count = [&](const std::string& name) -> size_t {
    auto known = paths.find(name);
    if (known != paths.end()) return known->second;
    size_t total = 1;
    for (const std::string& child : children_of(name)) total += count(child);
    paths[name] = total;
    return total;
  };
  std::stable_sort(names.begin(), names.end(), [&](const std::string& a, const std::string& b) {
    size_t paths_a = count(a);
    size_t paths_b = count(b);
    return paths_a != paths_b ? paths_a > paths_b : a < b;
  });
  return names;
}

std::string Topology::describe() const {
  std::ostringstream out;
  out << "Topologies:\n";
  std::vector<std::vector<std::string>> groups = subtopologies();
  for (size_t id = 0; id < groups.size(); ++id) {
    bool global = is_global(groups[id]);
    out << "   Sub-topology: " << id
        << (global ? " for global store (will not generate tasks)" : "") << "\n";
    for (const std::string& name : in_description_order(groups[id])) {
      const NodeSpec& spec = *find(name);
      switch (spec.kind) {
        case NodeKind::source:
          out << "    Source: " << name << " (topics: [" << join(spec.topics) << "])\n";
          break;
        case NodeKind::processor:
          out << "    Processor: " << name << " (stores: [" << join(spec.stores) << "])\n";
          break;
        case NodeKind::sink:
          out << "    Sink: " << name << " (topic: " << spec.topics.front() << ")\n";
          break;
      }
      std::vector<std::string> children = children_of(name);
      if (spec.kind != NodeKind::sink)
        out << "      --> " << (children.empty() ? "none" : join(children)) << "\n";
      if (spec.kind != NodeKind::source) out << "      <-- " << join(spec.parents) << "\n";
    }
    if (!global) out << "\n";
  }
  return out.str();
}

}  // namespace sluice::streams
