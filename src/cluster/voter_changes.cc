#include "cluster/voter_changes.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "cluster/ids.h"
#include "cluster/metadata_log.h"  // describe()

namespace sluice::cluster {
namespace {

// Kafka's ReplicaKey.toString.
std::string replica_key(int32_t id, const Uuid& directory_id) {
  return "ReplicaKey(id=" + std::to_string(id) + ", directoryId=" +
         (directory_id.is_zero() ? std::string("<undefined>") : uuid_to_string(directory_id)) + ")";
}

// The kraft.version this quorum runs: 1, as the voter set lives in the log
// (KIP-853); Sluice has no static-quorum mode where changes are refused.
constexpr int16_t kraft_version = 1;

}  // namespace

VoterChanges::VoterChanges(VoterChangeOptions options, QuorumEndpoints& endpoints,
                           const raft::RaftLog& log, std::function<int64_t()> wall_clock_ms)
    : options_(std::move(options)),
      endpoints_(endpoints),
      log_(log),
      wall_clock_ms_(std::move(wall_clock_ms)) {}

void VoterChanges::note_directory(int32_t id, const Uuid& directory_id) {
  if (!directory_id.is_zero()) directory_ids_[id] = directory_id;
}

namespace {

// A set read by id only (a snapshot of a node that knew no endpoints) says
// nothing of where to dial: the configured voters stay in effect.
bool every_voter_has_endpoints(const VoterSet& voters) {
  return std::all_of(voters.begin(), voters.end(),
                     [](const auto& voter) { return !voter.second.endpoints.empty(); });
}

}  // namespace

// The voters entry in effect is re-read only when it moved: (offset, epoch)
// names one entry (an entry truncated away and replaced at the same offset
// comes from a later epoch).
void VoterChanges::refresh(const raft::RaftReplica& replica) {
  const raft::Offset offset = replica.voters_offset();
  const bool in_log = offset >= log_.start_offset() && offset < log_.end_offset();
  const raft::Epoch epoch = in_log ? log_.epoch_at(offset) : -1;
  if (offset == voters_offset_ && epoch == voters_epoch_) return;
  voters_offset_ = offset;
  voters_epoch_ = epoch;
  std::optional<VoterSet> voters;
  if (in_log) {
    std::vector<raft::Entry> entries = log_.read(offset, 1);
    if (!entries.empty())
      voters = decode_voters_batch(Bytes(
          reinterpret_cast<const uint8_t*>(entries[0].payload.data()), entries[0].payload.size()));
  } else if (offset >= 0) {
    // The entry went with the log's prefix: a snapshot holds the set now.
    // The same voters keep the endpoints last read; else the snapshot's
    // VotersRecord has them (a node restarted after its log was trimmed).
    voters = endpoints_.log_voters();
    if (!voters || voter_ids(*voters) != replica.voters())
      voters = options_.snapshot_voters ? options_.snapshot_voters() : std::nullopt;
    if (voters && (voter_ids(*voters) != replica.voters() || !every_voter_has_endpoints(*voters)))
      voters.reset();
  }
  if (voters)
    spdlog::info("quorum: voters {} (the voters entry at offset {})", describe(*voters), offset);
  endpoints_.set_log_voters(std::move(voters));
}

VoterSet VoterChanges::current(const raft::RaftReplica& replica) const {
  VoterSet voters = endpoints_.current(replica.voters(), directory_ids_);
  // The leader knows itself best.
  if (auto self = voters.find(options_.node_id); self != voters.end()) {
    if (self->second.directory_id.is_zero()) self->second.directory_id = options_.directory_id;
    if (self->second.endpoints.empty()) self->second.endpoints = options_.endpoints;
  }
  return voters;
}

void VoterChanges::add(raft::RaftReplica& replica, const protocol::AddRaftVoterRequest& request,
                       int64_t now_ms, Done done) {
  if (replica.role() != raft::Role::leader) return done(ErrorCode::NOT_LEADER_OR_FOLLOWER, "");
  if (request.voter_id < 0 || request.voter_directory_id.is_zero())
    return done(ErrorCode::INVALID_REQUEST, "Add voter request didn't include a valid voter");
  Change change;
  change.adding = true;
  change.id = request.voter_id;
  change.node.id = request.voter_id;
  change.node.directory_id = request.voter_directory_id;
  for (const auto& listener : request.listeners)
    change.node.endpoints.push_back({listener.name, listener.host, listener.port});
  bool has_listener = false;
  for (const VoterEndpoint& endpoint : change.node.endpoints)
    has_listener |= endpoint.name == endpoints_.listener();
  if (!has_listener)
    return done(ErrorCode::INVALID_REQUEST,
                "Add voter request didn't include the endpoint for the default listener " +
                    endpoints_.listener());
  change.directory_id = request.voter_directory_id;
  change.deadline_ms = now_ms + (request.timeout_ms > 0 ? request.timeout_ms : 30000);
  change.done = std::move(done);
  bool finished = false;
  attempt(replica, change, now_ms, finished);
  if (!finished) changes_.push_back(std::move(change));
}

void VoterChanges::remove(raft::RaftReplica& replica,
                          const protocol::RemoveRaftVoterRequest& request, int64_t now_ms,
                          Done done) {
  if (replica.role() != raft::Role::leader) return done(ErrorCode::NOT_LEADER_OR_FOLLOWER, "");
  Change change;
  change.adding = false;
  change.id = request.voter_id;
  change.directory_id = request.voter_directory_id;
  // Kafka's RemoveVoterHandler gives the commit controller.quorum.request.timeout.ms;
  // the request has no timeout of its own.
  change.deadline_ms = now_ms + 30000;
  change.done = std::move(done);
  bool finished = false;
  attempt(replica, change, now_ms, finished);
  if (!finished) changes_.push_back(std::move(change));
}

void VoterChanges::attempt(raft::RaftReplica& replica, Change& change, int64_t now_ms,
                           bool& finished) {
  finished = true;
  if (replica.role() != raft::Role::leader)
    return change.done(ErrorCode::NOT_LEADER_OR_FOLLOWER, "");
  VoterSet voters = current(replica);
  auto existing = voters.find(change.id);
  raft::VoterChange result;
  if (change.adding) {
    if (existing != voters.end())
      return change.done(ErrorCode::DUPLICATE_VOTER,
                         "The voter id for " + replica_key(change.id, change.directory_id) +
                             " is already part of the set of voters " + describe(voters) + ".");
    voters[change.id] = change.node;
    result = replica.add_voter(change.id, now_ms, [&] {
      auto batch = encode_voters_batch(voters, wall_clock_ms_());
      return std::string(batch.begin(), batch.end());
    }());
  } else {
    // Kafka matches the replica key; a voter of controller.quorum.voters
    // whose directory is not known yet matches any.
    const bool found =
        existing != voters.end() && (existing->second.directory_id.is_zero() ||
                                     existing->second.directory_id == change.directory_id);
    if (!found || voters.size() == 1)
      return change.done(ErrorCode::VOTER_NOT_FOUND,
                         "Cannot remove voter " + replica_key(change.id, change.directory_id) +
                             " from the set of voters " + describe(voters));
    voters.erase(change.id);
    result = replica.remove_voter(change.id, [&] {
      auto batch = encode_voters_batch(voters, wall_clock_ms_());
      return std::string(batch.begin(), batch.end());
    }());
  }
  switch (result.error) {
    case raft::RaftError::none:
      change.offset = result.offset;
      change.epoch = replica.epoch();
      spdlog::info("quorum: {} voter {}: voters {} at offset {}",
                   change.adding ? "adding" : "removing", change.id, describe(voters),
                   result.offset);
      finished = false;  // answered once committed
      return;
    case raft::RaftError::request_timed_out:
      change.last_error = change.adding ? "Request timed out waiting for the new voter " +
                                              replica_key(change.id, change.directory_id) +
                                              " to catch up, or for the previous voter change "
                                              "and the leader's epoch to commit"
                                        : "Request timed out waiting for the previous voter "
                                          "change and the leader's epoch to commit";
      if (now_ms < change.deadline_ms)
        finished = false;  // tried again after the next event
      else
        change.done(ErrorCode::REQUEST_TIMED_OUT, change.last_error);
      return;
    default:
      return change.done(raft::to_error_code(result.error), "");
  }
}

void VoterChanges::after_event(raft::RaftReplica& replica, int64_t now_ms) {
  refresh(replica);
  for (size_t i = 0; i < changes_.size();) {
    Change& change = changes_[i];
    bool finished = true;
    if (change.offset < 0) {
      attempt(replica, change, now_ms, finished);
    } else if (replica.high_watermark() > change.offset && log_.end_offset() > change.offset &&
               log_.epoch_at(change.offset) == change.epoch) {
      change.done(ErrorCode::NONE, "");
    } else if (replica.role() != raft::Role::leader || replica.epoch() != change.epoch) {
      change.done(ErrorCode::NOT_LEADER_OR_FOLLOWER, "");
    } else if (now_ms >= change.deadline_ms) {
      change.done(ErrorCode::REQUEST_TIMED_OUT,
                  "Request timed out waiting for the voters entry at offset " +
                      std::to_string(change.offset) + " to commit");
    } else {
      finished = false;
    }
    if (finished)
      changes_.erase(changes_.begin() + static_cast<std::ptrdiff_t>(i));
    else
      ++i;
  }
  // A leader whose own endpoints changed records them itself.
  if (replica.role() == raft::Role::leader && now_ms >= next_self_update_ms_ &&
      self_differs(replica)) {
    next_self_update_ms_ = now_ms + options_.retry_interval_ms;
    update(replica, options_.node_id, options_.directory_id, options_.endpoints, 0, kraft_version,
           now_ms);
  }
}

void VoterChanges::fail_all(ErrorCode error, const std::string& message) {
  std::vector<Change> changes = std::move(changes_);
  changes_.clear();
  for (Change& change : changes) change.done(error, message);
}

std::pair<ErrorCode, std::string> VoterChanges::update(raft::RaftReplica& replica, int32_t id,
                                                       const Uuid& directory_id,
                                                       std::vector<VoterEndpoint> endpoints,
                                                       int16_t kraft_version_min,
                                                       int16_t kraft_version_max, int64_t now_ms) {
  if (replica.role() != raft::Role::leader) return {ErrorCode::NOT_LEADER_OR_FOLLOWER, ""};
  if (kraft_version_min > kraft_version || kraft_version_max < kraft_version)
    return {ErrorCode::INVALID_REQUEST,
            "the supported kraft.version range does not include " + std::to_string(kraft_version)};
  bool has_listener = false;
  for (const VoterEndpoint& endpoint : endpoints)
    has_listener |= endpoint.name == endpoints_.listener();
  if (!has_listener)
    return {ErrorCode::INVALID_REQUEST,
            "the endpoints do not include the default listener " + endpoints_.listener()};
  VoterSet voters = current(replica);
  auto voter = voters.find(id);
  if (voter == voters.end() ||
      (!voter->second.directory_id.is_zero() && voter->second.directory_id != directory_id))
    return {ErrorCode::VOTER_NOT_FOUND, "Voter " + replica_key(id, directory_id) +
                                            " is not in the set of voters " + describe(voters)};
  voter->second.directory_id = directory_id;
  voter->second.endpoints = std::move(endpoints);
  voter->second.kraft_version_min = kraft_version_min;
  voter->second.kraft_version_max = kraft_version_max;
  auto batch = encode_voters_batch(voters, wall_clock_ms_());
  raft::VoterChange result = replica.update_voter(id, std::string(batch.begin(), batch.end()));
  if (result.error != raft::RaftError::none) return {raft::to_error_code(result.error), ""};
  spdlog::info("quorum: voter {} now at {} (the voters entry at offset {})", id, describe(voters),
               result.offset);
  (void)now_ms;
  return {ErrorCode::NONE, ""};
}

bool VoterChanges::self_differs(const raft::RaftReplica& replica) const {
  if (options_.endpoints.empty() || !replica.is_voter()) return false;
  const std::optional<VoterSet>& voters = endpoints_.log_voters();
  if (!voters) return false;  // no voters entry yet: nothing recorded to correct
  auto self = voters->find(options_.node_id);
  if (self == voters->end()) return false;
  return !same_endpoints(self->second.endpoints, options_.endpoints) ||
         (self->second.directory_id.is_zero() && !options_.directory_id.is_zero());
}

std::optional<protocol::UpdateRaftVoterRequest> VoterChanges::self_update(
    const raft::RaftReplica& replica, int64_t now_ms) {
  if (replica.role() != raft::Role::follower || !replica.leader() ||
      now_ms < next_self_update_ms_ || !self_differs(replica))
    return std::nullopt;
  next_self_update_ms_ = now_ms + options_.retry_interval_ms;
  protocol::UpdateRaftVoterRequest request;
  request.current_leader_epoch = replica.epoch();
  request.voter_id = options_.node_id;
  request.voter_directory_id = options_.directory_id;
  for (const VoterEndpoint& endpoint : options_.endpoints)
    request.listeners.push_back({endpoint.name, endpoint.host, endpoint.port, {}});
  request.kraft_version_feature.min_supported_version = 0;
  request.kraft_version_feature.max_supported_version = kraft_version;
  return request;
}

}  // namespace sluice::cluster
