#pragma once
// The controller: validates admin operations (create, delete, grow topics;
// alter configs) and the brokers' lifecycle (registration, heartbeats,
// fencing, controlled shutdown: controller_brokers.cc), turns them into
// metadata records, appends them to the metadata log (fsynced before the
// call returns), replays them into a MetadataDelta over the image and
// publishes the image it builds (sharing every untouched topic).
// With a KRaft quorum later, only "append + fsync" becomes "commit through
// the quorum"; validation, records and the image stay.
//
// Threads:
//   - image() may be called from any thread (an atomic shared_ptr load).
//   - The mutating calls (create_topics, ...) may be called from any thread;
//     they are serialized by a mutex and block on fsync, so handlers call
//     them through submit(), which runs work in order on the controller's
//     own thread, never on a reactor.
//   - Listeners are called on the thread that committed (the controller
//     thread when handlers use submit()), in metadata order, under the
//     controller's lock: they must not call the mutating methods.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/config_def.h"
#include "base/error_code.h"
#include "base/random.h"
#include "cluster/broker_heartbeats.h"
#include "cluster/features.h"
#include "cluster/meta_properties.h"
#include "cluster/metadata_image.h"
#include "cluster/metadata_log.h"
#include "cluster/quorum_state_file.h"
#include "cluster/raft_manager.h"
#include "cluster/snapshot_store.h"
#include "storage/file_system.h"

namespace sluice::cluster {

// Told about every new image, with the delta that built it from the one
// before (`delta.base()`): the data path (ReplicaManager) creates and deletes
// the partition logs the delta names, without walking the unchanged ones.
class MetadataListener {
 public:
  virtual ~MetadataListener() = default;
  virtual void on_metadata_update(const MetadataDelta& delta,
                                  const MetadataImagePtr& new_image) = 0;
};

// Kafka's QuorumController.MAX_RECORDS_PER_USER_OP: one admin operation
// (a CreateTopics or CreatePartitions request) writes at most this many
// metadata records; a larger one is refused with POLICY_VIOLATION ("Unable to
// perform excessively large batch operation."). It bounds how long the
// controller thread is busy with one request (and so how long shutdown waits
// for it) and the size of one metadata batch.
inline constexpr size_t records_per_operation_max = 10'000;

// An answer for one resource: Kafka's error code and message.
struct ApiError {
  ErrorCode code = ErrorCode::NONE;
  std::string message;

  bool ok() const { return code == ErrorCode::NONE; }
  static ApiError none() { return {}; }
  static ApiError of(ErrorCode code, std::string message) { return {code, std::move(message)}; }
  // A response's nullable error_message: null when there is nothing to say.
  std::optional<std::string> message_or_null() const {
    if (ok() || message.empty()) return std::nullopt;
    return message;
  }
};

struct ControllerOptions {
  int32_t node_id = 1;
  std::string metadata_log_dir;
  std::vector<std::string> log_dirs;      // each gets meta.properties
  std::optional<std::string> cluster_id;  // the cluster.id setting
  // A dir without meta.properties: formatted at start (the lone default
  // node) or refused (process.roles set: `sluice storage format` first).
  UnformattedDirs unformatted_dirs = UnformattedDirs::create;
  // The broker's settings (num.partitions, default.replication.factor,
  // delete.topic.enable, the log.* defaults of topic configs). Outlives the
  // controller.
  const Config* broker_config = nullptr;
  const Clock* clock = &system_clock();
  // Topic, cluster, directory and incarnation ids (outlives the controller).
  RandomSource* random = &system_random();
  // Called when a metadata-log write failed and could not be undone (the
  // log and the image may disagree until a restart replays the log). Kafka
  // halts the process then; unset, the controller logs and _Exit(1)s.
  // Tests record it; afterwards every commit fails.
  std::function<void(const std::string& message)> on_fatal;
  // controller.quorum.voters: id -> its controller listener. Empty: this
  // node alone (a quorum of one, which elects itself at once).
  std::map<int32_t, net::Endpoint> quorum_voters;
  // controller.quorum.bootstrap.servers: with no voters, this node follows
  // the quorum found through them (an observer until it is added).
  std::vector<net::Endpoint> quorum_bootstrap_servers;
  // KIP-853: the controller listener the quorum dials (the first of
  // controller.listener.names) and this node's advertised controller
  // listeners (none on a broker-only node).
  std::string controller_listener = "CONTROLLER";
  std::vector<VoterEndpoint> controller_endpoints;
  int64_t election_timeout_ms = 1000;  // controller.quorum.election.timeout.ms
  int64_t fetch_timeout_ms = 2000;     // controller.quorum.fetch.timeout.ms
  int64_t request_timeout_ms = 2000;   // controller.quorum.request.timeout.ms
  // How long a mutating call waits for this node to become the active
  // controller (elected, and its image holding everything committed).
  int64_t activation_wait_ms = 5000;
  // metadata.log.max.record.bytes.between.snapshots: committed batches
  // applied since the last snapshot before the next is taken.
  int64_t snapshot_record_bytes_max = 20971520;
  // The metadata log's segment size (metadata.log.segment.bytes when set):
  // a snapshot deletes the segments wholly below it.
  uint64_t metadata_segment_bytes = 64ull * 1024 * 1024;
};

// What a BrokerRegistrationRequest (api 62) carries.
struct BrokerRegistration {
  int32_t broker_id = -1;
  std::string cluster_id;
  Uuid incarnation_id;
  std::vector<BrokerEndpoint> listeners;
  std::vector<BrokerFeatureRange> features;
  std::optional<std::string> rack;
  bool is_migrating_zk_broker = false;
  int64_t previous_broker_epoch = -1;  // v3+: the epoch before a clean shutdown
};

struct BrokerRegistrationReply {
  ApiError error;
  int64_t broker_epoch = -1;
};

// What a BrokerHeartbeatRequest (api 63) carries.
struct BrokerHeartbeat {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;
  int64_t current_metadata_offset = -1;
  bool want_fence = false;
  bool want_shutdown = false;
};

struct BrokerHeartbeatReply {
  ApiError error;
  bool is_caught_up = false;
  bool is_fenced = true;
  bool should_shutdown = false;
};

// AlterPartition (api 56): a partition leader asks for a new ISR.
struct IsrMember {
  int32_t broker_id = -1;
  int64_t broker_epoch = -1;  // -1: not checked (versions before 3)
};

struct AlterPartitionItem {
  Uuid topic_id;           // versions 2+
  std::string topic_name;  // versions 0-1
  int32_t partition = -1;
  int32_t leader_epoch = -1;
  std::vector<IsrMember> new_isr;
  int8_t leader_recovery_state = 0;
  int32_t partition_epoch = -1;
};

// The partition's state after the change (error NONE), or why not.
struct AlterPartitionResult {
  ErrorCode error = ErrorCode::NONE;
  int32_t leader = -1;
  int32_t leader_epoch = -1;
  std::vector<int32_t> isr;
  int8_t leader_recovery_state = 0;
  int32_t partition_epoch = -1;
};

struct AlterPartitionReply {
  ApiError error;  // the request's (STALE_BROKER_EPOCH, NOT_CONTROLLER, ...)
  // Per topic, in request order: the topic's partitions' results in order.
  std::vector<std::vector<AlterPartitionResult>> topics;
};

// AllocateProducerIds (api 67): a block of producer ids for one broker.
// Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE.
inline constexpr int32_t producer_id_block_size = 1000;

struct ProducerIdBlock {
  ApiError error;
  int64_t first_producer_id = -1;
  int32_t size = 0;
};

// ElectLeaders (api 43): Kafka's ElectionType.
enum class ElectionType : int8_t { preferred = 0, unclean = 1 };

struct ElectionResult {
  std::string topic;
  int32_t partition = -1;
  ApiError error;
};

// AlterPartitionReassignments (api 45): a partition's target replicas, or
// nullopt to cancel its reassignment.
struct ReassignmentTarget {
  int32_t partition = -1;
  std::optional<std::vector<int32_t>> replicas;
};

struct TopicReassignment {
  std::string topic;
  std::vector<ReassignmentTarget> partitions;
};

// ListPartitionReassignments (api 46): a partition being reassigned.
struct OngoingReassignment {
  std::string topic;
  int32_t partition = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> adding;
  std::vector<int32_t> removing;
};

// The leader changes a committed delta makes (to a leader, not to none),
// and how many of them were unclean (the partition starts recovering):
// sluice_leader_elections_total and sluice_unclean_leader_elections_total
// (controller_reassignments.cc).
struct LeaderElections {
  int64_t elections = 0;
  int64_t unclean = 0;
};
LeaderElections count_leader_elections(const MetadataDelta& delta);
void record_leader_elections(const LeaderElections& elections);

struct NewTopic {
  std::string name;
  int32_t num_partitions = -1;                          // -1: num.partitions
  int16_t replication_factor = -1;                      // -1: default.replication.factor
  std::map<int32_t, std::vector<int32_t>> assignments;  // partition -> replicas
  std::map<std::string, std::string> configs;
};

// CreatePartitions of one topic: grow it to `count` partitions; `assignments`
// (optional) gives the replicas of each new partition.
struct NewPartitions {
  std::string topic;
  int32_t count = 0;
  std::vector<std::vector<int32_t>> assignments;
};

struct CreateTopicResult {
  ApiError error;
  Uuid topic_id;
  int32_t num_partitions = -1;
  int16_t replication_factor = -1;
};

// A topic named by name, or (name empty) by id.
struct TopicRef {
  std::string name;
  Uuid id;
};

struct DeleteTopicResult {
  ApiError error;
  std::string name;
  Uuid topic_id;
};

// Kafka's topic-name rule: 1..249 characters of [a-zA-Z0-9._-], not "."
// or "..". INVALID_TOPIC_EXCEPTION otherwise.
ApiError validate_topic_name(const std::string& name);
// Internal topics (__consumer_offsets, __transaction_state).
bool is_internal_topic(const std::string& name);

// Replays `record` into `scratch` (asserting the controller's own record
// applies) and keeps it in `records` for the commit.
void add_checked_record(MetadataDelta& scratch, std::vector<uint8_t> record,
                        std::vector<std::vector<uint8_t>>& records);

// AlterUserScramCredentials (KIP-554): one user's change, and its result.
struct ScramDeletion {
  std::string name;
  int8_t mechanism = 0;
};
struct ScramUpsertion {
  std::string name;
  int8_t mechanism = 0;
  int32_t iterations = 0;
  std::vector<uint8_t> salt;
  std::vector<uint8_t> salted_password;
};
struct UserScramResult {
  std::string user;
  ApiError error;
};

// AlterClientQuotas: one entity's change as the request states it (entity
// types in request order, so a type named twice can be refused), its
// operations in order (nullopt value: remove the key).
struct ClientQuotaAlteration {
  std::vector<std::pair<std::string, std::optional<std::string>>> entity;
  std::vector<std::pair<std::string, std::optional<double>>> ops;
};

// DeleteAcls: one filter's result, with the ACLs it removed.
struct AclDeletion {
  ApiError error;
  std::vector<security::AclBinding> deleted;
};

class Controller {
 public:
  // Creates or checks meta.properties, opens the metadata log and replays
  // it into the first image, then starts the controller thread.
  static Result<std::unique_ptr<Controller>> open(storage::FileSystem& fs,
                                                  ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  MetadataImagePtr image() const { return image_.load(); }
  // The quorum this controller commits through (valid after open()).
  RaftManager& quorum() const { return *raft_; }
  // Leads the quorum, and its image holds every committed record: the
  // mutating calls work here, other nodes forward them to this one.
  bool is_active() const;
  // The offset after the last record applied to image() (-1: none yet).
  int64_t applied_offset() const;
  int32_t node_id() const { return options_.node_id; }
  const std::string& cluster_id() const { return cluster_id_; }

  // Calls listener->on_metadata_update(delta from an empty image, current image) at once
  // (so it can create what already exists), then on every later change.
  void subscribe(MetadataListener* listener);
  void unsubscribe(MetadataListener* listener);

  // Runs `work` on the controller thread, after the work submitted before.
  // Work that has not started when stop_work() is called, or that is
  // submitted after, runs `cancel` instead (on the stopping or submitting
  // thread): the broker closes the request's connection there, so a drain
  // does not wait for an answer that will never come.
  void submit(std::function<void()> work, std::function<void()> cancel = {});
  // Cancels the queued work and waits for the running one, which is bounded
  // (records_per_operation_max): shutdown does not wait for a queue of big
  // requests. The mutating calls still work afterwards (the log is open).
  void stop_work();
  // stop_work(), then closes the log.
  void stop();

  // Registers (or re-registers, if its endpoints changed) this node,
  // unfenced at once: it is the controller's own broker, caught up by
  // construction, so a lone node serves without waiting for a heartbeat.
  // Its session never expires (it lives in this process); if its
  // registration disappears (UnregisterBroker), tick() writes it again.
  ApiError register_broker(const std::vector<BrokerEndpoint>& endpoints,
                           const std::optional<std::string>& rack);

  // --- Brokers of the cluster (controller_brokers.cc), Kafka's
  // ClusterControlManager and ReplicationControlManager. Every record below
  // is committed before the call returns, like the admin calls. ---

  // BrokerRegistration: INCONSISTENT_CLUSTER_ID for another cluster id;
  // DUPLICATE_BROKER_REGISTRATION when the id is registered by another
  // incarnation whose session is valid; UNSUPPORTED_VERSION when the broker
  // does not support a finalized feature level. A new incarnation gets the
  // offset of its RegisterBrokerRecord as broker epoch and starts fenced;
  // the same incarnation again keeps its epoch and state (a retry).
  BrokerRegistrationReply register_broker(const BrokerRegistration& registration);
  // BrokerHeartbeat: STALE_BROKER_EPOCH for an unregistered id or another
  // epoch. Unfences a fenced broker caught up with its registration (and
  // elects it where a partition has no leader and it is in the ISR), fences
  // one that asks to be, and runs a controlled shutdown: leadership and ISR
  // membership move away, then should_shutdown once it leads nothing and
  // every active broker has seen that.
  BrokerHeartbeatReply heartbeat(const BrokerHeartbeat& heartbeat);
  // UnregisterBroker: BROKER_ID_NOT_REGISTERED for an unknown id; else the
  // broker leaves every ISR (leadership moves) and its registration goes.
  ApiError unregister_broker(int32_t broker_id);
  // Fences every broker whose session expired (broker.session.timeout.ms
  // without a heartbeat): its partitions elect another ISR member or have
  // no leader (unclean election stays off). Called periodically by the
  // owner (the broker every second; tests with a ManualClock).
  void tick();

  // --- Partitions' leadership and ISR (controller_partitions.cc), Kafka's
  // ReplicationControlManager: every change is built by
  // build_partition_change() (partition_change.h) and committed before the
  // call returns. ---

  // AlterPartition from broker `broker_id` (the leader) with Kafka's checks,
  // in its order: STALE_BROKER_EPOCH (whole request), unknown topic
  // (UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_ID from version 2), unknown
  // partition, an epoch newer than the image's (NOT_CONTROLLER), an older
  // leader epoch (FENCED_LEADER_EPOCH), not the leader (INVALID_REQUEST),
  // an older partition epoch (INVALID_UPDATE_VERSION), an ISR outside the
  // replicas or without the leader (INVALID_REQUEST), an ISR of more than
  // the leader while it recovers (INVALID_REQUEST), back to recovering
  // (INVALID_REQUEST), a fenced, shutting down, unregistered or other-epoch
  // member (INELIGIBLE_REPLICA; OPERATION_NOT_ATTEMPTED before version 2).
  AlterPartitionReply alter_partition(int32_t broker_id, int64_t broker_epoch,
                                      const std::vector<std::vector<AlterPartitionItem>>& topics,
                                      int16_t version);
  // ElectLeaders: `partitions` nullopt means every partition (and then only
  // the partitions where an election was needed are reported). Per
  // partition: UNKNOWN_TOPIC_OR_PARTITION, ELECTION_NOT_NEEDED (preferred:
  // the first replica leads; unclean: it has a leader),
  // PREFERRED_LEADER_NOT_AVAILABLE, ELIGIBLE_LEADERS_NOT_AVAILABLE.
  std::vector<ElectionResult> elect_leaders(
      ElectionType type,
      const std::optional<std::vector<std::pair<std::string, int32_t>>>& partitions);
  // The periodic work of the active controller (called from tick()):
  // preferred leaders back where possible (auto.leader.rebalance.enable,
  // every leader.imbalance.check.interval.seconds), unclean elections for
  // leaderless partitions of topics that allow them (every
  // unclean.leader.election.interval.ms). At most 1,000 elections per round
  // (Kafka's maxElectionsPerImbalance); more go in the next round.
  void balance_partition_leaders();
  void elect_unclean_leaders();

  // --- Producer ids (controller_producer_ids.cc), Kafka's
  // ProducerIdControlManager. ---

  // AllocateProducerIds: the next producer_id_block_size ids for
  // `broker_id`, answered once the ProducerIdsRecord moving the image's
  // next_producer_id past them is committed (so no other call, restart or
  // failover hands them out again). STALE_BROKER_EPOCH for an unregistered
  // broker or another epoch; NOT_CONTROLLER when this node is not active;
  // UNKNOWN_SERVER_ERROR once the ids are exhausted.
  ProducerIdBlock allocate_producer_ids(int32_t broker_id, int64_t broker_epoch);

  // --- Reassignments (controller_reassignments.cc), Kafka's. ---

  // AlterPartitionReassignments: per topic, per partition in request order:
  // UNKNOWN_TOPIC_OR_PARTITION; a target that is empty, names an
  // unregistered broker or one broker twice: INVALID_REPLICA_ASSIGNMENT;
  // a cancel without a reassignment: NO_REASSIGNMENT_IN_PROGRESS; a cancel
  // that needs an unclean election the topic does not allow:
  // INVALID_REPLICA_ASSIGNMENT. The accepted ones are committed in one
  // batch (so they all fail with its error). The move then goes on by
  // itself: the added replicas catch up and join the ISR, and the
  // AlterPartition that completes the ISR completes the reassignment.
  std::vector<std::vector<ApiError>> alter_partition_reassignments(
      const std::vector<TopicReassignment>& topics);
  // ListPartitionReassignments: the partitions being reassigned, of the
  // given (topic, partitions) or (nullopt) of every topic; unknown ones are
  // left out. Reads the image.
  std::vector<OngoingReassignment> list_partition_reassignments(
      const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& topics) const;

  // The creations this node's own code asks for (Metadata's auto-creation)
  // while another node is the active controller, sent to it without holding
  // a thread (Kafka's brokers do the same): true when sent, `done` then gets
  // one result per topic on the quorum's thread (NOT_CONTROLLER if the
  // controller did not answer); false, `done` not called, when this node
  // creates them itself (create_topics, on the controller thread).
  bool forward_create_topics_async(const std::vector<NewTopic>& topics, bool validate_only,
                                   std::function<void(std::vector<CreateTopicResult>)> done);

  // One result per topic, in order. Duplicate names within `topics` are the
  // caller's to reject (INVALID_REQUEST). All created topics are committed
  // in one batch. If the valid topics need more than
  // records_per_operation_max records (validate_only too, as in Kafka),
  // nothing is created and every topic gets POLICY_VIOLATION. Cost: linear
  // in the partitions asked for (refused before any is assigned if too many).
  std::vector<CreateTopicResult> create_topics(const std::vector<NewTopic>& topics,
                                               bool validate_only);
  // An internal topic with replication factor capped at the broker count
  // (logged), as DESIGN.md says; no-op if it exists.
  CreateTopicResult ensure_internal_topic(const std::string& name, int32_t num_partitions,
                                          int16_t replication_factor,
                                          const std::map<std::string, std::string>& configs);
  // Internal topics are refused (INVALID_TOPIC_EXCEPTION): they hold the
  // coordinators' state.
  std::vector<DeleteTopicResult> delete_topics(const std::vector<TopicRef>& topics);
  // One result per entry, in order; the grown topics are committed in one
  // batch. Duplicate topics are the caller's to reject. A topic whose new
  // partitions do not fit in what is left of records_per_operation_max gets
  // POLICY_VIOLATION (Kafka answers per topic here); growing a topic past
  // partitions_per_topic_max gets INVALID_PARTITIONS.
  std::vector<ApiError> create_partitions(const std::vector<NewPartitions>& topics,
                                          bool validate_only);
  // One topic (the same rules).
  ApiError create_partitions(const std::string& topic, int32_t count,
                             const std::vector<std::vector<int32_t>>& assignments,
                             bool validate_only);
  // Replaces every override of the topic with `configs` (validated).
  ApiError replace_topic_configs(const std::string& topic,
                                 const std::map<std::string, std::string>& configs,
                                 bool validate_only);
  // Replaces the dynamic broker configs of resource `resource_name` (""
  // cluster default, else a node id) with `configs` (validated: known,
  // dynamically updatable, valid).
  ApiError replace_broker_configs(const std::string& resource_name,
                                  const std::map<std::string, std::string>& configs,
                                  bool validate_only);
  // UpdateFeatures (Kafka's FeatureControlManager.updateFeatures): all or
  // nothing; the first update refused answers INVALID_UPDATE_VERSION with
  // "Invalid update version <level> for feature <name>. <why>"
  // (features.h). The new levels are committed in one batch.
  ApiError update_features(const std::vector<FeatureUpdate>& updates, bool validate_only);
  // Kafka's ScramControlManager.alterCredentials: a user named twice fails
  // with DUPLICATE_RESOURCE, each other one is checked alone (empty name,
  // unknown mechanism, iterations out of range, deleting what does not
  // exist), and the valid changes are committed in one batch.
  std::vector<UserScramResult> alter_user_scram_credentials(
      const std::vector<ScramDeletion>& deletions, const std::vector<ScramUpsertion>& upsertions);
  // CreateAcls and DeleteAcls (Kafka's AclControlManager; controller_acls.cc):
  // one result per binding or filter, in order.
  std::vector<ApiError> create_acls(const std::vector<security::AclBinding>& bindings);
  std::vector<AclDeletion> delete_acls(const std::vector<security::AclBindingFilter>& filters);
  // AlterClientQuotas (Kafka's ClientQuotaControlManager; controller_quotas.cc):
  // each entity is checked alone (entity types and their combination, keys
  // valid for them, values > 0 and integral where Kafka's type is), one
  // result per alteration in order; the valid changes commit in one batch
  // (validate_only: nothing is written).
  std::vector<ApiError> alter_client_quotas(const std::vector<ClientQuotaAlteration>& alterations,
                                            bool validate_only);

 private:
  Controller(storage::FileSystem& fs, ControllerOptions options);
  Status load();
  Status open_quorum();
  void run();
  // Quorum thread: the high watermark moved; hands the newly committed
  // batches to the loader.
  void on_commit(int64_t high_watermark);
  // Loader thread: applies committed batches to the image, in order, and
  // tells the listeners.
  void run_loader();
  void apply_committed(const std::vector<uint8_t>& batches, int64_t end_offset);
  // Waits (bounded) until the loader applied up to `end_offset`.
  bool wait_applied(int64_t end_offset, int64_t timeout_ms);
  // Waits (bounded) until this node is the active controller; at once
  // NOT_CONTROLLER when it is not and stop_work() was called.
  Status wait_active();
  bool stop_requested() const {
    std::lock_guard lock(queue_mutex_);
    return stopping_;
  }
  std::optional<std::vector<CreateTopicResult>> forward_create_topics(
      const std::vector<NewTopic>& topics, bool validate_only);
  // Where the next committed batch will start (Kafka's nextWriteOffset):
  // the quorum log's end, as the mutating calls run one at a time.
  int64_t next_write_offset() const { return raft_ ? raft_->status().log_end_offset : 0; }
  // Replays `records` (framed) into a delta over the image, appends them,
  // fsyncs, publishes the delta's image and tells the listeners. Caller
  // holds mutex_.
  Status commit(std::vector<std::vector<uint8_t>> records);
  void halt(const std::string& message);
  ApiError commit_or_error(std::vector<std::vector<uint8_t>> records);
  // `collisions`: the topics of `image` by collision_key().
  ApiError check_new_topic(const MetadataDelta& image,
                           const std::map<std::string, std::string>& collisions,
                           const NewTopic& topic, int32_t& partitions,
                           int16_t& replication_factor) const;
  void append_topic_records(MetadataDelta& scratch, const NewTopic& topic,
                            const CreateTopicResult& result,
                            std::vector<std::vector<uint8_t>>& records) const;
  // The replicas of each new partition of `growth`, or an error.
  ApiError plan_new_partitions(const MetadataDelta& image, const NewPartitions& growth,
                               size_t records_left,
                               std::vector<std::vector<int32_t>>& assignment) const;
  std::vector<std::vector<int32_t>> assign_replicas(const MetadataDelta& image,
                                                    int32_t first_partition, int32_t count,
                                                    int16_t replication_factor) const;
  int64_t broker_int(const char* name, int64_t fallback) const;

  // controller_brokers.cc
  // Appends to `records` (and replays into `scratch`) the
  // PartitionChangeRecords that take `remove` out of every ISR and
  // leadership (-1: none) and elect `add` (-1: none; counted as active even
  // if the image still says fenced) where a partition it is in the ISR of
  // has no leader. Kafka's generateLeaderAndIsrUpdates without ELR.
  void partition_changes(MetadataDelta& scratch, int32_t remove, int32_t add,
                         std::vector<std::vector<uint8_t>>& records) const;
  // tick()'s sessions and fencing; false when this node is not active.
  bool tick_brokers();
  // STALE_BROKER_EPOCH unless `broker_id` is registered with `broker_epoch`
  // (Kafka's checkBrokerEpoch).
  static ApiError check_broker_epoch(const MetadataImage& image, int32_t broker_id,
                                     int64_t broker_epoch);
  // unclean.leader.election.enable of `topic` (topic, dynamic, static).
  bool unclean_election_enabled(const MetadataDelta& scratch, const TopicImage& topic) const;
  // Whether `broker` may lead or join an ISR in `scratch` (Kafka's
  // isAcceptableLeader: registered, unfenced, not shutting down).
  static bool broker_active(const MetadataDelta& scratch, int32_t broker);
  // controller_partitions.cc: one AlterPartition partition.
  ErrorCode check_alter_partition(const MetadataDelta& scratch, int32_t broker_id,
                                  const PartitionImage* partition, const AlterPartitionItem& item,
                                  int16_t version) const;
  // Elections of `type` over the (topic, partition) pairs; the records go
  // to `records` (replayed into `scratch`).
  ApiError elect_one(MetadataDelta& scratch, const std::string& topic, int32_t partition,
                     ElectionType type, std::vector<std::vector<uint8_t>>& records) const;
  // controller_reassignments.cc: one partition's reassignment or cancel.
  ApiError reassign_one(MetadataDelta& scratch, const std::string& topic,
                        const ReassignmentTarget& target,
                        std::vector<std::vector<uint8_t>>& records) const;
  int64_t next_balance_ms_ = 0;
  int64_t next_unclean_ms_ = 0;
  // The records that fence `broker_id` (ISR/leader changes, FenceBrokerRecord).
  std::vector<std::vector<uint8_t>> fence_records(int32_t broker_id) const;
  // Gives every broker of the image a session, forgets unregistered ones.
  void sync_sessions();
  // Writes this node's registration (unfenced) unless the image has it
  // active with the same endpoints and rack. Caller holds mutex_.
  ApiError register_local();
  // Commits `records`, logging a failure (periodic work has nobody to answer).
  void commit_logged(std::vector<std::vector<uint8_t>> records, const char* what);
  std::vector<BrokerEndpoint> local_endpoints_;
  std::optional<std::string> local_rack_;
  bool local_registered_ = false;
  Uuid local_incarnation_;
  std::unique_ptr<BrokerHeartbeatManager> heartbeats_;

  storage::FileSystem& fs_;
  ControllerOptions options_;
  std::string cluster_id_;
  std::unique_ptr<MetadataLog> log_;
  std::atomic<MetadataImagePtr> image_;

  std::mutex mutex_;  // serializes the mutating calls
  std::unique_ptr<QuorumStateFile> quorum_state_;
  std::unique_ptr<RaftManager> raft_;
  int64_t delivered_offset_ = 0;  // quorum thread: batches handed to the loader end here

  std::mutex listeners_mutex_;  // listener calls and (un)subscribing
  std::vector<MetadataListener*> listeners_;

  // The loader: committed batches waiting to be applied, in log order.
  struct Committed {
    std::vector<uint8_t> batches;
    int64_t end_offset = 0;
    // Set: `batches` are a snapshot's data batches, the whole state below
    // end_offset (loaded at start or fetched from the leader).
    std::optional<raft::SnapshotId> snapshot = std::nullopt;
  };
  // Snapshots (controller_snapshots.cc).
  Status open_snapshots();
  // Quorum thread: hands the latest snapshot to the loader when the log
  // starts past what was delivered (a start, or a snapshot installed from
  // the leader). False after a halt.
  bool deliver_snapshot();
  // Loader thread: replaces the image with the snapshot's.
  void apply_snapshot(const Committed& snapshot);
  // Loader thread, after each applied item: counts the bytes applied and
  // takes a snapshot of the image past the threshold.
  void after_apply(const Committed& committed);
  void report_startup();
  mutable std::mutex loader_mutex_;
  std::condition_variable loader_changed_;
  std::deque<Committed> loader_queue_;
  int64_t applied_offset_ = -1;
  bool loader_stopping_ = false;
  // Snapshots: the store (its methods on the quorum thread), and the
  // loader's count since the last one.
  std::unique_ptr<FileSnapshotStore> snapshots_;
  int64_t bytes_since_snapshot_ = 0;  // loader thread
  std::atomic<bool> snapshot_in_flight_{false};
  // Start-up: the log end at open, the snapshot loaded, records replayed after it.
  int64_t startup_end_offset_ = 0;
  std::chrono::steady_clock::time_point startup_began_;
  bool startup_reported_ = false;                     // loader thread
  std::optional<raft::SnapshotId> startup_snapshot_;  // loader thread
  int64_t startup_snapshot_records_ = 0;
  int64_t records_after_snapshot_ = 0;
  std::thread loader_thread_;

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  struct Work {
    std::function<void()> run;
    std::function<void()> cancel;
  };
  std::deque<Work> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace sluice::cluster
