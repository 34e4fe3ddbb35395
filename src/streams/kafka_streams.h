#pragma once
// Runs a topology against Kafka (Kafka's KafkaStreams): threads that each
// consume as the group `application.id`, make a task per sub-topology and
// input partition they are assigned, restore its stores from their
// changelog topics, process records and commit.
//
// - Internal topics (repartition, changelog) are created at start with
//   Kafka Streams' names and partition counts: a sub-topology has as many
//   tasks as its source topics' largest partition count; a repartition
//   topic as many partitions as the sub-topology writing it, a changelog
//   as its store's sub-topology (compacted).
// - Tasks are assigned by the group itself (stream_thread_membership.h:
//   the "stream" protocol, the leader's sticky assignor with standbys and
//   warm-ups); each thread's consumer is assign()ed its active tasks'
//   partitions, its restore consumer keeps the standbys up to date.
// - at_least_once: every commit.interval.ms the producer is flushed (all
//   output and changelog records acknowledged), then the consumed offsets
//   are committed. A crash re-processes what followed the last commit.
// - exactly_once_v2: one transactional producer per thread; output,
//   changelog records and the consumed offsets commit in one transaction
//   every commit.interval.ms; stores restore only committed records.
// - Global stores (GlobalKTable) are read whole by a global thread before
//   the stream threads start, and kept up to date by it (global_thread.h).
// - A processing error stops the thread (state ERROR), as Kafka's default
//   uncaught exception handler (SHUTDOWN_CLIENT) does.
// - Each thread has a record cache of cache.max.bytes.buffering / threads
//   (record_cache.h), flushed at every commit.
// - metrics() returns Kafka Streams' client, thread, task and store metrics
//   (streams_metrics.h); sluice.metrics.prometheus.listener serves them.
// - State (state_directory.h): with a persistent store in the topology the
//   instance locks `<state.dir>/<application.id>` at start; each task keeps
//   its RocksDB stores and `.checkpoint` in `<subtopology>_<partition>`.
//   at_least_once writes the checkpoint after every commit, exactly_once_v2
//   only at a clean close; a restart restores from the checkpointed offsets.
//   Standby tasks live there too (persistent, checkpointed). The process
//   id is kept in the directory, and a member reports the checkpointed
//   offsets of the task directories it holds, so a restarted instance is
//   the same client to the assignor and gets its tasks back.
// - Interactive queries (interactive_queries.h): store() reads the stores
//   of this instance's running active tasks. Across instances
//   (streams_metadata.h): with `application.server` set, every instance
//   learns from each assignment which host runs, and which keep standby
//   copies of, each store's partitions: metadata_for_all_stream_clients(),
//   streams_metadata_for_store() and query_metadata_for_key() say where to
//   ask (the application serves its own endpoint there).

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "streams/interactive_queries.h"
#include "streams/metrics_http.h"
#include "streams/murmur2.h"
#include "streams/serde.h"
#include "streams/streams_config.h"
#include "streams/streams_metadata.h"
#include "streams/streams_metrics.h"
#include "streams/topology.h"

namespace sluice::streams {

class GlobalStreamThread;

class KafkaStreams {
 public:
  enum class State { created, rebalancing, running, pending_shutdown, not_running, error };

  KafkaStreams(const Topology& topology, StreamsConfig config);
  ~KafkaStreams();
  KafkaStreams(const KafkaStreams&) = delete;
  KafkaStreams& operator=(const KafkaStreams&) = delete;

  // Creates the internal topics and starts the threads; throws
  // std::runtime_error when that fails (unreachable cluster, a source topic
  // that does not exist).
  void start();
  // Stops every thread after it commits what it processed.
  void close();

  State state() const;
  // Why the state is ERROR.
  std::string error() const;

  // Kafka's metrics(): the client's, and every thread's, task's and store's.
  std::vector<Metric> metrics() const;
  // The Prometheus endpoint's port (started by start()); 0 when off.
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }
  // A read-only view of a local store (Kafka's KafkaStreams#store). Throws
  // StreamsNotStartedException before start(), InvalidStateStoreException
  // when the instance is not RUNNING or REBALANCING,
  // UnknownStateStoreException when the topology has no such store.
  template <class Type>
  typename Type::View store(const StoreQueryParameters<Type>& parameters) const {
    return typename Type::View(queryable_stores(parameters.store_name), parameters.store_name,
                               parameters.partition);
  }
  template <class Type>
  typename Type::View store(const std::string& name, Type type) const {
    return store(StoreQueryParameters<Type>::from_name_and_type(name, type));
  }

  // Where the application's stores live (Kafka's StreamsMetadata, from the
  // latest assignment; instances without application.server are not
  // known). Each throws StreamsNotStartedException before start() and
  // std::logic_error ("KafkaStreams is not running. State is ERROR.")
  // unless RUNNING or REBALANCING, as Kafka's.
  // Every instance with an application.server (Kafka's
  // metadataForAllStreamsClients).
  std::vector<StreamsMetadata> metadata_for_all_stream_clients() const;
  // Those running or keeping a standby copy of `store` (Kafka's
  // streamsMetadataForStore).
  std::vector<StreamsMetadata> streams_metadata_for_store(const std::string& store) const;
  // The host running `key`'s partition of `store`, the hosts keeping
  // standby copies of it, and the partition: the default partitioner's
  // (murmur2 of the serialized key, as the producers wrote the store's
  // input) among the store's source topic partitions (Kafka's
  // queryMetadataForKey). KeyQueryMetadata::not_available() until an
  // assignment named hosts (a rebalance: ask again); nullopt (Kafka's null)
  // for a store no source topic feeds.
  template <class K>
  std::optional<KeyQueryMetadata> query_metadata_for_key(const std::string& store, const K& key,
                                                         const Serde<K>& key_serde) const {
    return key_query_metadata(
        store,
        [&](const std::string& topic, int32_t num_partitions) -> std::optional<std::set<int32_t>> {
          std::optional<std::string> bytes = key_serde.serialize(topic, key);
          if (!bytes || num_partitions <= 0) return std::nullopt;
          return std::set<int32_t>{partition_for_key(*bytes, num_partitions)};
        });
  }
  // The same with the partitioner the store's input was written with
  // (key, partition count) -> partition.
  template <class K>
  std::optional<KeyQueryMetadata> query_metadata_for_key(
      const std::string& store, const K& key,
      const std::function<int32_t(const std::type_identity_t<K>&, int32_t num_partitions)>&
          partitioner) const {
    return key_query_metadata(
        store, [&](const std::string&, int32_t num_partitions) -> std::optional<std::set<int32_t>> {
          return std::set<int32_t>{partitioner(key, num_partitions)};
        });
  }

  // Deletes this application's local state (Kafka's cleanUp()); only
  // before start() or after close().
  void clean_up();

  class Thread;
  struct Plan;

 private:
  std::shared_ptr<const LocalStores> queryable_stores(const std::string& store) const;
  // Kafka's validateIsRunningOrRebalancing.
  void validate_is_running_or_rebalancing() const;
  std::optional<KeyQueryMetadata> key_query_metadata(const std::string& store,
                                                     const KeyPartitions& partitions) const;

  Topology topology_;
  StreamsConfig config_;
  std::shared_ptr<LocalStores> local_stores_ = std::make_shared<LocalStores>();
  std::shared_ptr<Plan> plan_;
  std::shared_ptr<StreamsMetadataState> metadata_state_;  // made by start()
  std::string client_id_;
  std::vector<std::shared_ptr<ThreadMetrics>> thread_metrics_;
  std::vector<std::unique_ptr<Thread>> threads_;
  std::unique_ptr<GlobalStreamThread> global_;  // when the topology has global stores
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  bool started_ = false;
  bool closed_ = false;
};

const char* state_name(KafkaStreams::State state);

}  // namespace sluice::streams
