// The group side of transactions (KIP-98, KIP-447): TxnOffsetCommit writes
// a transactional batch of the producer to __consumer_offsets; its offsets
// stay pending per producer until the transaction's marker commits or
// aborts them (complete_transaction once WriteTxnMarkers made it durable;
// the marker itself when loading).
#include <spdlog/spdlog.h>

#include "group/group_coordinator.h"
#include "group/group_records.h"
#include "group/group_state.h"
#include "record/record_reader.h"

namespace sluice::group {

using protocol::TxnOffsetCommitRequest;
using protocol::TxnOffsetCommitResponse;

namespace {

TxnOffsetCommitResponse txn_commit_answer(const TxnOffsetCommitRequest& request, ErrorCode code) {
  TxnOffsetCommitResponse response;
  for (const auto& topic : request.topics) {
    auto& out = response.topics.emplace_back();
    out.name = topic.name;
    for (const auto& partition : topic.partitions) {
      auto& answer = out.partitions.emplace_back();
      answer.partition_index = partition.partition_index;
      answer.error_code = to_wire(code);
    }
  }
  return response;
}

}  // namespace

void GroupCoordinator::txn_offset_commit(const TxnOffsetCommitRequest& request, int16_t /*version*/,
                                         Reply<TxnOffsetCommitResponse> reply,
                                         storage::AppendVerification verification) {
  run_on(partition_of(request.group_id),
         [this, request, verification, reply = std::move(reply)](Completions& out) mutable {
           txn_offset_commit_here(request, verification, std::move(reply), out);
         });
}

// Kafka's OffsetMetadataManager.validateTransactionalOffsetCommit with
// ClassicGroup.validateOffsetCommit(isTransactional = true): no group is
// fine for a commit without a generation (a simple group is created); the
// group's state is not enforced (no REBALANCE_IN_PROGRESS); a generation,
// member id or instance id (v3+, as Streams sends them) must name a member
// of the current generation.
ErrorCode GroupCoordinator::validate_txn_commit(const TxnOffsetCommitRequest& request,
                                                const Group* group) const {
  if (group == nullptr)
    return request.generation_id < 0 ? ErrorCode::NONE : ErrorCode::ILLEGAL_GENERATION;
  if (group->state == GroupState::dead) return ErrorCode::COORDINATOR_NOT_AVAILABLE;
  if (request.generation_id < 0 && group->state == GroupState::empty) return ErrorCode::NONE;
  if (request.generation_id < 0 && request.member_id.empty() && !request.group_instance_id)
    return ErrorCode::NONE;  // v0-2 carry no member: not checked
  if (request.group_instance_id) {
    auto known = group->static_members.find(*request.group_instance_id);
    if (known == group->static_members.end()) return ErrorCode::UNKNOWN_MEMBER_ID;
    if (known->second != request.member_id) return ErrorCode::FENCED_INSTANCE_ID;
  }
  if (!group->has(request.member_id)) return ErrorCode::UNKNOWN_MEMBER_ID;
  if (request.generation_id != group->generation) return ErrorCode::ILLEGAL_GENERATION;
  return ErrorCode::NONE;
}

void GroupCoordinator::txn_offset_commit_here(const TxnOffsetCommitRequest& request,
                                              const storage::AppendVerification& verification,
                                              Reply<TxnOffsetCommitResponse> reply,
                                              Completions& out) {
  ErrorCode code = ErrorCode::NONE;
  if (request.group_id.empty())
    code = ErrorCode::INVALID_GROUP_ID;
  else if (ErrorCode refused = unavailable(request.group_id); refused != ErrorCode::NONE)
    code = refused;
  else
    code = validate_txn_commit(request, find_group(request.group_id));
  if (code != ErrorCode::NONE) {
    out.push_back([reply, response = txn_commit_answer(request, code)] { reply(response); });
    return;
  }
  TxnOffsetCommitResponse response = txn_commit_answer(request, ErrorCode::NONE);
  std::vector<CoordinatorRecord> records;
  std::vector<PendingKey> keys;
  const int64_t now_ms = clock_.now_ms();
  for (size_t t = 0; t < request.topics.size(); ++t) {
    const auto& topic = request.topics[t];
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      const auto& partition = topic.partitions[p];
      std::string metadata = partition.committed_metadata.value_or("");
      if (metadata.size() > static_cast<size_t>(config_.offset_metadata_max_bytes)) {
        response.topics[t].partitions[p].error_code = to_wire(ErrorCode::OFFSET_METADATA_TOO_LARGE);
        continue;
      }
      CommittedOffset committed{Offset{partition.committed_offset},
                                LeaderEpoch{partition.committed_leader_epoch}, metadata, now_ms,
                                std::nullopt};
      records.push_back(
          offset_record(request.group_id, topic.name, partition.partition_index, committed));
      keys.emplace_back(request.group_id, topic.name, partition.partition_index);
    }
  }
  if (records.empty()) {
    out.push_back([reply, response] { reply(response); });
    return;
  }
  // In flight: deletes and expiry account for it (pending_commits), a
  // stable fetch sees it as pending. Once durable it is pending for the
  // producer (replayed with its producer id) until the marker.
  Shard& shard = shard_of(request.group_id);
  for (const auto& key : keys) {
    ++shard.pending_commits[key];
    ++shard.txn_commits_in_flight[key];
  }
  const ProducerId producer_id{request.producer_id};
  auto applied = records;
  auto on_durable = [this, &shard, keys, applied = std::move(applied), producer_id, reply,
                     response](ErrorCode error, Completions& out) mutable {
    for (const auto& key : keys) {
      if (--shard.pending_commits[key] == 0) shard.pending_commits.erase(key);
      if (--shard.txn_commits_in_flight[key] == 0) shard.txn_commits_in_flight.erase(key);
    }
    if (error == ErrorCode::NONE) apply(applied, producer_id);
    for (auto& topic : response.topics)
      for (auto& partition : topic.partitions)
        if (partition.error_code == 0) partition.error_code = to_wire(error);
    out.push_back([reply, response] { reply(response); });
  };
  append(request.group_id, std::move(records), std::move(on_durable),
         TransactionalProducer{ProducerId{request.producer_id},
                               ProducerEpoch{request.producer_epoch}, verification});
}

bool GroupCoordinator::has_pending_txn_offset(const Shard& shard, const PendingKey& key) {
  if (shard.txn_commits_in_flight.count(key) != 0) return true;
  auto open = shard.open_txns_by_group.find(std::get<0>(key));
  if (open == shard.open_txns_by_group.end()) return false;
  for (ProducerId producer : open->second) {
    auto pending = shard.pending_txn_offsets.find(producer);
    if (pending != shard.pending_txn_offsets.end() && pending->second.count(key) != 0) return true;
  }
  return false;
}

// Kafka's OffsetMetadataManager.replayEndTransactionMarker.
void GroupCoordinator::end_transaction(Shard& shard, ProducerId producer_id, bool commit) {
  auto found = shard.pending_txn_offsets.find(producer_id);
  if (found == shard.pending_txn_offsets.end()) return;  // nothing of it here
  std::map<PendingKey, CommittedOffset> pending = std::move(found->second);
  shard.pending_txn_offsets.erase(found);
  for (auto it = shard.open_txns_by_group.begin(); it != shard.open_txns_by_group.end();) {
    it->second.erase(producer_id);
    it = it->second.empty() ? shard.open_txns_by_group.erase(it) : std::next(it);
  }
  if (!commit) return;
  for (auto& [key, offset] : pending) {
    const auto& [group_id, topic, partition] = key;
    Group& group = get_or_create_group(group_id);
    auto existing = group.offsets.find({topic, partition});
    // A plain commit written after the transactional one wins (Kafka keeps
    // the record with the larger offset: compaction would keep it too).
    if (existing != group.offsets.end() && existing->second.record_order > offset.record_order)
      continue;
    group.offsets[{topic, partition}] = std::move(offset);
  }
}

void GroupCoordinator::clear_transactions(Shard& shard) {
  shard.pending_txn_offsets.clear();
  shard.open_txns_by_group.clear();
  shard.completions_while_loading.clear();
  shard.load_batch = {};
}

void GroupCoordinator::complete_transaction(ProducerId producer_id, int32_t partition,
                                            bool commit) {
  if (partition < 0 || partition >= runtime_.partitions()) return;
  runtime_.post(partition, [this, producer_id, partition, commit] {
    Shard& shard = shards_[static_cast<size_t>(partition)];
    switch (shard.state) {
      case ShardState::active:
        return end_transaction(shard, producer_id, commit);
      case ShardState::loading:
        // The marker may be past the end this load reads to: applied once
        // loaded (again if the load read it: then nothing is pending).
        shard.completions_while_loading.emplace_back(producer_id, commit);
        return;
      case ShardState::failed:
      case ShardState::inactive:
        return;  // whoever loads the partition reads the marker
    }
  });
}

Status GroupCoordinator::replay_control(int32_t partition, ProducerId producer_id, Bytes key) {
  auto control = record::parse_control_key(key);
  if (!control) return control.status();
  if (control->type != record::ControlType::commit && control->type != record::ControlType::abort)
    return Status::ok();
  end_transaction(shards_[static_cast<size_t>(partition)], producer_id,
                  control->type == record::ControlType::commit);
  return Status::ok();
}

}  // namespace sluice::group
