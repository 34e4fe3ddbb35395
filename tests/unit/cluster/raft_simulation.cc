#include "raft_simulation.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace sluice::raft::sim {

namespace {

uint64_t mix(uint64_t hash, const Entry& entry) {
  // FNV-1a over the epoch, record count and payload, chained: equal hashes
  // mean equal prefixes for any log this simulation makes.
  auto add = [&](unsigned char byte) { hash = (hash ^ byte) * 1099511628211ULL; };
  for (int shift = 0; shift < 32; shift += 8) add(static_cast<unsigned char>(entry.epoch >> shift));
  for (int shift = 0; shift < 32; shift += 8)
    add(static_cast<unsigned char>(entry.record_count >> shift));
  for (char c : entry.payload) add(static_cast<unsigned char>(c));
  add(0xff);
  add(static_cast<unsigned char>(entry.kind));
  for (NodeId voter : entry.voters)
    for (int shift = 0; shift < 32; shift += 8) add(static_cast<unsigned char>(voter >> shift));
  return hash;
}

}  // namespace

std::optional<SnapshotId> MemorySnapshotStore::latest() const {
  if (committed_.empty()) return std::nullopt;
  return committed_.rbegin()->first;
}

int64_t MemorySnapshotStore::size(const SnapshotId& id) const {
  auto found = committed_.find(id);
  return found == committed_.end() ? -1 : static_cast<int64_t>(found->second.size());
}

std::string MemorySnapshotStore::read(const SnapshotId& id, int64_t position,
                                      size_t max_bytes) const {
  auto found = committed_.find(id);
  if (found == committed_.end() || position >= static_cast<int64_t>(found->second.size()))
    return {};
  return found->second.substr(static_cast<size_t>(position), max_bytes);
}

void MemorySnapshotStore::append(std::string_view chunk) {
  if (pending_) pending_->second.append(chunk);
}

void MemorySnapshotStore::commit() {
  if (!pending_) return;
  committed_[pending_->first] = std::move(pending_->second);
  pending_.reset();
}

void MemorySnapshotStore::delete_before(const SnapshotId& id) {
  committed_.erase(committed_.begin(), committed_.lower_bound(id));
}

std::optional<uint64_t> MemorySnapshotStore::digest(const SnapshotId& id) const {
  auto found = committed_.find(id);
  if (found == committed_.end()) return std::nullopt;
  std::optional<SnapshotContent> content = decode_snapshot(found->second);
  if (!content || content->application.size() < 16) return std::nullopt;
  return std::strtoull(content->application.substr(0, 16).c_str(), nullptr, 16);
}

std::optional<std::set<NodeId>> MemorySnapshotStore::voters(const SnapshotId& id) const {
  auto found = committed_.find(id);
  if (found == committed_.end()) return std::nullopt;
  std::optional<SnapshotContent> content = decode_snapshot(found->second);
  if (!content) return std::nullopt;
  return content->voters;
}

std::string MemorySnapshotStore::encode(uint64_t digest, size_t padding_bytes) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(digest));
  return std::string(hex) + std::string(padding_bytes, '.');
}

std::optional<uint64_t> MemoryLog::Contents::hash_at(Offset end) const {
  if (end == end_offset()) return hashes.back();
  if (end < start || end > end_offset()) return std::nullopt;
  size_t index = entry_at[static_cast<size_t>(end - start)];
  Offset entry_start = index == 0 ? start : ends[index - 1];
  if (entry_start != end) return std::nullopt;
  return hashes[index];
}

void MemoryLog::Contents::push(const Entry& entry) {
  entry_at.insert(entry_at.end(), static_cast<size_t>(entry.record_count),
                  static_cast<uint32_t>(entries.size()));
  hashes.push_back(mix(hashes.back(), entry));
  ends.push_back(end_offset() + entry.record_count);
  entries.push_back(entry);
}

void MemoryLog::Contents::keep(size_t count) {
  if (count >= entries.size()) return;
  entries.resize(count);
  ends.resize(count);
  hashes.resize(count + 1);
  entry_at.resize(static_cast<size_t>(end_offset() - start));
}

void MemoryLog::Contents::drop_front(size_t first_kept) {
  std::vector<Entry> kept(entries.begin() + static_cast<std::ptrdiff_t>(first_kept), entries.end());
  Offset new_start = first_kept == 0 ? start : ends[first_kept - 1];
  reset(new_start, hashes[first_kept]);
  for (const Entry& entry : kept) push(entry);
}

void MemoryLog::Contents::reset(Offset new_start, uint64_t base) {
  start = new_start;
  entries.clear();
  ends.clear();
  hashes = {base};
  entry_at.clear();
}

std::vector<Entry> MemoryLog::read(Offset from, size_t max_entries) const {
  std::vector<Entry> out;
  if (from >= end_offset()) return out;
  if (!live_.hash_at(from)) {
    if (!misaligned_read_) misaligned_read_ = from;
    return out;
  }
  for (size_t index = index_of(from); index < live_.entries.size() && out.size() < max_entries;
       ++index)
    out.push_back(live_.entries[index]);
  return out;
}

void MemoryLog::append(const std::vector<Entry>& entries) {
  ++version_;
  for (const Entry& entry : entries) live_.push(entry);
}

void MemoryLog::truncate_to(Offset end) {
  ++version_;
  // Keep the entries that end at or below `end`: one straddling it goes.
  size_t keep = static_cast<size_t>(std::upper_bound(live_.ends.begin(), live_.ends.end(), end) -
                                    live_.ends.begin());
  live_.keep(keep);
  common_ = std::min(common_, keep);
}

void MemoryLog::flush() {
  durable_.keep(common_);
  for (size_t index = common_; index < live_.entries.size(); ++index)
    durable_.push(live_.entries[index]);
  common_ = live_.entries.size();
}

void MemoryLog::drop_prefix(Offset start) {
  ++version_;
  if (start <= live_.start) return;
  if (!live_.hash_at(start)) {
    // Not a boundary of this log: a caller bug the invariants report.
    if (!misaligned_read_) misaligned_read_ = start;
    return;
  }
  const size_t dropped = start == live_.end_offset() ? live_.entries.size() : index_of(start);
  const uint64_t base = *live_.hash_at(start);
  live_.drop_front(dropped);
  // The disk drops the same prefix when it holds it; when it does not (it
  // lags), it becomes the empty log at `start`.
  if (common_ >= dropped && durable_.hash_at(start)) {
    durable_.drop_front(dropped);
    common_ -= dropped;
  } else {
    durable_.reset(start, base);
    common_ = 0;
  }
}

void MemoryLog::reset_to(Offset start) {
  ++version_;
  // The digest of what lies below: the snapshot that ends at `start`.
  uint64_t base = 0;
  if (snapshots_ != nullptr)
    if (auto latest = snapshots_->latest(); latest && latest->end_offset == start)
      base = snapshots_->digest(*latest).value_or(0);
  live_.reset(start, base);
  durable_.reset(start, base);
  common_ = 0;
}

void MemoryLog::crash() {
  ++version_;
  live_ = durable_;
  common_ = live_.entries.size();
}

namespace {

// " 1x10 2x6": ten offsets of epoch 1, then six of epoch 2.
std::string epoch_runs(const MemoryLog& log) {
  std::ostringstream out;
  if (log.start_offset() > 0) out << " from " << log.start_offset() << ":";
  Offset run_start = log.start_offset(), at = log.start_offset();
  Epoch run_epoch = 0;
  for (const Entry& entry : log.entries()) {
    if (entry.epoch != run_epoch && at > run_start) {
      out << " " << run_epoch << "x" << at - run_start;
      run_start = at;
    }
    run_epoch = entry.epoch;
    at += entry.record_count;
  }
  if (at > run_start) out << " " << run_epoch << "x" << at - run_start;
  return out.str();
}

}  // namespace

std::string Checker::describe() const {
  std::ostringstream out;
  for (const auto& [id, node] : nodes_) {
    const bool voter = node->replica ? node->replica->is_voter() : node->voter;
    out << "  node " << id << (voter ? "" : " (observer)") << ": ";
    if (!node->replica) {
      out << "crashed, durable end " << node->log.durable_end_offset() << "\n";
      continue;
    }
    const RaftReplica& r = *node->replica;
    out << role_name(r.role()) << " epoch " << r.epoch() << " leader "
        << (r.leader() ? std::to_string(*r.leader()) : "-") << " end " << node->log.end_offset()
        << " last epoch " << node->log.last_epoch() << " hw " << r.high_watermark() << " epochs"
        << epoch_runs(node->log);
    out << " voters";
    for (NodeId voter : r.voters()) out << " " << voter;
    if (auto snapshot = node->snapshots.latest())
      out << " snapshot " << snapshot->end_offset << "/" << snapshot->epoch;
    out << "\n";
  }
  out << "  committed " << committed_end() << ", voters";
  for (NodeId voter : committed_voters_) out << " " << voter;
  return out.str();
}

std::optional<std::string> Checker::check() {
  for (auto& [id, node] : nodes_) {
    if (auto violation = check_node(*node)) return violation;
    if (auto violation = check_snapshot(*node)) return violation;
  }
  if (auto violation = check_committed_on_majority()) return violation;
  return check_log_matching();
}

std::optional<std::string> Checker::check_node(Node& node) {
  if (!node.replica) return std::nullopt;
  const RaftReplica& replica = *node.replica;
  auto name = [&] { return "node " + std::to_string(node.id); };
  if (replica.role() == Role::leader) {
    auto [known, inserted] = leaders_.emplace(replica.epoch(), node.id);
    if (inserted) ++elections_;
    if (known->second != node.id)
      return "two leaders in epoch " + std::to_string(replica.epoch()) + ": " +
             std::to_string(known->second) + " and " + std::to_string(node.id);
  }
  // A node's high watermark never goes back (within one life of it).
  Offset hw = replica.high_watermark();
  if (hw < node.last_high_watermark)
    return name() + " high watermark went back from " + std::to_string(node.last_high_watermark) +
           " to " + std::to_string(hw);
  node.last_high_watermark = hw;
  if (hw > node.log.end_offset()) return name() + " high watermark past its log end";
  if (hw > 0 && !node.log.prefix_hash(hw))
    return name() + " high watermark " + std::to_string(hw) + " inside an entry";
  if (auto offset = node.log.misaligned_read())
    return name() + " read its log from offset " + std::to_string(*offset) + ", inside an entry";
  if (auto violation = agrees_with_committed(node, hw)) return violation;
  // Leader completeness: a leader of the committing epoch or a later one
  // holds every committed entry (a deposed leader of an older epoch may
  // still think it leads, and lack them).
  if (replica.role() == Role::leader && !committed_.empty() &&
      replica.epoch() >= committed_.back().epoch &&
      node.log.prefix_hash(committed_end()) != committed_hash())
    return "leader " + std::to_string(node.id) + " lacks committed entries";
  return std::nullopt;
}

// What a node calls committed is what everyone called committed; what it
// commits first is recorded as committed.
std::optional<std::string> Checker::agrees_with_committed(const Node& node, Offset hw) {
  if (hw <= 0) return std::nullopt;
  Offset shared = std::min(hw, committed_end());
  // `shared` is a boundary of the committed entries (the smaller of two
  // ends) and must be one of this log too, with the same entries below.
  auto committed_below =
      shared == committed_end()
          ? std::prev(committed_ends_.end())
          : std::lower_bound(committed_ends_.begin(), committed_ends_.end(), shared);
  if (committed_below == committed_ends_.end() || *committed_below != shared ||
      node.log.prefix_hash(shared) !=
          committed_hashes_[static_cast<size_t>(committed_below - committed_ends_.begin())])
    return "node " + std::to_string(node.id) + " committed entries below " +
           std::to_string(shared) +
           " differ from the committed ones (a committed entry was lost or changed)";
  if (hw <= committed_end()) return std::nullopt;
  committed_voters_ = committing_voters(node);
  for (size_t index = node.log.index_of(committed_end()); committed_end() < hw; ++index) {
    committed_.push_back(node.log.entries().at(index));
    committed_ends_.push_back(node.log.entry_end(index));
    committed_hashes_.push_back(mix(committed_hashes_.back(), committed_.back()));
  }
  return std::nullopt;
}

std::optional<std::string> Checker::check_committed_on_majority() const {
  if (committed_.empty()) return std::nullopt;
  size_t holding = 0;
  for (const auto& [id, node] : nodes_)
    if (committed_voters_.count(id) != 0 &&
        node->log.durable_prefix_hash(committed_end()) == committed_hash())
      ++holding;
  if (holding < committed_voters_.size() / 2 + 1)
    return "committed entries durable on " + std::to_string(holding) + " of " +
           std::to_string(committed_voters_.size()) + " voters only";
  return std::nullopt;
}

// The voter set the leader that moved the high watermark counted with: the
// set in effect in its log (a node learns the high watermark from the leader
// of its epoch, which may have crashed right after; its disk tells).
std::set<NodeId> Checker::committing_voters(const Node& node) const {
  const Node* leader = &node;
  if (auto known = leaders_.find(node.replica->epoch()); known != leaders_.end())
    leader = nodes_.at(known->second).get();
  if (leader->replica) return leader->replica->voters();
  const std::vector<Entry>& entries = leader->log.entries();
  for (auto entry = entries.rbegin(); entry != entries.rend(); ++entry)
    if (entry->kind == EntryKind::voters) return entry->voters;
  if (auto snapshot = leader->snapshots.latest())
    if (auto voters = leader->snapshots.voters(*snapshot)) return *voters;
  return bootstrap_voters_;
}

// A snapshot holds committed entries only, ends at one's end with its
// epoch, and its content (a digest here) is that of the committed entries
// below it; a running node's log continues it.
std::optional<std::string> Checker::check_snapshot(const Node& node) {
  std::optional<SnapshotId> id = node.snapshots.latest();
  if (!id) return std::nullopt;
  auto name = [&] {
    return "node " + std::to_string(node.id) + "'s snapshot at " + std::to_string(id->end_offset) +
           " (epoch " + std::to_string(id->epoch) + ")";
  };
  if (node.replica && node.log.start_offset() != id->end_offset)
    return name() + ": its log starts at " + std::to_string(node.log.start_offset());
  if (node.replica && node.replica->latest_snapshot() != id)
    return name() + " is not the one its replica knows";
  // Its content never changes and what was committed only grows: checked
  // once per snapshot.
  if (checked_snapshots_[node.id] == *id) return std::nullopt;
  checked_snapshots_[node.id] = *id;
  auto below = std::lower_bound(committed_ends_.begin(), committed_ends_.end(), id->end_offset);
  if (below == committed_ends_.end() || *below != id->end_offset)
    return name() + " does not end at a committed entry";
  const size_t count = static_cast<size_t>(below - committed_ends_.begin());
  if (node.snapshots.digest(*id) != committed_hashes_[count])
    return name() + " differs from the committed entries below it";
  if (id->epoch != (count == 0 ? 0 : committed_[count - 1].epoch))
    return name() + " has another epoch than the committed entry it ends with";
  return std::nullopt;
}

// Two logs holding the same epoch at an offset hold the same batch there
// (one leader wrote it) and agree on everything below it.
std::optional<std::string> Checker::check_log_matching() {
  const size_t ids = static_cast<size_t>(nodes_.rbegin()->first) + 1;
  if (matched_versions_.size() < ids) matched_versions_.resize(ids, ~uint64_t{0});
  std::vector<bool> changed(ids);
  for (const auto& [id, node] : nodes_) {
    uint64_t& version = matched_versions_[static_cast<size_t>(id)];
    changed[static_cast<size_t>(id)] = version != node->log.version();
    version = node->log.version();
  }
  for (auto a = nodes_.begin(); a != nodes_.end(); ++a) {
    for (auto b = std::next(a); b != nodes_.end(); ++b) {
      if (!changed[static_cast<size_t>(a->first)] && !changed[static_cast<size_t>(b->first)])
        continue;  // checked as they are
      const MemoryLog& left = a->second->log;
      const MemoryLog& right = b->second->log;
      Offset end = std::min(left.end_offset(), right.end_offset());
      Offset start = std::max(left.start_offset(), right.start_offset());
      for (Offset at = end - 1; at >= start;
           at = std::min(left.entry_start(at), right.entry_start(at)) - 1) {
        if (left.epoch_at(at) != right.epoch_at(at)) continue;
        Offset entry_end = left.entry_end(left.index_of(at));
        if (left.prefix_hash(entry_end) != right.prefix_hash(entry_end))
          return "logs of " + std::to_string(a->first) + " and " + std::to_string(b->first) +
                 " share epoch " + std::to_string(left.epoch_at(at)) + " at offset " +
                 std::to_string(at) + " but differ up to it";
        break;
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> Checker::check_converged(Offset committed_before) const {
  std::vector<const Node*> leaders;
  for (const auto& [id, node] : nodes_)
    if (node->replica && node->replica->role() == Role::leader) leaders.push_back(node.get());
  if (leaders.size() != 1)
    return "no single leader at the end of the calm phase (" + std::to_string(leaders.size()) + ")";
  const Node& leader = *leaders.front();
  for (const auto& [id, node] : nodes_) {
    if (node->log.end_offset() != leader.log.end_offset() ||
        node->log.prefix_hash(node->log.end_offset()) !=
            leader.log.prefix_hash(leader.log.end_offset()) ||
        node->replica->high_watermark() != leader.log.end_offset())
      return "node " + std::to_string(id) + " did not converge with leader " +
             std::to_string(leader.id);
  }
  if (committed_end() <= committed_before) return "nothing was committed during the calm phase";
  return std::nullopt;
}

namespace {

std::set<NodeId> first_ids(int count) {
  std::set<NodeId> ids;
  for (NodeId id = 1; id <= count; ++id) ids.insert(id);
  return ids;
}

}  // namespace

ScriptedCluster::ScriptedCluster(int voters, RaftOptions options, int observers)
    : options_(std::move(options)), checker_(nodes_, first_ids(voters)) {
  options_.voters = first_ids(voters);
  for (NodeId id : first_ids(voters + observers)) {
    auto node = std::make_unique<Node>();
    node->id = id;
    node->voter = id <= voters;
    nodes_[id] = std::move(node);
  }
  for (NodeId id : first_ids(voters + observers)) restart(id);
}

void ScriptedCluster::tick(NodeId id) {
  Node& node = *nodes_.at(id);
  if (!node.replica) return;
  for (Envelope& envelope : node.replica->tick(now_)) pending_.push_back(std::move(envelope));
  check();
}

void ScriptedCluster::receive(const Envelope& envelope) {
  Node& node = *nodes_.at(envelope.to);
  if (!node.replica) return;
  for (Envelope& answer : node.replica->receive(envelope, now_))
    pending_.push_back(std::move(answer));
  check();
}

void ScriptedCluster::deliver(NodeId from, NodeId to) {
  std::vector<Envelope> now_pending;
  now_pending.swap(pending_);
  for (Envelope& envelope : now_pending) {
    if (envelope.from == from && envelope.to == to)
      receive(envelope);
    else
      pending_.push_back(std::move(envelope));
  }
}

void ScriptedCluster::deliver_within(const std::set<NodeId>& group) {
  while (!pending_.empty()) {
    std::vector<Envelope> now_pending;
    now_pending.swap(pending_);
    for (const Envelope& envelope : now_pending)
      if (group.count(envelope.from) != 0 && group.count(envelope.to) != 0) receive(envelope);
  }
}

bool ScriptedCluster::elect(NodeId id, const std::set<NodeId>& group) {
  for (int round = 0; round < 200 && replica(id).role() != Role::leader; ++round) {
    advance(100);
    tick(id);
    deliver_within(group);
  }
  return replica(id).role() == Role::leader;
}

void ScriptedCluster::catch_up(NodeId leader, NodeId follower) {
  advance(100);
  tick(follower);
  deliver_within({leader, follower});
}

void ScriptedCluster::crash(NodeId id) {
  Node& node = *nodes_.at(id);
  node.replica.reset();
  node.log.crash();
  node.snapshots.crash();
  check();
}

void ScriptedCluster::restart(NodeId id) {
  Node& node = *nodes_.at(id);
  RaftOptions options = options_;
  options.node_id = id;
  options.random_seed = static_cast<uint64_t>(id);
  node.replica = std::make_unique<RaftReplica>(options, node.log, node.store, node.snapshots, now_);
  node.last_high_watermark = -1;
  check();
}

void ScriptedCluster::check() {
  if (violation_) return;
  if (auto violation = checker_.check())
    violation_ = "t=" + std::to_string(now_) + "ms: " + *violation + "\n" + checker_.describe();
}

namespace {

constexpr int64_t tick_interval_ms = 10;

enum class EventType {
  deliver,
  tick,
  append,
  crash,
  restart,
  partition,
  heal,
  snapshot,
  reconfigure
};

struct Event {
  int64_t time = 0;
  uint64_t sequence = 0;
  EventType type = EventType::tick;
  std::shared_ptr<const Envelope> envelope;  // deliveries only
  NodeId node = 0;
  bool operator>(const Event& other) const {
    return time != other.time ? time > other.time : sequence > other.sequence;
  }
};

class Simulation {
 public:
  explicit Simulation(const SimulationOptions& options)
      : options_(options), random_(options.seed), checker_(nodes_, first_ids(options.voters)) {
    int total = options.voters + options.observers;
    for (NodeId id = 1; id <= total; ++id) {
      auto node = std::make_unique<Node>();
      node->id = id;
      node->voter = id <= options.voters;
      if (node->voter) voters_.insert(id);
      nodes_[id] = std::move(node);
    }
    for (auto& [id, node] : nodes_) start(*node);
  }

  SimulationResult run() {
    const int64_t end = options_.fault_phase_ms + options_.calm_phase_ms;
    const int64_t appends_stop = end - options_.calm_phase_ms / 4;
    at(0, EventType::tick);
    at(options_.append_every_ms, EventType::append);
    if (options_.crash_every_ms > 0) at(next_gap(options_.crash_every_ms), EventType::crash);
    if (options_.partition_every_ms > 0)
      at(next_gap(options_.partition_every_ms), EventType::partition);
    if (options_.snapshot_every_ms > 0)
      at(next_gap(options_.snapshot_every_ms), EventType::snapshot);
    if (options_.reconfigure_every_ms > 0)
      at(next_gap(options_.reconfigure_every_ms), EventType::reconfigure);
    Offset committed_at_calm = -1;
    while (!queue_.empty() && result_.ok) {
      Event event = queue_.top();
      queue_.pop();
      if (event.time > end) break;
      now_ = event.time;
      if (committed_at_calm < 0 && now_ >= options_.fault_phase_ms) {
        calm_down();
        // Restarts are events of their own: checked before this one runs
        // (a restarted sole voter leads and commits at once).
        if (auto violation = checker_.check()) fail(*violation);
        committed_at_calm = checker_.committed_end();
      }
      handle(event, appends_stop);
      wake_parked_fetches();
      ++result_.events;
      if (trace_ && event.type == EventType::tick && now_ % 500 == 0)
        std::fprintf(stderr, "t=%lld\n%s\n", static_cast<long long>(now_),
                     checker_.describe().c_str());
      if (auto violation = checker_.check()) fail(*violation);
    }
    if (result_.ok)
      if (auto violation = checker_.check_converged(committed_at_calm)) fail(*violation);
    result_.committed = checker_.committed_end();
    result_.elections = checker_.elections();
    return result_;
  }

 private:
  void at(int64_t time, EventType type, NodeId node = 0) {
    Event event;
    event.time = time;
    event.type = type;
    event.node = node;
    schedule(std::move(event));
  }

  void schedule(Event event) {
    event.sequence = next_sequence_++;
    queue_.push(std::move(event));
  }

  int64_t next_gap(int64_t mean) {
    std::uniform_int_distribution<int64_t> gap(mean / 2, mean * 3 / 2);
    return now_ + gap(random_);
  }

  bool chance(double probability) {
    return std::uniform_real_distribution<>(0, 1)(random_) < probability;
  }

  bool in_fault_phase() const { return now_ < options_.fault_phase_ms; }

  void start(Node& node) {
    RaftOptions raft;
    raft.node_id = node.id;
    raft.voters = voters_;
    raft.random_seed = options_.seed * 1000 + static_cast<uint64_t>(node.id) + restarts_ * 7919;
    raft.faults = options_.faults;
    raft.max_fetch_entries = options_.max_fetch_entries;
    raft.max_snapshot_chunk_bytes = options_.max_snapshot_chunk_bytes;
    raft.fetch_max_wait_ms = options_.fetch_max_wait_ms;
    node.replica = std::make_unique<RaftReplica>(raft, node.log, node.store, node.snapshots, now_);
    node.last_high_watermark = -1;
    ++restarts_;
  }

  void handle(const Event& event, int64_t appends_stop) {
    switch (event.type) {
      case EventType::deliver: {
        Node& to = *nodes_.at(event.envelope->to);
        if (!to.replica) break;
        if (std::holds_alternative<FetchSnapshotResponse>(event.envelope->message))
          ++result_.snapshot_chunks;
        if (std::holds_alternative<FetchRequest>(event.envelope->message))
          deliver_fetch(to, event.envelope);
        else
          send_all(to.replica->receive(*event.envelope, now_));
        if (in_fault_phase() && chance(options_.crash_after_message_rate)) crash(to);
        break;
      }
      case EventType::tick:
        for (auto& [id, node] : nodes_)
          if (node->replica) send_all(node->replica->tick(now_));
        at(now_ + tick_interval_ms, EventType::tick);
        break;
      case EventType::append:
        for (auto& [id, node] : nodes_)
          if (node->replica && node->replica->role() == Role::leader)
            node->replica->append(client_batches());
        if (now_ + options_.append_every_ms < appends_stop)
          at(now_ + options_.append_every_ms, EventType::append);
        break;
      case EventType::crash:
        if (!in_fault_phase()) break;
        crash_someone();
        at(next_gap(options_.crash_every_ms), EventType::crash);
        break;
      case EventType::restart: {
        Node& node = *nodes_.at(event.node);
        if (!node.replica) start(node);
        break;
      }
      case EventType::partition:
        if (!in_fault_phase()) break;
        for (auto& [id, node] : nodes_) node->group = chance(0.5) ? 1 : 0;
        at(next_gap(2'000), EventType::heal);
        at(next_gap(options_.partition_every_ms), EventType::partition);
        break;
      case EventType::heal:
        for (auto& [id, node] : nodes_) node->group = 0;
        break;
      case EventType::snapshot:
        take_snapshot();
        at(next_gap(options_.snapshot_every_ms), EventType::snapshot);
        break;
      case EventType::reconfigure:
        // Like the faults, changes stop for the calm phase: the quorum must
        // then settle (a leader that removed itself needs an election).
        if (!in_fault_phase()) break;
        reconfigure();
        at(next_gap(options_.reconfigure_every_ms), EventType::reconfigure);
        break;
    }
  }

  // The leader of the highest epoch is asked to add a node that is not a
  // voter, or to remove a voter (itself included); refusals (a change
  // pending, a node not caught up) are part of the game.
  void reconfigure() {
    RaftReplica* leader = nullptr;
    for (auto& [id, node] : nodes_)
      if (node->replica && node->replica->role() == Role::leader &&
          (leader == nullptr || node->replica->epoch() > leader->epoch()))
        leader = node->replica.get();
    if (leader == nullptr) return;
    const std::set<NodeId>& voters = leader->voters();
    std::vector<NodeId> candidates;
    const bool add = chance(0.5) || voters.size() == 1;
    for (auto& [id, node] : nodes_)
      if ((voters.count(id) != 0) != add) candidates.push_back(id);
    if (candidates.empty()) return;
    NodeId id =
        candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(random_)];
    VoterChange change = add ? leader->add_voter(id, now_) : leader->remove_voter(id);
    if (change.error == RaftError::none) ++result_.voter_changes;
    // With the fault on, a second change right behind the first.
    if (options_.faults.voter_changes_without_waiting && change.error == RaftError::none &&
        chance(0.5))
      reconfigure();
  }

  // A random node snapshots a random committed prefix; its content is the
  // digest of the entries below (plus padding, so a download takes several
  // chunks). Now and then the node crashes halfway through writing one.
  void take_snapshot() {
    std::vector<Node*> alive;
    for (auto& [id, node] : nodes_)
      if (node->replica) alive.push_back(node.get());
    if (alive.empty()) return;
    Node& node = *alive[std::uniform_int_distribution<size_t>(0, alive.size() - 1)(random_)];
    const Offset hw = node.replica->high_watermark();
    if (hw <= node.log.start_offset()) return;
    // Recent offsets mostly: a snapshot past a lagging follower's end is
    // what makes the leader send it.
    size_t last = node.log.index_of(hw - 1);
    Offset end = node.log.entry_end(std::uniform_int_distribution<size_t>(last / 2, last)(random_));
    std::string bytes = MemorySnapshotStore::encode(
        *node.log.prefix_hash(end), std::uniform_int_distribution<size_t>(0, 100)(random_));
    if (in_fault_phase() && chance(0.1)) {
      node.snapshots.begin_write({end, node.log.epoch_at(end - 1)});
      node.snapshots.append(bytes.substr(0, bytes.size() / 2));
      return crash(node);
    }
    ++result_.snapshots;
    if (node.replica->create_snapshot(end, bytes) != RaftError::none)
      fail("node " + std::to_string(node.id) + " refused a snapshot at committed offset " +
           std::to_string(end));
  }

  // A batch of one to five records, now and then two batches at once (more
  // would outrun a follower fetching one entry per round trip).
  std::vector<Entry> client_batches() {
    std::vector<Entry> batches(chance(0.2) ? 2 : 1);
    for (Entry& batch : batches) {
      batch.payload = "v" + std::to_string(next_value_++);
      batch.record_count = std::uniform_int_distribution<int32_t>(1, 5)(random_);
    }
    return batches;
  }

  void crash_someone() {
    std::vector<Node*> alive;
    for (auto& [id, node] : nodes_)
      if (node->replica) alive.push_back(node.get());
    if (alive.empty()) return;
    // Half the time the leader: its death at the wrong moment is what most
    // Raft bugs need.
    Node* victim = alive[std::uniform_int_distribution<size_t>(0, alive.size() - 1)(random_)];
    if (chance(0.5))
      for (Node* node : alive)
        if (node->replica->role() == Role::leader) victim = node;
    crash(*victim);
  }

  void crash(Node& victim) {
    std::erase_if(parked_, [&](const Parked& parked) { return parked.leader == victim.id; });
    std::erase_if(high_watermark_told_,
                  [&](const auto& told) { return told.first.first == victim.id; });
    victim.replica.reset();
    victim.log.crash();
    victim.snapshots.crash();
    at(next_gap(options_.restart_after_ms), EventType::restart, victim.id);
  }

  void send_all(std::vector<Envelope> envelopes) {
    for (Envelope& envelope : envelopes) {
      if (in_fault_phase() && chance(options_.drop_rate)) continue;
      int copies = in_fault_phase() && chance(options_.duplicate_rate) ? 2 : 1;
      for (int copy = 0; copy < copies; ++copy) {
        int64_t delay = std::uniform_int_distribution<int64_t>(1, options_.max_delay_ms)(random_);
        Event event;
        event.time = now_ + delay;
        event.type = EventType::deliver;
        event.envelope = std::make_shared<const Envelope>(envelope);
        if (nodes_.at(envelope.from)->group == nodes_.at(envelope.to)->group) schedule(event);
      }
    }
  }

  // --- long poll: the broker's fetch parking (RaftManager), replayed ---

  struct Parked {
    NodeId leader = 0;
    std::shared_ptr<const Envelope> request;
    int64_t deadline = 0;
    Offset log_end = 0;
    Epoch epoch = 0;
  };

  // Feeds a Fetch to `to`; an answer with nothing new for the fetcher is
  // held back (the request is fed again when woken, as the broker does).
  void deliver_fetch(Node& to, const std::shared_ptr<const Envelope>& request) {
    std::vector<Envelope> out = to.replica->receive(*request, now_);
    if (options_.fetch_max_wait_ms > 0 && nothing_new(to.id, request->from, out)) {
      parked_.push_back({to.id, request, now_ + options_.fetch_max_wait_ms, to.log.end_offset(),
                         to.replica->epoch()});
      return;
    }
    note_told(to.id, request->from, out);
    send_all(std::move(out));
  }

  const FetchResponse* answer_in(NodeId fetcher, const std::vector<Envelope>& out) const {
    for (const Envelope& envelope : out)
      if (envelope.to == fetcher && std::holds_alternative<FetchResponse>(envelope.message))
        return &std::get<FetchResponse>(envelope.message);
    return nullptr;
  }

  bool nothing_new(NodeId leader, NodeId fetcher, const std::vector<Envelope>& out) const {
    if (out.size() != 1) return false;
    const FetchResponse* answer = answer_in(fetcher, out);
    if (!answer || answer->error != FetchResponse::Error::none || !answer->entries.empty() ||
        answer->diverging || answer->snapshot_id)
      return false;
    auto told = high_watermark_told_.find({leader, fetcher});
    return told != high_watermark_told_.end() && told->second == answer->high_watermark;
  }

  void note_told(NodeId leader, NodeId fetcher, const std::vector<Envelope>& out) {
    const FetchResponse* answer = answer_in(fetcher, out);
    if (answer && answer->error == FetchResponse::Error::none)
      high_watermark_told_[{leader, fetcher}] = answer->high_watermark;
  }

  bool due(const Parked& parked) const {
    const Node& leader = *nodes_.at(parked.leader);
    if (now_ >= parked.deadline || leader.log.end_offset() != parked.log_end) return true;
    if (leader.replica->role() != Role::leader || leader.replica->epoch() != parked.epoch)
      return true;
    auto told = high_watermark_told_.find({parked.leader, parked.request->from});
    return told == high_watermark_told_.end() || told->second != leader.replica->high_watermark();
  }

  void wake_parked_fetches() {
    std::vector<Parked> woken;
    std::erase_if(parked_, [&](Parked& parked) {
      if (!due(parked)) return false;
      woken.push_back(std::move(parked));
      return true;
    });
    for (const Parked& parked : woken) {
      Node& leader = *nodes_.at(parked.leader);
      std::vector<Envelope> out = leader.replica->receive(*parked.request, now_);
      note_told(parked.leader, parked.request->from, out);
      send_all(std::move(out));
    }
  }

  void calm_down() {
    for (auto& [id, node] : nodes_) {
      node->group = 0;
      if (!node->replica) start(*node);
    }
  }

  void fail(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    std::ostringstream out;
    out << "t=" << now_ << "ms event " << result_.events << ": " << what << "\n"
        << checker_.describe();
    result_.violation = out.str();
  }

  SimulationOptions options_;
  bool trace_ = std::getenv("RAFT_TRACE") != nullptr;
  std::mt19937_64 random_;
  Nodes nodes_;
  Checker checker_;
  std::set<NodeId> voters_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t next_sequence_ = 0;
  uint64_t restarts_ = 0;
  uint64_t next_value_ = 0;
  int64_t now_ = 0;
  SimulationResult result_;
  std::vector<Parked> parked_;
  std::map<std::pair<NodeId, NodeId>, Offset> high_watermark_told_;  // (leader, fetcher)
};

}  // namespace

SimulationResult run_simulation(const SimulationOptions& options) {
  return Simulation(options).run();
}

}  // namespace sluice::raft::sim
