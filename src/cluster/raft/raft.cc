#include "cluster/raft/raft.h"

#include <algorithm>
#include <functional>

namespace sluice::raft {

const char* role_name(Role role) {
  switch (role) {
    case Role::unattached:
      return "unattached";
    case Role::prospective:
      return "prospective";
    case Role::candidate:
      return "candidate";
    case Role::leader:
      return "leader";
    case Role::follower:
      return "follower";
  }
  return "unknown";
}

ErrorCode to_error_code(RaftError error) {
  switch (error) {
    case RaftError::none:
      return ErrorCode::NONE;
    case RaftError::not_leader:
      return ErrorCode::NOT_LEADER_OR_FOLLOWER;
  }
  return ErrorCode::UNKNOWN_SERVER_ERROR;
}

namespace {
// Kafka's LeaderState.OBSERVER_SESSION_TIMEOUT_MS: an observer silent that
// long is forgotten.
constexpr int64_t observer_session_timeout_ms = 300'000;
}  // namespace

RaftReplica::RaftReplica(RaftOptions options, RaftLog& log, QuorumStateStore& store, int64_t now_ms)
    : options_(std::move(options)), log_(log), store_(store), random_(options_.random_seed) {
  state_ = store_.read();
  if (state_.leader && *state_.leader != options_.node_id) {
    become_follower(state_.epoch, *state_.leader, now_ms);
  } else {
    // A leader that restarts does not lead again in its epoch: it may have
    // lost unflushed entries it had counted. It voted for itself there, so
    // it votes for nobody else in that epoch either.
    std::optional<NodeId> voted = state_.leader ? state_.leader : state_.voted_for;
    become_unattached(state_.epoch, voted, now_ms);
  }
  // A lone voter is its own majority: it leads at once (a new epoch, as an
  // election would give it) instead of waiting an election timeout, so a
  // single default broker starts in milliseconds. No one to tell.
  if (sole_voter()) {
    Out none;
    become_candidate(now_ms, none);
  }
}

void RaftReplica::persist(QuorumState state) {
  if (state == state_) return;
  store_.write(state);
  state_ = state;
}

int64_t RaftReplica::random_election_timeout() {
  std::uniform_int_distribution<int64_t> jitter(0, options_.election_timeout_ms);
  return options_.election_timeout_ms + jitter(random_);
}

void RaftReplica::become_unattached(Epoch epoch, std::optional<NodeId> voted_for, int64_t now_ms) {
  persist({epoch, std::nullopt, voted_for});
  role_ = Role::unattached;
  votes_.clear();
  progress_.clear();
  observers_.clear();
  election_deadline_ms_ = now_ms + random_election_timeout();
  next_fetch_ms_ = now_ms;
}

void RaftReplica::become_follower(Epoch epoch, NodeId leader, int64_t now_ms) {
  std::optional<NodeId> voted = epoch == state_.epoch ? state_.voted_for : std::nullopt;
  persist({epoch, leader, voted});
  role_ = Role::follower;
  lost_leader_.reset();
  votes_.clear();
  progress_.clear();
  observers_.clear();
  fetch_deadline_ms_ = now_ms + options_.fetch_timeout_ms;
  next_fetch_ms_ = now_ms;
}

void RaftReplica::become_prospective(int64_t now_ms, Out& out) {
  if (role_ == Role::follower) lost_leader_ = state_.leader;
  role_ = Role::prospective;
  votes_ = {options_.node_id};
  election_deadline_ms_ = now_ms + random_election_timeout();
  if (votes_.size() >= majority()) return become_candidate(now_ms, out);
  send_vote_requests(true, now_ms, out);
}

void RaftReplica::become_candidate(int64_t now_ms, Out& out) {
  persist({state_.epoch + 1, std::nullopt, options_.node_id});
  role_ = Role::candidate;
  votes_ = {options_.node_id};
  election_deadline_ms_ = now_ms + random_election_timeout();
  if (votes_.size() >= majority()) return become_leader(now_ms, out);
  send_vote_requests(false, now_ms, out);
}

void RaftReplica::become_leader(int64_t now_ms, Out& out) {
  persist({state_.epoch, options_.node_id, state_.voted_for});
  role_ = Role::leader;
  votes_.clear();
  progress_.clear();
  // The epoch's first entry: the high watermark moves only once a majority
  // holds it, so no entry of an older epoch is committed by counting alone.
  epoch_start_offset_ = log_.end_offset();
  log_.append({Entry{state_.epoch, {}, 1}});
  log_.flush();
  leader_since_ms_ = now_ms;
  for (NodeId voter : options_.voters)
    if (voter != options_.node_id) progress_[voter] = {};
  check_quorum_deadline_ms_ = now_ms + options_.fetch_timeout_ms * 3 / 2;
  for (NodeId voter : options_.voters)
    if (voter != options_.node_id)
      send(voter, BeginQuorumEpochRequest{state_.epoch, options_.node_id}, out);
  maybe_advance_high_watermark();
}

void RaftReplica::observe_epoch(Epoch epoch, std::optional<NodeId> leader, int64_t now_ms) {
  if (epoch > state_.epoch) {
    if (leader && *leader != options_.node_id)
      become_follower(epoch, *leader, now_ms);
    else
      become_unattached(epoch, std::nullopt, now_ms);
  } else if (epoch == state_.epoch && leader && *leader != options_.node_id &&
             role_ != Role::follower && role_ != Role::leader &&
             !(role_ == Role::prospective && leader == lost_leader_)) {
    become_follower(epoch, *leader, now_ms);
  }
}

std::vector<Envelope> RaftReplica::tick(int64_t now_ms) {
  Out out;
  switch (role_) {
    case Role::leader:
      if (options_.faults.leader_counts_unflushed_entries) log_.flush();  // late
      if (now_ms >= check_quorum_deadline_ms_) {
        size_t fetching = 1;
        for (const auto& [voter, progress] : progress_)
          if (now_ms - std::max(progress.last_fetch_ms, leader_since_ms_) <=
              options_.fetch_timeout_ms * 3 / 2)
            ++fetching;
        if (fetching < majority()) {
          // Cut off from a majority: stop taking writes no one will commit.
          for (NodeId voter : options_.voters)
            if (voter != options_.node_id)
              send(voter, EndQuorumEpochRequest{state_.epoch, options_.node_id}, out);
          become_unattached(state_.epoch, options_.node_id, now_ms);
          break;
        }
        check_quorum_deadline_ms_ = now_ms + options_.fetch_timeout_ms * 3 / 2;
      }
      // A voter that missed BeginQuorumEpoch hears it again.
      for (const auto& [voter, progress] : progress_)
        if (now_ms - std::max(progress.last_fetch_ms, leader_since_ms_) >
            options_.fetch_timeout_ms / 2)
          send(voter, BeginQuorumEpochRequest{state_.epoch, options_.node_id}, out);
      std::erase_if(observers_, [&](const auto& observer) {
        return now_ms - observer.second.last_fetch_ms >= observer_session_timeout_ms;
      });
      break;
    case Role::follower:
      if (now_ms >= fetch_deadline_ms_) {
        if (is_voter()) {
          become_prospective(now_ms, out);
        } else {
          become_unattached(state_.epoch, state_.voted_for, now_ms);
        }
        break;
      }
      if (now_ms >= next_fetch_ms_) send_fetch(now_ms, out);
      break;
    case Role::unattached:
    case Role::prospective:
    case Role::candidate:
      if (!is_voter()) {
        // An observer looks for the leader by fetching from the voters.
        if (now_ms >= next_fetch_ms_) send_fetch(now_ms, out);
        break;
      }
      if (sole_voter())
        become_candidate(now_ms, out);
      else if (now_ms >= election_deadline_ms_)
        become_prospective(now_ms, out);
      else if (role_ != Role::unattached && now_ms >= next_vote_retry_ms_)
        send_vote_requests(role_ == Role::prospective, now_ms, out);
      break;
  }
  return out;
}

std::vector<Envelope> RaftReplica::receive(const Envelope& envelope, int64_t now_ms) {
  Out out;
  std::visit([&](const auto& message) { on(message, envelope.from, now_ms, out); },
             envelope.message);
  return out;
}

std::optional<Offset> RaftReplica::append(std::vector<Entry> entries) {
  if (role_ != Role::leader) return std::nullopt;
  for (const Entry& entry : entries)
    if (entry.record_count < 1) return std::nullopt;
  Offset first = log_.end_offset();
  for (Entry& entry : entries) entry.epoch = state_.epoch;
  log_.append(entries);
  // The leader's own end counts towards the high watermark: flushed first.
  if (!options_.faults.leader_counts_unflushed_entries) log_.flush();
  maybe_advance_high_watermark();
  return first;
}

bool RaftReplica::log_is_up_to_date(Epoch last_epoch, Offset end_offset) const {
  if (options_.faults.grant_vote_without_log_check) return true;
  if (last_epoch != log_.last_epoch()) return last_epoch > log_.last_epoch();
  return end_offset >= log_.end_offset();
}

void RaftReplica::on(const VoteRequest& request, NodeId from, int64_t now_ms, Out& out) {
  auto answer = [&](bool granted) {
    send(from, VoteResponse{state_.epoch, state_.leader, granted, request.pre_vote}, out);
  };
  if (!is_voter() || request.epoch < state_.epoch) return answer(false);
  if (request.pre_vote) {
    // KIP-996: no state changes; refused while this node follows a leader
    // it still hears from, so a partitioned node cannot disrupt the quorum.
    bool leader_alive =
        role_ == Role::leader || (role_ == Role::follower && now_ms < fetch_deadline_ms_);
    return answer(!leader_alive && log_is_up_to_date(request.last_epoch, request.end_offset));
  }
  if (request.epoch > state_.epoch) observe_epoch(request.epoch, std::nullopt, now_ms);
  bool free_to_vote =
      !state_.leader && (!state_.voted_for || *state_.voted_for == request.candidate);
  if (!free_to_vote || !log_is_up_to_date(request.last_epoch, request.end_offset))
    return answer(false);
  persist({state_.epoch, std::nullopt, request.candidate});
  election_deadline_ms_ = now_ms + random_election_timeout();
  answer(true);
}

void RaftReplica::on(const VoteResponse& response, NodeId from, int64_t now_ms, Out& out) {
  if (response.epoch > state_.epoch) return observe_epoch(response.epoch, response.leader, now_ms);
  if (!response.granted) {
    // Refused because the voter follows a leader of this epoch: follow it too.
    if (response.leader && response.epoch == state_.epoch)
      observe_epoch(response.epoch, response.leader, now_ms);
    return;
  }
  if (response.pre_vote && role_ == Role::prospective) {
    votes_.insert(from);
    if (votes_.size() >= majority()) become_candidate(now_ms, out);
  } else if (!response.pre_vote && role_ == Role::candidate && response.epoch == state_.epoch) {
    votes_.insert(from);
    if (votes_.size() >= majority()) become_leader(now_ms, out);
  }
}

void RaftReplica::on(const BeginQuorumEpochRequest& request, NodeId from, int64_t now_ms,
                     Out& out) {
  if (request.epoch >= state_.epoch && request.leader != options_.node_id) {
    if (request.epoch > state_.epoch || role_ != Role::follower)
      become_follower(request.epoch, request.leader, now_ms);
  }
  send(from, BeginQuorumEpochResponse{state_.epoch}, out);
}

void RaftReplica::on(const BeginQuorumEpochResponse& response, NodeId, int64_t now_ms, Out&) {
  if (response.epoch > state_.epoch) observe_epoch(response.epoch, std::nullopt, now_ms);
}

void RaftReplica::on(const EndQuorumEpochRequest& request, NodeId, int64_t now_ms, Out&) {
  if (request.epoch == state_.epoch && state_.leader == request.leader && role_ == Role::follower) {
    // The leader resigned: elect another without waiting for the fetch timeout.
    fetch_deadline_ms_ = now_ms + random_election_timeout() - options_.election_timeout_ms;
  }
}

FetchResponse::Diverging RaftReplica::end_offset_for_epoch(Epoch epoch) const {
  // Epochs never decrease along the log: find the first offset past `epoch`
  // (the start of an entry, as one entry has one epoch).
  Offset low = 0, high = log_.end_offset();
  while (low < high) {
    Offset middle = low + (high - low) / 2;
    if (log_.epoch_at(middle) <= epoch)
      low = middle + 1;
    else
      high = middle;
  }
  if (low == 0) return {0, 0};
  return {log_.epoch_at(low - 1), low};
}

void RaftReplica::on(const FetchRequest& request, NodeId from, int64_t now_ms, Out& out) {
  FetchResponse response;
  if (request.epoch > state_.epoch) observe_epoch(request.epoch, std::nullopt, now_ms);
  response.epoch = state_.epoch;
  response.leader = state_.leader;
  if (role_ != Role::leader) {
    response.error = FetchResponse::Error::not_leader;
    return send(from, std::move(response), out);
  }
  if (request.epoch < state_.epoch) {
    response.error = FetchResponse::Error::fenced_epoch;
    return send(from, std::move(response), out);
  }
  response.base_offset = request.fetch_offset;
  response.base_epoch = request.last_fetched_epoch;
  if (request.fetch_offset > 0) {
    FetchResponse::Diverging shared = end_offset_for_epoch(request.last_fetched_epoch);
    if (shared.epoch != request.last_fetched_epoch || shared.end_offset < request.fetch_offset) {
      response.diverging = shared;
      response.high_watermark = high_watermark_;
      return send(from, std::move(response), out);
    }
  }
  if (auto progress = progress_.find(from); progress != progress_.end()) {
    progress->second.on_fetch(request.fetch_offset, log_.end_offset(), now_ms);
    maybe_advance_high_watermark();
  } else if (from >= 0) {  // a negative id is no replica (Kafka: a consumer)
    observers_[from].on_fetch(request.fetch_offset, log_.end_offset(), now_ms);
  }
  response.entries = log_.read(request.fetch_offset, options_.max_fetch_entries);
  response.high_watermark = high_watermark_;
  send(from, std::move(response), out);
}

void RaftReplica::on(const FetchResponse& response, NodeId from, int64_t now_ms, Out& out) {
  if (response.epoch > state_.epoch) observe_epoch(response.epoch, response.leader, now_ms);
  if (response.error != FetchResponse::Error::none) {
    if (response.leader && response.epoch == state_.epoch)
      observe_epoch(response.epoch, response.leader, now_ms);
    return;
  }
  if (!is_voter() && role_ != Role::follower && response.leader && response.epoch >= state_.epoch &&
      *response.leader == from)
    become_follower(response.epoch, from, now_ms);
  if (role_ != Role::follower || state_.leader != from || response.epoch != state_.epoch) return;
  fetch_deadline_ms_ = now_ms + options_.fetch_timeout_ms;
  // An answer to an older fetch: this log has moved since (duplicates and
  // reordering make such answers common).
  Epoch sent_epoch =
      options_.faults.follower_keeps_divergent_tail ? state_.epoch : log_.last_epoch();
  if (response.base_offset != log_.end_offset() || response.base_epoch != sent_epoch) return;
  if (response.diverging) {
    if (options_.faults.follower_keeps_divergent_tail) return;
    // Both logs agree up to the smaller of the two ends of the shared epoch.
    // Should that point fall inside one of this log's batches, the whole
    // batch goes: the fetch below starts from wherever the log now ends.
    Offset own_end = end_offset_for_epoch(response.diverging->epoch).end_offset;
    log_.truncate_to(std::min(response.diverging->end_offset, own_end));
    log_.flush();
    return send_fetch(now_ms, out);
  }
  if (!response.entries.empty()) {
    log_.append(response.entries);
    log_.flush();
  }
  Offset known = std::min(response.high_watermark, log_.end_offset());
  high_watermark_ = std::max(high_watermark_, known);
  if (!response.entries.empty())
    send_fetch(now_ms, out);
  else
    next_fetch_ms_ = now_ms + options_.fetch_interval_ms;
}

void RaftReplica::ReplicaProgress::on_fetch(Offset fetch_offset, Offset leader_end,
                                            int64_t now_ms) {
  // Kafka's ReplicaState.updateFollowerState: caught up now if this fetch
  // reached the leader's end; caught up as of the previous fetch if it
  // reached the end the leader had then.
  if (fetch_offset >= leader_end)
    last_caught_up_ms = std::max(last_caught_up_ms, now_ms);
  else if (last_fetch_leader_end > 0 && fetch_offset >= last_fetch_leader_end)
    last_caught_up_ms = std::max(last_caught_up_ms, last_fetch_ms);
  last_fetch_leader_end = leader_end;
  last_fetch_ms = std::max(last_fetch_ms, now_ms);
  // The high watermark counts this offset: the fetcher's log is flushed and
  // matches the leader's below it, so it never needs to go back.
  end_offset = std::max(end_offset, fetch_offset);
}

ReplicaInfo RaftReplica::describe(NodeId id, const ReplicaProgress& progress) const {
  return {id, progress.end_offset, progress.last_fetch_ms, progress.last_caught_up_ms};
}

QuorumInfo RaftReplica::quorum_info(int64_t now_ms) const {
  QuorumInfo info;
  if (role_ != Role::leader) {
    info.error = RaftError::not_leader;
    info.leader_id = state_.leader.value_or(-1);
    info.leader_epoch = state_.epoch;
    return info;
  }
  info.leader_id = options_.node_id;
  info.leader_epoch = state_.epoch;
  info.high_watermark = high_watermark_;
  // The leader is always caught up with itself (Kafka reports "now").
  info.voters.push_back({options_.node_id, log_.end_offset(), now_ms, now_ms});
  for (const auto& [voter, progress] : progress_) info.voters.push_back(describe(voter, progress));
  for (const auto& [observer, progress] : observers_)
    if (now_ms - progress.last_fetch_ms < observer_session_timeout_ms)
      info.observers.push_back(describe(observer, progress));
  return info;
}

void RaftReplica::send_fetch(int64_t now_ms, Out& out) {
  std::optional<NodeId> target = state_.leader;
  if (!target || *target == options_.node_id) {
    if (options_.voters.empty()) return;
    // Without a leader (an observer): ask any voter, which names the leader.
    std::uniform_int_distribution<size_t> pick(0, options_.voters.size() - 1);
    target = *std::next(options_.voters.begin(), static_cast<long>(pick(random_)));
    if (*target == options_.node_id) return;
  }
  FetchRequest request{state_.epoch, options_.node_id, log_.end_offset(), log_.last_epoch()};
  if (options_.faults.follower_keeps_divergent_tail) request.last_fetched_epoch = state_.epoch;
  next_fetch_ms_ = now_ms + options_.fetch_interval_ms;
  send(*target, request, out);
}

void RaftReplica::send_vote_requests(bool pre_vote, int64_t now_ms, Out& out) {
  Epoch epoch = pre_vote ? state_.epoch + 1 : state_.epoch;
  next_vote_retry_ms_ = now_ms + options_.retry_backoff_ms;
  for (NodeId voter : options_.voters)
    if (voter != options_.node_id && votes_.count(voter) == 0)
      send(voter,
           VoteRequest{epoch, options_.node_id, log_.last_epoch(), log_.end_offset(), pre_vote},
           out);
}

void RaftReplica::maybe_advance_high_watermark() {
  if (role_ != Role::leader) return;
  std::vector<Offset> ends{log_.end_offset()};
  for (const auto& [voter, progress] : progress_) ends.push_back(progress.end_offset);
  std::sort(ends.begin(), ends.end(), std::greater<>());
  Offset majority_end = ends[majority() - 1];
  bool covers_own_epoch =
      majority_end > epoch_start_offset_ || options_.faults.leader_commits_older_epoch_by_counting;
  if (!covers_own_epoch) return;
  high_watermark_ = std::max(high_watermark_, majority_end);
}

void RaftReplica::send(NodeId to, Message message, Out& out) const {
  out.push_back({options_.node_id, to, std::move(message)});
}

}  // namespace sluice::raft
