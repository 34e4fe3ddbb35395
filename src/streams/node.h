#pragma once
// The processing graph one task runs (internal to the library): nodes made
// from a Topology's specs, wired parent to child. A node forwards typed
// records to its children through a Forwarder<K, V>; a child receives them
// as a Receiver<K, V>. Whether a child can take what its parent forwards is
// checked when the graph is wired (a dynamic_cast), so a topology whose
// types do not line up fails with a TopologyError naming both nodes before
// any record flows.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "streams/exception_handlers.h"
#include "streams/processor.h"
#include "streams/record.h"
#include "streams/serde.h"
#include "streams/stream_partitioner.h"
#include "streams/timestamp_extractor.h"

namespace sluice::streams {

class Task;

class NodeBase {
 public:
  explicit NodeBase(std::string name) : name_(std::move(name)) {}
  virtual ~NodeBase() = default;
  NodeBase(const NodeBase&) = delete;
  NodeBase& operator=(const NodeBase&) = delete;

  const std::string& name() const { return name_; }
  // Makes `child` receive what this node forwards.
  virtual void add_child(NodeBase& child) = 0;
  virtual void init(Task& task) = 0;
  virtual void close() {}

 private:
  std::string name_;
};

// A node that reads serialized records of its topics.
class SourceNodeBase : public NodeBase {
 public:
  using NodeBase::NodeBase;
  virtual void process_serialized(const SerializedRecord& record) = 0;
};

template <class K, class V>
class Receiver {
 public:
  virtual ~Receiver() = default;
  virtual void receive(const Record<K, V>& record) = 0;
};

template <class K, class V>
class Forwarder {
 public:
  void add(const NodeBase& parent, NodeBase& child) {
    auto* receiver = dynamic_cast<Receiver<K, V>*>(&child);
    if (receiver == nullptr) {
      throw TopologyError("processor " + child.name() + " cannot take the records its parent " +
                          parent.name() + " forwards (their key or value types differ)");
    }
    children_.emplace_back(child.name(), receiver);
  }
  void forward(const Record<K, V>& record) const {
    for (const auto& [name, child] : children_) child->receive(record);
  }
  void forward(const Record<K, V>& record, const std::string& child_name) const {
    for (const auto& [name, child] : children_) {
      if (name == child_name) {
        child->receive(record);
        return;
      }
    }
    throw StreamsError("Unknown downstream node: " + child_name);
  }

 private:
  std::vector<std::pair<std::string, Receiver<K, V>*>> children_;
};

// What a source node needs of its task (task.h): the deserialization
// handler, the default timestamp extractor, whether a record goes on.
void task_deserialization_failed(Task& task, const SerializedRecord& record,
                                 const SerializationError& error);
int64_t task_default_timestamp(Task& task, const SerializedRecord& record);
int64_t task_partition_time(const Task& task);
bool task_admit(Task& task, const SerializedRecord& record, int64_t timestamp,
                const char* extractor);
[[noreturn]] void throw_extractor_failed(const SerializedRecord& record, const std::exception& e);
void task_processing_failed(Task& task, const std::string& node, const std::exception& error);

template <class K, class V>
class SourceNode final : public SourceNodeBase {
 public:
  SourceNode(std::string name, Serde<K> key_serde, Serde<V> value_serde,
             std::shared_ptr<TimestampExtractor<K, V>> extractor = nullptr)
      : SourceNodeBase(std::move(name)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        extractor_(std::move(extractor)) {}

  void add_child(NodeBase& child) override { children_.add(*this, child); }
  void init(Task& task) override { task_ = &task; }
  // Bytes the serdes refuse go to the task's deserialization handler; the
  // record's timestamp is the extractor's (the source's own, else the
  // task's default); a negative one drops the record.
  void process_serialized(const SerializedRecord& record) override {
    Record<K, V> typed;
    try {
      typed.key = key_serde_.deserialize(record.topic, optional_view(record.key));
      typed.value = value_serde_.deserialize(record.topic, optional_view(record.value));
    } catch (const SerializationError& e) {
      task_deserialization_failed(*task_, record, e);
      return;
    }
    typed.timestamp = record.timestamp;
    typed.headers = record.headers;
    int64_t timestamp =
        extractor_ ? extract(typed, record) : task_default_timestamp(*task_, record);
    if (!task_admit(*task_, record, timestamp, extractor_ ? "TimestampExtractor" : nullptr)) return;
    typed.timestamp = timestamp;
    children_.forward(typed);
  }

 private:
  static std::optional<std::string_view> optional_view(const std::optional<std::string>& bytes) {
    if (!bytes) return std::nullopt;
    return std::string_view(*bytes);
  }

  int64_t extract(const Record<K, V>& typed, const SerializedRecord& record) {
    try {
      return extractor_->extract(typed,
                                 RecordMetadata{record.topic, record.partition, record.offset},
                                 task_partition_time(*task_));
    } catch (const StreamsError&) {
      throw;
    } catch (const std::exception& e) {
      throw_extractor_failed(record, e);
    }
  }

  Serde<K> key_serde_;
  Serde<V> value_serde_;
  std::shared_ptr<TimestampExtractor<K, V>> extractor_;
  Forwarder<K, V> children_;
  Task* task_ = nullptr;
};

// Sends serialized records to the task's collector (defined in task.h).
void send_from_sink(Task& task, SerializedRecord record);
// The partition count of `topic` as the task's producer sees it, for a
// StreamPartitioner; a StreamsError when the topic does not exist.
int32_t task_partition_count(Task& task, const std::string& topic);
// Counts a record a sink's partitioner sent nowhere (dropped-records).
void task_record_dropped_by_partitioner(Task& task, const std::string& topic);
// Throws Kafka's error for a partitioner's answer out of [0, count).
void check_partition_in_range(const std::string& topic, int32_t partition, int32_t count);

template <class K, class V>
class SinkNode final : public NodeBase, public Receiver<K, V> {
 public:
  SinkNode(std::string name, std::string topic, Serde<K> key_serde, Serde<V> value_serde,
           StreamPartitioner<K, V> partitioner = nullptr)
      : NodeBase(std::move(name)),
        topic_(std::move(topic)),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)),
        partitioner_(std::move(partitioner)) {}

  void add_child(NodeBase& child) override {
    throw TopologyError("sink " + name() + " cannot have children (" + child.name() + ")");
  }
  void init(Task& task) override { task_ = &task; }
  void receive(const Record<K, V>& record) override {
    SerializedRecord out;
    out.topic = topic_;
    out.timestamp = record.timestamp;
    out.key = key_serde_.serialize(topic_, record.key);
    out.value = value_serde_.serialize(topic_, record.value);
    out.headers = record.headers;
    if (!partitioner_) {
      send_from_sink(*task_, std::move(out));
      return;
    }
    int32_t count = task_partition_count(*task_, topic_);
    std::optional<std::set<int32_t>> partitions =
        partitioner_(topic_, record.key, record.value, count);
    if (!partitions) {
      send_from_sink(*task_, std::move(out));
    } else if (partitions->empty()) {
      task_record_dropped_by_partitioner(*task_, topic_);
    } else {
      for (int32_t partition : *partitions) check_partition_in_range(topic_, partition, count);
      for (int32_t partition : *partitions) {
        SerializedRecord copy = out;
        copy.partition = partition;
        send_from_sink(*task_, std::move(copy));
      }
    }
  }

 private:
  std::string topic_;  // already resolved (internal topics carry the application id)
  Serde<K> key_serde_;
  Serde<V> value_serde_;
  StreamPartitioner<K, V> partitioner_;  // nullptr: the producer's default partitioner
  Task* task_ = nullptr;
};

// What a ProcessorNode needs of its task, so node.h does not depend on
// task.h's whole class.
int64_t task_stream_time(const Task& task);
int64_t task_system_time(const Task& task);
const std::string& task_application_id(const Task& task);
const std::string& task_id_of(const Task& task);
std::optional<RecordMetadata> task_record_metadata(const Task& task);
Cancellable task_schedule(Task& task, const std::string& node, std::chrono::milliseconds interval,
                          PunctuationType type, Punctuator punctuator);
StateStore& task_state_store(Task& task, const std::string& node, const std::string& store);

template <class KIn, class VIn, class KOut, class VOut>
class ProcessorNode final : public NodeBase,
                            public Receiver<KIn, VIn>,
                            public ProcessorContext<KOut, VOut> {
 public:
  ProcessorNode(std::string name, std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor)
      : NodeBase(std::move(name)), processor_(std::move(processor)) {}

  void add_child(NodeBase& child) override { children_.add(*this, child); }
  void init(Task& task) override {
    task_ = &task;
    processor_->init(*this);
  }
  void close() override { processor_->close(); }
  void receive(const Record<KIn, VIn>& record) override {
    try {
      processor_->process(record);
    } catch (const FailedProcessingError&) {
      throw;  // a processor below failed and the handler said so
    } catch (const std::exception& e) {
      task_processing_failed(*task_, name(), e);
    }
  }

  // ProcessorContext
  void forward(const Record<KOut, VOut>& record) override { children_.forward(record); }
  void forward(const Record<KOut, VOut>& record, const std::string& child) override {
    children_.forward(record, child);
  }
  const std::string& application_id() const override { return task_application_id(*task_); }
  const std::string& task_id() const override { return task_id_of(*task_); }
  std::optional<RecordMetadata> record_metadata() const override {
    return task_record_metadata(*task_);
  }
  int64_t current_stream_time_ms() const override { return task_stream_time(*task_); }
  int64_t current_system_time_ms() const override { return task_system_time(*task_); }
  Cancellable schedule(std::chrono::milliseconds interval, PunctuationType type,
                       Punctuator punctuator) override {
    return task_schedule(*task_, name(), interval, type, std::move(punctuator));
  }
  StateStore& state_store(const std::string& store) override {
    return task_state_store(*task_, name(), store);
  }

 private:
  std::unique_ptr<Processor<KIn, VIn, KOut, VOut>> processor_;
  Forwarder<KOut, VOut> children_;
  Task* task_ = nullptr;
};

}  // namespace sluice::streams
