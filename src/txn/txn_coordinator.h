#pragma once
// The transaction coordinator (Kafka's TransactionCoordinator +
// TransactionStateManager): one single-threaded state machine per
// __transaction_state partition, run on a coordinator::CoordinatorRuntime
// exactly as the group coordinator is (src/group/README.md): a request runs
// on the strand of its transactional id's partition (partition_for), checks
// the state, prepares a transition (TxnMetadata::pending: concurrent requests
// answer CONCURRENT_TRANSACTIONS), the runtime appends the TransactionLog
// record, and only once the append is durable is the transition entered and
// the request answered; a failed append drops the pending transition and
// answers Kafka's error (txn_append_error).
//
// EndTxn: PrepareCommit/PrepareAbort written, the client answered, the
// markers handed to the MarkerSender, and once every partition has its
// marker, CompleteCommit/CompleteAbort written (retried at the next tick if
// that append fails and the partition is still led here).
//
// Leadership (on_election / on_resignation, driven by the metadata image
// like the group coordinator's): an elected partition loads its log a
// bounded step at a time (COORDINATOR_LOAD_IN_PROGRESS meanwhile) and
// re-sends the markers of the transactions it finds in PrepareCommit or
// PrepareAbort; a resigned one drops its state (NOT_COORDINATOR) and
// cancels its markers (MarkerSender::cancel). Every write and marker
// carries the partition's incarnation: one of an older incarnation
// applies nothing and answers NOT_COORDINATOR.
//
// Threads: the asynchronous methods may be called from any thread and
// never block; every Reply is called once, on a strand (or at once with
// the InlineExecutor). The ProducerIdGenerator is called on strands (it
// never blocks); MarkerSender::send's `done` may come from any thread (it
// is moved back to the strand).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/error_code.h"
#include "base/strong_types.h"
#include "coordinator/coordinator_keys.h"
#include "coordinator/coordinator_runtime.h"
#include "txn/txn_interfaces.h"
#include "txn/txn_state.h"

namespace sluice::txn {

inline constexpr const char* transaction_state_topic = "__transaction_state";

// The broker settings the coordinator follows (Kafka's names and defaults).
struct TxnConfig {
  int32_t state_log_partitions = 50;     // transaction.state.log.num.partitions
  int32_t max_timeout_ms = 900000;       // transaction.max.timeout.ms
  int64_t id_expiration_ms = 604800000;  // transactional.id.expiration.ms
  // transaction.abort.timed.out.transaction.cleanup.interval.ms
  int64_t abort_timed_out_interval_ms = 10000;
  // transaction.remove.expired.transaction.cleanup.interval.ms
  int64_t remove_expired_interval_ms = 3600000;
};

// What a client sees when the append of a TransactionLog record failed
// (Kafka's TransactionStateManager.appendTransactionToLog): the partition
// missing, too few replicas or a timeout -> COORDINATOR_NOT_AVAILABLE, a
// lost leadership or a storage failure -> NOT_COORDINATOR, records too large
// -> UNKNOWN_SERVER_ERROR, anything else as is.
ErrorCode txn_append_error(ErrorCode append_error);

struct ProducerIdAndEpoch {
  int64_t producer_id = no_producer_id;
  int16_t producer_epoch = no_producer_epoch;
};

// InitProducerId and EndTxn answers: the error, and the producer id and
// epoch the client continues with (-1 on errors).
struct TxnProducerResult {
  ErrorCode error = ErrorCode::NONE;
  int64_t producer_id = no_producer_id;
  int16_t producer_epoch = no_producer_epoch;
};

// DescribeTransactions of one id.
struct TxnDescription {
  ErrorCode error = ErrorCode::NONE;
  std::string transactional_id;
  std::string state;
  int32_t timeout_ms = 0;
  int64_t start_timestamp_ms = -1;
  int64_t producer_id = no_producer_id;
  int16_t producer_epoch = no_producer_epoch;
  TxnPartitions partitions;
};

struct TxnListing {
  std::string transactional_id;
  int64_t producer_id = no_producer_id;
  std::string state;
};
struct TxnListResult {
  ErrorCode error = ErrorCode::NONE;
  std::vector<std::string> unknown_state_filters;
  std::vector<TxnListing> transactions;  // by transactional id
};
// ListTransactions filters (empty: any); duration_ms >= 0 lists only
// transactions running longer than it (Kafka's filter, v1+).
struct TxnListFilters {
  std::set<std::string> states;
  std::set<int64_t> producer_ids;
  int64_t duration_ms = -1;
};

template <class T>
using Reply = std::function<void(T)>;

class TxnCoordinator {
 public:
  // `log`, `producer_ids`, `markers` and `executor` outlive the coordinator;
  // null `executor`: an InlineExecutor of its own (tests). A coordinator
  // starts owning every partition (epoch -1: a lone node, tests).
  TxnCoordinator(TxnConfig config, const Clock& clock, coordinator::CoordinatorLog& log,
                 ProducerIdGenerator& producer_ids, MarkerSender& markers,
                 coordinator::CoordinatorExecutor* executor = nullptr);
  ~TxnCoordinator();
  TxnCoordinator(const TxnCoordinator&) = delete;
  TxnCoordinator& operator=(const TxnCoordinator&) = delete;

  // Kafka's partitionFor: Utils.abs(id.hashCode) % transaction.state.log.num.partitions.
  int32_t partition_for(const std::string& transactional_id) const {
    return coordinator::partition_for_key(transactional_id, config_.state_log_partitions);
  }
  const TxnConfig& config() const { return config_; }

  // The transaction version the coordinator's own aborts (timeouts, fencing)
  // use: Kafka's server transaction.version, the finalized feature level,
  // which TxnService passes on from every metadata image.
  void set_server_transaction_version(int16_t level) {
    server_transaction_version_.store(level, std::memory_order_relaxed);
  }
  int16_t server_transaction_version() const {
    return server_transaction_version_.load(std::memory_order_relaxed);
  }

  // InitProducerId with a transactional id: a new id gets a producer id at
  // epoch 0; an idle one its epoch bumped (fencing older producers), or a
  // new producer id once the epoch is exhausted; KIP-360's `expected` id
  // and epoch; an ongoing transaction is aborted first (its epoch bumped,
  // CONCURRENT_TRANSACTIONS until that is done: the client retries).
  // INVALID_TRANSACTION_TIMEOUT outside (0, transaction.max.timeout.ms].
  void init_producer_id(const TransactionalId& transactional_id, int32_t timeout_ms,
                        std::optional<ProducerIdAndEpoch> expected, Reply<TxnProducerResult> reply);
  // AddPartitionsToTxn (and AddOffsetsToTxn with the group's
  // __consumer_offsets partition): one error for all `partitions`.
  // `client_transaction_version` 2 for a partition leader's implicit add
  // (AddPartitionsToTxn v5 without verify_only, KIP-890 part 2: the
  // transaction then ends with transactions v2's epoch bump, as Kafka 4.0).
  void add_partitions(const TransactionalId& transactional_id, ProducerId producer_id,
                      ProducerEpoch producer_epoch, TxnPartitions partitions,
                      Reply<ErrorCode> reply,
                      std::optional<int16_t> client_transaction_version = {});
  // KIP-890 part 1's verify_only: whether each partition is in the ongoing
  // transaction (NONE) or not (TRANSACTION_ABORTABLE); writes nothing.
  void verify_partitions(const TransactionalId& transactional_id, ProducerId producer_id,
                         ProducerEpoch producer_epoch, TxnPartitions partitions,
                         Reply<std::map<MarkerPartition, ErrorCode>> reply);
  // EndTxn: `client_transaction_version` 2 for EndTxn v5+ (KIP-890 part 2:
  // the epoch is bumped, the answer carries the new one).
  void end_txn(const TransactionalId& transactional_id, ProducerId producer_id,
               ProducerEpoch producer_epoch, bool commit, int16_t client_transaction_version,
               Reply<TxnProducerResult> reply);
  void describe(const TransactionalId& transactional_id, Reply<TxnDescription> reply);
  void list(TxnListFilters filters, Reply<TxnListResult> reply);

  // Leadership (see the header comment). Any thread; posted to the strand.
  void on_election(int32_t partition, LeaderEpoch leader_epoch);
  void on_resignation(int32_t partition, LeaderEpoch leader_epoch);
  // Continues the loads in progress (their high watermark may have moved).
  void continue_loads();
  size_t loading_partitions() const { return loading_partitions_.load(std::memory_order_acquire); }
  uint64_t load_progress() const { return load_progress_.load(std::memory_order_acquire); }

  // Drives time: every `abort_timed_out_interval_ms` ongoing transactions
  // past their transaction.timeout.ms are aborted with an epoch bump
  // (Kafka's abortTimedOutTransactions); every `remove_expired_interval_ms`
  // ids idle for transactional.id.expiration.ms are removed (tombstones);
  // loads continue, Complete appends that failed are retried. Call every
  // ~100 ms; any thread.
  void tick();

  // Applies one TransactionLog record of `partition` in log order (load).
  Status replay(int32_t partition, Bytes key, std::optional<Bytes> value);

  // Tests and metrics (blocking: never from a reactor or a strand).
  TxnDescription describe(const TransactionalId& transactional_id);
  std::optional<TxnMetadata> metadata_of(const TransactionalId& transactional_id);
  ErrorCode partition_error(int32_t partition);

 private:
  enum class ShardState { active, loading, failed, inactive };
  struct Shard {
    std::map<std::string, TxnMetadata> txns;
    ShardState state = ShardState::active;
    int32_t epoch = -1;
    uint64_t incarnation = 0;
    int64_t load_next = 0;
    int64_t load_end = 0;
    coordinator::LoadStep load_counts;
  };
  using Done = std::function<void(ErrorCode)>;

  Shard& shard(int32_t partition) { return shards_[static_cast<size_t>(partition)]; }
  static ErrorCode shard_error(const Shard& shard);
  // NONE and the id's metadata (null if unknown), or why the partition
  // does not serve it. On its strand.
  ErrorCode lookup(const std::string& transactional_id, TxnMetadata*& out);
  int32_t coordinator_epoch(int32_t partition) { return std::max(shard(partition).epoch, 0); }
  // Appends `transit` of `transactional_id` (its pending transition) in
  // `batch`; once durable enters it, or reverts it on failure; then `done`
  // with the client's error (NOT_COORDINATOR if the partition was reloaded
  // or resigned meanwhile). On the strand.
  void write(coordinator::WriteBatch& batch, int32_t partition, const std::string& transactional_id,
             const TxnTransit& transit, Done done);

  void init_here(coordinator::WriteBatch& batch, const std::string& transactional_id,
                 int32_t timeout_ms, std::optional<ProducerIdAndEpoch> expected,
                 const Reply<TxnProducerResult>& reply);
  ErrorCode prepare_init(TxnMetadata& txn, int32_t timeout_ms,
                         std::optional<ProducerIdAndEpoch> expected, TxnTransit& out);
  void add_here(coordinator::WriteBatch& batch, const std::string& transactional_id,
                int64_t producer_id, int16_t producer_epoch, const TxnPartitions& partitions,
                const Reply<ErrorCode>& reply, std::optional<int16_t> client_transaction_version);
  // Kafka's endTransaction: from a client, or the coordinator's own abort
  // (`from_client` false: fencing at InitProducerId, timeouts).
  void end_here(coordinator::WriteBatch& batch, const std::string& transactional_id,
                int64_t producer_id, int16_t producer_epoch, bool commit, bool from_client,
                int16_t client_transaction_version, const Reply<TxnProducerResult>& reply);
  // Kafka's checks of EndTxn before anything is written (epoch rules of
  // transactions v1 and v2); NONE: the transaction may end.
  ErrorCode check_end(const TxnMetadata& txn, int64_t producer_id, int16_t producer_epoch,
                      bool from_client) const;
  // The Prepare record is durable: answers, then sends the markers.
  void prepared(int32_t partition, const std::string& transactional_id, int64_t producer_id,
                int16_t producer_epoch, bool commit, const Reply<TxnProducerResult>& reply);
  void send_markers(int32_t partition, TxnMetadata& txn);
  void markers_done(coordinator::WriteBatch& batch, int32_t partition, uint64_t incarnation,
                    const std::string& transactional_id, ErrorCode error);
  void write_complete(coordinator::WriteBatch& batch, int32_t partition, TxnMetadata& txn);

  void elect_here(int32_t partition, int32_t leader_epoch);
  void resign_here(int32_t partition, int32_t leader_epoch);
  void load_step(int32_t partition);
  void fail_load(int32_t partition, ErrorCode error);
  void loaded(int32_t partition);
  void tick_partition(coordinator::WriteBatch& batch, int32_t partition, bool abort_timed_out,
                      bool remove_expired);

  const TxnConfig config_;
  std::atomic<int16_t> server_transaction_version_{0};
  const Clock& clock_;
  coordinator::CoordinatorLog& log_;
  ProducerIdGenerator& producer_ids_;
  MarkerSender& markers_;
  std::unique_ptr<coordinator::InlineExecutor> inline_executor_;
  std::vector<Shard> shards_;
  coordinator::CoordinatorRuntime runtime_;
  std::atomic<size_t> loading_partitions_{0};
  std::atomic<uint64_t> load_progress_{0};
  std::atomic<int64_t> next_abort_ms_{0};
  std::atomic<int64_t> next_expiry_ms_{0};
};

}  // namespace sluice::txn
