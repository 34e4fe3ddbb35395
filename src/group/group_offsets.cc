// Committed offsets (OffsetCommit, OffsetFetch, OffsetDelete, expiry) and
// the admin APIs (DescribeGroups, ListGroups, DeleteGroups).
#include <algorithm>
#include <atomic>
#include <cctype>

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

// Calls `done` once every one of `count` parts has finished.
struct Countdown {
  std::atomic<size_t> remaining;
  std::function<void()> done;
  void finish_one() {
    if (remaining.fetch_sub(1) == 1) done();
  }
};

}  // namespace

void GroupCoordinator::offset_commit(const OffsetCommitRequest& request, int16_t /*version*/,
                                     Reply<OffsetCommitResponse> reply) {
  std::vector<std::function<void()>> later;
  {
    std::lock_guard lock(mutex_);
    auto fail = [&](ErrorCode code) { later.push_back([reply, r = commit_answer(request, code)] { reply(r); }); };
    Group* group = request.group_id.empty() ? nullptr : find_group(request.group_id);
    ErrorCode code = ErrorCode::NONE;
    if (request.group_id.empty()) code = ErrorCode::INVALID_GROUP_ID;
    else if (loading(request.group_id)) code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    else if (group == nullptr && request.generation_id_or_member_epoch >= 0) code = ErrorCode::ILLEGAL_GENERATION;
    else if (group != nullptr && !(request.generation_id_or_member_epoch < 0 && group->members.empty())) {
      // A member's commit: it must belong to the current generation.
      code = validate_member(*group, request.member_id, request.group_instance_id,
                             request.generation_id_or_member_epoch);
      if (code == ErrorCode::NONE && group->state == GroupState::completing_rebalance)
        code = ErrorCode::REBALANCE_IN_PROGRESS;
      if (code == ErrorCode::NONE) {
        Member& member = group->members.at(request.member_id);
        member.session_deadline = now() + std::chrono::milliseconds(member.session_timeout_ms);
      }
    }
    if (code != ErrorCode::NONE) {
      fail(code);
    } else {
      if (group == nullptr) group = &get_or_create_group(request.group_id);  // a simple (admin) group
      OffsetCommitResponse response = commit_answer(request, ErrorCode::NONE);
      std::vector<CoordinatorRecord> records;
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
          CommittedOffset committed{partition.committed_offset, partition.committed_leader_epoch, metadata, now_ms};
          group->offsets[{topic.name, partition.partition_index}] = committed;
          records.push_back(offset_record(group->id, topic.name, partition.partition_index, committed));
        }
      }
      if (records.empty()) {
        later.push_back([reply, response] { reply(response); });
      } else {
        append(group->id, std::move(records), [reply, response](ErrorCode error) mutable {
          for (auto& topic : response.topics)
            for (auto& partition : topic.partitions)
              if (partition.error_code == 0) partition.error_code = to_wire(error);
          reply(response);
        });
      }
    }
  }
  for (auto& completion : later) completion();
}

OffsetFetchResponse GroupCoordinator::offset_fetch(const OffsetFetchRequest& request, int16_t version) {
  std::lock_guard lock(mutex_);
  // One group: its topics (null: every committed offset).
  auto fetch_group = [this](const std::string& group_id,
                            const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& topics) {
    OffsetFetchResponse::OffsetFetchResponseGroup out;
    out.group_id = group_id;
    if (group_id.empty() || loading(group_id)) {
      out.error_code = to_wire(group_id.empty() ? ErrorCode::INVALID_GROUP_ID : ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
      return out;
    }
    const Group* group = find_group(group_id);
    auto add = [&out](const std::string& topic, int32_t partition, const CommittedOffset* committed) {
      if (out.topics.empty() || out.topics.back().name != topic) out.topics.push_back({topic, {}, {}});
      auto& entry = out.topics.back().partitions.emplace_back();
      entry.partition_index = partition;
      entry.committed_offset = committed ? committed->offset : -1;
      entry.committed_leader_epoch = committed ? committed->leader_epoch : -1;
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
  };
  OffsetFetchResponse response;
  if (version >= 8) {
    for (const auto& requested : request.groups) {
      std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
      if (requested.topics) {
        topics.emplace();
        for (const auto& topic : *requested.topics) topics->emplace_back(topic.name, topic.partition_indexes);
      }
      response.groups.push_back(fetch_group(requested.group_id, topics));
    }
    return response;
  }
  std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> topics;
  if (request.topics) {
    topics.emplace();
    for (const auto& topic : *request.topics) topics->emplace_back(topic.name, topic.partition_indexes);
  }
  auto group = fetch_group(request.group_id, topics);
  response.error_code = group.error_code;
  for (auto& topic : group.topics) {
    auto& out = response.topics.emplace_back();
    out.name = topic.name;
    for (auto& p : topic.partitions)
      out.partitions.push_back({p.partition_index, p.committed_offset, p.committed_leader_epoch, p.metadata, 0, {}});
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

protocol::DescribeGroupsResponse GroupCoordinator::describe_groups(const protocol::DescribeGroupsRequest& request,
                                                                   int16_t) {
  std::lock_guard lock(mutex_);
  protocol::DescribeGroupsResponse response;
  for (const std::string& group_id : request.groups) {
    auto& out = response.groups.emplace_back();
    out.group_id = group_id;
    if (group_id.empty() || loading(group_id)) {
      out.error_code = to_wire(group_id.empty() ? ErrorCode::INVALID_GROUP_ID : ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
      continue;
    }
    const Group* group = find_group(group_id);
    if (group == nullptr) {
      out.group_state = group_state_name(GroupState::dead);
      continue;
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
  }
  return response;
}

protocol::ListGroupsResponse GroupCoordinator::list_groups(const protocol::ListGroupsRequest& request, int16_t) {
  std::lock_guard lock(mutex_);
  protocol::ListGroupsResponse response;
  bool classic = request.types_filter.empty() ||
                 std::any_of(request.types_filter.begin(), request.types_filter.end(),
                             [](const std::string& type) { return equals_ignoring_case(type, "classic"); });
  if (!classic) return response;
  if (!unloaded_partitions_.empty()) {
    response.error_code = to_wire(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS);
    return response;
  }
  for (const auto& [id, group] : groups_) {
    const char* state = group_state_name(group->state);
    if (!request.states_filter.empty() &&
        std::none_of(request.states_filter.begin(), request.states_filter.end(),
                     [state](const std::string& wanted) { return equals_ignoring_case(wanted, state); }))
      continue;
    response.groups.push_back({id, group->protocol_type.value_or(""), state, "classic", {}});
  }
  return response;
}

void GroupCoordinator::delete_groups(const protocol::DeleteGroupsRequest& request, int16_t,
                                     Reply<protocol::DeleteGroupsResponse> reply) {
  auto response = std::make_shared<protocol::DeleteGroupsResponse>();
  std::vector<std::pair<std::string, std::vector<CoordinatorRecord>>> writes;
  // Records are appended under the lock, so a later commit to a re-created
  // group of the same id always follows its tombstones in the log.
  std::unique_lock lock(mutex_);
  for (const std::string& group_id : request.groups_names) {
    auto& result = response->results.emplace_back();
    result.group_id = group_id;
    Group* group = find_group(group_id);
    ErrorCode code = ErrorCode::NONE;
    if (group_id.empty()) code = ErrorCode::INVALID_GROUP_ID;
    else if (loading(group_id)) code = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    else if (group == nullptr || group->state == GroupState::dead) code = ErrorCode::GROUP_ID_NOT_FOUND;
    else if (group->state != GroupState::empty) code = ErrorCode::NON_EMPTY_GROUP;
    result.error_code = to_wire(code);
    if (code != ErrorCode::NONE) continue;
    std::vector<CoordinatorRecord> records;
    for (const auto& [key, committed] : group->offsets)
      records.push_back(offset_tombstone(group_id, key.first, key.second));
    records.push_back(group_tombstone(group_id));
    writes.emplace_back(group_id, std::move(records));
    groups_.erase(group_id);
  }
  if (writes.empty()) {
    lock.unlock();
    return reply(*response);
  }
  auto countdown = std::make_shared<Countdown>();
  countdown->remaining = writes.size();
  countdown->done = [reply, response] { reply(*response); };
  for (auto& [group_id, records] : writes) {
    append(group_id, std::move(records), [countdown, response, group_id](ErrorCode error) {
      if (error != ErrorCode::NONE)
        for (auto& result : response->results)
          if (result.group_id == group_id) result.error_code = to_wire(error);
      countdown->finish_one();
    });
  }
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
  protocol::OffsetDeleteResponse response;
  std::vector<CoordinatorRecord> records;
  std::string group_id = request.group_id;
  std::unique_lock lock(mutex_);
  {
    Group* group = find_group(group_id);
    ErrorCode top = ErrorCode::NONE;
    if (group_id.empty()) top = ErrorCode::INVALID_GROUP_ID;
    else if (loading(group_id)) top = ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;
    else if (group == nullptr || group->state == GroupState::dead) top = ErrorCode::GROUP_ID_NOT_FOUND;
    else if (group->state != GroupState::empty && group->protocol_type != "consumer") top = ErrorCode::NON_EMPTY_GROUP;
    if (top != ErrorCode::NONE) {
      response.error_code = to_wire(top);
    } else {
      std::set<std::string> subscribed =
          group->state == GroupState::empty ? std::set<std::string>{} : subscribed_topics(*group);
      for (const auto& topic : request.topics) {
        auto& out = response.topics.emplace_back();
        out.name = topic.name;
        bool busy = subscribed.count(topic.name) != 0;
        for (const auto& partition : topic.partitions) {
          out.partitions.push_back(
              {partition.partition_index, to_wire(busy ? ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC : ErrorCode::NONE)});
          if (busy) continue;
          if (group->offsets.erase({topic.name, partition.partition_index}) != 0)
            records.push_back(offset_tombstone(group_id, topic.name, partition.partition_index));
        }
      }
    }
  }
  if (records.empty()) {
    lock.unlock();
    return reply(response);
  }
  append(group_id, std::move(records), [reply, response](ErrorCode error) mutable {
    if (error != ErrorCode::NONE) response.error_code = to_wire(error);
    reply(response);
  });
}

void GroupCoordinator::expire_offsets(Completions&) {
  int64_t now_ms = clock_.now_ms();
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& group = *it->second;
    // Kafka's rule since 2.1: offsets of a group without members expire
    // retention after the later of their commit and the group emptying.
    if (group.state != GroupState::empty) { ++it; continue; }
    std::vector<CoordinatorRecord> records;
    for (auto offset = group.offsets.begin(); offset != group.offsets.end();) {
      int64_t base_ms = std::max(offset->second.commit_timestamp_ms, group.state_timestamp_ms);
      if (now_ms - base_ms < config_.offsets_retention_ms) { ++offset; continue; }
      records.push_back(offset_tombstone(group.id, offset->first.first, offset->first.second));
      offset = group.offsets.erase(offset);
    }
    bool gone = group.offsets.empty() && group.members.empty() && !records.empty();
    if (gone) records.push_back(group_tombstone(group.id));
    if (!records.empty()) append(group.id, std::move(records), [](ErrorCode) {});
    it = gone ? groups_.erase(it) : std::next(it);
  }
}

}  // namespace sluice::group
