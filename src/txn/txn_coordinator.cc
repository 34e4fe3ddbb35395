// The transaction coordinator's requests (Kafka's TransactionCoordinator):
// InitProducerId, AddPartitionsToTxn, EndTxn and the markers, describe and
// list. Leadership, loading and time are in txn_leadership.cc.
#include "txn/txn_coordinator.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "base/assert.h"
#include "txn/txn_records.h"

namespace sluice::txn {

using coordinator::WriteBatch;

ErrorCode txn_append_error(ErrorCode append_error) {
  switch (append_error) {
    case ErrorCode::UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode::NOT_ENOUGH_REPLICAS:
    case ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode::REQUEST_TIMED_OUT:
      return ErrorCode::COORDINATOR_NOT_AVAILABLE;
    case ErrorCode::NOT_LEADER_OR_FOLLOWER:
    case ErrorCode::KAFKA_STORAGE_ERROR:
      return ErrorCode::NOT_COORDINATOR;
    case ErrorCode::MESSAGE_TOO_LARGE:
    case ErrorCode::RECORD_LIST_TOO_LARGE:
      return ErrorCode::UNKNOWN_SERVER_ERROR;
    default:
      return append_error;
  }
}

TxnCoordinator::TxnCoordinator(TxnConfig config, const Clock& clock,
                               coordinator::CoordinatorLog& log, ProducerIdGenerator& producer_ids,
                               MarkerSender& markers, coordinator::CoordinatorExecutor* executor)
    : config_(config),
      clock_(clock),
      log_(log),
      producer_ids_(producer_ids),
      markers_(markers),
      inline_executor_(executor ? nullptr : std::make_unique<coordinator::InlineExecutor>()),
      shards_(static_cast<size_t>(config.state_log_partitions)),
      runtime_(config.state_log_partitions, log, executor ? *executor : *inline_executor_) {
  SLUICE_ASSERT(config.state_log_partitions > 0, "__transaction_state has partitions");
}

TxnCoordinator::~TxnCoordinator() = default;

ErrorCode TxnCoordinator::shard_error(const Shard& shard) {
  switch (shard.state) {
    case ShardState::active:
      return ErrorCode::NONE;
    case ShardState::loading:
    case ShardState::failed:
      return ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    case ShardState::inactive:
      return ErrorCode::NOT_COORDINATOR;
  }
  return ErrorCode::NOT_COORDINATOR;
}

ErrorCode TxnCoordinator::lookup(const std::string& transactional_id, TxnMetadata*& out) {
  out = nullptr;
  Shard& owner = shard(partition_for(transactional_id));
  if (ErrorCode error = shard_error(owner); error != ErrorCode::NONE) return error;
  auto it = owner.txns.find(transactional_id);
  if (it != owner.txns.end()) out = &it->second;
  return ErrorCode::NONE;
}

void TxnCoordinator::write(WriteBatch& batch, int32_t partition,
                           const std::string& transactional_id, const TxnTransit& transit,
                           Done done) {
  const uint64_t incarnation = shard(partition).incarnation;
  coordinator::CoordinatorRecord record = transit.state == TxnState::dead
                                              ? txn_tombstone(transactional_id)
                                              : txn_record(transactional_id, transit);
  batch.add({std::move(record)}, [this, partition, incarnation, transactional_id, transit,
                                  done = std::move(done)](ErrorCode append_error) {
    Shard& owner = shard(partition);
    auto it = owner.txns.find(transactional_id);
    // Reloaded or resigned meanwhile: the state this was prepared on is gone.
    if (owner.incarnation != incarnation || it == owner.txns.end())
      return done(ErrorCode::NOT_COORDINATOR);
    TxnMetadata& txn = it->second;
    if (const ErrorCode error = txn_append_error(append_error); error != ErrorCode::NONE) {
      spdlog::info("{}-{}: transactional id {}: writing {} failed ({}), not entered",
                   transaction_state_topic, partition, transactional_id,
                   txn_state_name(transit.state), error_name(error));
      if (txn.pending == transit.state) txn.revert();
      return done(error);
    }
    txn.complete_transition(transit);
    if (transit.state == TxnState::dead) owner.txns.erase(it);
    done(ErrorCode::NONE);
  });
}

// --- InitProducerId ---------------------------------------------------------

void TxnCoordinator::init_producer_id(const TransactionalId& id, int32_t timeout_ms,
                                      std::optional<ProducerIdAndEpoch> expected,
                                      Reply<TxnProducerResult> reply) {
  const int32_t partition = partition_for(id.value());
  runtime_.run(partition, [this, transactional_id = id.value(), timeout_ms, expected,
                           reply = std::move(reply)](WriteBatch& batch) {
    init_here(batch, transactional_id, timeout_ms, expected, reply);
  });
}

void TxnCoordinator::init_here(WriteBatch& batch, const std::string& transactional_id,
                               int32_t timeout_ms, std::optional<ProducerIdAndEpoch> expected,
                               const Reply<TxnProducerResult>& reply) {
  if (transactional_id.empty()) return reply({ErrorCode::INVALID_REQUEST});
  if (timeout_ms <= 0 || timeout_ms > config_.max_timeout_ms)
    return reply({ErrorCode::INVALID_TRANSACTION_TIMEOUT});
  TxnMetadata* txn = nullptr;
  if (ErrorCode error = lookup(transactional_id, txn); error != ErrorCode::NONE)
    return reply({error});
  const int32_t partition = partition_for(transactional_id);
  if (txn == nullptr) {
    // A new id: its producer id now, its epoch 0 once written (Kafka keeps
    // the metadata in the cache even if that write fails).
    Result<ProducerId> producer_id = producer_ids_.generate_producer_id();
    if (!producer_id) return reply({ErrorCode::COORDINATOR_LOAD_IN_PROGRESS});
    TxnMetadata created;
    created.transactional_id = transactional_id;
    created.current.producer_id = producer_id->value();
    created.current.timeout_ms = timeout_ms;
    created.current.last_update_timestamp_ms = clock_.now_ms();
    txn = &shard(partition).txns.emplace(transactional_id, std::move(created)).first->second;
  }
  TxnTransit transit;
  if (ErrorCode error = prepare_init(*txn, timeout_ms, expected, transit); error != ErrorCode::NONE)
    return reply({error});
  if (transit.state == TxnState::prepare_epoch_fence) {
    // An ongoing transaction: aborted first with the bumped epoch; the
    // client retries (CONCURRENT_TRANSACTIONS) until it is complete.
    end_here(batch, transactional_id, transit.producer_id, transit.producer_epoch, false, false,
             server_transaction_version(), [reply](TxnProducerResult result) {
               reply({result.error == ErrorCode::NONE ? ErrorCode::CONCURRENT_TRANSACTIONS
                                                      : result.error});
             });
    return;
  }
  write(batch, partition, transactional_id, transit,
        [reply, transactional_id, partition, transit](ErrorCode error) {
          if (error != ErrorCode::NONE) return reply({error});
          spdlog::info("{}-{}: initialized transactional id {} with producer id {} epoch {}",
                       transaction_state_topic, partition, transactional_id, transit.producer_id,
                       transit.producer_epoch);
          reply({ErrorCode::NONE, transit.producer_id, transit.producer_epoch});
        });
}

ErrorCode TxnCoordinator::prepare_init(TxnMetadata& txn, int32_t timeout_ms,
                                       std::optional<ProducerIdAndEpoch> expected,
                                       TxnTransit& out) {
  const TxnTransit& current = txn.current;
  if (txn.pending) return ErrorCode::CONCURRENT_TRANSACTIONS;
  if (expected) {
    // KIP-360: the producer id it had, or the one before a rotation when it
    // exhausted its epoch.
    const bool valid = current.producer_epoch == no_producer_epoch ||
                       expected->producer_id == current.producer_id ||
                       (expected->producer_id == current.previous_producer_id &&
                        epoch_exhausted(expected->producer_epoch));
    if (!valid) return ErrorCode::PRODUCER_FENCED;
  }
  switch (current.state) {
    case TxnState::prepare_commit:
    case TxnState::prepare_abort:
      return ErrorCode::CONCURRENT_TRANSACTIONS;
    case TxnState::complete_commit:
    case TxnState::complete_abort:
    case TxnState::empty: {
      const int64_t now_ms = clock_.now_ms();
      if (epoch_exhausted(current.producer_epoch) &&
          (!expected || expected->producer_epoch == current.producer_epoch)) {
        Result<ProducerId> producer_id = producer_ids_.generate_producer_id();
        if (!producer_id) return ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
        out = txn.prepare_producer_id_rotation(producer_id->value(), timeout_ms, now_ms,
                                               expected.has_value());
        return ErrorCode::NONE;
      }
      std::optional<int16_t> expected_epoch;
      if (expected) expected_epoch = expected->producer_epoch;
      return txn.prepare_increment_epoch(timeout_ms, expected_epoch, now_ms, out);
    }
    case TxnState::ongoing:
      out = txn.prepare_fence_epoch();
      return ErrorCode::NONE;
    case TxnState::dead:
    case TxnState::prepare_epoch_fence:
      break;
  }
  SLUICE_ASSERT(
      false, "a transactional id found in Dead or PrepareEpochFence without a pending transition");
  return ErrorCode::UNKNOWN_SERVER_ERROR;
}

// --- AddPartitionsToTxn -----------------------------------------------------

void TxnCoordinator::add_partitions(const TransactionalId& id, ProducerId producer,
                                    ProducerEpoch epoch, TxnPartitions partitions,
                                    Reply<ErrorCode> reply,
                                    std::optional<int16_t> client_transaction_version) {
  runtime_.run(partition_for(id.value()),
               [this, transactional_id = id.value(), producer_id = producer.value(),
                producer_epoch = epoch.value(), partitions = std::move(partitions),
                reply = std::move(reply), client_transaction_version](WriteBatch& batch) {
                 add_here(batch, transactional_id, producer_id, producer_epoch, partitions, reply,
                          client_transaction_version);
               });
}

void TxnCoordinator::add_here(WriteBatch& batch, const std::string& transactional_id,
                              int64_t producer_id, int16_t producer_epoch,
                              const TxnPartitions& partitions, const Reply<ErrorCode>& reply,
                              std::optional<int16_t> client_transaction_version) {
  if (transactional_id.empty()) return reply(ErrorCode::INVALID_REQUEST);
  TxnMetadata* txn = nullptr;
  if (ErrorCode error = lookup(transactional_id, txn); error != ErrorCode::NONE)
    return reply(error);
  if (txn == nullptr || txn->current.producer_id != producer_id)
    return reply(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
  if (txn->current.producer_epoch != producer_epoch) return reply(ErrorCode::PRODUCER_FENCED);
  if (txn->pending || txn->current.state == TxnState::prepare_commit ||
      txn->current.state == TxnState::prepare_abort)
    return reply(ErrorCode::CONCURRENT_TRANSACTIONS);
  if (txn->current.state == TxnState::ongoing &&
      std::includes(txn->current.partitions.begin(), txn->current.partitions.end(),
                    partitions.begin(), partitions.end()))
    return reply(ErrorCode::NONE);  // nothing new: nothing to write
  const TxnTransit transit =
      txn->prepare_add_partitions(partitions, clock_.now_ms(), client_transaction_version);
  write(batch, partition_for(transactional_id), transactional_id, transit, reply);
}

void TxnCoordinator::verify_partitions(const TransactionalId& id, ProducerId producer,
                                       ProducerEpoch epoch, TxnPartitions partitions,
                                       Reply<std::map<MarkerPartition, ErrorCode>> reply) {
  const std::string& transactional_id = id.value();
  const int64_t producer_id = producer.value();
  const int16_t producer_epoch = epoch.value();
  auto all = [partitions](ErrorCode error) {
    std::map<MarkerPartition, ErrorCode> result;
    for (const auto& partition : partitions) result[partition] = error;
    return result;
  };
  if (transactional_id.empty()) return reply(all(ErrorCode::INVALID_REQUEST));
  runtime_.post(partition_for(transactional_id),
                [this, transactional_id, producer_id, producer_epoch, partitions, all,
                 reply = std::move(reply)] {
                  TxnMetadata* txn = nullptr;
                  if (ErrorCode error = lookup(transactional_id, txn); error != ErrorCode::NONE)
                    return reply(all(error));
                  if (txn == nullptr || txn->current.producer_id != producer_id)
                    return reply(all(ErrorCode::INVALID_PRODUCER_ID_MAPPING));
                  if (txn->current.producer_epoch != producer_epoch)
                    return reply(all(ErrorCode::PRODUCER_FENCED));
                  if (txn->current.state == TxnState::prepare_commit ||
                      txn->current.state == TxnState::prepare_abort)
                    return reply(all(ErrorCode::CONCURRENT_TRANSACTIONS));
                  std::map<MarkerPartition, ErrorCode> result;
                  for (const auto& partition : partitions)
                    result[partition] = txn->current.partitions.contains(partition)
                                            ? ErrorCode::NONE
                                            : ErrorCode::TRANSACTION_ABORTABLE;
                  reply(std::move(result));
                });
}

// --- EndTxn -----------------------------------------------------------------

void TxnCoordinator::end_txn(const TransactionalId& id, ProducerId producer, ProducerEpoch epoch,
                             bool commit, int16_t client_transaction_version,
                             Reply<TxnProducerResult> reply) {
  runtime_.run(partition_for(id.value()),
               [this, transactional_id = id.value(), producer_id = producer.value(),
                producer_epoch = epoch.value(), commit, client_transaction_version,
                reply = std::move(reply)](WriteBatch& batch) {
                 end_here(batch, transactional_id, producer_id, producer_epoch, commit, true,
                          client_transaction_version, reply);
               });
}

namespace {

// Transactions v2: the epoch the client sent is the one before the bump
// its EndTxn already caused (a retry).
bool end_epoch_bumped(const TxnMetadata& txn, int16_t producer_epoch) {
  return txn.pending != TxnState::prepare_epoch_fence &&
         supports_epoch_bump(txn.current.client_transaction_version) &&
         txn.current.producer_epoch == producer_epoch + 1;
}

}  // namespace

ErrorCode TxnCoordinator::check_end(const TxnMetadata& txn, int64_t producer_id,
                                    int16_t producer_epoch, bool from_client) const {
  const TxnTransit& current = txn.current;
  const bool fencing = txn.pending == TxnState::prepare_epoch_fence;
  const bool v2 = !fencing && supports_epoch_bump(current.client_transaction_version);
  // v2 rotated the producer id at the end of an exhausted epoch: a retry
  // comes with the old id and its last epoch.
  const bool retry_on_overflow = v2 && current.previous_producer_id == producer_id &&
                                 producer_epoch == INT16_MAX - 1 && current.producer_epoch == 0;
  const bool retry_on_bump = end_epoch_bumped(txn, producer_epoch);
  bool valid_epoch = false;
  if (v2) {
    switch (current.state) {
      case TxnState::prepare_commit:
      case TxnState::prepare_abort:
        valid_epoch = retry_on_bump;
        break;
      case TxnState::complete_commit:
      case TxnState::complete_abort:
        valid_epoch = retry_on_bump || retry_on_overflow;
        break;
      default:
        valid_epoch = producer_epoch == current.producer_epoch;
        break;
    }
  } else {
    valid_epoch = (!from_client || producer_epoch == current.producer_epoch) &&
                  producer_epoch >= current.producer_epoch;
  }
  if (current.producer_id != producer_id && !retry_on_overflow)
    return ErrorCode::INVALID_PRODUCER_ID_MAPPING;
  if (!valid_epoch) return ErrorCode::PRODUCER_FENCED;
  if (txn.pending && !fencing) return ErrorCode::CONCURRENT_TRANSACTIONS;
  return ErrorCode::NONE;
}

void TxnCoordinator::end_here(WriteBatch& batch, const std::string& transactional_id,
                              int64_t producer_id, int16_t producer_epoch, bool commit,
                              bool from_client, int16_t client_transaction_version,
                              const Reply<TxnProducerResult>& reply) {
  if (transactional_id.empty()) return reply({ErrorCode::INVALID_REQUEST});
  TxnMetadata* txn = nullptr;
  if (ErrorCode error = lookup(transactional_id, txn); error != ErrorCode::NONE)
    return reply({error});
  if (txn == nullptr) return reply({ErrorCode::INVALID_PRODUCER_ID_MAPPING});
  if (ErrorCode error = check_end(*txn, producer_id, producer_epoch, from_client);
      error != ErrorCode::NONE)
    return reply({error});
  const TxnState state = txn->current.state;
  const TxnProducerResult unchanged{ErrorCode::NONE, txn->current.producer_id,
                                    txn->current.producer_epoch};
  switch (state) {
    case TxnState::ongoing:
      break;
    case TxnState::complete_commit:  // a retry of an end that is done
      return reply(commit ? unchanged : TxnProducerResult{ErrorCode::INVALID_TXN_STATE});
    case TxnState::complete_abort:
      return reply(!commit ? unchanged : TxnProducerResult{ErrorCode::INVALID_TXN_STATE});
    case TxnState::prepare_commit:  // a retry while the markers are written
      return reply({commit ? ErrorCode::CONCURRENT_TRANSACTIONS : ErrorCode::INVALID_TXN_STATE});
    case TxnState::prepare_abort:
      return reply({!commit ? ErrorCode::CONCURRENT_TRANSACTIONS : ErrorCode::INVALID_TXN_STATE});
    case TxnState::empty:
      return reply({ErrorCode::INVALID_TXN_STATE});
    case TxnState::dead:
    case TxnState::prepare_epoch_fence:
      SLUICE_ASSERT(false, "a transactional id found in Dead or PrepareEpochFence");
  }
  const bool fencing = txn->pending == TxnState::prepare_epoch_fence;
  int64_t next_producer_id = no_producer_id;
  if (supports_epoch_bump(client_transaction_version) && !fencing &&
      epoch_exhausted(txn->current.producer_epoch)) {
    Result<ProducerId> fresh = producer_ids_.generate_producer_id();
    if (!fresh) return reply({ErrorCode::COORDINATOR_LOAD_IN_PROGRESS});
    next_producer_id = fresh->value();
  }
  if (fencing) {
    // Kafka enters the fenced epoch in memory before writing it: the old
    // producer is refused from now on, even if the write fails.
    SLUICE_ASSERT(!commit, "only aborts fence");
    txn->pending.reset();
    txn->current.producer_epoch = producer_epoch;
    txn->current.last_producer_epoch = no_producer_epoch;
  }
  const TxnState next = commit ? TxnState::prepare_commit : TxnState::prepare_abort;
  // The coordinator's own aborts come with its transaction version
  // (server_transaction_version()), as Kafka's do.
  const TxnTransit transit = txn->prepare_abort_or_commit(next, client_transaction_version,
                                                          next_producer_id, clock_.now_ms());
  const int32_t partition = partition_for(transactional_id);
  const uint64_t incarnation = shard(partition).incarnation;
  write(batch, partition, transactional_id, transit,
        [this, partition, incarnation, transactional_id, producer_id, producer_epoch, commit,
         fencing, reply](ErrorCode error) {
          if (error == ErrorCode::NONE)
            return prepared(partition, transactional_id, producer_id, producer_epoch, commit,
                            reply);
          Shard& owner = shard(partition);
          auto it = owner.txns.find(transactional_id);
          if (fencing && owner.incarnation == incarnation && it != owner.txns.end())
            it->second.failed_epoch_fence = true;
          reply({error});
        });
}

void TxnCoordinator::prepared(int32_t partition, const std::string& transactional_id,
                              int64_t producer_id, int16_t producer_epoch, bool commit,
                              const Reply<TxnProducerResult>& reply) {
  TxnMetadata& txn = shard(partition).txns.at(transactional_id);  // write() checked it
  const TxnState expected = commit ? TxnState::prepare_commit : TxnState::prepare_abort;
  if (txn.current.producer_id != producer_id)
    return reply({ErrorCode::INVALID_PRODUCER_ID_MAPPING});
  if (txn.current.producer_epoch != producer_epoch && !end_epoch_bumped(txn, producer_epoch))
    return reply({ErrorCode::PRODUCER_FENCED});
  if (txn.pending) return reply({ErrorCode::CONCURRENT_TRANSACTIONS});
  if (txn.current.state != expected) return reply({ErrorCode::INVALID_TXN_STATE});
  reply({ErrorCode::NONE, txn.current.producer_id, txn.current.producer_epoch});
  send_markers(partition, txn);
}

void TxnCoordinator::send_markers(int32_t partition, TxnMetadata& txn) {
  // Complete{Commit,Abort} is prepared now (pending: requests for the id
  // answer CONCURRENT_TRANSACTIONS until it is written, as in Kafka).
  txn.completing = txn.prepare_complete(clock_.now_ms());
  txn.markers_written = false;
  TxnMarker marker;
  marker.transactional_id = TransactionalId{txn.transactional_id};
  marker.coordinator_partition = partition;
  marker.producer_id = ProducerId{txn.current.producer_id};
  marker.producer_epoch = ProducerEpoch{txn.current.producer_epoch};
  marker.coordinator_epoch = LeaderEpoch{coordinator_epoch(partition)};
  marker.commit = txn.current.state == TxnState::prepare_commit;
  marker.partitions.assign(txn.current.partitions.begin(), txn.current.partitions.end());
  const uint64_t incarnation = shard(partition).incarnation;
  markers_.send(std::move(marker), [this, partition, incarnation,
                                    id = txn.transactional_id](ErrorCode error) {
    runtime_.run(partition, [this, partition, incarnation, id, error](WriteBatch& batch) {
      markers_done(batch, partition, incarnation, id, error);
    });
  });
}

void TxnCoordinator::markers_done(WriteBatch& batch, int32_t partition, uint64_t incarnation,
                                  const std::string& transactional_id, ErrorCode error) {
  Shard& owner = shard(partition);
  if (owner.incarnation != incarnation) return;  // resigned: the next leader sends them
  auto it = owner.txns.find(transactional_id);
  if (it == owner.txns.end() || !it->second.completing) return;
  if (error != ErrorCode::NONE) {
    spdlog::warn("{}-{}: markers of transactional id {} not written ({})", transaction_state_topic,
                 partition, transactional_id, error_name(error));
    return;
  }
  it->second.markers_written = true;
  write_complete(batch, partition, it->second);
}

void TxnCoordinator::write_complete(WriteBatch& batch, int32_t partition, TxnMetadata& txn) {
  if (!txn.pending) txn.completing = txn.prepare_complete(clock_.now_ms());  // a retry
  txn.complete_in_flight = true;
  const std::string id = txn.transactional_id;
  write(batch, partition, id, *txn.completing, [this, partition, id](ErrorCode error) {
    auto& txns = shard(partition).txns;
    auto it = txns.find(id);
    if (it == txns.end()) return;
    it->second.complete_in_flight = false;
    if (error != ErrorCode::NONE) return;  // retried at the next tick
    it->second.completing.reset();
    it->second.markers_written = false;
  });
}

// --- DescribeTransactions, ListTransactions ---------------------------------

namespace {

TxnDescription describe_metadata(const TxnMetadata& txn) {
  TxnDescription description;
  description.transactional_id = txn.transactional_id;
  description.state = txn_state_name(txn.current.state);
  description.timeout_ms = txn.current.timeout_ms;
  description.start_timestamp_ms = txn.current.start_timestamp_ms;
  description.producer_id = txn.current.producer_id;
  description.producer_epoch = txn.current.producer_epoch;
  description.partitions = txn.current.partitions;
  return description;
}

}  // namespace

void TxnCoordinator::describe(const TransactionalId& id, Reply<TxnDescription> reply) {
  const std::string& transactional_id = id.value();
  if (transactional_id.empty()) {
    TxnDescription invalid;
    invalid.error = ErrorCode::INVALID_REQUEST;
    return reply(invalid);
  }
  runtime_.post(partition_for(transactional_id),
                [this, transactional_id, reply = std::move(reply)] {
                  TxnDescription description;
                  description.transactional_id = transactional_id;
                  TxnMetadata* txn = nullptr;
                  description.error = lookup(transactional_id, txn);
                  if (description.error != ErrorCode::NONE) return reply(description);
                  if (txn == nullptr || txn->current.state == TxnState::dead) {
                    description.error = ErrorCode::TRANSACTIONAL_ID_NOT_FOUND;
                    return reply(description);
                  }
                  reply(describe_metadata(*txn));
                });
}

void TxnCoordinator::list(TxnListFilters filters, Reply<TxnListResult> reply) {
  struct Gather {
    std::mutex mutex;
    TxnListResult result;
    int32_t left = 0;
    bool loading = false;
  };
  auto gather = std::make_shared<Gather>();
  gather->left = config_.state_log_partitions;
  std::set<TxnState> states;
  for (const auto& name : filters.states) {
    if (auto state = txn_state_from_name(name))
      states.insert(*state);
    else
      gather->result.unknown_state_filters.push_back(name);
  }
  auto shared_filters = std::make_shared<const TxnListFilters>(std::move(filters));
  auto shared_reply = std::make_shared<Reply<TxnListResult>>(std::move(reply));
  for (int32_t partition = 0; partition < config_.state_log_partitions; ++partition) {
    runtime_.post(partition, [this, partition, gather, states, shared_filters, shared_reply] {
      const Shard& owner = shard(partition);
      const int64_t now_ms = clock_.now_ms();
      std::vector<TxnListing> found;
      if (owner.state == ShardState::active) {
        for (const auto& [id, txn] : owner.txns) {
          const TxnTransit& current = txn.current;
          if (current.state == TxnState::dead) continue;  // being removed
          if (!shared_filters->producer_ids.empty() &&
              !shared_filters->producer_ids.contains(current.producer_id))
            continue;
          if (!shared_filters->states.empty() && !states.contains(current.state)) continue;
          if (shared_filters->duration_ms >= 0 &&
              now_ms - current.start_timestamp_ms <= shared_filters->duration_ms)
            continue;
          found.push_back({id, current.producer_id, txn_state_name(current.state)});
        }
      }
      std::unique_lock lock(gather->mutex);
      if (owner.state == ShardState::loading) gather->loading = true;
      for (auto& listing : found) gather->result.transactions.push_back(std::move(listing));
      if (--gather->left > 0) return;
      TxnListResult result = std::move(gather->result);
      if (gather->loading) result = {ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, {}, {}};
      std::sort(result.transactions.begin(), result.transactions.end(),
                [](const TxnListing& a, const TxnListing& b) {
                  return a.transactional_id < b.transactional_id;
                });
      lock.unlock();
      (*shared_reply)(std::move(result));
    });
  }
}

// --- blocking helpers (tests) -------------------------------------------------

namespace {

template <class T>
T wait_for(const std::function<void(Reply<T>)>& start) {
  std::mutex mutex;
  std::condition_variable ready;
  std::optional<T> answer;
  start([&](T value) {
    std::lock_guard lock(mutex);
    answer = std::move(value);
    ready.notify_all();
  });
  std::unique_lock lock(mutex);
  ready.wait(lock, [&] { return answer.has_value(); });
  return std::move(*answer);
}

}  // namespace

TxnDescription TxnCoordinator::describe(const TransactionalId& transactional_id) {
  return wait_for<TxnDescription>(
      [&](Reply<TxnDescription> reply) { describe(transactional_id, std::move(reply)); });
}

std::optional<TxnMetadata> TxnCoordinator::metadata_of(const TransactionalId& id) {
  return wait_for<std::optional<TxnMetadata>>([&](Reply<std::optional<TxnMetadata>> reply) {
    runtime_.post(partition_for(id.value()), [this, transactional_id = id.value(), reply] {
      const auto& txns = shard(partition_for(transactional_id)).txns;
      auto it = txns.find(transactional_id);
      reply(it == txns.end() ? std::nullopt : std::optional<TxnMetadata>(it->second));
    });
  });
}

ErrorCode TxnCoordinator::partition_error(int32_t partition) {
  return wait_for<ErrorCode>([&](Reply<ErrorCode> reply) {
    runtime_.post(partition, [this, partition, reply] { reply(shard_error(shard(partition))); });
  });
}

}  // namespace sluice::txn
