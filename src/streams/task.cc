#include "streams/task.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "streams/state_directory.h"

namespace sluice::streams {

// node.h's view of a task.
void send_from_sink(Task& task, SerializedRecord record) { task.send(std::move(record)); }
int32_t task_partition_count(Task& task, const std::string& topic) {
  return task.partition_count(topic);
}
void task_record_dropped_by_partitioner(Task& task, const std::string& topic) {
  task.record_dropped_by_partitioner(topic);
}
void check_partition_in_range(const std::string& topic, int32_t partition, int32_t count) {
  if (partition < 0 || partition >= count) {
    throw StreamsError("Invalid partition given with record: " + std::to_string(partition) +
                       " is not in the range [0..." + std::to_string(count) + "] of topic " +
                       topic + ".");
  }
}
int64_t task_stream_time(const Task& task) { return task.stream_time(); }
int64_t task_system_time(const Task& task) { return task.settings().system_time_ms(); }
const std::string& task_application_id(const Task& task) { return task.settings().application_id; }
const std::string& task_id_of(const Task& task) { return task.id(); }
std::optional<RecordMetadata> task_record_metadata(const Task& task) {
  return task.current_metadata();
}
Cancellable task_schedule(Task& task, const std::string& node, std::chrono::milliseconds interval,
                          PunctuationType type, Punctuator punctuator) {
  return task.schedule(node, interval, type, std::move(punctuator));
}
StateStore& task_state_store(Task& task, const std::string& node, const std::string& store) {
  return task.store_for(node, store);
}
void task_deserialization_failed(Task& task, const SerializedRecord& record,
                                 const SerializationError& error) {
  task.deserialization_failed(record, error);
}
int64_t task_default_timestamp(Task& task, const SerializedRecord& record) {
  return task.default_timestamp(record);
}
int64_t task_partition_time(const Task& task) { return task.partition_time(); }
bool task_admit(Task& task, const SerializedRecord& record, int64_t timestamp,
                const char* extractor) {
  return task.admit(record, timestamp, extractor);
}
void throw_extractor_failed(const SerializedRecord& record, const std::exception& e) {
  throw StreamsError("Fatal user code error in TimestampExtractor callback for record " +
                     describe_consumer_record(record) + ". (" + e.what() + ")");
}
void task_processing_failed(Task& task, const std::string& node, const std::exception& error) {
  task.processing_failed(node, error);
}

Task::Task(const Topology& topology, std::vector<std::string> node_names, TaskSettings settings,
           RecordCollector& collector)
    : settings_(std::move(settings)),
      id_(std::to_string(settings_.subtopology) + "_" + std::to_string(settings_.partition)),
      collector_(collector),
      global_store_names_(topology.global_stores()) {
  if (!settings_.system_time_ms) {
    settings_.system_time_ms = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (settings_.thread_metrics) {
    metrics_ = settings_.thread_metrics->task_created(id_);
  } else {
    metrics_ = std::make_shared<TaskMetrics>(id_);
  }
  if (!settings_.processing_exception_handler) {
    settings_.processing_exception_handler =
        std::make_shared<LogAndFailProcessingExceptionHandler>();
  }
  std::set<std::string> wanted(node_names.begin(), node_names.end());
  std::map<std::string, NodeBase*> by_name;
  for (const NodeSpec& spec : topology.nodes()) {
    if (!wanted.empty() && wanted.count(spec.name) == 0) continue;
    std::string sink_topic;
    if (spec.kind == NodeKind::sink) {
      sink_topic = Topology::resolve_topic(spec.topics.front(), spec.internal_topics,
                                           settings_.application_id);
    }
    std::unique_ptr<NodeBase> node = spec.make(sink_topic);
    by_name[spec.name] = node.get();
    for (const std::string& parent : spec.parents) {
      auto found = by_name.find(parent);
      if (found == by_name.end()) {
        throw TopologyError("node " + spec.name + " and its parent " + parent +
                            " are not in the same sub-topology");
      }
      found->second->add_child(*node);
    }
    if (spec.kind == NodeKind::source) {
      auto* source = dynamic_cast<SourceNodeBase*>(node.get());
      for (const std::string& topic : spec.topics) {
        std::string resolved =
            Topology::resolve_topic(topic, spec.internal_topics, settings_.application_id);
        source_of_topic_[resolved].node = source;
        input_topics_.insert(resolved);
      }
    }
    stores_of_node_[spec.name].insert(spec.stores.begin(), spec.stores.end());
    nodes_.push_back(std::move(node));
  }
  make_stores(topology);
  for (auto& node : nodes_) node->init(*this);
}

Task::~Task() {
  try {
    close();
  } catch (const std::exception& e) {
    spdlog::warn("stream task {}: closing failed: {}", id_, e.what());
  }
}

void Task::make_stores(const Topology& topology) {
  for (const auto& [node, names] : stores_of_node_) {
    for (const std::string& name : names) {
      if (stores_.count(name) != 0) continue;
      const StoreBuilder& builder = topology.stores().at(name);
      std::unique_ptr<StateStore> store = builder.build();
      if (KeyValueBytesStore* bytes = store->bytes_store();
          bytes != nullptr && builder.logging_enabled) {
        log_changes(name, *bytes);
      }
      if (KeyValueBytesStore* bytes = store->bytes_store()) inner_stores_[name] = bytes;
      add_store_layers(name, builder, *store);
      store_logged_[name] = builder.logging_enabled;
      stores_.emplace(name, std::move(store));
    }
  }
  // Flushing follows the graph: what a store's cache forwards may land in
  // a store further down, flushed after it (Kafka flushes in topology order).
  for (const auto& node : nodes_) {
    for (const std::string& name : stores_of_node_[node->name()]) {
      StateStore* store = stores_.at(name).get();
      if (std::find(store_order_.begin(), store_order_.end(), store) == store_order_.end())
        store_order_.push_back(store);
    }
  }
  load_checkpoint();  // may wipe persistent stores: before they open
  StoreContext context{settings_.application_id, id_, settings_.state_dir};
  for (auto& [name, store] : stores_) store->init(context);
}

// Kafka's layers, from the outside: metered (DEBUG), caching, logging.
void Task::add_store_layers(const std::string& name, const StoreBuilder& builder,
                            StateStore& store) {
  if (builder.caching_enabled && settings_.cache != nullptr && settings_.cache->enabled()) {
    store.wrap_bytes_store([this](std::unique_ptr<KeyValueBytesStore> bytes) {
      return std::make_unique<CachingKeyValueBytesStore>(
          std::move(bytes), *settings_.cache, static_cast<RecordContextAccess&>(*this), metrics_);
    });
  }
  if (settings_.recording_level != RecordingLevel::info && settings_.thread_metrics &&
      store.bytes_store() != nullptr) {
    std::shared_ptr<StoreMetrics> metrics = settings_.thread_metrics->store(
        id_, name, store.persistent() ? "rocksdb-state" : "in-memory-state");
    store_metrics_[name] = metrics;
    store.wrap_bytes_store([metrics](std::unique_ptr<KeyValueBytesStore> bytes) {
      return std::make_unique<MeteredBytesStore>(std::move(bytes), metrics);
    });
  }
}

CachedRecordContext Task::current_record_context() const {
  CachedRecordContext context;
  context.timestamp = current_timestamp_;
  if (current_headers_ != nullptr) context.headers = *current_headers_;
  context.metadata = current_;
  return context;
}

void Task::with_record_context(const CachedRecordContext& context,
                               const std::function<void()>& body) {
  std::optional<RecordMetadata> metadata = std::move(current_);
  int64_t timestamp = current_timestamp_;
  const Headers* headers = current_headers_;
  current_ = context.metadata;
  current_timestamp_ = context.timestamp;
  current_headers_ = &context.headers;
  try {
    body();
  } catch (...) {
    current_ = std::move(metadata);
    current_timestamp_ = timestamp;
    current_headers_ = headers;
    throw;
  }
  current_ = std::move(metadata);
  current_timestamp_ = timestamp;
  current_headers_ = headers;
}

// Kafka's ProcessorStateManager at task start: the checkpointed offset of
// each persistent logged store. A corrupt file wipes the task's state (it is
// restored whole from the changelogs); so does, under exactly-once, a store
// with files but no offset (they may hold writes of an aborted transaction).
void Task::load_checkpoint() {
  if (settings_.state_dir.empty()) return;
  OffsetCheckpoint file = checkpoint_file();
  std::map<TopicPartition, int64_t> offsets;
  try {
    offsets = file.read(/*keep_unknown=*/true);
  } catch (const CorruptCheckpointError& e) {
    spdlog::error(
        "stream task {}: the checkpoint file {} is corrupt ({}): wiping the task's local state, "
        "which is restored from the changelogs",
        id_, file.path(), e.what());
    StateDirectory::wipe_task_state(settings_.state_dir);
  }
  // (is_empty of a directory not made yet is an error: no files then.)
  std::error_code missing;
  std::filesystem::path stores_dir = std::filesystem::path(settings_.state_dir) / "rocksdb";
  bool has_files = std::filesystem::exists(stores_dir, missing) &&
                   !std::filesystem::is_empty(stores_dir, missing) && !missing;
  bool wipe = false;
  for (const auto& [name, store] : stores_) {
    if (!store->persistent() || !store_logged_[name]) continue;
    auto found = offsets.find({changelog_topic(name), settings_.partition});
    if (found != offsets.end() && found->second == OffsetCheckpoint::kOffsetUnknown) {
      // Checkpointed before it held anything (Kafka's OFFSET_UNKNOWN): no
      // offset to resume from, nothing uncommitted either.
    } else if (found != offsets.end()) {
      store_offsets_[name] = found->second;
      spdlog::info("stream task {}: state store {} initialized from checkpoint with offset {}", id_,
                   name, found->second);
    } else if (settings_.exactly_once && has_files) {
      spdlog::warn(
          "State store {} did not find checkpoint offsets while stores are not empty, since "
          "under EOS it has the risk of getting uncommitted data in stores we have to treat it "
          "as a task corruption error and wipe out the local state of task {} before "
          "re-bootstrapping",
          name, id_);
      wipe = true;
    }
  }
  if (wipe) {
    StateDirectory::wipe_task_state(settings_.state_dir);
    store_offsets_.clear();
  }
  // Under exactly-once the file is written only by a clean close: a crash
  // while processing leaves none, and the next start wipes.
  if (settings_.exactly_once && !settings_.standby) file.remove();
}

void Task::promote() {
  settings_.standby = false;
  if (settings_.exactly_once && !settings_.state_dir.empty()) checkpoint_file().remove();
}

OffsetCheckpoint Task::checkpoint_file() const {
  return OffsetCheckpoint(
      (std::filesystem::path(settings_.state_dir) / OffsetCheckpoint::kFileName).string());
}

std::string Task::changelog_topic(const std::string& store) const {
  return settings_.application_id + "-" + store + "-changelog";
}

std::map<std::string, std::string> Task::changelog_topics() const {
  std::map<std::string, std::string> topics;
  for (const auto& [name, logged] : store_logged_) {
    if (logged) topics[name] = changelog_topic(name);
  }
  return topics;
}

std::optional<int64_t> Task::restore_start_offset(const std::string& store) const {
  auto found = store_offsets_.find(store);
  if (found == store_offsets_.end()) return std::nullopt;
  return found->second + 1;
}

void Task::checkpoint(const std::map<TopicPartition, int64_t>& written) {
  if (settings_.state_dir.empty() || closed_) return;
  std::map<TopicPartition, int64_t> offsets;
  for (const auto& [name, logged] : store_logged_) {
    if (!logged || !stores_.at(name)->persistent()) continue;
    TopicPartition partition{changelog_topic(name), settings_.partition};
    if (auto sent = written.find(partition); sent != written.end()) {
      auto [known, fresh] = store_offsets_.try_emplace(name, sent->second);
      if (!fresh) known->second = std::max(known->second, sent->second);
    }
    auto known = store_offsets_.find(name);
    offsets[partition] =
        known != store_offsets_.end() ? known->second : OffsetCheckpoint::kOffsetUnknown;
  }
  if (offsets.empty()) return;
  flush();
  checkpoint_file().write(offsets);
}

void Task::log_changes(const std::string& store, KeyValueBytesStore& bytes) {
  std::string topic = changelog_topic(store);
  bytes.set_change_listener(
      [this, topic](const std::string& key, const std::optional<std::string>& value) {
        if (restoring_) return;
        SerializedRecord record;
        record.topic = topic;
        record.partition = settings_.partition;
        record.timestamp = current_timestamp_;
        record.key = key;
        record.value = value;
        collector_.send(std::move(record));
      });
}

void Task::process(const SerializedRecord& record) {
  auto source = source_of_topic_.find(record.topic);
  if (source == source_of_topic_.end()) {
    throw StreamsError("task " + id_ + " has no source for topic " + record.topic);
  }
  current_ = RecordMetadata{record.topic, record.partition, record.offset};
  current_timestamp_ = record.timestamp;  // until the extractor says
  current_source_ = &source->second;
  current_headers_ = &record.headers;
  struct Reset {
    Task& task;
    ~Reset() {
      task.current_.reset();
      task.current_source_ = nullptr;
      task.current_headers_ = nullptr;
    }
  } reset{*this};
  source->second.node->process_serialized(record);
}

void Task::deserialization_failed(const SerializedRecord& record, const SerializationError& error) {
  if (settings_.on_deserialization_error == DeserializationHandling::log_and_fail) {
    throw StreamsError(
        "Deserialization exception handler is set to fail upon a deserialization "
        "error. If you would rather have the streaming pipeline continue after a "
        "deserialization error, please set the "
        "default.deserialization.exception.handler appropriately. (" +
        std::string(error.what()) + ")");
  }
  ++skipped_records_;
  metrics_->dropped.add();
  spdlog::warn(
      "Skipping record due to deserialization error. topic=[{}] partition=[{}] "
      "offset=[{}]: {}",
      record.topic, record.partition, record.offset, error.what());
}

int64_t Task::default_timestamp(const SerializedRecord& record) {
  return extract_timestamp(settings_.timestamp_extractor, record, partition_time());
}

int64_t Task::partition_time() const {
  return current_source_ != nullptr ? current_source_->partition_time : -1;
}

bool Task::admit(const SerializedRecord& record, int64_t timestamp, const char* extractor) {
  if (timestamp < 0) {
    spdlog::warn(
        "Skipping record due to negative extracted timestamp. topic=[{}] partition=[{}] "
        "offset=[{}] extractedTimestamp=[{}] extractor=[{}]",
        record.topic, record.partition, record.offset, timestamp,
        extractor != nullptr ? extractor : class_name(settings_.timestamp_extractor));
    ++skipped_records_;
    metrics_->dropped.add();
    return false;
  }
  if (current_source_ != nullptr)
    current_source_->partition_time = std::max(current_source_->partition_time, timestamp);
  // Kafka's PartitionGroup: lateness against the stream time before this record.
  if (timestamp > stream_time_) {
    stream_time_ = timestamp;
    metrics_->lateness.record(0);
  } else {
    metrics_->lateness.record(stream_time_ - timestamp);
  }
  current_timestamp_ = timestamp;
  metrics_->process.add();
  return true;
}

void Task::processing_failed(const std::string& node, const std::exception& error) {
  ErrorHandlerContext context;
  if (current_) {
    context.topic = current_->topic;
    context.partition = current_->partition;
    context.offset = current_->offset;
  }
  context.processor_node_id = node;
  context.task_id = id_;
  context.timestamp = current_timestamp_;
  HandlerResponse response = HandlerResponse::fail;
  try {
    response = settings_.processing_exception_handler->handle(context, error);
  } catch (const std::exception& e) {
    spdlog::error("Processing error callback failed after processing error for record: {}",
                  error.what());
    throw FailedProcessingError("Fatal user code error in processing error callback: " +
                                std::string(e.what()));
  }
  if (response == HandlerResponse::fail) {
    spdlog::error(
        "Processing exception handler is set to fail upon a processing error. If you would "
        "rather have the streaming pipeline continue after a processing error, please set the "
        "processing.exception.handler appropriately.");
    throw FailedProcessingError("Exception caught in process. taskId=" + id_ +
                                ", processor=" + node + ": " + error.what());
  }
  ++skipped_records_;
  metrics_->dropped.add();
}

void Task::record_dropped_by_partitioner(const std::string& topic) {
  ++skipped_records_;
  metrics_->dropped.add();
  spdlog::warn("Skipping record as partitioner returned empty partitions. topic=[{}]", topic);
}

Cancellable Task::schedule(const std::string& node, std::chrono::milliseconds interval,
                           PunctuationType type, Punctuator punctuator) {
  if (interval.count() < 1)
    throw std::invalid_argument("The minimum supported scheduling interval is 1 millisecond.");
  Schedule schedule{node, 0, interval.count(), std::move(punctuator),
                    std::make_shared<bool>(false)};
  Cancellable cancellable(schedule.cancelled);
  if (type == PunctuationType::stream_time) {
    schedule.next = 0;  // aligned to 0: the first record punctuates
    stream_time_schedules_.push_back(std::move(schedule));
  } else {
    schedule.next = settings_.system_time_ms() + interval.count();
    system_time_schedules_.push_back(std::move(schedule));
  }
  return cancellable;
}

bool Task::punctuate(std::vector<Schedule>& schedules, int64_t now) {
  std::erase_if(schedules, [](const Schedule& s) { return *s.cancelled; });
  bool any = false;
  while (true) {
    auto due =
        std::min_element(schedules.begin(), schedules.end(),
                         [](const Schedule& a, const Schedule& b) { return a.next < b.next; });
    if (due == schedules.end() || due->next > now) break;
    if (!*due->cancelled) {
      any = true;
      current_.reset();
      current_timestamp_ = now;
      Punctuator punctuator = due->punctuator;  // a punctuator may schedule more
      int64_t& next = due->next;
      // Kafka's PunctuationSchedule.next: missed punctuations are skipped.
      int64_t following = next + due->interval;
      if (now >= following) following = next + ((now - next) / due->interval + 1) * due->interval;
      next = following;
      auto started = std::chrono::steady_clock::now();
      punctuator(now);
      int64_t took = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::steady_clock::now() - started)
                         .count();
      metrics_->punctuate.record(took);
      if (settings_.thread_metrics) settings_.thread_metrics->punctuate.record(took);
    } else {
      due->next = INT64_MAX;
    }
    std::erase_if(schedules, [](const Schedule& s) { return *s.cancelled; });
  }
  return any;
}

bool Task::maybe_punctuate_stream_time() {
  if (stream_time_ < 0) return false;
  return punctuate(stream_time_schedules_, stream_time_);
}

bool Task::maybe_punctuate_system_time() {
  return punctuate(system_time_schedules_, settings_.system_time_ms());
}

void Task::restore(const std::string& store, const std::string& key,
                   const std::optional<std::string>& value, int64_t offset) {
  auto found = stores_.find(store);
  if (found == stores_.end() || found->second->bytes_store() == nullptr) {
    throw StreamsError("task " + id_ + " has no key-value store " + store + " to restore");
  }
  auto inner = inner_stores_.find(store);
  KeyValueBytesStore& bytes =
      inner != inner_stores_.end() ? *inner->second : *found->second->bytes_store();
  auto metrics = store_metrics_.find(store);
  auto started = std::chrono::steady_clock::now();
  restoring_ = true;
  if (value) {
    bytes.put(key, *value);
  } else {
    bytes.remove(key);
  }
  restoring_ = false;
  if (metrics != store_metrics_.end()) {
    metrics->second->restore.record(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now() - started)
                                        .count());
  }
  if (offset >= 0) store_offsets_[store] = offset;
}

StateStore* Task::store(const std::string& name) {
  auto found = stores_.find(name);
  return found == stores_.end() ? nullptr : found->second.get();
}

std::vector<std::string> Task::store_names() const {
  std::vector<std::string> names;
  for (const auto& [name, store] : stores_) names.push_back(name);
  return names;
}

StateStore& Task::store_for(const std::string& node, const std::string& store) {
  if (global_store_names_.count(store) != 0) {
    if (StateStore* own = this->store(store)) return *own;  // the test driver's single task
    auto global = settings_.global_stores.find(store);
    if (global != settings_.global_stores.end()) return *global->second;
  }
  const std::set<std::string>& allowed = stores_of_node_[node];
  if (allowed.count(store) == 0) {
    throw TopologyError("Processor " + node + " has no access to StateStore " + store +
                        " as the store is not connected to the processor. If you add stores "
                        "manually via '.addStateStore()' make sure to connect the added store to "
                        "the processor by providing the processor name to '.addStateStore()' or "
                        "connect them via '.connectProcessorAndStateStores()'. DSL users need to "
                        "provide the store name to '.process()', '.transform()', or "
                        "'.transformValues()' to connect the store to the corresponding operator, "
                        "or they can provide a StoreBuilder by implementing the stores() method on "
                        "the Supplier itself. If you do not add stores manually, please file a bug "
                        "report at https://issues.apache.org/jira/projects/KAFKA.");
  }
  return *stores_.at(store);
}

void Task::flush() {
  for (StateStore* store : store_order_) store->flush();
}

void Task::close() {
  if (closed_) return;
  closed_ = true;
  flush();
  for (auto& node : nodes_) node->close();
  for (auto& [name, store] : stores_) store->close();
  metrics_->active = false;
  if (settings_.thread_metrics) settings_.thread_metrics->task_closed(id_);
}

}  // namespace sluice::streams
