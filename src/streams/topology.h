#pragma once
// A processing topology (Kafka's Topology): sources reading topics,
// processors, sinks writing topics, and the state stores processors use.
// A Topology holds recipes; each task makes its own nodes and stores from
// them (Task), so one topology runs as many tasks as its input has
// partitions. The DSL (StreamsBuilder) builds one; the Processor API adds
// nodes directly.
//
// Internal topics (repartition and changelog topics) are named without
// the application id here and carry `<application.id>-` once a task runs,
// as Kafka Streams names them.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "streams/node.h"
#include "streams/processor.h"
#include "streams/serde.h"
#include "streams/store.h"

namespace sluice::streams {

enum class NodeKind { source, processor, sink };

struct NodeSpec {
  std::string name;
  NodeKind kind = NodeKind::processor;
  std::vector<std::string> parents;
  std::vector<std::string> topics;  // a source's topics, or a sink's one topic
  bool internal_topics = false;     // topics get the application id as prefix
  std::vector<std::string> stores;  // the stores this processor may use
  // Makes the node; `topic` is the sink's resolved topic (empty otherwise).
  std::function<std::unique_ptr<NodeBase>(const std::string& topic)> make;
};

class Topology {
 public:
  // `extractor`: the source's own timestamp extractor (nullptr: the
  // default.timestamp.extractor's).
  template <class K, class V>
  Topology& add_source(const std::string& name, Serde<K> key_serde, Serde<V> value_serde,
                       std::vector<std::string> topics,
                       std::shared_ptr<TimestampExtractor<K, V>> extractor = nullptr) {
    return add_source_spec(name, std::move(topics), false,
                           [name, key_serde, value_serde, extractor](const std::string&) {
                             return std::make_unique<SourceNode<K, V>>(name, key_serde, value_serde,
                                                                       extractor);
                           });
  }

  template <class KIn, class VIn, class KOut, class VOut>
  Topology& add_processor(const std::string& name, ProcessorSupplier<KIn, VIn, KOut, VOut> supplier,
                          std::vector<std::string> parents) {
    NodeSpec spec;
    spec.name = name;
    spec.kind = NodeKind::processor;
    spec.parents = std::move(parents);
    spec.make = [name, supplier](const std::string&) {
      std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor = supplier();
      if (!processor) throw TopologyError("the supplier of " + name + " returned no processor");
      return std::make_unique<ProcessorNode<KIn, VIn, KOut, VOut>>(name, std::move(processor));
    };
    return add_node(std::move(spec));
  }

  template <class K, class V>
  Topology& add_sink(const std::string& name, const std::string& topic, Serde<K> key_serde,
                     Serde<V> value_serde, std::vector<std::string> parents,
                     StreamPartitioner<K, V> partitioner = nullptr) {
    return add_sink_spec(name, topic, false, std::move(parents),
                         [name, key_serde, value_serde, partitioner](const std::string& resolved) {
                           return std::make_unique<SinkNode<K, V>>(name, resolved, key_serde,
                                                                   value_serde, partitioner);
                         });
  }

  // The store, usable by `processors` (more with connect_processor_and_state_stores).
  Topology& add_state_store(StoreBuilder builder, std::vector<std::string> processors = {});
  Topology& connect_processor_and_state_stores(const std::string& processor,
                                               std::vector<std::string> stores);
  // A global store (Kafka's addGlobalStore; a GlobalKTable's): kept whole on
  // every instance by `processor` from every partition of its source's
  // topic, which is its changelog (logging must be off). Any processor may
  // read it without being connected. Its sub-topology makes no tasks.
  Topology& add_global_state_store(StoreBuilder builder, const std::string& processor);
  const std::set<std::string>& global_stores() const { return global_stores_; }
  // Whether the sub-topology (its node names) keeps a global store.
  bool is_global(const std::vector<std::string>& subtopology) const;

  // Kafka's TopologyDescription text: sub-topologies, their nodes, topics,
  // stores, children (-->) and parents (<--).
  std::string describe() const;

  // For tasks and the DSL.
  Topology& add_source_spec(const std::string& name, std::vector<std::string> topics, bool internal,
                            std::function<std::unique_ptr<NodeBase>(const std::string&)> make);
  Topology& add_sink_spec(const std::string& name, const std::string& topic, bool internal,
                          std::vector<std::string> parents,
                          std::function<std::unique_ptr<NodeBase>(const std::string&)> make);
  Topology& add_node(NodeSpec spec);
  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  const NodeSpec* find(const std::string& name) const;
  const std::map<std::string, StoreBuilder>& stores() const { return stores_; }
  // The sub-topologies: nodes connected by parent links or a shared store,
  // in the order of their first node; each a list of node names.
  std::vector<std::vector<std::string>> subtopologies() const;
  // Every topic a source reads, resolved with `application_id`.
  std::set<std::string> source_topics(const std::string& application_id) const;
  static std::string resolve_topic(const std::string& topic, bool internal,
                                   const std::string& application_id);
  // Source nodes whose topics must have as many partitions as each other
  // (a join's inputs: Kafka's copartition groups; copartition.h).
  void add_copartition_group(std::set<std::string> source_nodes) {
    copartition_groups_.push_back(std::move(source_nodes));
  }
  const std::vector<std::set<std::string>>& copartition_groups() const {
    return copartition_groups_;
  }

 private:
  std::vector<std::string> children_of(const std::string& name) const;
  std::vector<std::string> in_description_order(std::vector<std::string> names) const;

  std::vector<NodeSpec> nodes_;
  std::map<std::string, StoreBuilder> stores_;
  std::vector<std::set<std::string>> copartition_groups_;
  std::set<std::string> global_stores_;
};

}  // namespace sluice::streams
