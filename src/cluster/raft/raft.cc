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
    case RaftError::invalid_request:
      return ErrorCode::INVALID_REQUEST;
  }
  return ErrorCode::UNKNOWN_SERVER_ERROR;
}

namespace {
// Kafka's LeaderState.OBSERVER_SESSION_TIMEOUT_MS: an observer silent that
// long is forgotten.
constexpr int64_t observer_session_timeout_ms = 300'000;

// The store of a replica built without one: it never holds a snapshot.
class NoSnapshots final : public SnapshotStore {
 public:
  std::optional<SnapshotId> latest() const override { return std::nullopt; }
  int64_t size(const SnapshotId&) const override { return -1; }
  std::string read(const SnapshotId&, int64_t, size_t) const override { return {}; }
  void begin_write(const SnapshotId&) override {}
  void append(std::string_view) override {}
  void commit() override {}
  void delete_before(const SnapshotId&) override {}
};

SnapshotStore& no_snapshots() {
  static NoSnapshots none;  // stateless
  return none;
}

}  // namespace

RaftReplica::RaftReplica(RaftOptions options, RaftLog& log, QuorumStateStore& store, int64_t now_ms)
    : RaftReplica(std::move(options), log, store, no_snapshots(), now_ms) {}

RaftReplica::RaftReplica(RaftOptions options, RaftLog& log, QuorumStateStore& store,
                         SnapshotStore& snapshots, int64_t now_ms)
    : options_(std::move(options)),
      log_(log),
      store_(store),
      snapshots_(snapshots),
      random_(options_.random_seed) {
  start_from_snapshot();
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

void RaftReplica::start_from_snapshot() {
  latest_snapshot_ = snapshots_.latest();
  if (!latest_snapshot_) return;
  const Offset end = latest_snapshot_->end_offset;
  if (log_.start_offset() < end) {
    // A crash came between committing the snapshot and trimming the log.
    // A log whose entry before `end` has the snapshot's epoch holds the
    // very entries the snapshot was made of (log matching): it only drops
    // them. Any other (a snapshot fetched over a divergent log) goes.
    bool continues = log_.end_offset() >= end && log_.epoch_at(end - 1) == latest_snapshot_->epoch;
    if (continues)
      log_.drop_prefix(end);
    else
      log_.reset_to(end);
  }
  high_watermark_ = std::max(high_watermark_, end);  // a snapshot holds committed entries only
}

Epoch RaftReplica::last_epoch() const {
  if (log_.end_offset() > log_.start_offset()) return log_.last_epoch();
  return last_epoch_below_start();
}

Epoch RaftReplica::last_epoch_below_start() const {
  if (latest_snapshot_ && latest_snapshot_->end_offset == log_.start_offset())
    return latest_snapshot_->epoch;
  return 0;
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
  snapshot_fetch_.reset();
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
  snapshot_fetch_.reset();
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
  snapshot_fetch_.reset();
  votes_ = {options_.node_id};
  election_deadline_ms_ = now_ms + random_election_timeout();
  if (votes_.size() >= majority()) return become_candidate(now_ms, out);
  send_vote_requests(true, now_ms, out);
}

void RaftReplica::become_candidate(int64_t now_ms, Out& out) {
  persist({state_.epoch + 1, std::nullopt, options_.node_id});
  role_ = Role::candidate;
  snapshot_fetch_.reset();
  votes_ = {options_.node_id};
  election_deadline_ms_ = now_ms + random_election_timeout();
  if (votes_.size() >= majority()) return become_leader(now_ms, out);
  send_vote_requests(false, now_ms, out);
}

void RaftReplica::become_leader(int64_t now_ms, Out& out) {
  persist({state_.epoch, options_.node_id, state_.voted_for});
  role_ = Role::leader;
  snapshot_fetch_.reset();
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
          if (now_ms - std::max(progress.last_contact_ms, leader_since_ms_) <=
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
        if (now_ms - std::max(progress.last_contact_ms, leader_since_ms_) >
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
  if (last_epoch != this->last_epoch()) return last_epoch > this->last_epoch();
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
  const Offset start = log_.start_offset();
  Offset low = start, high = log_.end_offset();
  while (low < high) {
    Offset middle = low + (high - low) / 2;
    if (log_.epoch_at(middle) <= epoch)
      low = middle + 1;
    else
      high = middle;
  }
  if (low == 0) return {0, 0};
  // Nothing of `epoch` or older in the log: the snapshot below it ends with
  // an older one (callers check that `epoch` is not older than that).
  if (low == start) return {last_epoch_below_start(), start};
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
  response.high_watermark = high_watermark_;
  validate_fetch(request, response);
  if (response.diverging || response.snapshot_id) return send(from, std::move(response), out);
  note_fetch(from, request.fetch_offset, now_ms);
  response.entries = log_.read(request.fetch_offset, options_.max_fetch_entries);
  response.high_watermark = high_watermark_;
  send(from, std::move(response), out);
}

void RaftReplica::validate_fetch(const FetchRequest& request, FetchResponse& response) const {
  const Offset start = log_.start_offset();
  if (start == 0 && request.fetch_offset == 0) return;
  // Kafka's validateOffsetAndEpoch: a position below the log start, or one
  // whose epoch cannot be checked against the log (it is older than the
  // snapshot's), is served the snapshot.
  if (start > 0 && latest_snapshot_) {
    const SnapshotId& base = *latest_snapshot_;
    if (request.fetch_offset < start ||
        (request.fetch_offset == start && request.last_fetched_epoch != base.epoch) ||
        request.last_fetched_epoch < base.epoch) {
      response.snapshot_id = base;
      return;
    }
  }
  FetchResponse::Diverging shared = end_offset_for_epoch(request.last_fetched_epoch);
  if (shared.epoch != request.last_fetched_epoch || shared.end_offset < request.fetch_offset)
    response.diverging = shared;
}

void RaftReplica::note_fetch(NodeId from, Offset fetch_offset, int64_t now_ms) {
  if (auto progress = progress_.find(from); progress != progress_.end()) {
    progress->second.on_fetch(fetch_offset, log_.end_offset(), now_ms);
    maybe_advance_high_watermark();
  } else if (from >= 0) {  // a negative id is no replica (Kafka: a consumer)
    observers_[from].on_fetch(fetch_offset, log_.end_offset(), now_ms);
  }
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
  // Downloading a snapshot: fetches wait until it is installed.
  if (snapshot_fetch_) return;
  // An answer to an older fetch: this log has moved since (duplicates and
  // reordering make such answers common).
  Epoch sent_epoch = options_.faults.follower_keeps_divergent_tail ? state_.epoch : last_epoch();
  if (response.base_offset != log_.end_offset() || response.base_epoch != sent_epoch) return;
  if (response.snapshot_id) {
    snapshot_fetch_ = SnapshotFetch{*response.snapshot_id, 0};
    snapshots_.begin_write(*response.snapshot_id);
    return send_fetch(now_ms, out);
  }
  if (response.diverging) {
    if (options_.faults.follower_keeps_divergent_tail) return;
    // Both logs agree up to the smaller of the two ends of the shared epoch.
    // Should that point fall inside one of this log's batches, the whole
    // batch goes: the fetch below starts from wherever the log now ends.
    // Never below the log start: what a snapshot holds is committed.
    Offset own_end = end_offset_for_epoch(response.diverging->epoch).end_offset;
    log_.truncate_to(
        std::max(log_.start_offset(), std::min(response.diverging->end_offset, own_end)));
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

void RaftReplica::on(const FetchSnapshotRequest& request, NodeId from, int64_t now_ms, Out& out) {
  FetchSnapshotResponse response;
  if (request.epoch > state_.epoch) observe_epoch(request.epoch, std::nullopt, now_ms);
  response.epoch = state_.epoch;
  response.leader = state_.leader;
  response.snapshot_id = request.snapshot_id;
  response.position = request.position;
  using Error = FetchSnapshotResponse::Error;
  if (role_ != Role::leader) {
    response.error = Error::not_leader;
  } else if (request.epoch < state_.epoch) {
    response.error = Error::fenced_epoch;
  } else {
    // A voter downloading a snapshot still counts as fetching (check quorum).
    if (auto progress = progress_.find(from); progress != progress_.end())
      progress->second.last_contact_ms = now_ms;
    response.size = snapshots_.size(request.snapshot_id);
    if (response.size < 0) {
      response.error = Error::snapshot_not_found;  // replaced by a newer one meanwhile
      response.size = 0;
    } else if (request.position < 0 || request.position > response.size) {
      response.error = Error::position_out_of_range;
    } else {
      size_t max_bytes = static_cast<size_t>(std::max<int32_t>(request.max_bytes, 1));
      response.bytes = snapshots_.read(request.snapshot_id, request.position, max_bytes);
    }
  }
  send(from, std::move(response), out);
}

void RaftReplica::on(const FetchSnapshotResponse& response, NodeId from, int64_t now_ms, Out& out) {
  if (response.epoch > state_.epoch) observe_epoch(response.epoch, response.leader, now_ms);
  if (role_ != Role::follower || state_.leader != from || response.epoch != state_.epoch ||
      !snapshot_fetch_ || response.snapshot_id != snapshot_fetch_->id)
    return;
  if (response.error != FetchSnapshotResponse::Error::none) {
    // The leader no longer has it: fetch again (next tick) to learn what now.
    snapshot_fetch_.reset();
    return;
  }
  // An answer to an earlier request (a duplicate or a retry): ignored.
  if (response.position != snapshot_fetch_->position) return;
  fetch_deadline_ms_ = now_ms + options_.fetch_timeout_ms;
  snapshots_.append(response.bytes);
  snapshot_fetch_->position += static_cast<int64_t>(response.bytes.size());
  if (snapshot_fetch_->position >= response.size) return install_snapshot(now_ms, out);
  if (!response.bytes.empty()) send_fetch(now_ms, out);
}

void RaftReplica::install_snapshot(int64_t now_ms, Out& out) {
  const SnapshotId id = snapshot_fetch_->id;
  snapshot_fetch_.reset();
  // Committed first: a crash before the log is replaced finds the snapshot
  // and a log that does not continue it, and replaces the log then.
  snapshots_.commit();
  latest_snapshot_ = id;
  log_.reset_to(id.end_offset);
  snapshots_.delete_before(id);
  high_watermark_ = std::max(high_watermark_, id.end_offset);
  send_fetch(now_ms, out);
}

RaftError RaftReplica::create_snapshot(Offset end_offset, std::string_view bytes) {
  if (&snapshots_ == &no_snapshots()) return RaftError::invalid_request;
  if (end_offset <= log_.start_offset() || end_offset > high_watermark_ ||
      end_offset > log_.end_offset())
    return RaftError::invalid_request;
  // A download of the leader's snapshot shares the store's one unfinished
  // write: given up (the next fetch asks again).
  snapshot_fetch_.reset();
  const SnapshotId id{end_offset, log_.epoch_at(end_offset - 1)};
  snapshots_.begin_write(id);
  snapshots_.append(bytes);
  snapshots_.commit();
  latest_snapshot_ = id;
  log_.drop_prefix(end_offset);
  snapshots_.delete_before(id);
  return RaftError::none;
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
  last_contact_ms = last_fetch_ms;
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
  next_fetch_ms_ = now_ms + options_.fetch_interval_ms;
  if (snapshot_fetch_) {
    send(*target,
         FetchSnapshotRequest{state_.epoch, options_.node_id, snapshot_fetch_->id,
                              snapshot_fetch_->position, options_.max_snapshot_chunk_bytes},
         out);
    return;
  }
  FetchRequest request{state_.epoch, options_.node_id, log_.end_offset(), last_epoch()};
  if (options_.faults.follower_keeps_divergent_tail) request.last_fetched_epoch = state_.epoch;
  send(*target, request, out);
}

void RaftReplica::send_vote_requests(bool pre_vote, int64_t now_ms, Out& out) {
  Epoch epoch = pre_vote ? state_.epoch + 1 : state_.epoch;
  next_vote_retry_ms_ = now_ms + options_.retry_backoff_ms;
  for (NodeId voter : options_.voters)
    if (voter != options_.node_id && votes_.count(voter) == 0)
      send(voter, VoteRequest{epoch, options_.node_id, last_epoch(), log_.end_offset(), pre_vote},
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
