// Committed offsets (OffsetCommit, OffsetFetch, OffsetDelete, expiry) and
// the admin APIs (DescribeGroups, ListGroups, DeleteGroups).
#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>

#include "base/assert.h"

#include "group/group_coordinator.h"
#include "group/group_records.h"
#include "group/group_state.h"

namespace sluice::group {

using protocol::OffsetCommitRequest;
using protocol::OffsetCommitResponse;
using protocol::OffsetFetchRequest;
using protocol::OffsetFetchResponse;

namespace {

OffsetCommitResponse commit_answer(const OffsetCommitRequest& request, ErrorCode code) {
  OffsetCommitResponse response;
  for (const auto& topic : request.topics) {
    auto& out = response.topics.emplace_back();
    out.name = topic.name;
    for (const auto& partition : topic.partitions) out.partitions.push_back({partition.partition_index, to_wire(code), {}});
  }
  return response;
}

bool equals_ignoring_case(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

void GroupCoordinator::offset_commit(const OffsetCommitRequest& request, int16_t /*version*/,
                                     Reply<OffsetCommitResponse> reply) {
  run_on(partition_of(request.group_id), [this, request, reply = std::move(reply)](Completions& out) mutable {
    offset_commit_here(request, std::move(reply), out);
  });
}

void GroupCoordinator::offset_commit_here(const OffsetCommitRequest& request, Reply<OffsetCommitResponse> reply,
                                          Completions& out) {
  Group* group = request.group_id.empty() ? nullptr : find_group(request.group_id);
  ErrorCode code = ErrorCode::NONE;
  if (request.group_id.empty()) code = ErrorCode::INVALID_GROUP_ID;
  else if (ErrorCode refused = unavailable(request.group_id); refused != ErrorCode::NONE)
    code = refused;
  else if (group != nullptr && group->state == GroupState::dead) code = ErrorCode::COORDINATOR_NOT_AVAILABLE;
  else if (group == nullptr && request.generation_id_or_member_epoch >= 0) code = ErrorCode::ILLEGAL_GENERATION;
  else if (group != nullptr && !(request.generation_id_or_member_epoch < 0 && group->members.empty())) {
    // A member's commit: it must belong to the current generation.
    code = validate_member(*group, request.member_id, request.group_instance_id,
                           request.generation_id_or_member_epoch);
    if (code == ErrorCode::NONE && group->state == GroupState::completing_rebalance)
      code = ErrorCode::REBALANCE_IN_PROGRESS;
    if (code == ErrorCode::NONE) {
      Member& member = group->members.at(request.member_id);
      member.session_deadline = deadline_after(member.session_timeout_ms);
    }
  }
  if (code != ErrorCode::NONE) {
    out.push_back([reply, response = commit_answer(request, code)] { reply(response); });
    return;
  }
  OffsetCommitResponse response = commit_answer(request, ErrorCode::NONE);
  std::vector<CoordinatorRecord> records;
  std::vector<PendingKey> keys;
  int64_t now_ms = clock_.now_ms();
  for (size_t t = 0; t < request.topics.size(); ++t) {
    const auto& topic = request.topics[t];
    for (size_t p = 0; p < topic.partitions.size(); ++p) {
      const auto& partition = topic.partitions[p];
      std::string metadata = partition.committed_metadata.value_or("");
      if (metadata.size() > static_cast<size_t>(config_.offset_metadata_max_bytes)) {
        response.topics[t].partitions[p].error_code = to_wire(ErrorCode::OFFSET_METADATA_TOO_LARGE);
        continue;
      }
      // v1 may name the commit's time (Kafka's OffsetAndMetadata.fromRequest):
      // offsets expire retention after it.
      int64_t commit_timestamp_ms =
          partition.commit_timestamp == -1 ? now_ms : partition.commit_timestamp;
      CommittedOffset committed{Offset{partition.committed_offset},
                                LeaderEpoch{partition.committed_leader_epoch}, metadata,
                                commit_timestamp_ms, std::nullopt};
      // v2-4: a retention time other than -1 (kafka-go 0.2 sends 24 h) sets
      // the offset's own expiry (Kafka's OffsetCommitRequest handling).
      if (request.retention_time_ms != -1)
        committed.expire_timestamp_ms = commit_timestamp_ms + request.retention_time_ms;
      records.push_back(offset_record(request.group_id, topic.name, partition.partition_index, committed));
      keys.emplace_back(request.group_id, topic.name, partition.partition_index);
    }
  }
  if (records.empty()) {
    out.push_back([reply, response] { reply(response); });
    return;
  }
  // Pending until durable: OffsetFetch does not see it, expiry and deletes
  // account for it. Once durable it is applied by replaying its records.
  Shard& shard = shard_of(request.group_id);
  for (const auto& key : keys) ++shard.pending_commits[key];
  auto applied = records;
  append(request.group_id, std::move(records),
         [this, &shard, keys, applied = std::move(applied), reply, response](ErrorCode error, Completions& out) mutable {
           for (const auto& key : keys)
             if (--shard.pending_commits[key] == 0) shard.pending_commits.erase(key);
           if (error == ErrorCode::NONE) apply(applied);
           for (auto& topic : response.topics)
             for (auto& partition : topic.partitions)
               if (partition.error_code == 0) partition.error_code = to_wire(error);
           out.push_back([reply, response] { reply(response); });
         });
}

// One group: its topics (null: every committed offset). Committed means
// durable: pending commits are not seen.
OffsetFetchResponse::OffsetFetchResponseGroup GroupCoordinator::fetch_group(
    const std::string& group_id,
    const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& topics,
    bool require_stable) const {
  OffsetFetchResponse::OffsetFetchResponseGroup out;
  out.group_id = group_id;
  if (ErrorCode refused = group_id.empty() ? ErrorCode::INVALID_GROUP_ID : unavailable(group_id);
      refused != ErrorCode::NONE) {
    out.error_code = to_wire(refused);
    return out;
  }
  const Group* group = find_group(group_id);
  const Shard& shard = shards_[static_cast<size_t>(partition_of(group_id))];
  auto add = [&](const std::string& topic, int32_t partition, const CommittedOffset* committed) {
    if (out.topics.empty() || out.topics.back().name != topic)
      out.topics.push_back({topic, {}, {}});
    auto& entry = out.topics.back().partitions.emplace_back();
    entry.partition_index = partition;
    // KIP-447: a stable fetch must not read an offset a transaction may
    // still replace (Kafka's rule: any pending transactional offset).
    if (require_stable && has_pending_txn_offset(shard, {group_id, topic, partition})) {
      entry.committed_offset = -1;
      entry.committed_leader_epoch = -1;
      entry.metadata = "";
      entry.error_code = to_wire(ErrorCode::UNSTABLE_OFFSET_COMMIT);
      return;
    }
    entry.committed_offset = committed ? committed->offset.value() : -1;
    entry.committed_leader_epoch = committed ? committed->leader_epoch.value() : -1;
    entry.metadata = committed ? committed->metadata : "";
  };
  if (!topics) {
    if (group)
      for (const auto& [key, committed] : group->offsets) add(key.first, key.second, &committed);
    return out;
  }
  for (const auto& [topic, partitions] : *topics) {
    for (int32_t partition : partitions) {
      const CommittedOffset* committed = nullptr;
      if (group) {
        auto it = group->offsets.find({topic, partition});
        if (it != group->offsets.end()) committed = &it->second;
      }
      add(topic, partition, committed);
    }
    if (partitions.empty()) out.topics.push_back({topic, {}, {}});
  }
  return out;
}

namespace {

using TopicPartitions = std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>;

template <class Topics>
TopicPartitions topic_partitions(const std::optional<std::vector<Topics>>& requested) {
  TopicPartitions topics;
  if (!requested) return topics;
  topics.emplace();
  for (const auto& topic : *requested) topics->emplace_back(topic.name, topic.partition_indexes);
  return topics;
}

// v1-7: one group, its error at the top.
OffsetFetchResponse single_group_answer(const OffsetFetchRequest& request, int16_t version,
                                        OffsetFetchResponse::OffsetFetchResponseGroup group) {
  OffsetFetchResponse response;
  response.error_code = group.error_code;
  for (auto& topic : group.topics) {
    auto& out = response.topics.emplace_back();
    out.name = topic.name;
    for (auto& p : topic.partitions)
      out.partitions.push_back({p.partition_index,
                                p.committed_offset,
                                p.committed_leader_epoch,
                                p.metadata,
                                p.error_code,
                                {}});
  }
  // v1 has no group error: a group that cannot answer says so per partition
  // (an unanswered partition would read as "nothing committed").
  if (version < 2 && group.error_code != 0 && request.topics)
    for (const auto& topic : *request.topics) {
      auto& out = response.topics.emplace_back();
      out.name = topic.name;
      for (int32_t partition : topic.partition_indexes)
        out.partitions.push_back({partition, -1, -1, "", group.error_code, {}});
    }
  return response;
}

// Gathers the answers of several partitions' strands into one response,
// answered by the last of them.
template <class Response>
struct Gather {
  std::mutex mutex;
  Response response;
  size_t remaining = 0;
  Reply<Response> reply;
  template <class Fill>
  void finish_one(Fill fill) {
    std::unique_lock lock(mutex);
    fill(response);
    if (--remaining != 0) return;
    lock.unlock();
    reply(std::move(response));
  }
};

}  // namespace

void GroupCoordinator::offset_fetch(const OffsetFetchRequest& request, int16_t version,
                                    Reply<OffsetFetchResponse> reply) {
  if (version < 8) {
    runtime_.post(
        partition_of(request.group_id), [this, request, version, reply = std::move(reply)] {
          reply(single_group_answer(request, version,
                                    fetch_group(request.group_id, topic_partitions(request.topics),
                                                version >= 7 && request.require_stable)));
        });
    return;
  }
  if (request.groups.empty()) return reply(OffsetFetchResponse{});
  // Each group on its own strand; answered in request order.
  auto gather = std::make_shared<Gather<OffsetFetchResponse>>();
  gather->response.groups.resize(request.groups.size());
  gather->remaining = request.groups.size();
  gather->reply = std::move(reply);
  for (size_t i = 0; i < request.groups.size(); ++i) {
    const auto& requested = request.groups[i];
    runtime_.post(partition_of(requested.group_id), [this, gather, i, requested,
                                                     stable = request.require_stable] {
      auto group = fetch_group(requested.group_id, topic_partitions(requested.topics), stable);
      gather->finish_one(
          [&](OffsetFetchResponse& response) { response.groups[i] = std::move(group); });
    });
  }
}

protocol::DescribeGroupsResponse::DescribedGroup GroupCoordinator::describe_group(const std::string& group_id) const {
  protocol::DescribeGroupsResponse::DescribedGroup out;
  out.group_id = group_id;
  if (ErrorCode refused = group_id.empty() ? ErrorCode::INVALID_GROUP_ID : unavailable(group_id);
      refused != ErrorCode::NONE) {
    out.error_code = to_wire(refused);
    return out;
  }
  const Group* group = find_group(group_id);
  if (group == nullptr) {
    out.group_state = group_state_name(GroupState::dead);
    return out;
  }
  out.group_state = group_state_name(group->state);
  out.protocol_type = group->protocol_type.value_or("");
  bool stable = group->state == GroupState::stable;
  out.protocol_data = stable ? group->protocol.value_or("") : "";
  for (const auto& [id, member] : group->members) {
    auto& described = out.members.emplace_back();
    described.member_id = id;
    described.group_instance_id = member.instance_id;
    described.client_id = member.client_id;
    described.client_host = member.client_host;
    if (stable) {
      if (const auto* metadata = member.metadata_for(*group->protocol)) described.member_metadata = *metadata;
      described.member_assignment = member.assignment;
    }
  }
  return out;
}

void GroupCoordinator::describe_groups(const protocol::DescribeGroupsRequest& request, int16_t,
                                       Reply<protocol::DescribeGroupsResponse> reply) {
  if (request.groups.empty()) return reply(protocol::DescribeGroupsResponse{});
  auto gather = std::make_shared<Gather<protocol::DescribeGroupsResponse>>();
  gather->response.groups.resize(request.groups.size());
  gather->remaining = request.groups.size();
  gather->reply = std::move(reply);
  for (size_t i = 0; i < request.groups.size(); ++i) {
    const std::string& group_id = request.groups[i];
    runtime_.post(partition_of(group_id), [this, gather, i, group_id] {
      auto described = describe_group(group_id);
      gather->finish_one([&](protocol::DescribeGroupsResponse& response) { response.groups[i] = std::move(described); });
    });
  }
}

void GroupCoordinator::list_groups(const protocol::ListGroupsRequest& request, int16_t,
                                   Reply<protocol::ListGroupsResponse> reply) {
  bool classic = request.types_filter.empty() ||
                 std::any_of(request.types_filter.begin(), request.types_filter.end(),
                             [](const std::string& type) { return equals_ignoring_case(type, "classic"); });
  if (!classic) return reply(protocol::ListGroupsResponse{});
  // Every partition's strand adds its groups; the last one answers.
  auto gather = std::make_shared<Gather<protocol::ListGroupsResponse>>();
  gather->remaining = static_cast<size_t>(runtime_.partitions());
  gather->reply = std::move(reply);
  for (int32_t partition = 0; partition < runtime_.partitions(); ++partition) {
    runtime_.post(partition, [this, gather, partition, states = request.states_filter] {
      const Shard& shard = shards_[static_cast<size_t>(partition)];
      std::vector<protocol::ListGroupsResponse::ListedGroup> listed;
      for (const auto& [id, group] : shard.groups) {
        const char* state = group_state_name(group->state);
        if (!states.empty() && std::none_of(states.begin(), states.end(), [state](const std::string& wanted) {
              return equals_ignoring_case(wanted, state);
            }))
          continue;
        listed.push_back({id, group->protocol_type.value_or(""), state, "classic", {}});
      }
      // Another broker's partitions are its to list (Kafka's ListGroups
      // lists what this broker coordinates).
      bool unloaded = shard.state == ShardState::loading || shard.state == ShardState::failed;
      gather->finish_one([&](protocol::ListGroupsResponse& response) {
        if (unloaded) response.error_code = to_wire(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
        for (auto& group : listed) response.groups.push_back(std::move(group));
        // While a partition is unloaded the list is incomplete: none is given.
        if (response.error_code != 0) response.groups.clear();
      });
    });
  }
}

void GroupCoordinator::delete_groups(const protocol::DeleteGroupsRequest& request, int16_t,
                                     Reply<protocol::DeleteGroupsResponse> reply) {
  if (request.groups_names.empty()) return reply(protocol::DeleteGroupsResponse{});
  std::map<int32_t, std::vector<std::string>> by_partition;
  for (const std::string& group_id : request.groups_names) by_partition[partition_of(group_id)].push_back(group_id);
  auto gather = std::make_shared<Gather<protocol::DeleteGroupsResponse>>();
  gather->remaining = by_partition.size();
  // Results in the order the request named the groups.
  gather->reply = [reply = std::move(reply), order = request.groups_names](protocol::DeleteGroupsResponse response) {
    std::stable_sort(response.results.begin(), response.results.end(), [&order](const auto& a, const auto& b) {
      auto rank = [&order](const std::string& id) { return std::find(order.begin(), order.end(), id) - order.begin(); };
      return rank(a.group_id) < rank(b.group_id);
    });
    reply(std::move(response));
  };
  for (auto& [partition, group_ids] : by_partition) {
    run_on(partition, [this, gather, group_ids = std::move(group_ids)](Completions& out) {
      delete_groups_here(group_ids, [gather](std::vector<protocol::DeleteGroupsResponse::DeletableGroupResult> results) {
        gather->finish_one([&](protocol::DeleteGroupsResponse& response) {
          for (auto& result : results) response.results.push_back(std::move(result));
        });
      }, out);
    });
  }
}

void GroupCoordinator::delete_groups_here(
    const std::vector<std::string>& group_ids,
    std::function<void(std::vector<protocol::DeleteGroupsResponse::DeletableGroupResult>)> done, Completions& out) {
  std::vector<protocol::DeleteGroupsResponse::DeletableGroupResult> results;
  std::vector<CoordinatorRecord> records;
  std::vector<std::string> deleting;
  for (const std::string& group_id : group_ids) {
    auto& result = results.emplace_back();
    result.group_id = group_id;
    Group* group = find_group(group_id);
    ErrorCode code = ErrorCode::NONE;
    if (group_id.empty()) code = ErrorCode::INVALID_GROUP_ID;
    else if (ErrorCode refused = unavailable(group_id); refused != ErrorCode::NONE)
      code = refused;
    else if (group == nullptr || group->state == GroupState::dead) code = ErrorCode::GROUP_ID_NOT_FOUND;
    else if (group->state != GroupState::empty) code = ErrorCode::NON_EMPTY_GROUP;
    result.error_code = to_wire(code);
    if (code != ErrorCode::NONE) continue;
    // Committed offsets; commits still in flight (they land before these
    // tombstones) and pending transactional ones (Kafka's deleteAllOffsets):
    // one tombstone each.
    std::set<std::pair<std::string, int32_t>> deleted;
    for (const auto& [key, committed] : group->offsets) deleted.insert(key);
    const Shard& shard = shard_of(group_id);
    for (const auto& [key, count] : shard.pending_commits)
      if (std::get<0>(key) == group_id) deleted.emplace(std::get<1>(key), std::get<2>(key));
    if (auto open = shard.open_txns_by_group.find(group_id); open != shard.open_txns_by_group.end())
      for (ProducerId producer : open->second)
        if (auto pending = shard.pending_txn_offsets.find(producer);
            pending != shard.pending_txn_offsets.end())
          for (const auto& [key, offset] : pending->second)
            if (std::get<0>(key) == group_id) deleted.emplace(std::get<1>(key), std::get<2>(key));
    for (const auto& [topic, partition] : deleted)
      records.push_back(offset_tombstone(group_id, topic, partition));
    records.push_back(group_tombstone(group_id));
    // Dead until the tombstones are durable: joins and commits answer
    // COORDINATOR_NOT_AVAILABLE (retried), fetches still see the offsets.
    group->state = GroupState::dead;
    deleting.push_back(group_id);
  }
  if (deleting.empty()) {
    out.push_back([done, results = std::move(results)] { done(results); });
    return;
  }
  auto applied = records;
  auto on_durable = [this, deleting, applied = std::move(applied), results = std::move(results), done](
                        ErrorCode error, Completions& out) mutable {
    if (error == ErrorCode::NONE) apply(applied);
    for (const std::string& group_id : deleting) {
      if (error == ErrorCode::NONE) continue;
      // Not deleted: the group is back as it was (it was Empty).
      if (Group* group = find_group(group_id); group && group->state == GroupState::dead)
        group->state = GroupState::empty;
      for (auto& result : results)
        if (result.group_id == group_id) result.error_code = to_wire(error);
    }
    out.push_back([done, results = std::move(results)] { done(results); });
  };
  append(deleting.front(), std::move(records), std::move(on_durable));
}

std::set<std::string> GroupCoordinator::subscribed_topics(const Group& group) const {
  std::set<std::string> topics;
  if (!group.protocol) return topics;
  for (const auto& [id, member] : group.members) {
    const auto* metadata = member.metadata_for(*group.protocol);
    if (metadata == nullptr) continue;
    for (const std::string& topic : consumer_subscription_topics(*metadata)) topics.insert(topic);
  }
  return topics;
}

void GroupCoordinator::offset_delete(const protocol::OffsetDeleteRequest& request, int16_t,
                                     Reply<protocol::OffsetDeleteResponse> reply) {
  run_on(partition_of(request.group_id), [this, request, reply = std::move(reply)](Completions& out) mutable {
    offset_delete_here(request, std::move(reply), out);
  });
}

void GroupCoordinator::offset_delete_here(const protocol::OffsetDeleteRequest& request,
                                          Reply<protocol::OffsetDeleteResponse> reply, Completions& out) {
  protocol::OffsetDeleteResponse response;
  std::vector<CoordinatorRecord> records;
  const std::string& group_id = request.group_id;
  Group* group = find_group(group_id);
  ErrorCode top = ErrorCode::NONE;
  if (group_id.empty()) top = ErrorCode::INVALID_GROUP_ID;
  else if (ErrorCode refused = unavailable(group_id); refused != ErrorCode::NONE)
    top = refused;
  else if (group == nullptr || group->state == GroupState::dead) top = ErrorCode::GROUP_ID_NOT_FOUND;
  else if (group->state != GroupState::empty && group->protocol_type != "consumer") top = ErrorCode::NON_EMPTY_GROUP;
  if (top != ErrorCode::NONE) {
    response.error_code = to_wire(top);
    out.push_back([reply, response] { reply(response); });
    return;
  }
  const Shard& shard = shard_of(group_id);
  std::set<std::string> subscribed =
      group->state == GroupState::empty ? std::set<std::string>{} : subscribed_topics(*group);
  for (const auto& topic : request.topics) {
    auto& answer = response.topics.emplace_back();
    answer.name = topic.name;
    bool busy = subscribed.count(topic.name) != 0;
    for (const auto& partition : topic.partitions) {
      answer.partitions.push_back(
          {partition.partition_index, to_wire(busy ? ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode::NONE)});
      if (busy) continue;
      // Committed, or in flight (its record lands before the tombstone).
      // Pending transactional offsets too (Kafka's deleteOffsets).
      if (group->offsets.count({topic.name, partition.partition_index}) != 0 ||
          shard.pending_commits.count({group_id, topic.name, partition.partition_index}) != 0 ||
          has_pending_txn_offset(shard, {group_id, topic.name, partition.partition_index}))
        records.push_back(offset_tombstone(group_id, topic.name, partition.partition_index));
    }
  }
  if (records.empty()) {
    out.push_back([reply, response] { reply(response); });
    return;
  }
  auto applied = records;
  append(group_id, std::move(records),
         [this, applied = std::move(applied), reply, response](ErrorCode error, Completions& out) mutable {
           if (error == ErrorCode::NONE) apply(applied);
           else response.error_code = to_wire(error);
           out.push_back([reply, response] { reply(response); });
         });
}

void GroupCoordinator::expire_offsets(Shard& shard) {
  int64_t now_ms = clock_.now_ms();
  for (auto& [group_id, group_pointer] : shard.groups) {
    Group& group = *group_pointer;
    // Kafka's rule since 2.1: offsets of a group without members expire
    // retention after the later of their commit and the group emptying; a
    // group that never had members (no protocol type: a standalone consumer
    // keeping offsets only) counts from each commit alone
    // (GroupMetadata.removeExpiredOffsets).
    if (group.state != GroupState::empty) continue;
    std::vector<CoordinatorRecord> records;
    size_t expiring = 0;
    bool in_flight = false;
    for (const auto& [key, committed] : group.offsets) {
      // A commit in flight for this offset lands first, a transaction may
      // still replace it (Kafka's cleanupExpiredOffsets): leave it be.
      if (shard.pending_commits.count({group.id, key.first, key.second}) != 0 ||
          has_pending_txn_offset(shard, {group.id, key.first, key.second})) {
        in_flight = true;
        continue;
      }
      if (committed.expire_timestamp_ms) {
        // Its own expiry, set by the commit (GroupMetadata.getExpiredOffsets).
        if (now_ms < *committed.expire_timestamp_ms) continue;
      } else {
        int64_t base_ms = group.protocol_type
                              ? std::max(committed.commit_timestamp_ms, group.state_timestamp_ms)
                              : committed.commit_timestamp_ms;
        if (now_ms - base_ms < config_.offsets_retention_ms) continue;
      }
      records.push_back(offset_tombstone(group.id, key.first, key.second));
      ++expiring;
    }
    if (records.empty()) continue;
    auto applied = records;  // offsets only: the group's removal is decided when durable
    // A group with open transactions stays (Kafka's rule).
    bool gone = expiring == group.offsets.size() && !in_flight && group.members.empty() &&
                shard.open_txns_by_group.count(group.id) == 0;
    if (gone) records.push_back(group_tombstone(group.id));
    auto on_durable = [this, &shard, group_id = group.id, applied = std::move(applied), gone](ErrorCode error,
                                                                                              Completions&) {
      if (error != ErrorCode::NONE) return;  // still committed: expiry tries again later
      apply(applied);
      // Removed only if nobody joined or committed meanwhile.
      auto it = shard.groups.find(group_id);
      if (gone && it != shard.groups.end() && it->second->state == GroupState::empty &&
          it->second->members.empty() && it->second->offsets.empty() &&
          shard.open_txns_by_group.count(group_id) == 0)
        shard.groups.erase(it);
    };
    append(group.id, std::move(records), std::move(on_durable));
  }
}

void GroupCoordinator::apply(const std::vector<CoordinatorRecord>& records,
                             ProducerId producer_id) {
  for (const CoordinatorRecord& record : records) {
    std::optional<Bytes> value;
    if (record.value) value = Bytes(*record.value);
    Status status = replay(Bytes(record.key), value, producer_id);
    SLUICE_ASSERT(status.is_ok(), "a record the coordinator wrote does not replay");
  }
}

}  // namespace sluice::group
