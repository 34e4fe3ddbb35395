// Membership: JoinGroup, SyncGroup, Heartbeat, LeaveGroup, rebalances and
// timeouts (Kafka's classic group protocol). Offsets and the admin APIs are
// in group_offsets.cc; records in group_records.cc.
#include "group/group_coordinator.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "cluster/ids.h"
#include "group/group_state.h"

namespace sluice::group {

using namespace std::chrono_literals;
using protocol::JoinGroupRequest;
using protocol::JoinGroupResponse;
using protocol::SyncGroupRequest;
using protocol::SyncGroupResponse;

namespace {

std::chrono::nanoseconds ms(int64_t value) { return std::chrono::milliseconds(value); }

JoinGroupResponse join_error(ErrorCode code, int16_t version, const std::string& member_id = "") {
  JoinGroupResponse response;
  response.error_code = to_wire(code);
  response.generation_id = -1;
  response.protocol_name = version >= 7 ? std::nullopt : std::optional<std::string>("");
  response.member_id = member_id;
  return response;
}

SyncGroupResponse sync_error(ErrorCode code) {
  SyncGroupResponse response;
  response.error_code = to_wire(code);
  return response;
}

std::vector<std::pair<std::string, std::vector<uint8_t>>> protocols_of(const JoinGroupRequest& request) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> out;
  for (const auto& protocol : request.protocols) out.emplace_back(protocol.name, protocol.metadata);
  return out;
}

std::string new_member_id(const std::string& client_id, RandomSource& random) {
  return client_id + "-" + cluster::uuid_to_string(cluster::random_uuid(random));
}

}  // namespace

const char* group_state_name(GroupState state) {
  switch (state) {
    case GroupState::empty: return "Empty";
    case GroupState::preparing_rebalance: return "PreparingRebalance";
    case GroupState::completing_rebalance: return "CompletingRebalance";
    case GroupState::stable: return "Stable";
    case GroupState::dead: return "Dead";
  }
  return "Dead";
}

int32_t partition_for_group(const std::string& group_id, int32_t partitions) {
  return coordinator::partition_for_key(group_id, partitions);
}

ErrorCode coordinator_error(ErrorCode append_error) {
  switch (append_error) {
    case ErrorCode::NONE:
      return ErrorCode::NONE;
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
    case ErrorCode::INVALID_FETCH_SIZE:
      return ErrorCode::UNKNOWN_SERVER_ERROR;
    default:
      return append_error;
  }
}

GroupCoordinator::GroupCoordinator(GroupConfig config, const Clock& clock, RandomSource& random,
                                   CoordinatorLog& log, CoordinatorExecutor* executor)
    : config_(config),
      clock_(clock),
      random_(random),
      inline_executor_(executor ? nullptr : std::make_unique<InlineExecutor>()),
      shards_(static_cast<size_t>(config.offsets_topic_partitions)),
      log_(log),
      runtime_(config.offsets_topic_partitions, log, executor ? *executor : *inline_executor_) {}

GroupCoordinator::~GroupCoordinator() = default;

int32_t GroupCoordinator::partition_of(const std::string& group_id) const {
  return partition_for_group(group_id, config_.offsets_topic_partitions);
}

void GroupCoordinator::run_on(int32_t partition, std::function<void(Completions&)> operation) {
  runtime_.run(partition, [this, partition, operation = std::move(operation)](WriteBatch& batch) {
    Shard& shard = shards_[static_cast<size_t>(partition)];
    Completions out;
    shard.batch = &batch;
    operation(out);
    shard.batch = nullptr;
    for (auto& completion : out) completion();
  });
}

std::function<void(ErrorCode)> GroupCoordinator::on_strand(int32_t partition,
                                                           std::function<void(ErrorCode, Completions&)> done) {
  return [this, partition, done = std::move(done)](ErrorCode error) {
    // Already on the strand (the runtime runs dones there): a nested write.
    runtime_.run_here(partition, [&](WriteBatch& batch) {
      Shard& shard = shards_[static_cast<size_t>(partition)];
      Completions out;
      shard.batch = &batch;
      done(coordinator_error(error), out);
      shard.batch = nullptr;
      for (auto& completion : out) completion();
    });
  };
}

GroupCoordinator::Group* GroupCoordinator::find_group(const std::string& group_id) {
  auto& groups = shard_of(group_id).groups;
  auto it = groups.find(group_id);
  return it == groups.end() ? nullptr : it->second.get();
}

const GroupCoordinator::Group* GroupCoordinator::find_group(const std::string& group_id) const {
  const auto& groups = shards_[static_cast<size_t>(partition_of(group_id))].groups;
  auto it = groups.find(group_id);
  return it == groups.end() ? nullptr : it->second.get();
}

GroupCoordinator::Group& GroupCoordinator::get_or_create_group(const std::string& group_id) {
  auto& slot = shard_of(group_id).groups[group_id];
  if (!slot) {
    slot = std::make_unique<Group>();
    slot->id = group_id;
    slot->state_timestamp_ms = clock_.now_ms();
  }
  return *slot;
}

namespace {

// Waits for an asynchronous answer (blocking wrappers only).
template <class Response>
class Awaited {
 public:
  Reply<Response> reply() {
    return [this](Response response) {
      std::lock_guard lock(mutex_);
      value_ = std::move(response);
      ready_.notify_all();
    };
  }
  Response get() {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return value_.has_value(); });
    return std::move(*value_);
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::optional<Response> value_;
};

}  // namespace

std::optional<GroupState> GroupCoordinator::state_of(const GroupId& group_id) {
  Awaited<std::optional<GroupState>> answer;
  runtime_.post(partition_of(group_id.value()), [this, &group_id, reply = answer.reply()] {
    const Group* group = find_group(group_id.value());
    reply(group ? std::optional<GroupState>(group->state) : std::nullopt);
  });
  return answer.get();
}

int32_t GroupCoordinator::generation_of(const GroupId& group_id) {
  Awaited<int32_t> answer;
  runtime_.post(partition_of(group_id.value()), [this, &group_id, reply = answer.reply()] {
    const Group* group = find_group(group_id.value());
    reply(group ? group->generation : -1);
  });
  return answer.get();
}

size_t GroupCoordinator::group_count() {
  size_t count = 0;
  for (int32_t partition = 0; partition < runtime_.partitions(); ++partition) {
    Awaited<size_t> answer;
    runtime_.post(partition, [this, partition, reply = answer.reply()] {
      reply(shards_[static_cast<size_t>(partition)].groups.size());
    });
    count += answer.get();
  }
  return count;
}

void GroupCoordinator::unload_partition(int32_t partition) {
  Shard& shard = shards_[static_cast<size_t>(partition)];
  shard.state = ShardState::failed;
  ++shard.incarnation;
  shard.groups.clear();
  clear_transactions(shard);
}

ErrorCode GroupCoordinator::shard_error(const Shard& shard) {
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

ErrorCode GroupCoordinator::unavailable(const std::string& group_id) const {
  return partition_state_error(partition_of(group_id));
}

ErrorCode GroupCoordinator::partition_state_error(int32_t partition) const {
  const Shard& shard = shards_[static_cast<size_t>(partition)];
  if (shard.state == ShardState::inactive && image_elected_epoch_ &&
      image_elected_epoch_(partition) > shard.epoch)
    return ErrorCode::COORDINATOR_LOAD_IN_PROGRESS;  // the election is on its way here
  return shard_error(shard);
}

void GroupCoordinator::drop_groups(Shard& shard, ErrorCode error, Completions& out) {
  for (auto& [id, group] : shard.groups) {
    for (auto& [member_id, member] : group->members) {
      if (member.awaiting_join)
        out.push_back(
            [r = std::move(member.awaiting_join),
             response = join_error(error, member.join_version, member_id)] { r(response); });
      if (member.awaiting_sync)
        out.push_back([r = std::move(member.awaiting_sync), error] { r(sync_error(error)); });
      member.awaiting_join = nullptr;
      member.awaiting_sync = nullptr;
    }
  }
  shard.groups.clear();
  clear_transactions(shard);
}

namespace {

// A blocking wrapper's body: runs the asynchronous operation and waits for
// its reply.
template <class Response, class Request>
Response wait_for(GroupCoordinator& coordinator,
                  void (GroupCoordinator::*operation)(const Request&, int16_t, Reply<Response>),
                  const Request& request, int16_t version) {
  Awaited<Response> answer;
  (coordinator.*operation)(request, version, answer.reply());
  return answer.get();
}

}  // namespace

protocol::HeartbeatResponse GroupCoordinator::heartbeat(const protocol::HeartbeatRequest& request,
                                                        int16_t version) {
  return wait_for(*this, &GroupCoordinator::heartbeat, request, version);
}

protocol::LeaveGroupResponse GroupCoordinator::leave_group(const protocol::LeaveGroupRequest& request,
                                                           int16_t version) {
  return wait_for(*this, &GroupCoordinator::leave_group, request, version);
}

protocol::OffsetFetchResponse GroupCoordinator::offset_fetch(const protocol::OffsetFetchRequest& request,
                                                             int16_t version) {
  return wait_for(*this, &GroupCoordinator::offset_fetch, request, version);
}

protocol::DescribeGroupsResponse GroupCoordinator::describe_groups(const protocol::DescribeGroupsRequest& request,
                                                                   int16_t version) {
  return wait_for(*this, &GroupCoordinator::describe_groups, request, version);
}

protocol::ListGroupsResponse GroupCoordinator::list_groups(const protocol::ListGroupsRequest& request,
                                                           int16_t version) {
  return wait_for(*this, &GroupCoordinator::list_groups, request, version);
}

// ---- JoinGroup ----

ErrorCode GroupCoordinator::validate_join(const JoinGroupRequest& request, Group* group) const {
  if (request.group_id.empty()) return ErrorCode::INVALID_GROUP_ID;
  if (ErrorCode code = unavailable(request.group_id); code != ErrorCode::NONE) return code;
  if (request.session_timeout_ms < config_.min_session_timeout_ms ||
      request.session_timeout_ms > config_.max_session_timeout_ms)
    return ErrorCode::INVALID_SESSION_TIMEOUT;
  if (request.protocol_type.empty() || request.protocols.empty()) return ErrorCode::INCONSISTENT_GROUP_PROTOCOL;
  if (group == nullptr || group->members.empty()) return ErrorCode::NONE;
  if (group->protocol_type && *group->protocol_type != request.protocol_type)
    return ErrorCode::INCONSISTENT_GROUP_PROTOCOL;
  // Some protocol must be supported by every other member and this one.
  for (const auto& candidate : request.protocols) {
    bool everyone = true;
    for (const auto& [id, member] : group->members)
      if (id != request.member_id && !member.supports(candidate.name)) everyone = false;
    if (everyone) return ErrorCode::NONE;
  }
  return ErrorCode::INCONSISTENT_GROUP_PROTOCOL;
}

void GroupCoordinator::join_group(const JoinGroupRequest& request, int16_t version, const ClientInfo& client,
                                  Reply<JoinGroupResponse> reply) {
  run_on(partition_of(request.group_id),
         [this, request, version, client, reply = std::move(reply)](Completions& out) mutable {
           join_group_here(request, version, client, std::move(reply), out);
         });
}

void GroupCoordinator::join_group_here(const JoinGroupRequest& request, int16_t version, const ClientInfo& client,
                                       Reply<JoinGroupResponse> reply, Completions& out) {
  auto fail = [&](ErrorCode code) {
    out.push_back([reply, response = join_error(code, version, request.member_id)] { reply(response); });
  };
  Group* group = find_group(request.group_id);
  if (ErrorCode code = validate_join(request, group); code != ErrorCode::NONE) return fail(code);
  if (group == nullptr) {
    if (!request.member_id.empty()) return fail(ErrorCode::UNKNOWN_MEMBER_ID);
    group = &get_or_create_group(request.group_id);
  }
  if (group->state == GroupState::dead) return fail(ErrorCode::COORDINATOR_NOT_AVAILABLE);
  if (request.group_instance_id && !request.group_instance_id->empty() && version >= 5) {
    auto known = group->static_members.find(*request.group_instance_id);
    if (known != group->static_members.end() || request.member_id.empty())
      return join_static_member(*group, request, version, client, std::move(reply), out);
  }
  if (request.member_id.empty())
    return join_new_member(*group, request, version, client, std::move(reply), out);
  join_known_member(*group, request, version, client, std::move(reply), out);
}

GroupCoordinator::Member& GroupCoordinator::add_member(Group& group, const std::string& member_id,
                                                       const JoinGroupRequest& request, int16_t version,
                                                       const ClientInfo& client) {
  Member& member = group.members[member_id];
  member.member_id = member_id;
  if (version >= 5 && request.group_instance_id && !request.group_instance_id->empty()) {
    member.instance_id = request.group_instance_id;
    group.static_members[*member.instance_id] = member_id;
  }
  member.client_id = client.client_id;
  member.client_host = client.client_host;
  member.session_timeout_ms = request.session_timeout_ms;
  // v0 has no rebalance timeout: the session timeout serves as both.
  member.rebalance_timeout_ms = version >= 1 && request.rebalance_timeout_ms > 0 ? request.rebalance_timeout_ms
                                                                                 : request.session_timeout_ms;
  member.protocols = protocols_of(request);
  member.session_deadline = deadline_after(member.session_timeout_ms);
  if (!group.protocol_type) group.protocol_type = request.protocol_type;
  return member;
}

void GroupCoordinator::join_new_member(Group& group, const JoinGroupRequest& request, int16_t version,
                                       const ClientInfo& client, Reply<JoinGroupResponse> reply,
                                       Completions& out) {
  if (group.members.size() + group.pending_members.size() >= static_cast<size_t>(config_.max_size)) {
    out.push_back([reply, response = join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, version)] { reply(response); });
    return;
  }
  std::string member_id = new_member_id(client.client_id, random_);
  if (version >= 4) {
    // KIP-394: the member must come back with this id.
    group.pending_members[member_id] = deadline_after(request.session_timeout_ms);
    out.push_back([reply, response = join_error(ErrorCode::MEMBER_ID_REQUIRED, version, member_id)] {
      reply(response);
    });
    return;
  }
  Member& member = add_member(group, member_id, request, version, client);
  member.awaiting_join = std::move(reply);
  member.join_version = version;
  if (group.state != GroupState::preparing_rebalance) prepare_rebalance(group, out);
  else if (group.initial_delay)
    group.initial_delay_end =
        std::min(deadline_after(config_.initial_rebalance_delay_ms), group.rebalance_deadline);
  maybe_complete_join(group, out);
}

void GroupCoordinator::join_static_member(Group& group, const JoinGroupRequest& request, int16_t version,
                                          const ClientInfo& client, Reply<JoinGroupResponse> reply,
                                          Completions& out) {
  const std::string& instance_id = *request.group_instance_id;
  auto known = group.static_members.find(instance_id);
  if (known == group.static_members.end()) {
    // A new static member: no MEMBER_ID_REQUIRED round trip (KIP-345).
    if (group.members.size() + group.pending_members.size() >= static_cast<size_t>(config_.max_size)) {
      out.push_back([reply, response = join_error(ErrorCode::GROUP_MAX_SIZE_REACHED, version)] { reply(response); });
      return;
    }
    Member& member =
        add_member(group, new_member_id(client.client_id, random_), request, version, client);
    member.awaiting_join = std::move(reply);
    member.join_version = version;
    if (group.state != GroupState::preparing_rebalance) prepare_rebalance(group, out);
    maybe_complete_join(group, out);
    return;
  }
  if (!request.member_id.empty()) {
    if (known->second != request.member_id) {
      out.push_back([reply, response = join_error(ErrorCode::FENCED_INSTANCE_ID, version, request.member_id)] {
        reply(response);
      });
      return;
    }
    return join_known_member(group, request, version, client, std::move(reply), out);
  }
  // A restarted static member: it takes over its old member (new id).
  std::string old_id = known->second;
  Member old = std::move(group.members.at(old_id));
  group.members.erase(old_id);
  if (old.awaiting_join)
    out.push_back([r = std::move(old.awaiting_join), response = join_error(ErrorCode::FENCED_INSTANCE_ID, old.join_version, old_id)] { r(response); });
  if (old.awaiting_sync)
    out.push_back([r = std::move(old.awaiting_sync)] { r(sync_error(ErrorCode::FENCED_INSTANCE_ID)); });
  std::vector<uint8_t> old_subscription;
  if (group.protocol)
    if (const auto* metadata = old.metadata_for(*group.protocol)) old_subscription = *metadata;
  Member& member =
      add_member(group, new_member_id(client.client_id, random_), request, version, client);
  member.assignment = std::move(old.assignment);
  bool was_leader = group.leader == old_id;
  if (was_leader) group.leader = member.member_id;

  const std::vector<uint8_t>* subscription = group.protocol ? member.metadata_for(*group.protocol) : nullptr;
  bool unchanged = subscription != nullptr && *subscription == old_subscription;
  if (group.state == GroupState::stable && unchanged) {
    // Same subscription: the member gets its old assignment in SyncGroup,
    // and nobody else rebalances. The new member id is stored first. A
    // leader gets the members; from v9 told to skip the assignment (KIP-814),
    // before that its SyncGroup assignment is ignored in the Stable state.
    JoinGroupResponse response = join_response(group, member, version);
    if (was_leader) response.skip_assignment = true;
    auto done = [this, group_id = group.id, instance_id, old_id, new_id = member.member_id, reply, response,
                 version](ErrorCode error, Completions& out) {
      if (error == ErrorCode::NONE) {
        out.push_back([reply, response] { reply(response); });
        return;
      }
      // Not stored: the old member id stays the valid one (Kafka reverts
      // the replacement), so the member that holds it is not fenced.
      if (Group* group = find_group(group_id)) revert_static_member(*group, instance_id, new_id, old_id);
      out.push_back([reply, answer = join_error(error, version, response.member_id)] { reply(answer); });
    };
    store_group(group, std::move(done));
    return;
  }
  member.awaiting_join = std::move(reply);
  member.join_version = version;
  if (group.state != GroupState::preparing_rebalance) prepare_rebalance(group, out);
  maybe_complete_join(group, out);
}

void GroupCoordinator::revert_static_member(Group& group, const std::string& instance_id,
                                            const std::string& new_id, const std::string& old_id) {
  auto known = group.static_members.find(instance_id);
  auto it = group.members.find(new_id);
  if (known == group.static_members.end() || known->second != new_id || it == group.members.end()) return;
  Member member = std::move(it->second);
  group.members.erase(it);
  member.member_id = old_id;
  group.members[old_id] = std::move(member);
  known->second = old_id;
  if (group.leader == new_id) group.leader = old_id;
}

void GroupCoordinator::join_known_member(Group& group, const JoinGroupRequest& request, int16_t version,
                                         const ClientInfo& client, Reply<JoinGroupResponse> reply,
                                         Completions& out) {
  auto fail = [&](ErrorCode code) {
    out.push_back([reply, response = join_error(code, version, request.member_id)] { reply(response); });
  };
  if (group.pending_members.erase(request.member_id) != 0) {
    Member& member = add_member(group, request.member_id, request, version, client);
    member.awaiting_join = std::move(reply);
    member.join_version = version;
    if (group.state != GroupState::preparing_rebalance) prepare_rebalance(group, out);
    else if (group.initial_delay)
      group.initial_delay_end =
          std::min(deadline_after(config_.initial_rebalance_delay_ms), group.rebalance_deadline);
    maybe_complete_join(group, out);
    return;
  }
  auto it = group.members.find(request.member_id);
  if (it == group.members.end()) return fail(ErrorCode::UNKNOWN_MEMBER_ID);
  Member& member = it->second;
  if (member.instance_id && (!request.group_instance_id || *request.group_instance_id != *member.instance_id))
    return fail(ErrorCode::FENCED_INSTANCE_ID);
  auto protocols = protocols_of(request);
  bool same = protocols == member.protocols;
  member.session_deadline = deadline_after(member.session_timeout_ms);
  if (member.awaiting_join) {
    // A retried join replaces the parked one.
    out.push_back([r = std::move(member.awaiting_join), response = join_error(ErrorCode::UNKNOWN_MEMBER_ID, member.join_version, member.member_id)] { r(response); });
  }
  switch (group.state) {
    case GroupState::preparing_rebalance:
      break;
    case GroupState::completing_rebalance:
    case GroupState::stable:
      if (same && (group.state == GroupState::completing_rebalance || group.leader != member.member_id)) {
        out.push_back([reply, response = join_response(group, member, version)] { reply(response); });
        return;
      }
      break;
    case GroupState::empty:
    case GroupState::dead:
      return fail(ErrorCode::UNKNOWN_MEMBER_ID);
  }
  member.protocols = std::move(protocols);
  member.rebalance_timeout_ms = version >= 1 && request.rebalance_timeout_ms > 0 ? request.rebalance_timeout_ms
                                                                                 : request.session_timeout_ms;
  member.session_timeout_ms = request.session_timeout_ms;
  member.awaiting_join = std::move(reply);
  member.join_version = version;
  if (group.state != GroupState::preparing_rebalance) prepare_rebalance(group, out);
  maybe_complete_join(group, out);
}

void GroupCoordinator::prepare_rebalance(Group& group, Completions& out) {
  if (group.state == GroupState::completing_rebalance) {
    for (auto& [id, member] : group.members) {
      if (!member.awaiting_sync) continue;
      out.push_back([r = std::move(member.awaiting_sync)] { r(sync_error(ErrorCode::REBALANCE_IN_PROGRESS)); });
      member.awaiting_sync = nullptr;
    }
  }
  bool first = group.state == GroupState::empty && config_.initial_rebalance_delay_ms > 0;
  group.state = GroupState::preparing_rebalance;
  group.state_timestamp_ms = clock_.now_ms();
  group.rebalance_deadline = deadline_after(group.max_rebalance_timeout_ms());
  group.initial_delay = first;
  if (first)
    group.initial_delay_end =
        std::min(deadline_after(config_.initial_rebalance_delay_ms), group.rebalance_deadline);
}

void GroupCoordinator::maybe_complete_join(Group& group, Completions& out) {
  if (group.state == GroupState::preparing_rebalance && !group.initial_delay && group.all_members_joined())
    complete_join(group, out);
}

void GroupCoordinator::complete_join(Group& group, Completions& out) {
  // Members that did not rejoin in time leave the group.
  for (auto it = group.members.begin(); it != group.members.end();) {
    if (it->second.awaiting_join) { ++it; continue; }
    if (it->second.instance_id) group.static_members.erase(*it->second.instance_id);
    if (it->second.awaiting_sync)
      out.push_back([r = std::move(it->second.awaiting_sync)] { r(sync_error(ErrorCode::UNKNOWN_MEMBER_ID)); });
    it = group.members.erase(it);
  }
  group.pending_members.clear();
  group.initial_delay = false;
  ++group.generation;
  group.state_timestamp_ms = clock_.now_ms();
  if (group.members.empty()) {
    group.state = GroupState::empty;
    group.protocol.reset();
    group.leader.clear();
    store_group(group, [](ErrorCode, Completions&) {});
    return;
  }
  // Each member votes for its most preferred protocol that all support.
  std::map<std::string, int> votes;
  for (const auto& [id, member] : group.members) {
    // A named reference, not a structured binding: clang 14 (the style
    // check's clang-tidy) cannot capture a binding in a lambda.
    for (const auto& protocol : member.protocols) {
      const std::string& name = protocol.first;
      bool everyone = std::all_of(group.members.begin(), group.members.end(),
                                  [&name](const auto& entry) { return entry.second.supports(name); });
      if (everyone) { ++votes[name]; break; }
    }
  }
  auto best = std::max_element(votes.begin(), votes.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  group.protocol = best == votes.end() ? std::string() : best->first;
  if (!group.has(group.leader)) group.leader = group.members.begin()->first;
  group.state = GroupState::completing_rebalance;
  for (auto& [id, member] : group.members) {
    member.assignment.clear();
    member.session_deadline = deadline_after(member.session_timeout_ms);
    out.push_back([r = std::move(member.awaiting_join), response = join_response(group, member, member.join_version)] {
      r(response);
    });
    member.awaiting_join = nullptr;
  }
}

JoinGroupResponse GroupCoordinator::join_response(const Group& group, const Member& member, int16_t version) const {
  JoinGroupResponse response;
  response.generation_id = group.generation;
  response.protocol_type = group.protocol_type;
  response.protocol_name = group.protocol ? group.protocol : (version >= 7 ? std::nullopt : std::optional<std::string>(""));
  response.leader = group.leader;
  response.member_id = member.member_id;
  if (member.member_id == group.leader) {
    for (const auto& [id, other] : group.members) {
      const auto* metadata = group.protocol ? other.metadata_for(*group.protocol) : nullptr;
      response.members.push_back({id, other.instance_id, metadata ? *metadata : std::vector<uint8_t>{}, {}});
    }
  }
  return response;
}

// ---- SyncGroup, Heartbeat, LeaveGroup ----

ErrorCode GroupCoordinator::validate_member(const Group& group, const std::string& member_id,
                                            const std::optional<std::string>& instance_id,
                                            int32_t generation) const {
  if (instance_id && !instance_id->empty()) {
    auto known = group.static_members.find(*instance_id);
    if (known != group.static_members.end() && known->second != member_id) return ErrorCode::FENCED_INSTANCE_ID;
  }
  if (!group.has(member_id)) return ErrorCode::UNKNOWN_MEMBER_ID;
  if (generation != group.generation) return ErrorCode::ILLEGAL_GENERATION;
  return ErrorCode::NONE;
}

void GroupCoordinator::sync_group(const SyncGroupRequest& request, int16_t /*version*/,
                                  Reply<SyncGroupResponse> reply) {
  run_on(partition_of(request.group_id), [this, request, reply = std::move(reply)](Completions& out) mutable {
    sync_group_here(request, std::move(reply), out);
  });
}

void GroupCoordinator::sync_group_here(const SyncGroupRequest& request, Reply<SyncGroupResponse> reply,
                                       Completions& out) {
  auto fail = [&](ErrorCode code) { out.push_back([reply, code] { reply(sync_error(code)); }); };
  if (request.group_id.empty()) return fail(ErrorCode::INVALID_GROUP_ID);
  if (ErrorCode code = unavailable(request.group_id); code != ErrorCode::NONE) return fail(code);
  Group* group = find_group(request.group_id);
  if (group == nullptr || group->state == GroupState::dead) return fail(ErrorCode::UNKNOWN_MEMBER_ID);
  ErrorCode code = validate_member(*group, request.member_id, request.group_instance_id, request.generation_id);
  if (code != ErrorCode::NONE) return fail(code);
  if ((request.protocol_type && request.protocol_type != group->protocol_type) ||
      (request.protocol_name && request.protocol_name != group->protocol))
    return fail(ErrorCode::INCONSISTENT_GROUP_PROTOCOL);
  Member& member = group->members.at(request.member_id);
  member.session_deadline = deadline_after(member.session_timeout_ms);
  SyncGroupResponse ok;
  ok.protocol_type = group->protocol_type;
  ok.protocol_name = group->protocol;
  switch (group->state) {
    case GroupState::empty:
    case GroupState::dead:
      return fail(ErrorCode::UNKNOWN_MEMBER_ID);
    case GroupState::preparing_rebalance:
      return fail(ErrorCode::REBALANCE_IN_PROGRESS);
    case GroupState::stable:
      ok.assignment = member.assignment;
      out.push_back([reply, ok] { reply(ok); });
      return;
    case GroupState::completing_rebalance:
      break;
  }
  if (member.awaiting_sync)
    out.push_back([r = std::move(member.awaiting_sync)] { r(sync_error(ErrorCode::UNKNOWN_MEMBER_ID)); });
  member.awaiting_sync = std::move(reply);
  if (request.member_id != group->leader) return;  // followers wait for the leader
  store_assignment(*group, request, out);
}

void GroupCoordinator::store_assignment(Group& group, const SyncGroupRequest& request, Completions&) {
  // A retried leader SyncGroup while the first store is in flight: that
  // store answers everyone parked, this one included.
  if (group.assignment_stored_generation == group.generation) return;
  std::map<std::string, std::vector<uint8_t>> assignments;
  for (const auto& assignment : request.assignments)
    if (group.has(assignment.member_id)) assignments[assignment.member_id] = assignment.assignment;
  group.assignment_stored_generation = group.generation;
  // The group stays CompletingRebalance (members' commits answer
  // REBALANCE_IN_PROGRESS, followers park) until the assignment is durable.
  auto done = [this, group_id = group.id, generation = group.generation, assignments](ErrorCode error,
                                                                                      Completions& out) {
    Group* group = find_group(group_id);
    // A rebalance since (a join, a leave, a session timeout): this
    // generation's assignment no longer matters; its waiters were answered.
    if (group == nullptr || group->generation != generation || group->state != GroupState::completing_rebalance)
      return;
    if (error != ErrorCode::NONE) return fail_assignment(*group, error, out);
    for (auto& [id, member] : group->members) {
      auto it = assignments.find(id);
      member.assignment = it == assignments.end() ? std::vector<uint8_t>{} : it->second;
    }
    group->state = GroupState::stable;
    group->state_timestamp_ms = clock_.now_ms();
    SyncGroupResponse ok;
    ok.protocol_type = group->protocol_type;
    ok.protocol_name = group->protocol;
    for (auto& [id, member] : group->members) {
      if (!member.awaiting_sync) continue;
      SyncGroupResponse response = ok;
      response.assignment = member.assignment;
      out.push_back([r = std::move(member.awaiting_sync), response] { r(response); });
      member.awaiting_sync = nullptr;
    }
  };
  append(group.id, {group_record(group, &assignments)}, std::move(done));
}

// Kafka's answer to a failed assignment store: every parked member gets the
// error and the group rebalances (the assignment was never visible).
void GroupCoordinator::fail_assignment(Group& group, ErrorCode error, Completions& out) {
  for (auto& [id, member] : group.members) {
    member.assignment.clear();
    if (!member.awaiting_sync) continue;
    out.push_back([r = std::move(member.awaiting_sync), error] { r(sync_error(error)); });
    member.awaiting_sync = nullptr;
  }
  prepare_rebalance(group, out);
  group.initial_delay = false;
  maybe_complete_join(group, out);
}

void GroupCoordinator::heartbeat(const protocol::HeartbeatRequest& request, int16_t,
                                 Reply<protocol::HeartbeatResponse> reply) {
  runtime_.post(partition_of(request.group_id),
                [this, request, reply = std::move(reply)] { reply(heartbeat_here(request)); });
}

protocol::HeartbeatResponse GroupCoordinator::heartbeat_here(const protocol::HeartbeatRequest& request) {
  protocol::HeartbeatResponse response;
  auto answer = [&](ErrorCode code) {
    response.error_code = to_wire(code);
    return response;
  };
  if (request.group_id.empty()) return answer(ErrorCode::INVALID_GROUP_ID);
  if (ErrorCode code = unavailable(request.group_id); code != ErrorCode::NONE) return answer(code);
  Group* group = find_group(request.group_id);
  if (group == nullptr || group->state == GroupState::dead || group->state == GroupState::empty)
    return answer(ErrorCode::UNKNOWN_MEMBER_ID);
  // A stale generation is ILLEGAL_GENERATION in every state, as in Kafka: a
  // cooperative client then knows its partitions are lost, not just moving.
  ErrorCode code = validate_member(*group, request.member_id, request.group_instance_id, request.generation_id);
  if (code != ErrorCode::NONE) return answer(code);
  Member& member = group->members.at(request.member_id);
  member.session_deadline = deadline_after(member.session_timeout_ms);
  if (group->state == GroupState::preparing_rebalance) return answer(ErrorCode::REBALANCE_IN_PROGRESS);
  return answer(ErrorCode::NONE);
}

void GroupCoordinator::leave_group(const protocol::LeaveGroupRequest& request, int16_t version,
                                   Reply<protocol::LeaveGroupResponse> reply) {
  run_on(partition_of(request.group_id), [this, request, version, reply = std::move(reply)](Completions& out) {
    auto response = leave_group_here(request, version, out);
    out.push_back([reply, response = std::move(response)] { reply(response); });
  });
}

protocol::LeaveGroupResponse GroupCoordinator::leave_group_here(const protocol::LeaveGroupRequest& request,
                                                                int16_t version, Completions& out) {
  protocol::LeaveGroupResponse response;
  std::vector<protocol::LeaveGroupRequest::MemberIdentity> leaving = request.members;
  if (version < 3) leaving = {{request.member_id, std::nullopt, std::nullopt, {}}};
  ErrorCode refused =
      request.group_id.empty() ? ErrorCode::INVALID_GROUP_ID : unavailable(request.group_id);
  if (refused != ErrorCode::NONE) {
    response.error_code = to_wire(refused);
    return response;
  }
  Group* group = find_group(request.group_id);
  for (const auto& identity : leaving) {
    protocol::LeaveGroupResponse::MemberResponse answer{identity.member_id, identity.group_instance_id, 0, {}};
    ErrorCode code = ErrorCode::NONE;
    std::string member_id = identity.member_id;
    if (group == nullptr) {
      code = ErrorCode::UNKNOWN_MEMBER_ID;
    } else if (identity.group_instance_id && !identity.group_instance_id->empty()) {
      auto known = group->static_members.find(*identity.group_instance_id);
      if (known == group->static_members.end()) code = ErrorCode::UNKNOWN_MEMBER_ID;
      else if (!member_id.empty() && known->second != member_id) code = ErrorCode::FENCED_INSTANCE_ID;
      else member_id = known->second;
    } else if (group->pending_members.erase(member_id) != 0) {
      maybe_complete_join(*group, out);
      response.members.push_back(answer);
      continue;
    } else if (!group->has(member_id)) {
      code = ErrorCode::UNKNOWN_MEMBER_ID;
    }
    if (code == ErrorCode::NONE) remove_member(*group, member_id, out);
    answer.error_code = to_wire(code);
    response.members.push_back(answer);
  }
  if (version < 3) response.error_code = response.members.front().error_code;
  return response;
}

void GroupCoordinator::remove_member(Group& group, const std::string& member_id, Completions& out) {
  auto it = group.members.find(member_id);
  if (it == group.members.end()) return;
  Member& member = it->second;
  if (member.awaiting_join)
    out.push_back([r = std::move(member.awaiting_join), response = join_error(ErrorCode::UNKNOWN_MEMBER_ID, member.join_version, member_id)] { r(response); });
  if (member.awaiting_sync)
    out.push_back([r = std::move(member.awaiting_sync)] { r(sync_error(ErrorCode::UNKNOWN_MEMBER_ID)); });
  if (member.instance_id) group.static_members.erase(*member.instance_id);
  group.members.erase(it);
  switch (group.state) {
    case GroupState::stable:
    case GroupState::completing_rebalance:
      prepare_rebalance(group, out);
      group.initial_delay = false;
      maybe_complete_join(group, out);
      break;
    case GroupState::preparing_rebalance:
      maybe_complete_join(group, out);
      break;
    default:
      break;
  }
}

// ---- Time ----

void GroupCoordinator::expire_sessions(Group& group, std::chrono::nanoseconds at, Completions& out) {
  for (auto it = group.pending_members.begin(); it != group.pending_members.end();)
    it = it->second <= at ? group.pending_members.erase(it) : std::next(it);
  if (group.state == GroupState::preparing_rebalance) {
    if (group.initial_delay && at >= group.initial_delay_end) group.initial_delay = false;
    if (!group.initial_delay && at >= group.rebalance_deadline) complete_join(group, out);
    else maybe_complete_join(group, out);
  }
  std::vector<std::string> expired;
  for (const auto& [id, member] : group.members)
    if (!member.awaiting_join && !member.awaiting_sync && member.session_deadline <= at) expired.push_back(id);
  for (const auto& id : expired) remove_member(group, id, out);
}

std::chrono::nanoseconds GroupCoordinator::deadline_after(int64_t timeout_ms) {
  std::chrono::nanoseconds at = now() + ms(timeout_ms);
  note_deadline(at);
  return at;
}

void GroupCoordinator::note_deadline(std::chrono::nanoseconds at) {
  int64_t wanted = at.count();
  int64_t current = next_deadline_ns_.load(std::memory_order_acquire);
  while (wanted < current) {
    if (next_deadline_ns_.compare_exchange_weak(current, wanted, std::memory_order_acq_rel)) {
      earlier_deadline_();
      return;
    }
  }
}

std::chrono::nanoseconds GroupCoordinator::earliest_deadline(const Group& group) {
  auto earliest = std::chrono::nanoseconds::max();
  for (const auto& [id, deadline] : group.pending_members) earliest = std::min(earliest, deadline);
  if (group.state == GroupState::preparing_rebalance)
    earliest = std::min(earliest,
                        group.initial_delay ? group.initial_delay_end : group.rebalance_deadline);
  for (const auto& [id, member] : group.members)
    if (!member.awaiting_join && !member.awaiting_sync)
      earliest = std::min(earliest, member.session_deadline);
  return earliest;
}

// Every partition is ticked after the reset, and each notes again the
// deadlines it still waits for: next_deadline() becomes the true earliest.
void GroupCoordinator::tick() {
  next_deadline_ns_.store(std::numeric_limits<int64_t>::max(), std::memory_order_release);
  for (int32_t partition = 0; partition < runtime_.partitions(); ++partition)
    run_on(partition, [this, partition](Completions& out) { tick_partition(partition, out); });
}

void GroupCoordinator::tick_partition(int32_t partition, Completions& out) {
  Shard& shard = shards_[static_cast<size_t>(partition)];
  load_step(partition);  // a load waiting for the high watermark goes on
  if (shard.state != ShardState::active) return;
  auto at = now();
  for (auto& [id, group] : shard.groups) {
    expire_sessions(*group, at, out);
    if (auto earliest = earliest_deadline(*group); earliest != std::chrono::nanoseconds::max())
      note_deadline(earliest);
  }
  if (at >= shard.next_offset_expiry) {
    shard.next_offset_expiry = at + ms(config_.offsets_retention_check_interval_ms);
    expire_offsets(shard);
  }
}

}  // namespace sluice::group
