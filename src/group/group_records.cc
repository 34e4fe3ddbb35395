// Writing and replaying the coordinator records of __consumer_offsets.
#include "group/group_records.h"

#include <algorithm>

#include "base/assert.h"
#include "protocol/record_framing.h"

namespace sluice::group {

namespace records = protocol::coordinator;

namespace {

constexpr int16_t offset_key_version = 1;
constexpr int16_t offset_value_version = 3;
constexpr int16_t group_key_version = 2;
constexpr int16_t group_value_version = 3;

std::vector<uint8_t> offset_key(const std::string& group, const std::string& topic, int32_t partition) {
  records::OffsetCommitKey key;
  key.group = group;
  key.topic = topic;
  key.partition = partition;
  return records::encode_versioned(key, offset_key_version);
}

std::vector<uint8_t> group_key(const std::string& group) {
  records::GroupMetadataKey key;
  key.group = group;
  return records::encode_versioned(key, group_key_version);
}

// A record value: its int16 version, then the fields of that version.
template <class Value>
Status decode_value(Bytes bytes, Value& value) {
  WireReader reader(bytes);
  int16_t version = 0;
  if (Status status = records::read_version(reader, version); !status) return status;
  return value.decode(reader, version);
}

}  // namespace

CoordinatorRecord offset_record(const std::string& group, const std::string& topic, int32_t partition,
                                const CommittedOffset& committed) {
  records::OffsetCommitValue value;
  value.offset = committed.offset.value();
  value.leader_epoch = committed.leader_epoch.value();
  value.metadata = committed.metadata;
  value.commit_timestamp = committed.commit_timestamp_ms;
  // Kafka's GroupMetadataManager.offsetCommitValue: v1 when the offset has
  // an expire timestamp (v1 has no leader epoch), else v3.
  if (committed.expire_timestamp_ms) {
    value.expire_timestamp = *committed.expire_timestamp_ms;
    return {offset_key(group, topic, partition), records::encode_versioned(value, 1)};
  }
  return {offset_key(group, topic, partition),
          records::encode_versioned(value, offset_value_version)};
}

CoordinatorRecord offset_tombstone(const std::string& group, const std::string& topic, int32_t partition) {
  return {offset_key(group, topic, partition), std::nullopt};
}

CoordinatorRecord group_tombstone(const std::string& group) { return {group_key(group), std::nullopt}; }

std::vector<std::string> consumer_subscription_topics(const std::vector<uint8_t>& subscription) {
  WireReader reader(subscription);
  int16_t version = 0;
  if (!records::read_version(reader, version) || version < 0) return {};
  // Newer versions only add fields at the end: read what we know.
  protocol::ConsumerProtocolSubscription parsed;
  int16_t known = std::min(version, protocol::ConsumerProtocolSubscription::max_version);
  if (!parsed.decode(reader, known)) {
    WireReader again(subscription);
    (void)records::read_version(again, version);
    protocol::ConsumerProtocolSubscription v0;
    if (!v0.decode(again, 0)) return {};
    return v0.topics;
  }
  return parsed.topics;
}

void GroupCoordinator::append(const std::string& group_id, std::vector<CoordinatorRecord> records,
                              std::function<void(ErrorCode, Completions&)> done,
                              std::optional<TransactionalProducer> producer) {
  int32_t partition = partition_of(group_id);
  Shard& shard = shards_[static_cast<size_t>(partition)];
  WriteBatch* batch = shard.batch;
  SLUICE_ASSERT(batch != nullptr, "a coordinator write outside an operation on its partition's strand");
  // Written by this incarnation of the partition's coordinator: if it was
  // unloaded (leadership lost) or reloaded since, the state the records
  // describe is gone, so they apply nothing and answer NOT_COORDINATOR
  // (NOT_LEADER_OR_FOLLOWER mapped), whatever the append's outcome.
  auto guarded = [&shard, incarnation = shard.incarnation, done = std::move(done)](
                     ErrorCode error, Completions& out) {
    if (shard.incarnation != incarnation || shard.state != ShardState::active)
      error = coordinator_error(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    done(error, out);
  };
  if (producer)
    batch->add_transactional(*producer, std::move(records),
                             on_strand(partition, std::move(guarded)));
  else
    batch->add(std::move(records), on_strand(partition, std::move(guarded)));
}

CoordinatorRecord GroupCoordinator::group_record(const Group& group,
                                                 const std::map<std::string, std::vector<uint8_t>>* assignments) const {
  records::GroupMetadataValue value;
  value.protocol_type = group.protocol_type.value_or("");
  value.generation = group.generation;
  value.protocol = group.protocol;
  value.leader = group.leader.empty() ? std::nullopt : std::optional<std::string>(group.leader);
  value.current_state_timestamp = group.state_timestamp_ms;
  for (const auto& [id, member] : group.members) {
    auto& out = value.members.emplace_back();
    out.member_id = id;
    out.group_instance_id = member.instance_id;
    out.client_id = member.client_id;
    out.client_host = member.client_host;
    out.rebalance_timeout = member.rebalance_timeout_ms;
    out.session_timeout = member.session_timeout_ms;
    if (group.protocol)
      if (const auto* metadata = member.metadata_for(*group.protocol)) out.subscription = *metadata;
    if (assignments == nullptr) {
      out.assignment = member.assignment;
    } else if (auto it = assignments->find(id); it != assignments->end()) {
      out.assignment = it->second;
    }
  }
  return {group_key(group.id), records::encode_versioned(value, group_value_version)};
}

// The group's membership is in memory already (Kafka's classic groups do not
// replay their own GroupMetadata records either): only load replays them.
void GroupCoordinator::store_group(Group& group, std::function<void(ErrorCode, Completions&)> done) {
  append(group.id, {group_record(group)}, std::move(done));
}

Status GroupCoordinator::replay(Bytes key_bytes, std::optional<Bytes> value_bytes,
                                ProducerId producer_id) {
  WireReader key_reader(key_bytes);
  int16_t key_version = 0;
  if (Status status = records::read_version(key_reader, key_version); !status) return status;
  if (key_version == 0 || key_version == 1) {
    records::OffsetCommitKey key;
    if (Status status = key.decode(key_reader, key_version); !status) return status;
    Shard& shard = shard_of(key.group);
    if (!value_bytes) {
      if (Group* group = find_group(key.group)) group->offsets.erase({key.topic, key.partition});
      // A tombstone removes the pending transactional offsets too (Kafka's
      // OffsetMetadataManager.replay).
      if (auto open = shard.open_txns_by_group.find(key.group);
          open != shard.open_txns_by_group.end())
        for (ProducerId producer : open->second)
          shard.pending_txn_offsets[producer].erase({key.group, key.topic, key.partition});
      return Status::ok();
    }
    records::OffsetCommitValue value;
    if (Status status = decode_value(*value_bytes, value); !status) return status;
    CommittedOffset committed{Offset{value.offset}, LeaderEpoch{value.leader_epoch},
                              value.metadata,       value.commit_timestamp,
                              std::nullopt,         ++shard.record_order};
    if (value.expire_timestamp != -1) committed.expire_timestamp_ms = value.expire_timestamp;
    // The group exists once it has offsets, committed or pending (Kafka's
    // simple group: Empty, no protocol type).
    Group& group = get_or_create_group(key.group);
    if (producer_id != non_transactional) {
      // Pending until the producer's marker (Kafka's
      // pendingTransactionalOffsets).
      shard.pending_txn_offsets[producer_id][{key.group, key.topic, key.partition}] =
          std::move(committed);
      shard.open_txns_by_group[key.group].insert(producer_id);
      return Status::ok();
    }
    group.offsets[{key.topic, key.partition}] = std::move(committed);
    return Status::ok();
  }
  if (key_version != 2) return Status::ok();  // records of other coordinators (KIP-848, share groups)
  records::GroupMetadataKey key;
  if (Status status = key.decode(key_reader, key_version); !status) return status;
  if (!value_bytes) {
    Group* group = find_group(key.group);
    if (group && group->offsets.empty()) shard_of(key.group).groups.erase(key.group);
    else if (group) {
      auto offsets = std::move(group->offsets);
      *group = Group{};
      group->id = key.group;
      group->offsets = std::move(offsets);
    }
    return Status::ok();
  }
  records::GroupMetadataValue value;
  if (Status status = decode_value(*value_bytes, value); !status) return status;
  Group& group = get_or_create_group(key.group);
  group.generation = value.generation;
  group.protocol_type = value.protocol_type.empty() ? std::nullopt : std::optional<std::string>(value.protocol_type);
  group.protocol = value.protocol && !value.protocol->empty() ? value.protocol : std::nullopt;
  group.leader = value.leader.value_or("");
  group.state_timestamp_ms = value.current_state_timestamp;
  group.members.clear();
  group.static_members.clear();
  for (const auto& stored : value.members) {
    Member& member = group.members[stored.member_id];
    member.member_id = stored.member_id;
    member.instance_id = stored.group_instance_id;
    if (member.instance_id) group.static_members[*member.instance_id] = stored.member_id;
    member.client_id = stored.client_id;
    member.client_host = stored.client_host;
    member.rebalance_timeout_ms = stored.rebalance_timeout;
    member.session_timeout_ms = stored.session_timeout;
    member.protocols = {{group.protocol.value_or(""), stored.subscription}};
    member.assignment = stored.assignment;
  }
  group.state = group.members.empty() ? GroupState::empty : GroupState::stable;
  return Status::ok();
}

void GroupCoordinator::finish_loading() {
  for (auto& shard : shards_)
    for (auto& [id, group] : shard.groups)
      for (auto& [member_id, member] : group->members)
        member.session_deadline = deadline_after(member.session_timeout_ms);
}

}  // namespace sluice::group
