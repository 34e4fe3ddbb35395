#pragma once
// Kafka's GlobalStreamThread: keeps an instance's global stores (GlobalKTable)
// from every partition of their source topics. start() assigns all those
// partitions from the beginning (the stores are in memory; the topics are
// their changelogs) and reads each to its end before it returns, so the
// stream threads started after it see whole tables; then a thread follows
// the topics. The stores are written by this thread only and read by the
// stream threads' tasks (they lock per operation).

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "streams/rdkafka_client.h"
#include "streams/streams_config.h"
#include "streams/task.h"
#include "streams/topology.h"

namespace sluice::streams {

class GlobalStreamThread final : private RecordCollector {
 public:
  // `nodes`: the global sub-topologies' nodes.
  GlobalStreamThread(const Topology& topology, const StreamsConfig& config,
                     std::vector<std::string> nodes);
  ~GlobalStreamThread() override;
  GlobalStreamThread(const GlobalStreamThread&) = delete;
  GlobalStreamThread& operator=(const GlobalStreamThread&) = delete;

  // Bootstraps the stores, then follows the topics on a thread. Throws
  // std::runtime_error when a topic is missing or cannot be read to its end.
  void start();
  void stop();
  // The global stores by name; valid until this object is destroyed.
  std::map<std::string, StateStore*> stores() const;
  bool failed() const { return failed_; }
  std::string error() const;

 private:
  // A global store's processor forwards nowhere (Kafka forbids sinks there).
  void send(SerializedRecord record) override;
  int32_t partition_count(const std::string& topic) override;
  void assign_all_partitions();
  void bootstrap();
  // Processes what one poll returns; false when nothing came.
  bool poll_once(int timeout_ms, std::set<std::pair<std::string, int32_t>>* at_end);
  void run();

  const Topology& topology_;
  const StreamsConfig& config_;
  std::unique_ptr<Task> task_;
  rdkafka::RdKafka consumer_;
  std::thread thread_;
  std::atomic<bool> running_{true};
  std::atomic<bool> failed_{false};
  mutable std::mutex error_mutex_;
  std::string error_;
  size_t partition_count_ = 0;
};

}  // namespace sluice::streams
