#pragma once
// The plugin side of Kafka Connect: connectors, their tasks, and the registry
// that finds a connector by the class name a configuration gives
// (`connector.class`). A connector splits its job into task configurations;
// the runtime runs each task on a thread of its own and moves records
// between the task and Kafka (converters, transforms, offsets).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "connect/config.h"
#include "connect/data.h"
#include "connect/record.h"

namespace sluice::connect {

enum class ConnectorType { source, sink };

const char* connector_type_name(ConnectorType type);  // "source", "sink" (REST's "type")

// What a source task reads its last committed position from: the offset the
// runtime stored for one of its source partitions (Kafka's OffsetStorageReader).
// Valid from start() until the task's stop() has returned, on the task's
// thread (a task that finds new source partitions while running reads their
// offsets then).
class OffsetReader {
 public:
  virtual ~OffsetReader() = default;
  virtual std::optional<Map> offset(const Map& source_partition) = 0;
};

class SourceTask {
 public:
  virtual ~SourceTask() = default;
  virtual Status start(const Properties& config, OffsetReader& offsets) = 0;
  // Records ready now. Waits at most `max_wait` when there are none (an empty
  // answer is normal); an error fails the task.
  virtual Result<std::vector<ConnectRecord>> poll(std::chrono::milliseconds max_wait) = 0;
  // The records up to these offsets are in Kafka (Kafka's commit()).
  virtual void committed() {}
  // Whether the runtime calls record_committed (it then keeps each record's
  // source partition and offset until Kafka acknowledges the record).
  virtual bool wants_record_commits() const { return false; }
  // One record of this task is in Kafka at `kafka_offset` of partition
  // `kafka_partition` (Kafka's commitRecord(record, metadata)); called on the
  // task's thread, possibly after stop() while the last records are flushed.
  virtual void record_committed(const Map& /*source_partition*/, const Map& /*source_offset*/,
                                int32_t /*kafka_partition*/, int64_t /*kafka_offset*/) {}
  virtual void stop() {}
};

// Kafka's ErrantRecordReporter (KIP-610): where a sink task hands a record
// it could not deliver. The runtime sends it to the dead-letter topic
// (errors.deadletterqueue.topic.name) and logs it (errors.log.enable); with
// errors.tolerance=none the answer is an error and the task fails: return
// it from put() or flush(). Called on the task's thread only.
class ErrantRecordReporter {
 public:
  virtual ~ErrantRecordReporter() = default;
  virtual Status report(const ConnectRecord& record, const Status& error) = 0;
};

class SinkTask {
 public:
  virtual ~SinkTask() = default;
  // Before start(): the runtime's reporter, or null when the connector has
  // neither a dead-letter topic nor errors.log.enable (Kafka's
  // SinkTaskContext.errantRecordReporter()). It outlives the task's stop().
  virtual void set_errant_record_reporter(ErrantRecordReporter* /*reporter*/) {}
  virtual Status start(const Properties& config) = 0;
  // Records in Kafka's order per partition. An error fails the task unless
  // errors.tolerance lets the runtime skip the records it names; a
  // retriable_error (errors.h) makes the runtime deliver the same records
  // again after a backoff, the task's partitions paused meanwhile.
  virtual Status put(std::vector<ConnectRecord> records) = 0;
  // Everything put so far is durable where the task writes it: the runtime
  // commits the consumed offsets only after this succeeds.
  virtual Status flush() = 0;
  virtual void stop() {}
};

class Connector {
 public:
  virtual ~Connector() = default;
  virtual ConnectorType type() const = 0;
  // The connector's own settings (config validation, the REST validate call).
  virtual std::vector<ConfigKey> config_keys() const = 0;
  // Checks beyond the keys' validators; the configuration is the whole
  // connector configuration.
  virtual Status start(const Properties& config) = 0;
  // At most `max_tasks` configurations, one per task to run.
  virtual std::vector<Properties> task_configs(int max_tasks) = 0;
  virtual std::unique_ptr<SourceTask> make_source_task() { return nullptr; }
  virtual std::unique_ptr<SinkTask> make_sink_task() { return nullptr; }
  virtual void stop() {}
};

struct ConnectorPlugin {
  std::string class_name;  // Kafka's fully qualified class name where one exists
  ConnectorType type;
  std::string version;
  std::function<std::unique_ptr<Connector>()> make;
};

// Every connector this binary ships.
const std::vector<ConnectorPlugin>& connector_plugins();

// Kafka's lookup of `connector.class`: the full class name, the simple name
// (`FileStreamSourceConnector`) or the simple name without `Connector`
// (`FileStreamSource`). Null when none matches.
const ConnectorPlugin* find_connector_plugin(const std::string& name);

}  // namespace sluice::connect
