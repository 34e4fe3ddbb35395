#pragma once
// The edge of the transaction coordinator in the broker (the group's
// GroupService shape, src/group/README.md): creates __transaction_state
// (compacted, transaction.state.log.num.partitions, .replication.factor
// capped at the live brokers, .segment.bytes, .min.isr) when the first
// FindCoordinator for a transaction asks, follows the leadership of its
// partitions (the coordinator loads a partition it comes to lead, re-sending
// the markers of transactions it finds ending; resigns one it stops
// leading), appends with acks=all (coordinator::CoordinatorTopicLog), runs
// the partitions on a StrandPool and ticks the coordinator (timeouts,
// expiry, appends past their timeout) from its own thread.
//
// Threads: open()/stop() from the broker's controlling thread;
// coordinator() and request_topic() from any thread (reactors): neither
// blocks. on_metadata_update on the metadata loader thread: it only posts.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "base/clock.h"
#include "base/result.h"
#include "cluster/controller.h"
#include "cluster/replica_manager.h"
#include "coordinator/coordinator_topic.h"
#include "coordinator/coordinator_topic_log.h"
#include "txn/txn_coordinator.h"

namespace sluice::txn {

struct TxnServiceOptions {
  TxnConfig txn;
  BrokerId node_id{1};
  // A lone node serves before __transaction_state exists (its appends fail
  // COORDINATOR_NOT_AVAILABLE and ask for the topic); a node of a larger
  // cluster coordinates only what the image elects it for.
  bool lone_node = true;
  int16_t replication_factor = 3;     // transaction.state.log.replication.factor
  int64_t segment_bytes = 104857600;  // transaction.state.log.segment.bytes
  int32_t min_isr = 2;                // transaction.state.log.min.isr
  // An append not replicated by then fails (COORDINATOR_NOT_AVAILABLE to
  // the client): Kafka's coordinator waits request.timeout.ms.
  int64_t append_timeout_ms = 30000;
  int64_t tick_interval_ms = 100;
  size_t coordinator_threads = 2;
  const Clock* clock = &system_clock();
};

class TxnService final : public cluster::MetadataListener {
 public:
  // `producer_ids` and `markers` outlive the service.
  static Result<std::unique_ptr<TxnService>> open(cluster::Controller& controller,
                                                  cluster::ReplicaManager& replicas,
                                                  ProducerIdGenerator& producer_ids,
                                                  MarkerSender& markers, TxnServiceOptions options);
  ~TxnService() override;
  TxnCoordinator& coordinator() { return *coordinator_; }
  // Hands the creation of __transaction_state to the controller unless it
  // exists or was asked for. Never blocks: until it exists FindCoordinator
  // answers COORDINATOR_NOT_AVAILABLE and clients retry, as Kafka does.
  void request_topic() { topic_->request(); }
  bool topic_exists() const { return topic_->exists(); }
  // The leader of the transactional id's partition in the image (-1: none,
  // or no topic yet).
  int32_t coordinator_node(const std::string& transactional_id) const;
  // Stops the ticker and the strands. Idempotent.
  void stop();
  void on_metadata_update(const cluster::MetadataDelta& delta,
                          const cluster::MetadataImagePtr& new_image) override;

 private:
  TxnService(cluster::Controller& controller, cluster::ReplicaManager& replicas,
             TxnServiceOptions options);
  void run_ticker();
  void wait_for_loads();
  // The finalized transaction.version, for the coordinator's own aborts.
  void follow_features(const cluster::MetadataImage& image);

  cluster::Controller& controller_;
  cluster::ReplicaManager& replicas_;
  TxnServiceOptions options_;
  std::unique_ptr<coordinator::CoordinatorTopic> topic_;
  std::unique_ptr<coordinator::CoordinatorTopicLog> log_;
  std::unique_ptr<coordinator::StrandPool> strands_;  // outlives coordinator_
  std::unique_ptr<TxnCoordinator> coordinator_;
  bool subscribed_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread ticker_;
};

}  // namespace sluice::txn
