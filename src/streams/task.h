#pragma once
// One task: the nodes and stores of a sub-topology (or of the whole
// topology, in the test driver) made for one input partition, the stream
// time, the punctuation schedules, and where output goes. Kafka's
// StreamTask without the consumer: the runtime and the test driver feed it
// records and collect what it sends. Single-threaded: one thread calls
// everything.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "streams/checkpoint.h"
#include "streams/exception_handlers.h"
#include "streams/node.h"
#include "streams/record.h"
#include "streams/record_cache.h"
#include "streams/store.h"
#include "streams/streams_metrics.h"
#include "streams/timestamp_extractor.h"
#include "streams/topology.h"

namespace sluice::streams {

// `default.deserialization.exception.handler`: Kafka's
// LogAndFailExceptionHandler (the default) or LogAndContinueExceptionHandler.
enum class DeserializationHandling { log_and_fail, log_and_continue };

struct TaskSettings {
  std::string application_id;
  int subtopology = 0;
  int32_t partition = 0;
  DeserializationHandling on_deserialization_error = DeserializationHandling::log_and_fail;
  std::function<int64_t()> system_time_ms;  // the wall clock (mockable)
  // The instance's global stores (a global thread keeps them) when the
  // task does not hold them itself.
  std::map<std::string, StateStore*> global_stores;
  // default.timestamp.extractor: for sources without their own.
  BuiltInTimestampExtractor timestamp_extractor = BuiltInTimestampExtractor::fail_on_invalid;
  // processing.exception.handler (nullptr: LogAndFail).
  std::shared_ptr<ProcessingExceptionHandler> processing_exception_handler = nullptr;
  // The thread's record cache (nullptr or disabled: no caching stores).
  ThreadCache* cache = nullptr;
  // Where the task's metrics are listed (nullptr: the task keeps its own).
  std::shared_ptr<ThreadMetrics> thread_metrics = nullptr;
  RecordingLevel recording_level = RecordingLevel::info;
  // The task's directory (`<state.dir>/<application.id>/<task>`), where
  // persistent stores and the checkpoint live; empty: none (in-memory
  // stores only).
  std::string state_dir;
  // exactly_once_v2: a persistent store without a checkpointed offset is
  // wiped at start, and the checkpoint file is removed while processing.
  bool exactly_once = false;
  // A standby copy: it only applies committed changelog records, so it
  // keeps its checkpoint file under exactly_once_v2 too (until promote()).
  bool standby = false;
};

// Where a task's records go: what sinks write and the stores' changelogs.
class RecordCollector {
 public:
  virtual ~RecordCollector() = default;
  virtual void send(SerializedRecord record) = 0;
  // The partition count of `topic` (for a sink's StreamPartitioner);
  // throws StreamsError when the topic does not exist.
  virtual int32_t partition_count(const std::string& topic) = 0;
};

class Task final : private RecordContextAccess {
 public:
  // Makes the nodes named `node_names` (all of `topology` when empty) and
  // the stores they use, wires and initializes them.
  Task(const Topology& topology, std::vector<std::string> node_names, TaskSettings settings,
       RecordCollector& collector);
  ~Task();
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  // The resolved topics this task's sources read.
  const std::set<std::string>& input_topics() const { return input_topics_; }
  // Changelog topic of each logged store.
  std::map<std::string, std::string> changelog_topics() const;

  // Processes one record of an input topic. Throws StreamsError when it
  // cannot (a processor failed, a record the handler refuses).
  void process(const SerializedRecord& record);
  // Runs the punctuations due; true when one ran.
  bool maybe_punctuate_stream_time();
  bool maybe_punctuate_system_time();

  // Applies a changelog record to its store, without logging it again;
  // `offset` is the record's changelog offset (kept for the checkpoint).
  void restore(const std::string& store, const std::string& key,
               const std::optional<std::string>& value, int64_t offset = -1);
  // Where restoring `store` starts: the offset after its checkpointed one,
  // nullopt for the changelog's beginning (in-memory stores always).
  std::optional<int64_t> restore_start_offset(const std::string& store) const;
  // Writes the checkpoint file (checkpoint.h): the changelog offset of each
  // persistent logged store, the latest of what it restored and what was
  // written to its changelog partition (`written`: offsets the producer
  // acknowledged). The stores are flushed first.
  void checkpoint(const std::map<TopicPartition, int64_t>& written);
  // A standby copy becomes an active task: from now on its stores take
  // writes of open transactions, so under exactly_once_v2 its checkpoint
  // file goes, as an active task's does when it starts.
  void promote();

  StateStore* store(const std::string& name);
  std::vector<std::string> store_names() const;
  // Flushes the stores in topology order: their record caches forward
  // what they hold (Kafka's commit), then the stores flush.
  void flush();
  // Flushes, then closes the processors and the stores.
  void close();
  const std::shared_ptr<TaskMetrics>& metrics() const { return metrics_; }

  const std::string& id() const { return id_; }
  int64_t stream_time() const { return stream_time_; }
  int64_t skipped_records() const { return skipped_records_; }

  // For nodes (node.h's task_* functions).
  const TaskSettings& settings() const { return settings_; }
  std::optional<RecordMetadata> current_metadata() const { return current_; }
  Cancellable schedule(const std::string& node, std::chrono::milliseconds interval,
                       PunctuationType type, Punctuator punctuator);
  StateStore& store_for(const std::string& node, const std::string& store);
  void send(SerializedRecord record) { collector_.send(std::move(record)); }
  int32_t partition_count(const std::string& topic) { return collector_.partition_count(topic); }
  void record_dropped_by_partitioner(const std::string& topic);
  // For source nodes: the configured extractor's timestamp for the record
  // being processed, and its partition's time; whether the record goes on
  // with `timestamp` (false: dropped for a negative one).
  int64_t default_timestamp(const SerializedRecord& record);
  int64_t partition_time() const;
  bool admit(const SerializedRecord& record, int64_t timestamp, const char* extractor);
  void deserialization_failed(const SerializedRecord& record, const SerializationError& error);
  // A processor threw: the processing exception handler decides.
  void processing_failed(const std::string& node, const std::exception& error);

 private:
  struct Schedule {
    std::string node;
    int64_t next = 0;
    int64_t interval = 0;
    Punctuator punctuator;
    std::shared_ptr<bool> cancelled;
  };

  struct Source {
    SourceNodeBase* node = nullptr;
    int64_t partition_time = -1;  // Kafka's UNKNOWN
  };

  // RecordContextAccess: the record caches' view.
  CachedRecordContext current_record_context() const override;
  void with_record_context(const CachedRecordContext& context,
                           const std::function<void()>& body) override;

  void make_stores(const Topology& topology);
  void add_store_layers(const std::string& name, const StoreBuilder& builder, StateStore& store);
  void load_checkpoint();
  std::string changelog_topic(const std::string& store) const;
  OffsetCheckpoint checkpoint_file() const;
  void log_changes(const std::string& store, KeyValueBytesStore& bytes);
  bool punctuate(std::vector<Schedule>& schedules, int64_t now);

  TaskSettings settings_;
  std::string id_;
  RecordCollector& collector_;
  std::vector<std::unique_ptr<NodeBase>> nodes_;  // in topology order
  std::map<std::string, Source> source_of_topic_;
  std::set<std::string> input_topics_;
  std::map<std::string, std::unique_ptr<StateStore>> stores_;
  std::vector<StateStore*> store_order_;                     // in the order of the nodes using them
  std::map<std::string, KeyValueBytesStore*> inner_stores_;  // under the cache: restore here
  std::map<std::string, std::shared_ptr<StoreMetrics>> store_metrics_;
  std::shared_ptr<TaskMetrics> metrics_;
  Source* current_source_ = nullptr;
  const Headers* current_headers_ = nullptr;
  std::map<std::string, bool> store_logged_;
  std::map<std::string, int64_t> store_offsets_;  // last changelog offset a store holds
  std::map<std::string, std::set<std::string>> stores_of_node_;
  std::set<std::string> global_store_names_;  // readable by every node
  std::vector<Schedule> stream_time_schedules_;
  std::vector<Schedule> system_time_schedules_;
  std::optional<RecordMetadata> current_;
  int64_t current_timestamp_ = 0;
  int64_t stream_time_ = -1;  // Kafka's "unknown" stream time
  int64_t skipped_records_ = 0;
  bool restoring_ = false;
  bool closed_ = false;
};

}  // namespace sluice::streams
