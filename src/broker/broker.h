#pragma once
// The broker: owns the storage, the cluster state and the network server,
// and turns request frames into handler calls (net::RequestHandler).
//
// Thread contract: open/start/stop from the controlling thread (main);
// handle() runs on reactor threads, concurrently across connections.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/lane_pool.h"
#include "base/random.h"
#include "base/task_pool.h"
#include "broker/authorization.h"
#include "broker/broker_config.h"
#include "broker/delayed_operation.h"
#include "broker/fetch_session.h"
#include "broker/metadata_answer.h"
#include "broker/quotas.h"
#include "broker/request_context.h"
#include "cluster/controller.h"
#include "cluster/isr_manager.h"
#include "cluster/replica_fetcher.h"
#include "cluster/replica_manager.h"
#include "group/group_service.h"
#include "net/server.h"
#include "storage/dir_lock.h"
#include "storage/file_system.h"
#include "storage/log_manager.h"
#include "txn/marker_sender.h"
#include "txn/producer_id_manager.h"
#include "txn/txn_interfaces.h"
#include "txn/txn_service.h"
#include "txn/txn_verifier.h"

namespace sluice::broker {

// The broker's time and randomness, handed to every state machine it owns
// (controller, log manager, group coordinator), none of which reads the
// system clock or entropy itself: `sluice serve` passes the system's, a test
// or a simulation a ManualClock and a SeededRandom. Both outlive the broker.
struct BrokerEnvironment {
  const Clock* clock = &system_clock();
  RandomSource* random = &system_random();
  // The data logs' file system; null: the real disk (PosixFileSystem). Tests
  // pass one that injects faults (a slow write). Outlives the broker.
  storage::FileSystem* data_file_system = nullptr;
};

struct ApiHandler;  // handlers.h

class Broker : public net::RequestHandler, public cluster::MetadataListener {
 public:
  // Loads the data in the configured directories (recovering after an
  // unclean stop). Fails with a message naming the problem.
  static Result<std::unique_ptr<Broker>> open(BrokerConfig config,
                                              BrokerEnvironment environment = {});
  ~Broker() override;

  // Starts listening. After it returns ok the broker serves requests.
  Status start();
  // Stops accepting, drains answers owed, flushes and writes checkpoints.
  void stop();
  // Before stop(), on SIGTERM (Kafka's controlled shutdown, KRaft's
  // BrokerLifecycleManager): a broker of a quorum heartbeats WantShutDown
  // to the active controller, which moves the leadership of its partitions
  // to other replicas and answers ShouldShutDown once every active broker
  // has seen that; then, if this node leads the quorum, it resigns
  // (EndQuorumEpoch) and waits for another voter to lead. Bounded by
  // `timeout` (and by a second without any known active controller);
  // returns one line for the log saying what happened. Blocks the caller
  // (main); any thread but the lifecycle and quorum threads.
  std::string shut_down_gracefully(std::chrono::milliseconds timeout);

  uint16_t bound_port(size_t listener_index = 0) const {
    return server_->bound_port(listener_index);
  }
  const BrokerConfig& config() const { return config_; }
  // Whether the connection may do an operation (authorization.h).
  const Authorization& authorization() const { return *authorization_; }
  // Client quotas from the metadata image (quotas.h).
  QuotaManagers& quotas() { return *quotas_; }
  // The metadata side (broker_metadata.cc): the controller owns the
  // metadata log and publishes the image; valid after open().
  cluster::Controller& controller() const { return *controller_; }
  cluster::MetadataImagePtr metadata_image() const { return controller_->image(); }
  // Metadata answers' topic parts, encoded once per image (metadata_answer.h).
  TopicPartCache& metadata_topic_parts() const { return metadata_topic_parts_; }
  // Runs `work` on the controller thread (admin requests block on the
  // metadata log's fsync, never on a reactor). If the broker stops before it
  // runs, the request's connection is closed instead: stop() does not wait
  // for queued admin requests.
  void submit_to_controller(RequestContext context, std::function<void(RequestContext&)> work);
  // Makes the data path follow the image (called by the controller).
  void on_metadata_update(const cluster::MetadataDelta& delta,
                          const cluster::MetadataImagePtr& new_image) override;

  void handle(const net::ConnectionInfo& connection, std::shared_ptr<const FrameBuffer> frame,
              net::Respond respond) override;
  // The connection's session (sasl.h): its principal and authentication.
  std::shared_ptr<net::ConnectionState> open_connection(
      const net::ConnectionInfo& connection) override;

  // The data path (broker_data_path.cc), for handlers; valid after open().
  cluster::ReplicaManager& replica_manager() { return *replica_manager_; }
  storage::LogManager& log_manager() { return *log_manager_; }
  FetchSessionCache& fetch_sessions() { return *fetch_sessions_; }
  DelayedOperationTimer& delayed_operations() { return *delayed_operations_; }
  // Threads that may wait on a disk, for Fetch's reads of pages not in the
  // page cache (fetch.cc): a reactor never does.
  TaskPool& fetch_reads() { return *fetch_reads_; }
  // The threads Produce's appends run on (produce.cc): a partition's always
  // on the same lane (`append_lane`), so its appends keep request order; a
  // reactor never writes a log.
  LanePool& appends() { return *appends_; }
  size_t append_lane(const std::string& topic, int32_t partition) const;
  // The leader's ISR changes (broker_replication.cc); valid after open().
  cluster::IsrManager& isr_manager() { return *isr_manager_; }
  // The group coordinator (group_handlers.cc); valid after open().
  group::GroupService& groups() { return *groups_; }
  // Producer ids for InitProducerId (producer_ids.cc), from blocks the
  // active controller allocates; valid after open(), asks for its first
  // block on the first InitProducerId (as Kafka: a broker without idempotent
  // producers writes no ProducerIdsRecord), stopped by stop().
  txn::ProducerIdManager& producer_ids() { return *producer_ids_; }
  // The transaction coordinator (txn_handlers.cc); valid after open().
  txn::TxnService& transactions() { return *transactions_; }
  // The producer ids and the marker sender the transaction coordinator uses.
  txn::ProducerIdGenerator& txn_producer_ids() { return *producer_ids_; }
  txn::MarkerSender& txn_marker_sender() { return *marker_sender_; }
  // KIP-890: asks transaction coordinators whether a Produce's partitions
  // are in its transaction (produce.cc); valid after open().
  txn::TxnVerifier& txn_verifier() { return *txn_verifier_; }
  // Topic settings in `image`: overrides over the broker defaults
  // (cluster/topic_config.h); `topic` null: the defaults.
  storage::LogConfig topic_log_config(const cluster::TopicImage* topic,
                                      const cluster::MetadataImage& image) const;
  cluster::AppendPolicy topic_append_policy(const cluster::TopicImage& topic,
                                            const cluster::MetadataImage& image) const;

 private:
  bool exempt_from_request_quota(const net::ConnectionInfo& connection,
                                 const ApiHandler& handler) const;
  void handle_under_request_quota(const ApiHandler& handler, RequestContext context,
                                  WireReader& reader);
  Broker(BrokerConfig config, BrokerEnvironment environment);
  Status lock_dirs();
  Status open_metadata();
  std::vector<cluster::BrokerEndpoint> advertised_endpoints() const;
  void register_endpoints();
  bool registered_in(const cluster::MetadataImage& image) const;
  // broker_lifecycle.cc: registration and heartbeats in a quorum.
  bool lone_node() const;
  void run_registration();
  void send_registration();
  void send_heartbeat();
  void on_registered(int16_t error, int64_t broker_epoch);
  void on_heartbeat_answer(int16_t error, bool fenced, bool should_shutdown = false);
  std::string controlled_shutdown(std::chrono::steady_clock::time_point deadline);
  std::string resign_quorum_leadership(std::chrono::steady_clock::time_point deadline);
  // Runs Controller::tick() on the controller thread periodically (fencing
  // brokers whose session expired), from the delayed-operation timer, until
  // stop().
  void schedule_controller_tick();
  void close_metadata();
  Status open_data_path();
  void close_data_path();
  // broker_replication.cc: followers' fetchers and the ISR checks.
  Status open_replication();
  void follow_replicas(const cluster::MetadataImagePtr& image);
  void send_alter_partition(
      protocol::AlterPartitionRequest request,
      std::function<void(net::ClientResult<protocol::AlterPartitionResponse>)> done);
  void schedule_isr_check();
  void close_replication();
  Status open_groups();
  void close_groups();
  // producer_ids.cc
  Status open_producer_ids();
  void close_producer_ids();
  int64_t producer_ids_broker_epoch();
  void send_allocate_producer_ids(
      protocol::AllocateProducerIdsRequest request,
      std::function<void(net::ClientResult<protocol::AllocateProducerIdsResponse>)> done);
  // The transaction markers' sender (its own thread; producer_ids.cc).
  Status open_marker_sender();
  void close_marker_sender();
  // The Produce verifier (its own thread; producer_ids.cc).
  Status open_txn_verifier();
  void close_txn_verifier();
  // txn_handlers.cc
  Status open_transactions();
  void close_transactions();

  BrokerConfig config_;
  BrokerEnvironment environment_;
  // First member, so released last: held from before anything in the dirs
  // is read or written until every file is closed.
  std::vector<storage::DirLock> dir_locks_;
  std::unique_ptr<storage::FileSystem> metadata_file_system_;
  std::unique_ptr<cluster::Controller> controller_;
  std::unique_ptr<storage::FileSystem> file_system_;
  std::unique_ptr<storage::LogManager> log_manager_;
  std::unique_ptr<cluster::ReplicaManager> replica_manager_;
  std::unique_ptr<FetchSessionCache> fetch_sessions_;
  std::unique_ptr<DelayedOperationTimer> delayed_operations_;
  std::unique_ptr<TaskPool> fetch_reads_;
  std::unique_ptr<LanePool> appends_;
  std::unique_ptr<cluster::ReplicaFetcherManager> replica_fetchers_;
  std::unique_ptr<cluster::IsrManager> isr_manager_;
  std::unique_ptr<group::GroupService> groups_;
  std::unique_ptr<txn::ProducerIdManager> producer_ids_;
  std::unique_ptr<txn::TcpMarkerSender> marker_sender_;
  std::unique_ptr<txn::TcpTxnVerifier> txn_verifier_;
  std::unique_ptr<txn::TxnService> transactions_;
  std::unique_ptr<net::Server> server_;
  std::unique_ptr<Authorization> authorization_;
  std::unique_ptr<QuotaManagers> quotas_;
  // Filled by const handlers (a cache of what the image says).
  mutable TopicPartCache metadata_topic_parts_;
  std::atomic<bool> stopped_{false};
  std::mutex registration_mutex_;
  std::condition_variable registration_changed_;
  bool registration_stopping_ = false;
  bool lifecycle_in_flight_ = false;
  Uuid incarnation_id_;
  int64_t broker_epoch_ = -1;  // -1: not registered (yet, or again)
  bool fenced_ = true;
  bool want_shutdown_ = false;    // heartbeats ask for a controlled shutdown
  bool should_shutdown_ = false;  // the controller agreed
  std::thread registration_thread_;
};

}  // namespace sluice::broker
