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
// - Partitions are assigned with the range assignor: with every member
//   subscribed to every source topic, partition p of each topic lands on
//   the same thread, which is what a task needs (co-partitioning).
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

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "streams/metrics_http.h"
#include "streams/streams_config.h"
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

  class Thread;
  struct Plan;

 private:
  Topology topology_;
  StreamsConfig config_;
  std::shared_ptr<Plan> plan_;
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
