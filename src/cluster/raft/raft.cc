#include "cluster/raft/raft.h"

#include <algorithm>
#include <charconv>
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
    case RaftError::request_timed_out:
      return ErrorCode::REQUEST_TIMED_OUT;
    case RaftError::duplicate_voter:
      return ErrorCode::DUPLICATE_VOTER;
    case RaftError::voter_not_found:
      return ErrorCode::VOTER_NOT_FOUND;
  }
  return ErrorCode::UNKNOWN_SERVER_ERROR;
}

std::string encode_snapshot(const std::set<NodeId>& voters, std::string_view application) {
  std::string bytes = "voters";
  for (NodeId voter : voters) bytes += " " + std::to_string(voter);
  bytes += "\n";
  bytes.append(application);
  return bytes;
}

std::optional<SnapshotContent> decode_snapshot(std::string_view bytes) {
  constexpr std::string_view tag = "voters";
  const size_t newline = bytes.find('\n');
  if (newline == std::string_view::npos || bytes.substr(0, tag.size()) != tag) return std::nullopt;
  SnapshotContent content;
  const char* at = bytes.data() + tag.size();
  const char* end = bytes.data() + newline;
  while (at < end) {
    if (*at == ' ') {
      ++at;
      continue;
    }
    NodeId voter = 0;
    auto [next, error] = std::from_chars(at, end, voter);
    if (error != std::errc{}) return std::nullopt;
    content.voters.insert(voter);
    at = next;
  }
  content.application = std::string(bytes.substr(newline + 1));
  return content;
}

std::string SnapshotStore::encode(const SnapshotId&, const std::set<NodeId>& voters,
                                  std::string_view application) const {
  return encode_snapshot(voters, application);
}

std::optional<std::set<NodeId>> SnapshotStore::voters(const SnapshotId& id) const {
  std::string head;
  while (head.find('\n') == std::string::npos) {
    std::string chunk = read(id, static_cast<int64_t>(head.size()), 4096);
    if (chunk.empty()) return std::nullopt;
    head += chunk;
  }
  std::optional<SnapshotContent> content = decode_snapshot(head);
  if (!content) return std::nullopt;
  return content->voters;
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
  const Offset base = latest_snapshot_ ? latest_snapshot_->end_offset : 0;
  if (log_.start_offset() > base) {
    // The log starts past every snapshot the store can read (the one it
    // was trimmed behind was lost or found corrupt): the entries between
    // are gone, so the log cannot be replayed. It restarts empty at the
    // usable base and the leader sends what is missing (its snapshot).
    log_.reset_to(base);
  }
  if (!latest_snapshot_) return load_voter_history(std::nullopt);
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
  load_voter_history(read_snapshot_voters(*latest_snapshot_));
}

std::optional<std::set<NodeId>> RaftReplica::read_snapshot_voters(const SnapshotId& id) const {
  return snapshots_.voters(id);
}

void RaftReplica::load_voter_history(std::optional<std::set<NodeId>> snapshot_voters) {
  voter_history_ = {{-1, options_.voters}};
  if (snapshot_voters) voter_history_[log_.start_offset() - 1] = std::move(*snapshot_voters);
  for (Offset at = log_.start_offset(); at < log_.end_offset();) {
    std::vector<Entry> entries = log_.read(at, 1024);
    if (entries.empty()) break;
    for (const Entry& entry : entries) {
      if (entry.kind == EntryKind::voters) voter_history_[at] = entry.voters;
      at += entry.record_count;
    }
  }
}

size_t RaftReplica::granted() const {
  size_t count = 0;
  for (NodeId voter : votes_) count += voters().count(voter);
  return count;
}

bool RaftReplica::may_stand() const {
  if (is_voter()) return true;
  // Raft thesis 4.2.2: a node removed by a voters entry not known to be
  // committed may still be needed to commit it (the new voters may lack
  // it), so a voter of the set before still stands for election.
  if (voter_history_.size() < 2) return false;
  auto latest = voter_history_.rbegin();
  return latest->first >= high_watermark_ && std::next(latest)->second.count(options_.node_id) != 0;
}

std::set<NodeId> RaftReplica::voters_below(Offset end) const {
  return std::prev(voter_history_.lower_bound(end))->second;
}

void RaftReplica::append_to_log(const std::vector<Entry>& entries) {
  Offset at = log_.end_offset();
  log_.append(entries);
  for (const Entry& entry : entries) {
    if (entry.kind == EntryKind::voters) voter_history_[at] = entry.voters;
    at += entry.record_count;
  }
}

void RaftReplica::truncate_log(Offset end) {
  log_.truncate_to(end);
  // A voters entry truncated away: the one before it is in effect again.
  voter_history_.erase(voter_history_.lower_bound(log_.end_offset()), voter_history_.end());
}

void RaftReplica::drop_log_prefix(Offset start) {
  std::set<NodeId> base = voters_below(start);
  log_.drop_prefix(start);
  voter_history_.erase(voter_history_.begin(), voter_history_.lower_bound(start));
  voter_history_[start - 1] = std::move(base);
}

void RaftReplica::reset_log(Offset start, std::set<NodeId> voters) {
  log_.reset_to(start);
  voter_history_ = {{start - 1, std::move(voters)}};
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
  // No leader here: the one a prospective lost (of an older epoch, or one
  // that resigned) does not stop it from following whoever leads now.
  lost_leader_.reset();
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
  if (granted() >= majority()) return become_candidate(now_ms, out);
  send_vote_requests(true, now_ms, out);
}

void RaftReplica::become_candidate(int64_t now_ms, Out& out) {
  persist({state_.epoch + 1, std::nullopt, options_.node_id});
  role_ = Role::candidate;
  snapshot_fetch_.reset();
  votes_ = {options_.node_id};
  election_deadline_ms_ = now_ms + random_election_timeout();
  if (granted() >= majority()) return become_leader(now_ms, out);
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
  append_to_log({Entry{state_.epoch, {}, 1, EntryKind::leader_change, {}}});
  log_.flush();
  leader_since_ms_ = now_ms;
  for (NodeId voter : voters())
    if (voter != options_.node_id) progress_[voter] = {};
  check_quorum_deadline_ms_ = now_ms + options_.fetch_timeout_ms * 3 / 2;
  for (NodeId voter : voters())
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
             !(role_ == Role::prospective && leader == lost_leader_ && is_voter())) {
    become_follower(epoch, *leader, now_ms);
  }
}

std::vector<Envelope> RaftReplica::tick(int64_t now_ms) {
  Out out;
  switch (role_) {
    case Role::leader:
      if (options_.faults.leader_counts_unflushed_entries) log_.flush();  // late
      if (now_ms >= check_quorum_deadline_ms_) {
        size_t fetching = is_voter() ? 1 : 0;
        for (const auto& [voter, progress] : progress_)
          if (now_ms - std::max(progress.last_contact_ms, leader_since_ms_) <=
              options_.fetch_timeout_ms * 3 / 2)
            ++fetching;
        // Cut off from a majority: stop taking writes no one will commit.
        if (fetching < majority()) {
          resign(now_ms, out);
          break;
        }
        check_quorum_deadline_ms_ = now_ms + options_.fetch_timeout_ms * 3 / 2;
      }
      // Removed from the voters, and that is committed: another leads.
      if (!is_voter() && high_watermark_ > voter_history_.rbegin()->first) {
        resign(now_ms, out);
        break;
      }
      // A voter that missed BeginQuorumEpoch hears it again, every half
      // fetch timeout as Kafka's beginQuorumEpochTimer (not every tick: a
      // voter that is down would get one per tick).
      for (auto& [voter, progress] : progress_) {
        const int64_t resend_after = options_.fetch_timeout_ms / 2;
        if (now_ms - std::max(progress.last_contact_ms, leader_since_ms_) > resend_after &&
            now_ms - progress.begin_epoch_sent_ms > resend_after) {
          progress.begin_epoch_sent_ms = now_ms;
          send(voter, BeginQuorumEpochRequest{state_.epoch, options_.node_id}, out);
        }
      }
      std::erase_if(observers_, [&](const auto& observer) {
        return now_ms - observer.second.last_fetch_ms >= observer_session_timeout_ms;
      });
      break;
    case Role::follower:
      if (now_ms >= fetch_deadline_ms_) {
        if (may_stand()) {
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
      if (!may_stand()) {
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
      // The leader it lost may be alive but out of reach of its pre-votes
      // (a voter set that no longer names it): ask it directly.
      if (role_ == Role::prospective && lost_leader_ && now_ms >= next_fetch_ms_)
        send_fetch(now_ms, out);
      break;
  }
  return out;
}

void RaftReplica::resign(int64_t now_ms, Out& out) {
  for (NodeId voter : voters())
    if (voter != options_.node_id)
      send(voter, EndQuorumEpochRequest{state_.epoch, options_.node_id}, out);
  become_unattached(state_.epoch, options_.node_id, now_ms);
}

std::vector<Envelope> RaftReplica::step_down(int64_t now_ms) {
  Out out;
  if (role_ == Role::leader) resign(now_ms, out);
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
    if (entry.record_count < 1 || entry.kind != EntryKind::data) return std::nullopt;
  Offset first = log_.end_offset();
  for (Entry& entry : entries) entry.epoch = state_.epoch;
  append_to_log(entries);
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
  // As in Kafka, a replica votes whether or not it is a voter in its own
  // log: the candidate's log (newer) may make it one, and an added voter
  // that has not fetched its voters entry yet must not stall elections.
  if (request.epoch < state_.epoch) return answer(false);
  if (request.pre_vote) {
    // KIP-996: no state changes; refused while this node follows a leader
    // it still hears from, so a partitioned node cannot disrupt the quorum.
    // Unless the candidate is that very leader: it no longer leads (a
    // follower may have learned of it from others and never heard from it).
    bool leader_alive =
        role_ == Role::leader || (role_ == Role::follower && now_ms < fetch_deadline_ms_ &&
                                  state_.leader != request.candidate);
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
    // Refused because the voter follows a leader of this epoch: follow it
    // too. Even the leader this node lost, when the answer comes from that
    // leader itself: it is alive and reachable (and may not count this
    // node as a voter, so no BeginQuorumEpoch would ever come).
    if (response.leader && response.epoch == state_.epoch) {
      if (from == *response.leader) lost_leader_.reset();
      observe_epoch(response.epoch, response.leader, now_ms);
    }
    return;
  }
  if (voters().count(from) == 0) return;  // only the voters in effect here count
  if (response.pre_vote && role_ == Role::prospective) {
    votes_.insert(from);
    if (granted() >= majority()) become_candidate(now_ms, out);
  } else if (!response.pre_vote && role_ == Role::candidate && response.epoch == state_.epoch) {
    votes_.insert(from);
    if (granted() >= majority()) become_leader(now_ms, out);
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
    fetch_again_soon(now_ms);
    if (response.leader && response.epoch == state_.epoch)
      observe_epoch(response.epoch, response.leader, now_ms);
    return;
  }
  // A bootstrap server (a negative id) that leads answers under that id:
  // follow the leader it names.
  if (!is_voter() && role_ != Role::follower && response.leader && response.epoch >= state_.epoch &&
      (*response.leader == from || from < 0) && *response.leader != options_.node_id)
    become_follower(response.epoch, *response.leader, now_ms);
  // The lost leader answers as the leader of this epoch: follow it again.
  if (role_ == Role::prospective && lost_leader_ == from && response.leader == from &&
      response.epoch == state_.epoch)
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
    truncate_log(std::max(log_.start_offset(), std::min(response.diverging->end_offset, own_end)));
    log_.flush();
    return send_fetch(now_ms, out);
  }
  if (!response.entries.empty()) {
    append_to_log(response.entries);
    log_.flush();
  }
  Offset known = std::min(response.high_watermark, log_.end_offset());
  high_watermark_ = std::max(high_watermark_, known);
  // Long poll: the leader held this fetch until it had news or its max
  // wait passed, so the next one leaves at once.
  if (!response.entries.empty() || long_poll())
    send_fetch(now_ms, out);
  else
    next_fetch_ms_ = now_ms + options_.fetch_interval_ms;
}

void RaftReplica::fetch_again_soon(int64_t now_ms) {
  next_fetch_ms_ = std::min(next_fetch_ms_, now_ms + options_.fetch_interval_ms);
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
  reset_log(id.end_offset, read_snapshot_voters(id).value_or(voters()));
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
  snapshots_.append(snapshots_.encode(id, voters_below(end_offset), bytes));
  snapshots_.commit();
  latest_snapshot_ = id;
  drop_log_prefix(end_offset);
  snapshots_.delete_before(id);
  return RaftError::none;
}

VoterChange RaftReplica::check_voter_change() const {
  if (role_ != Role::leader) return {RaftError::not_leader};
  // Kafka's Add/RemoveVoterHandler: the leader's epoch entry committed (it
  // fenced the voter changes of older leaders), the last change committed.
  if (high_watermark_ <= epoch_start_offset_) return {RaftError::request_timed_out};
  if (voter_history_.rbegin()->first >= high_watermark_ &&
      !options_.faults.voter_changes_without_waiting)
    return {RaftError::request_timed_out};
  return {};
}

VoterChange RaftReplica::add_voter(NodeId id, int64_t now_ms, std::string payload) {
  if (id < 0) return {RaftError::invalid_request};
  if (VoterChange pending = check_voter_change(); pending.error != RaftError::none) return pending;
  if (voters().count(id) != 0) return {RaftError::duplicate_voter};
  // Caught up: it fetched, and reached the leader's end, within the fetch
  // timeout; else counting it could stall the high watermark.
  auto observer = observers_.find(id);
  if (observer == observers_.end() ||
      now_ms - observer->second.last_fetch_ms > options_.fetch_timeout_ms ||
      now_ms - observer->second.last_caught_up_ms > options_.fetch_timeout_ms)
    return {RaftError::request_timed_out};
  std::set<NodeId> changed = voters();
  changed.insert(id);
  return append_voters(std::move(changed), std::move(payload));
}

VoterChange RaftReplica::remove_voter(NodeId id, std::string payload) {
  if (id < 0) return {RaftError::invalid_request};
  if (VoterChange pending = check_voter_change(); pending.error != RaftError::none) return pending;
  if (voters().count(id) == 0 || voters().size() == 1) return {RaftError::voter_not_found};
  std::set<NodeId> changed = voters();
  changed.erase(id);
  return append_voters(std::move(changed), std::move(payload));
}

VoterChange RaftReplica::update_voter(NodeId id, std::string payload) {
  if (id < 0 || payload.empty()) return {RaftError::invalid_request};
  if (VoterChange pending = check_voter_change(); pending.error != RaftError::none) return pending;
  if (voters().count(id) == 0) return {RaftError::voter_not_found};
  return append_voters(voters(), std::move(payload));
}

VoterChange RaftReplica::append_voters(std::set<NodeId> changed, std::string payload) {
  const Offset offset = log_.end_offset();
  append_to_log(
      {Entry{state_.epoch, std::move(payload), 1, EntryKind::voters, std::move(changed)}});
  if (!options_.faults.leader_counts_unflushed_entries) log_.flush();
  sync_progress();
  maybe_advance_high_watermark();
  return {RaftError::none, offset};
}

void RaftReplica::sync_progress() {
  // A new voter keeps what it fetched as an observer; a removed one (but
  // the leader itself) is tracked as an observer from now on.
  for (NodeId voter : voters()) {
    if (voter == options_.node_id || progress_.count(voter) != 0) continue;
    auto observer = observers_.find(voter);
    progress_[voter] = observer == observers_.end() ? ReplicaProgress{} : observer->second;
    if (observer != observers_.end()) observers_.erase(observer);
  }
  for (auto progress = progress_.begin(); progress != progress_.end();) {
    if (voters().count(progress->first) != 0) {
      ++progress;
      continue;
    }
    observers_[progress->first] = progress->second;
    progress = progress_.erase(progress);
  }
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
  if (is_voter()) info.voters.push_back({options_.node_id, log_.end_offset(), now_ms, now_ms});
  for (const auto& [voter, progress] : progress_) info.voters.push_back(describe(voter, progress));
  for (const auto& [observer, progress] : observers_)
    if (now_ms - progress.last_fetch_ms < observer_session_timeout_ms)
      info.observers.push_back(describe(observer, progress));
  return info;
}

void RaftReplica::send_fetch(int64_t now_ms, Out& out) {
  std::optional<NodeId> target = role_ == Role::prospective ? lost_leader_ : state_.leader;
  if ((!target || *target == options_.node_id) && !is_voter() &&
      !options_.bootstrap_servers.empty()) {
    // An observer without a leader asks a bootstrap server (Kafka's
    // controller.quorum.bootstrap.servers), which names the leader.
    std::uniform_int_distribution<size_t> pick(0, options_.bootstrap_servers.size() - 1);
    target = options_.bootstrap_servers[pick(random_)];
  }
  if (!target || *target == options_.node_id) {
    if (voters().empty()) return;
    // Without a leader (an observer): ask any voter, which names the leader.
    std::uniform_int_distribution<size_t> pick(0, voters().size() - 1);
    target = *std::next(voters().begin(), static_cast<long>(pick(random_)));
    if (*target == options_.node_id) return;
  }
  next_fetch_ms_ = now_ms + options_.fetch_interval_ms;
  if (snapshot_fetch_) {  // answered at once: never long-polled
    send(*target,
         FetchSnapshotRequest{state_.epoch, options_.node_id, snapshot_fetch_->id,
                              snapshot_fetch_->position, options_.max_snapshot_chunk_bytes},
         out);
    return;
  }
  // One long-polled fetch in flight: the next waits for its answer.
  if (long_poll()) next_fetch_ms_ += 2 * options_.fetch_max_wait_ms;
  FetchRequest request{state_.epoch, options_.node_id, log_.end_offset(), last_epoch()};
  if (options_.faults.follower_keeps_divergent_tail) request.last_fetched_epoch = state_.epoch;
  send(*target, request, out);
}

void RaftReplica::send_vote_requests(bool pre_vote, int64_t now_ms, Out& out) {
  Epoch epoch = pre_vote ? state_.epoch + 1 : state_.epoch;
  next_vote_retry_ms_ = now_ms + options_.retry_backoff_ms;
  for (NodeId voter : voters())
    if (voter != options_.node_id && votes_.count(voter) == 0)
      send(voter, VoteRequest{epoch, options_.node_id, last_epoch(), log_.end_offset(), pre_vote},
           out);
}

void RaftReplica::maybe_advance_high_watermark() {
  if (role_ != Role::leader) return;
  // The voters in effect count, the leader too while it is one.
  std::vector<Offset> ends;
  if (is_voter()) ends.push_back(log_.end_offset());
  for (const auto& [voter, progress] : progress_) ends.push_back(progress.end_offset);
  if (ends.size() < majority()) return;
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
