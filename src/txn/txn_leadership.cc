// The transaction coordinator following the leadership of its
// __transaction_state partitions (Kafka's TransactionCoordinator
// onElection/onResignation, TransactionStateManager loading), and time:
// aborting timed-out transactions, expiring idle transactional ids.
#include <spdlog/spdlog.h>

#include "txn/txn_coordinator.h"
#include "txn/txn_records.h"

namespace sluice::txn {

using coordinator::WriteBatch;

void TxnCoordinator::on_election(int32_t partition, LeaderEpoch leader_epoch) {
  runtime_.post(partition, [this, partition, epoch = leader_epoch.value()] {
    elect_here(partition, epoch);
    load_step(partition);
  });
}

void TxnCoordinator::on_resignation(int32_t partition, LeaderEpoch leader_epoch) {
  runtime_.post(partition,
                [this, partition, epoch = leader_epoch.value()] { resign_here(partition, epoch); });
}

void TxnCoordinator::continue_loads() {
  for (int32_t partition = 0; partition < runtime_.partitions(); ++partition)
    runtime_.post(partition, [this, partition] { load_step(partition); });
}

// Kafka reloads a partition at every election (its state is exactly what
// the log holds: nothing is entered before it is durable), dropping what
// an older incarnation had in memory and the markers it was sending.
void TxnCoordinator::elect_here(int32_t partition, int32_t leader_epoch) {
  Shard& owner = shard(partition);
  if (leader_epoch <= owner.epoch) return;  // stale, or this election is known
  markers_.cancel(partition, LeaderEpoch{leader_epoch - 1});
  if (owner.state != ShardState::loading)
    loading_partitions_.fetch_add(1, std::memory_order_acq_rel);
  owner.epoch = leader_epoch;
  owner.txns.clear();
  owner.state = ShardState::loading;
  ++owner.incarnation;
  owner.load_next = 0;
  owner.load_end = log_.load_end_offset(partition);
  owner.load_counts = {};
  // A new topic's 50 empty partitions: one line each only when debugging.
  spdlog::log(owner.load_end > 0 ? spdlog::level::info : spdlog::level::debug,
              "{}-{}: elected transaction coordinator in leader epoch {}, loading up to offset {}",
              transaction_state_topic, partition, leader_epoch, owner.load_end);
}

void TxnCoordinator::resign_here(int32_t partition, int32_t leader_epoch) {
  Shard& owner = shard(partition);
  if (leader_epoch < owner.epoch) return;  // older than the last election
  owner.epoch = leader_epoch;
  if (owner.state == ShardState::inactive) return;
  if (owner.state == ShardState::loading)
    loading_partitions_.fetch_sub(1, std::memory_order_acq_rel);
  const size_t dropped = owner.txns.size();
  owner.txns.clear();
  owner.state = ShardState::inactive;
  ++owner.incarnation;
  markers_.cancel(partition, LeaderEpoch{leader_epoch});
  if (dropped > 0)
    spdlog::info("{}-{}: no longer transaction coordinator (leader epoch {}): {} ids unloaded",
                 transaction_state_topic, partition, leader_epoch, dropped);
}

// Left failed (COORDINATOR_LOAD_IN_PROGRESS, retried by clients) until a
// newer election or a restart reads it.
void TxnCoordinator::fail_load(int32_t partition, ErrorCode error) {
  Shard& owner = shard(partition);
  spdlog::error("{}-{}: cannot be loaded ({}): its transactional ids stay unavailable",
                transaction_state_topic, partition, error_name(error));
  owner.txns.clear();
  owner.state = ShardState::failed;
  ++owner.incarnation;
  loading_partitions_.fetch_sub(1, std::memory_order_acq_rel);
}

void TxnCoordinator::load_step(int32_t partition) {
  Shard& owner = shard(partition);
  if (owner.state != ShardState::loading) return;
  // A few reads per turn, then the strand's other tasks (requests answered
  // COORDINATOR_LOAD_IN_PROGRESS) get theirs.
  constexpr int reads_per_turn_max = 8;
  if (owner.load_end < 0) return fail_load(partition, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  const coordinator::RecordSink sink = [this, partition](Bytes key, std::optional<Bytes> value) {
    return replay(partition, key, value);
  };
  for (int read = 0; read < reads_per_turn_max && owner.load_next < owner.load_end; ++read) {
    coordinator::LoadStep step = log_.load(partition, owner.load_next, owner.load_end, sink);
    owner.load_counts.replayed += step.replayed;
    owner.load_counts.skipped += step.skipped;
    if (step.error != ErrorCode::NONE) return fail_load(partition, step.error);
    if (step.next_offset <= owner.load_next) return;  // waits for the high watermark
    owner.load_next = step.next_offset;
    load_progress_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (owner.load_next < owner.load_end) {
    runtime_.post(partition, [this, partition] { load_step(partition); });
    return;
  }
  loaded(partition);
}

void TxnCoordinator::loaded(int32_t partition) {
  Shard& owner = shard(partition);
  owner.state = ShardState::active;
  loading_partitions_.fetch_sub(1, std::memory_order_acq_rel);
  if (owner.load_counts.skipped > 0)
    spdlog::warn("{}-{}: loaded {} records, skipped {} that could not be read",
                 transaction_state_topic, partition, owner.load_counts.replayed,
                 owner.load_counts.skipped);
  // Transactions that were ending when the previous coordinator stopped:
  // their markers are sent again (Kafka's loadTransactionsForTxnTopicPartition).
  size_t resent = 0;
  for (auto& [id, txn] : owner.txns) {
    if (txn.current.state != TxnState::prepare_commit &&
        txn.current.state != TxnState::prepare_abort)
      continue;
    send_markers(partition, txn);
    ++resent;
  }
  spdlog::log(owner.txns.empty() ? spdlog::level::debug : spdlog::level::info,
              "{}-{}: loaded {} transactional ids in leader epoch {} ({} ending: markers resent)",
              transaction_state_topic, partition, owner.txns.size(), owner.epoch, resent);
}

Status TxnCoordinator::replay(int32_t partition, Bytes key, std::optional<Bytes> value) {
  Result<TxnLogEntry> entry = decode_txn_record(key, value);
  if (!entry) return entry.status();
  auto& txns = shard(partition).txns;
  if (!entry->value) {
    txns.erase(entry->transactional_id);
    return Status::ok();
  }
  TxnMetadata& txn = txns[entry->transactional_id];
  txn = TxnMetadata{};
  txn.transactional_id = entry->transactional_id;
  txn.current = std::move(*entry->value);
  return Status::ok();
}

// --- time -------------------------------------------------------------------

void TxnCoordinator::tick() {
  const int64_t now_ms = clock_.now_ms();
  auto due = [now_ms](std::atomic<int64_t>& next, int64_t interval_ms) {
    int64_t at = next.load(std::memory_order_acquire);
    if (at == 0) {  // the first tick starts the intervals
      next.compare_exchange_strong(at, now_ms + interval_ms);
      return false;
    }
    return now_ms >= at && next.compare_exchange_strong(at, now_ms + interval_ms);
  };
  const bool abort_timed_out = due(next_abort_ms_, config_.abort_timed_out_interval_ms);
  const bool remove_expired = due(next_expiry_ms_, config_.remove_expired_interval_ms);
  for (int32_t partition = 0; partition < runtime_.partitions(); ++partition) {
    runtime_.run(partition, [this, partition, abort_timed_out, remove_expired](WriteBatch& batch) {
      load_step(partition);
      tick_partition(batch, partition, abort_timed_out, remove_expired);
    });
  }
}

void TxnCoordinator::tick_partition(WriteBatch& batch, int32_t partition, bool abort_timed_out,
                                    bool remove_expired) {
  Shard& owner = shard(partition);
  if (owner.state != ShardState::active) return;
  const int64_t now_ms = clock_.now_ms();
  // Collected first: the writes below must not run into the iteration.
  std::vector<std::string> retry_complete, timed_out, expired;
  for (auto& [id, txn] : owner.txns) {
    if (txn.pending) continue;
    const TxnTransit& current = txn.current;
    const bool preparing =
        current.state == TxnState::prepare_commit || current.state == TxnState::prepare_abort;
    if (preparing && txn.markers_written && !txn.complete_in_flight) retry_complete.push_back(id);
    if (abort_timed_out && current.state == TxnState::ongoing &&
        current.start_timestamp_ms + current.timeout_ms < now_ms)
      timed_out.push_back(id);
    if (remove_expired && expiration_allowed(current.state) &&
        current.last_update_timestamp_ms <= now_ms - config_.id_expiration_ms)
      expired.push_back(id);
  }
  for (const auto& id : retry_complete) write_complete(batch, partition, owner.txns.at(id));
  for (const auto& id : timed_out) {
    TxnMetadata& txn = owner.txns.at(id);
    if (txn.current.producer_epoch == INT16_MAX) continue;  // no epoch left to fence with
    spdlog::info(
        "{}-{}: aborting transaction of {} (producer id {} epoch {}): past its timeout of {} ms",
        transaction_state_topic, partition, id, txn.current.producer_id, txn.current.producer_epoch,
        txn.current.timeout_ms);
    // Kafka's abortTimedOutTransactions: the epoch bumped (the producer is
    // fenced), then aborted as the coordinator's own EndTxn.
    const TxnTransit fence = txn.prepare_fence_epoch();
    end_here(batch, id, fence.producer_id, fence.producer_epoch, false, false,
             server_transaction_version(), [id](TxnProducerResult result) {
               if (result.error != ErrorCode::NONE)
                 spdlog::info("abort of timed-out transaction {} not done: {}", id,
                              error_name(result.error));
             });
  }
  for (const auto& id : expired) {
    TxnMetadata& txn = owner.txns.at(id);
    if (txn.pending) continue;
    spdlog::info("{}-{}: transactional id {} expired (idle for transactional.id.expiration.ms)",
                 transaction_state_topic, partition, id);
    write(batch, partition, id, txn.prepare_dead(), [](ErrorCode) {});
  }
}

}  // namespace sluice::txn
