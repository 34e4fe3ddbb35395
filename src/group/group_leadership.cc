// The coordinator following the leadership of its __consumer_offsets
// partitions (Kafka's GroupCoordinator onElection/onResignation): a
// partition this broker comes to lead is loaded from its log, a step at a
// time on its strand, answering COORDINATOR_LOAD_IN_PROGRESS meanwhile; one
// it stops leading is dropped and answers NOT_COORDINATOR.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>

#include "group/group_coordinator.h"
#include "group/group_state.h"

namespace sluice::group {

void GroupCoordinator::on_election(int32_t partition, LeaderEpoch leader_epoch) {
  run_on(partition, [this, partition, leader_epoch](Completions& out) {
    elect_here(partition, leader_epoch, out);
    load_step(partition);
  });
}

void GroupCoordinator::on_resignation(int32_t partition, LeaderEpoch leader_epoch) {
  run_on(partition, [this, partition, leader_epoch](Completions& out) {
    resign_here(partition, leader_epoch, out);
  });
}

void GroupCoordinator::continue_loads() {
  for (int32_t partition = 0; partition < runtime_.partitions(); ++partition)
    runtime_.post(partition, [this, partition] { load_step(partition); });
}

ErrorCode GroupCoordinator::partition_error(int32_t partition) {
  std::mutex mutex;
  std::condition_variable ready;
  std::optional<ErrorCode> answer;
  runtime_.post(partition, [&, partition] {
    std::lock_guard lock(mutex);
    answer = partition_state_error(partition);
    ready.notify_all();
  });
  std::unique_lock lock(mutex);
  ready.wait(lock, [&] { return answer.has_value(); });
  return *answer;
}

void GroupCoordinator::elect_here(int32_t partition, LeaderEpoch leader_epoch, Completions& out) {
  Shard& shard = shards_[static_cast<size_t>(partition)];
  if (leader_epoch <= shard.epoch) return;  // stale, or this election is known
  // Active from before __consumer_offsets existed (epoch -1): its appends
  // all failed, so its state (members in memory) stays if the log is still
  // empty and nobody else ever led the partition (epoch 0). Otherwise
  // another leader (or this one, in the moment since the topic appeared)
  // may have written: load.
  const bool kept = shard.state == ShardState::active &&
                    (shard.epoch != LeaderEpoch{-1} ||
                     (leader_epoch == LeaderEpoch{0} && log_.load_end_offset(partition) == 0));
  shard.epoch = leader_epoch;
  if (kept || shard.state == ShardState::loading) return;  // Kafka: keeps going with the new epoch
  drop_groups(shard, ErrorCode::NOT_COORDINATOR, out);
  shard.state = ShardState::loading;
  ++shard.incarnation;
  shard.load_next = 0;
  shard.load_end = log_.load_end_offset(partition);
  shard.load_counts = {};
  loading_partitions_.fetch_add(1, std::memory_order_acq_rel);
  spdlog::info(
      "__consumer_offsets-{}: elected coordinator in leader epoch {}, loading up to offset {}",
      partition, leader_epoch, shard.load_end);
}

void GroupCoordinator::resign_here(int32_t partition, LeaderEpoch leader_epoch, Completions& out) {
  Shard& shard = shards_[static_cast<size_t>(partition)];
  if (leader_epoch < shard.epoch) return;  // an older resignation than the last election
  shard.epoch = leader_epoch;
  if (shard.state == ShardState::inactive) return;
  if (shard.state == ShardState::loading)
    loading_partitions_.fetch_sub(1, std::memory_order_acq_rel);
  const bool served = shard.state == ShardState::active && !shard.groups.empty();
  drop_groups(shard, ErrorCode::NOT_COORDINATOR, out);
  shard.state = ShardState::inactive;
  ++shard.incarnation;
  if (served)
    spdlog::info("__consumer_offsets-{}: no longer coordinator (leader epoch {}): groups unloaded",
                 partition, leader_epoch);
}

// Left failed (COORDINATOR_LOAD_IN_PROGRESS, retried by clients) until a
// newer election or a restart reads it: one partition's groups must not
// take the others down.
void GroupCoordinator::fail_load(int32_t partition, ErrorCode error) {
  Shard& shard = shards_[static_cast<size_t>(partition)];
  spdlog::error("__consumer_offsets-{}: cannot be loaded ({}): its groups stay unavailable",
                partition, error_name(error));
  shard.groups.clear();
  clear_transactions(shard);
  shard.state = ShardState::failed;
  ++shard.incarnation;
  loading_partitions_.fetch_sub(1, std::memory_order_acq_rel);
}

void GroupCoordinator::load_step(int32_t partition) {
  Shard& shard = shards_[static_cast<size_t>(partition)];
  if (shard.state != ShardState::loading) return;
  // A few reads per turn, then the other tasks of this strand (requests
  // answering COORDINATOR_LOAD_IN_PROGRESS) get theirs.
  constexpr int reads_per_turn_max = 8;
  if (shard.load_end < 0) return fail_load(partition, ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
  // Records of a transactional batch are pending for its producer until
  // the producer's marker (a control batch) later in the log.
  const coordinator::BatchSink batch = [&shard](const coordinator::LoadedBatch& loaded) {
    shard.load_batch = loaded;
  };
  const RecordSink sink = [this, &shard, partition](Bytes key, std::optional<Bytes> value) {
    const coordinator::LoadedBatch& loaded = shard.load_batch;
    if (loaded.control) return replay_control(partition, loaded.producer_id, key);
    return replay(key, value, loaded.transactional ? loaded.producer_id : non_transactional);
  };
  for (int read = 0; read < reads_per_turn_max && shard.load_next < shard.load_end; ++read) {
    LoadStep step = log_.load_with_batches(partition, shard.load_next, shard.load_end, sink, batch);
    shard.load_counts.replayed += step.replayed;
    shard.load_counts.skipped += step.skipped;
    if (step.error != ErrorCode::NONE) return fail_load(partition, step.error);
    if (step.next_offset <= shard.load_next)
      return;  // waits for the high watermark: the next tick goes on
    shard.load_next = step.next_offset;
    load_progress_.fetch_add(1, std::memory_order_acq_rel);
  }
  if (shard.load_next < shard.load_end) {
    runtime_.post(partition, [this, partition] { load_step(partition); });
    return;
  }
  shard.state = ShardState::active;
  loading_partitions_.fetch_sub(1, std::memory_order_acq_rel);
  // Markers made durable while loading (WriteTxnMarkers), in their order.
  for (const auto& [producer_id, commit] : shard.completions_while_loading)
    end_transaction(shard, producer_id, commit);
  shard.completions_while_loading.clear();
  shard.load_batch = {};
  // Reloaded members' sessions start now (finish_loading, for one shard).
  for (auto& [id, group] : shard.groups)
    for (auto& [member_id, member] : group->members)
      member.session_deadline = deadline_after(member.session_timeout_ms);
  if (shard.load_counts.skipped > 0)
    spdlog::warn("__consumer_offsets-{}: loaded {} records, skipped {} that could not be read",
                 partition, shard.load_counts.replayed, shard.load_counts.skipped);
  spdlog::info("__consumer_offsets-{}: loaded {} groups in leader epoch {}", partition,
               shard.groups.size(), shard.epoch);
}

}  // namespace sluice::group
