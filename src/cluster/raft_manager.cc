#include "cluster/raft_manager.h"

#include <spdlog/spdlog.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <deque>
#include <future>
#include <random>
#include <set>

#include "base/thread_name.h"
#include "cluster/quorum_endpoints.h"
#include "cluster/voter_changes.h"
#include "net/kafka_client.h"
#include "net/tcp_transport.h"
#include "record/batch.h"
#include "record/batch_builder.h"

namespace sluice::cluster {
namespace {

constexpr int32_t metadata_partition = 0;
// How often the state machine's timers are checked.
constexpr std::chrono::milliseconds tick_interval{10};
// One Fetch answer carries at most this much of the log.
constexpr int32_t fetch_max_bytes = 8 << 20;

int16_t code(ErrorCode error) { return static_cast<int16_t>(error); }

std::optional<raft::NodeId> leader_of(int32_t id) {
  if (id < 0) return std::nullopt;
  return id;
}

// The batches of a Fetch answer, each one raft entry.
std::vector<raft::Entry> entries_of(Bytes records) {
  std::vector<raft::Entry> out;
  while (records.size() >= record::batch_header_bytes) {
    auto header = record::read_batch_header(records);
    if (!header || header->size_bytes() > records.size()) break;  // a partial batch ends it
    Bytes batch = records.first(header->size_bytes());
    records = records.subspan(header->size_bytes());
    raft::Entry entry{header->partition_leader_epoch, std::string(batch.begin(), batch.end()),
                      header->last_offset_delta + 1};
    if (header->is_control()) MetadataLog::classify(batch, entry);
    out.push_back(std::move(entry));
  }
  return out;
}

protocol::Records records_of(const std::vector<raft::Entry>& entries) {
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  for (const raft::Entry& entry : entries)
    bytes->insert(bytes->end(), entry.payload.begin(), entry.payload.end());
  protocol::Records records;
  records.bytes = Bytes(*bytes);
  records.owner = bytes;
  return records;
}

}  // namespace

Uuid metadata_topic_id() {
  Uuid id;
  id.bytes[15] = 1;
  return id;
}

struct RaftManager::Impl {
  Impl(MetadataLog& log_in, QuorumStateFile& state_in, const RaftManagerOptions& options_in)
      : log(log_in),
        state(state_in),
        options(options_in),
        transport(io),
        timer(io),
        jitter(options_in.random_seed ^ 0x9e3779b97f4a7c15ull),
        endpoints(options_in.controller_listener, options_in.voters, options_in.bootstrap_servers),
        voter_changes(
            VoterChangeOptions{options_in.node_id, options_in.endpoints, options_in.directory_id,
                               options_in.fetch_timeout_ms, options_in.snapshot_voters},
            endpoints, log_in, [this] { return options.clock->now_ms(); }) {}

  int64_t now_ms() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(options.clock->monotonic())
        .count();
  }

  void run() {
    set_current_thread_name("quorum");
    raft::RaftOptions raft_options;
    raft_options.node_id = options.node_id;
    for (const auto& [id, endpoint] : options.voters) raft_options.voters.insert(id);
    raft_options.bootstrap_servers = endpoints.bootstrap_ids();
    raft_options.election_timeout_ms = options.election_timeout_ms;
    raft_options.fetch_timeout_ms = options.fetch_timeout_ms;
    raft_options.retry_backoff_ms = std::max<int64_t>(options.retry_backoff_ms, 20);
    raft_options.fetch_max_wait_ms = options.fetch_max_wait_ms;
    raft_options.random_seed = options.random_seed;
    replica = options.snapshots
                  ? std::make_unique<raft::RaftReplica>(raft_options, log, state,
                                                        *options.snapshots, now_ms())
                  : std::make_unique<raft::RaftReplica>(raft_options, log, state, now_ms());
    own_snapshot = replica->latest_snapshot();  // this node's from before the start
    after_event();
    arm_timer();
    io.run();
  }

  void arm_timer() {
    timer.expires_after(tick_interval);
    timer.async_wait([this](const std::error_code& error) {
      if (error || stopping) return;
      retired_clients.clear();  // not inside any client's callback here
      dispatch(replica->tick(now_ms()));
      for (auto& [id, client] : clients) client->tick();
      for (auto& [id, client] : forwarding_clients) client->tick();
      after_event();
      arm_timer();
    });
  }

  // --- outbound ---

  // `forwarding`: the connection for requests the active controller answers
  // after a commit (forwarded admin requests, broker registration and
  // heartbeats). A broker answers the requests of one connection in order,
  // so they must not queue the quorum's own Fetch behind a commit that
  // waits for that Fetch.
  net::KafkaClient* client_for(raft::NodeId node, bool forwarding = false) {
    auto& pool = forwarding ? forwarding_clients : clients;
    if (node == options.node_id) return nullptr;
    const std::optional<net::Endpoint> endpoint = endpoints.find(node);
    auto found = pool.find(node);
    if (found != pool.end() && !dialled_elsewhere(node, endpoint, forwarding))
      return found->second.get();
    if (found != pool.end()) {
      // The voter moved (a voters entry or a leader's hint says so).
      found->second->close();
      retired_clients.push_back(std::move(found->second));
      pool.erase(found);
    }
    if (!endpoint) return nullptr;
    (forwarding ? forwarding_dialled : dialled)[node] = *endpoint;
    net::KafkaClientConfig config;
    config.client_id =
        (forwarding ? "controller-forwarder-" : "raft-client-") + std::to_string(options.node_id);
    config.request_timeout = std::chrono::milliseconds(options.request_timeout_ms);
    // A forwarded request may wait for a commit: Kafka's request.timeout.ms.
    if (forwarding) config.request_timeout = std::chrono::milliseconds(30000);
    config.reconnect_backoff = std::chrono::milliseconds(50);
    config.reconnect_backoff_max = std::chrono::milliseconds(500);
    auto client = std::make_unique<net::KafkaClient>(
        transport, *endpoint, config, *options.clock,
        [this] { return std::uniform_real_distribution<double>(0, 1)(jitter); });
    return pool.emplace(node, std::move(client)).first->second.get();
  }

  void dispatch(std::vector<raft::Envelope> out) {
    for (raft::Envelope& envelope : out) {
      std::visit([&](auto& message) { send(envelope.to, std::move(message)); }, envelope.message);
    }
  }

  void deliver(raft::NodeId from, raft::Message message) {
    if (stopping) return;
    spdlog::debug("quorum: from {} message {} (role {}, epoch {}, leader {})", from,
                  message.index(), raft::role_name(replica->role()), replica->epoch(),
                  replica->leader().value_or(-1));
    dispatch(replica->receive({from, options.node_id, std::move(message)}, now_ms()));
    after_event();
  }

  template <class Response>
  bool answered_ok(raft::NodeId node, const net::ClientResult<Response>& result, const char* api) {
    if (!result.ok()) {
      // A peer that is down is expected (and retried); a bad answer is not.
      if (result.status.code == net::ClientErrc::disconnected)
        spdlog::debug("quorum: {} to node {} failed: {}", api, node, result.status.message);
      else
        warn_once(node, std::string(api) + " to node " + std::to_string(node) +
                            " failed: " + net::client_errc_name(result.status.code) + ": " +
                            result.status.message);
      return false;
    }
    if (result.message.error_code != 0) {
      warn_once(node, std::string(api) + " to node " + std::to_string(node) + ": " +
                          error_name(static_cast<ErrorCode>(result.message.error_code)));
      return false;
    }
    return true;
  }

  void warn_once(raft::NodeId node, const std::string& message) {
    if (last_warning[node] == message) return;
    last_warning[node] = message;
    spdlog::warn("quorum: {}", message);
  }

  void send(raft::NodeId to, raft::VoteRequest message) {
    net::KafkaClient* client = client_for(to);
    if (!client) return;
    protocol::VoteRequest request;
    request.cluster_id = options.cluster_id;
    request.voter_id = to;
    auto& topic = request.topics.emplace_back();
    topic.topic_name = metadata_topic_name;
    auto& partition = topic.partitions.emplace_back();
    partition.partition_index = metadata_partition;
    partition.candidate_epoch = message.epoch;
    partition.candidate_id = message.candidate;
    partition.last_offset_epoch = message.last_epoch;
    partition.last_offset = message.end_offset;
    partition.pre_vote = message.pre_vote;
    const bool pre_vote = message.pre_vote;
    client->send(request, [this, to, pre_vote](net::ClientResult<protocol::VoteResponse> result) {
      if (!answered_ok(to, result, "Vote")) return;
      for (const auto& topic : result.message.topics)
        for (const auto& partition : topic.partitions) {
          if (partition.error_code != 0) continue;
          deliver(to, raft::VoteResponse{partition.leader_epoch, leader_of(partition.leader_id),
                                         partition.vote_granted, pre_vote});
        }
    });
  }

  void send(raft::NodeId to, raft::BeginQuorumEpochRequest message) {
    net::KafkaClient* client = client_for(to);
    if (!client) return;
    protocol::BeginQuorumEpochRequest request;
    request.cluster_id = options.cluster_id;
    request.voter_id = to;
    auto& topic = request.topics.emplace_back();
    topic.topic_name = metadata_topic_name;
    auto& partition = topic.partitions.emplace_back();
    partition.partition_index = metadata_partition;
    partition.leader_id = message.leader;
    partition.leader_epoch = message.epoch;
    client->send(request, [this, to](net::ClientResult<protocol::BeginQuorumEpochResponse> result) {
      if (!answered_ok(to, result, "BeginQuorumEpoch")) return;
      for (const auto& topic : result.message.topics)
        for (const auto& partition : topic.partitions)
          deliver(to, raft::BeginQuorumEpochResponse{partition.leader_epoch});
    });
  }

  void send(raft::NodeId to, raft::EndQuorumEpochRequest message) {
    net::KafkaClient* client = client_for(to);
    if (!client) return;
    protocol::EndQuorumEpochRequest request;
    request.cluster_id = options.cluster_id;
    auto& topic = request.topics.emplace_back();
    topic.topic_name = metadata_topic_name;
    auto& partition = topic.partitions.emplace_back();
    partition.partition_index = metadata_partition;
    partition.leader_id = message.leader;
    partition.leader_epoch = message.epoch;
    client->send(request, [](net::ClientResult<protocol::EndQuorumEpochResponse>) {});
  }

  void send(raft::NodeId to, raft::FetchRequest message) {
    net::KafkaClient* client = client_for(to);
    if (!client) return;
    protocol::FetchRequest request;
    request.cluster_id = options.cluster_id;
    request.replica_id = options.node_id;
    request.replica_state.replica_id = options.node_id;
    // Long poll: the leader answers when it has news, or after this long.
    request.max_wait_ms = static_cast<int32_t>(options.fetch_max_wait_ms);
    request.min_bytes = 0;
    request.max_bytes = fetch_max_bytes;
    auto& topic = request.topics.emplace_back();
    topic.topic = metadata_topic_name;
    topic.topic_id = metadata_topic_id();
    auto& partition = topic.partitions.emplace_back();
    partition.partition = metadata_partition;
    partition.current_leader_epoch = message.epoch;
    partition.fetch_offset = message.fetch_offset;
    partition.last_fetched_epoch = message.last_fetched_epoch;
    partition.partition_max_bytes = fetch_max_bytes;
    partition.replica_directory_id = options.directory_id;
    client->send(request, [this, to, message](net::ClientResult<protocol::FetchResponse> result) {
      if (!answered_ok(to, result, "Fetch")) {
        if (!stopping) replica->fetch_failed(now_ms());
        return;
      }
      learn_endpoints(result.message);
      for (const auto& topic : result.message.responses)
        for (const auto& partition : topic.partitions)
          deliver(to, fetch_answer(message, partition));
    });
  }

  raft::FetchResponse fetch_answer(const raft::FetchRequest& sent,
                                   const protocol::FetchResponse::PartitionData& partition) {
    raft::FetchResponse response;
    switch (static_cast<ErrorCode>(partition.error_code)) {
      case ErrorCode::NONE:
        break;
      case ErrorCode::FENCED_LEADER_EPOCH:
        response.error = raft::FetchResponse::Error::fenced_epoch;
        break;
      default:
        response.error = raft::FetchResponse::Error::not_leader;
        break;
    }
    response.epoch = partition.current_leader.leader_epoch;
    response.leader = leader_of(partition.current_leader.leader_id);
    response.high_watermark = partition.high_watermark;
    response.base_offset = sent.fetch_offset;
    response.base_epoch = sent.last_fetched_epoch;
    if (partition.diverging_epoch.epoch >= 0)
      response.diverging = raft::FetchResponse::Diverging{partition.diverging_epoch.epoch,
                                                          partition.diverging_epoch.end_offset};
    if (partition.records) response.entries = entries_of(partition.records->bytes);
    if (partition.snapshot_id.end_offset >= 0 && partition.snapshot_id.epoch >= 0)
      response.snapshot_id =
          raft::SnapshotId{partition.snapshot_id.end_offset, partition.snapshot_id.epoch};
    return response;
  }

  void send(raft::NodeId to, raft::FetchSnapshotRequest message) {
    net::KafkaClient* client = client_for(to);
    if (!client) return;
    client->send(fetch_snapshot_request(message),
                 [this, to, message](net::ClientResult<protocol::FetchSnapshotResponse> result) {
                   if (!answered_ok(to, result, "FetchSnapshot")) return;
                   for (const auto& topic : result.message.topics)
                     for (const auto& partition : topic.partitions)
                       deliver(to, fetch_snapshot_answer(message, partition));
                 });
  }

  protocol::FetchSnapshotRequest fetch_snapshot_request(const raft::FetchSnapshotRequest& message);
  static raft::FetchSnapshotResponse fetch_snapshot_answer(
      const raft::FetchSnapshotRequest& sent,
      const protocol::FetchSnapshotResponse::PartitionSnapshot& partition);

  // Responses leave only as answers to inbound requests (receive_request).
  template <class Response>
  void send(raft::NodeId, Response) {}

  // --- inbound ---

  // Feeds an inbound request to the state machine and returns its answer
  // (the response it addressed to `from`), sending everything else.
  template <class Response>
  std::optional<Response> receive_request(raft::NodeId from, raft::Message message) {
    std::optional<Response> answer;
    if (stopping) return answer;
    auto out = replica->receive({from, options.node_id, std::move(message)}, now_ms());
    std::vector<raft::Envelope> rest;
    for (raft::Envelope& envelope : out) {
      if (!answer && envelope.to == from && std::holds_alternative<Response>(envelope.message))
        answer = std::get<Response>(std::move(envelope.message));
      else
        rest.push_back(std::move(envelope));
    }
    dispatch(std::move(rest));
    after_event();
    return answer;
  }

  bool cluster_id_matches(const std::optional<std::string>& cluster_id) const {
    // Kafka accepts a request without one (older versions).
    return !cluster_id || cluster_id->empty() || *cluster_id == options.cluster_id;
  }

  // --- requests for the active controller ---

  // A forwarded request follows leadership, as Kafka's forwarding does: one
  // that finds no leader, or whose connection to the old leader fails (a
  // leader change closes it at once), is sent again to the leader then known,
  // until its deadline.
  static constexpr int64_t forwarding_timeout_ms = 30000;
  static constexpr std::chrono::milliseconds forwarding_retry{100};
  struct LeaderRequest {
    int16_t api_key;
    int16_t version_min;
    int16_t version_max;
    net::KafkaClient::Encoder encode;
    net::KafkaClient::RawCallback done;
    int64_t deadline_ms;
  };

  void send_to_leader(const std::shared_ptr<LeaderRequest>& request) {
    if (stopping)
      return request->done({net::ClientErrc::closed, "the quorum is stopping"}, -1, {}, {});
    const std::optional<raft::NodeId> leader = replica ? replica->leader() : std::nullopt;
    if (leader && *leader == options.node_id)
      return request->done({net::ClientErrc::disconnected, "this node leads the quorum now"}, -1,
                           {}, {});
    net::KafkaClient* client = leader ? client_for(*leader, true) : nullptr;
    if (!client) return retry_to_leader(request, "no active controller is known");
    client->send_raw(request->api_key, request->version_min, request->version_max, request->encode,
                     [this, request](const net::ClientStatus& status, int16_t version, Bytes body,
                                     std::shared_ptr<const std::vector<uint8_t>> frame) {
                       const bool lost_connection = status.code == net::ClientErrc::disconnected ||
                                                    status.code == net::ClientErrc::closed ||
                                                    status.code == net::ClientErrc::timed_out;
                       if (status.ok() || !lost_connection)
                         return request->done(status, version, body, std::move(frame));
                       retry_to_leader(request, status.message);
                     });
  }

  void retry_to_leader(const std::shared_ptr<LeaderRequest>& request, const std::string& why) {
    if (stopping || now_ms() >= request->deadline_ms)
      return request->done({net::ClientErrc::disconnected, why}, -1, {}, {});
    auto timer = std::make_shared<asio::steady_timer>(io, forwarding_retry);
    timer->async_wait([this, request, timer](const std::error_code& error) {
      if (error)
        return request->done({net::ClientErrc::closed, "the quorum is stopping"}, -1, {}, {});
      send_to_leader(request);
    });
  }

  // The connection to a node that no longer leads is closed, so what waits
  // on it is sent again to the new leader instead of timing out.
  void drop_forwarding_to(raft::NodeId old_leader) {
    auto found = forwarding_clients.find(old_leader);
    if (found == forwarding_clients.end()) return;
    found->second->close();
    retired_clients.push_back(std::move(found->second));
    forwarding_clients.erase(found);
  }

  // --- commits and status ---

  void after_event() {
    const raft::Offset high_watermark = replica->high_watermark();
    raft::NodeId old_leader = -1;
    {
      std::lock_guard lock(status_mutex);
      if (replica->leader().value_or(-1) != status.leader && replica->leader()) {
        ++status.leader_changes;
        spdlog::info("quorum: node {} leads epoch {}", *replica->leader(), replica->epoch());
      }
      if (replica->leader().value_or(-1) != status.leader) old_leader = status.leader;
      status.role = replica->role();
      status.epoch = replica->epoch();
      status.leader = replica->leader().value_or(-1);
      status.high_watermark = high_watermark;
      status.log_end_offset = log.end_offset();
      note_snapshot_status();
    }
    if (old_leader >= 0) drop_forwarding_to(old_leader);
    after_voter_event();
    if (high_watermark > reported_commit) {
      reported_commit = high_watermark;
      if (options.on_commit) options.on_commit(high_watermark);
    }
    settle_appends();
    wake_parked_fetches();
  }

  void settle_appends() {
    while (!pending.empty()) {
      Pending& first = pending.front();
      if (replica->high_watermark() >= first.end_offset &&
          log.epoch_at(first.end_offset - 1) == first.epoch) {
        AppendDone done = std::move(first.done);
        const int64_t end = first.end_offset;
        pending.pop_front();
        done(std::nullopt, end);
        continue;
      }
      const bool still_leading =
          replica->role() == raft::Role::leader && replica->epoch() == first.epoch;
      if (still_leading && log.end_offset() >= first.end_offset) return;
      AppendDone done = std::move(first.done);
      pending.pop_front();
      done(AppendError::lost_leadership, -1);
    }
  }

  void append(std::vector<std::vector<uint8_t>> records, AppendDone done) {
    if (stopping) return done(AppendError::stopped, -1);
    if (replica->role() != raft::Role::leader) return done(AppendError::not_leader, -1);
    record::BatchBuilder builder;
    const int64_t timestamp = options.clock->now_ms();
    for (const auto& value : records) builder.append(timestamp, std::nullopt, Bytes(value));
    auto batch = builder.build();
    if (!batch) return done(AppendError::write_failed, -1);
    const int64_t end_before = log.end_offset();
    raft::Entry entry{replica->epoch(), std::string(batch->begin(), batch->end()),
                      static_cast<int32_t>(records.size()), raft::EntryKind::data};
    auto first = replica->append(std::vector<raft::Entry>{std::move(entry)});
    if (!first) return done(AppendError::not_leader, -1);
    const int64_t end = end_before + static_cast<int64_t>(records.size());
    if (log.end_offset() != end) return done(AppendError::write_failed, -1);
    pending.push_back({end, replica->epoch(), std::move(done)});
    after_event();
  }

  void stop() {
    stopping = true;
    voter_changes.fail_all(ErrorCode::NOT_LEADER_OR_FOLLOWER, "the quorum is stopping");
    timer.cancel();
    for (auto& [id, client] : clients) client->close();
    for (auto& [id, client] : forwarding_clients) client->close();
    while (!pending.empty()) {
      AppendDone done = std::move(pending.front().done);
      pending.pop_front();
      done(AppendError::stopped, -1);
    }
    answer_parked_fetches_at_stop();
  }

  // --- long-polled Fetch (Kafka's fetch purgatory) ---

  // A Fetch that finds nothing new for its fetcher (no entries, no
  // divergence or snapshot, and the high watermark it was last told) waits
  // here up to its MaxWaitMs. It is fed to the state machine again, and
  // answered with what that says then, as soon as the log grows (an
  // append), the high watermark moves past what the fetcher knows (its
  // only way to learn it), this node stops leading or changes epoch, or
  // the wait ends. Followers send the next Fetch on each answer, so an
  // append reaches them within a round trip instead of a poll interval.
  using FetchFinish = std::function<void(std::optional<raft::FetchResponse>)>;
  struct ParkedFetch {
    raft::NodeId replica = -1;
    raft::FetchRequest request;
    int64_t deadline_ms = 0;
    raft::Offset log_end = 0;  // the leader's end when parked
    raft::Epoch epoch = 0;
    FetchFinish finish;
  };

  void fetch(raft::NodeId from, const raft::FetchRequest& request, int32_t max_wait_ms,
             FetchFinish finish) {
    std::optional<raft::FetchResponse> reply = receive_request<raft::FetchResponse>(from, request);
    if (reply && max_wait_ms > 0 && !stopping && nothing_new_for(from, *reply)) {
      parked_fetches.push_back({from, request, now_ms() + max_wait_ms, log.end_offset(),
                                replica->epoch(), std::move(finish)});
      return;
    }
    answer_fetch(from, std::move(reply), finish);
  }

  bool nothing_new_for(raft::NodeId from, const raft::FetchResponse& reply) const {
    if (reply.error != raft::FetchResponse::Error::none || !reply.entries.empty() ||
        reply.diverging || reply.snapshot_id)
      return false;
    auto told = high_watermark_told.find(from);
    return told != high_watermark_told.end() && told->second == reply.high_watermark;
  }

  void answer_fetch(raft::NodeId from, std::optional<raft::FetchResponse> reply,
                    const FetchFinish& finish) {
    if (reply && reply->error == raft::FetchResponse::Error::none)
      high_watermark_told[from] = reply->high_watermark;
    finish(std::move(reply));
  }

  bool parked_fetch_due(const ParkedFetch& parked, int64_t now) const {
    if (now >= parked.deadline_ms || log.end_offset() != parked.log_end) return true;
    if (replica->role() != raft::Role::leader || replica->epoch() != parked.epoch) return true;
    auto told = high_watermark_told.find(parked.replica);
    return told == high_watermark_told.end() || told->second != replica->high_watermark();
  }

  // After every event. Answering feeds the state machine, which comes back
  // here: the due fetches leave the list before any is answered.
  void wake_parked_fetches() {
    if (parked_fetches.empty()) return;
    const int64_t now = now_ms();
    std::vector<ParkedFetch> due;
    std::erase_if(parked_fetches, [&](ParkedFetch& parked) {
      if (!parked_fetch_due(parked, now)) return false;
      due.push_back(std::move(parked));
      return true;
    });
    for (ParkedFetch& parked : due) {
      std::optional<raft::FetchResponse> reply =
          receive_request<raft::FetchResponse>(parked.replica, parked.request);
      answer_fetch(parked.replica, std::move(reply), parked.finish);
    }
  }

  void answer_parked_fetches_at_stop() {
    std::vector<ParkedFetch> parked = std::move(parked_fetches);
    parked_fetches.clear();
    for (ParkedFetch& fetch : parked) fetch.finish(std::nullopt);
  }

  // --- snapshots ---

  // Under status_mutex: the snapshot and log start others see; a snapshot
  // that appears without create_snapshot was fetched from the leader.
  void note_snapshot_status() {
    const std::optional<raft::SnapshotId> latest = replica->latest_snapshot();
    if (latest != status.latest_snapshot && latest && latest != own_snapshot) {
      ++status.snapshots_installed;
      spdlog::info("quorum: installed the leader's snapshot {} (end offset {}, epoch {})",
                   snapshot_name(*latest), latest->end_offset, latest->epoch);
    }
    status.latest_snapshot = latest;
    status.log_start_offset = log.start_offset();
  }

  static std::string snapshot_name(const raft::SnapshotId& id) {
    char name[64];
    std::snprintf(name, sizeof(name), "%020lld-%010d.checkpoint",
                  static_cast<long long>(id.end_offset), id.epoch);
    return name;
  }

  bool create_snapshot(int64_t end_offset, const std::string& data_batches) {
    if (stopping) return false;
    const auto started = std::chrono::steady_clock::now();
    const raft::RaftError error = replica->create_snapshot(end_offset, data_batches);
    if (error != raft::RaftError::none) {
      spdlog::debug("quorum: no snapshot at offset {} (log start {}, high watermark {})",
                    end_offset, log.start_offset(), replica->high_watermark());
      return false;
    }
    own_snapshot = replica->latest_snapshot();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    spdlog::info("quorum: wrote snapshot {} ({} bytes of records) in {} ms; the log starts at {}",
                 snapshot_name(*replica->latest_snapshot()), data_batches.size(), took.count(),
                 log.start_offset());
    after_event();
    return true;
  }

  MetadataLog& log;
  QuorumStateFile& state;
  const RaftManagerOptions& options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  net::TcpTransport transport;
  asio::steady_timer timer;
  std::mt19937_64 jitter;
  std::unique_ptr<raft::RaftReplica> replica;
  std::map<raft::NodeId, std::unique_ptr<net::KafkaClient>> clients;
  std::map<raft::NodeId, std::unique_ptr<net::KafkaClient>> forwarding_clients;
  // Closed clients, destroyed at stop (never inside their own callbacks).
  std::vector<std::unique_ptr<net::KafkaClient>> retired_clients;
  std::map<raft::NodeId, std::string> last_warning;
  // KIP-853: where each node is dialled, the voter changes under way, and
  // the endpoint each client was made for (the functions after Impl).
  QuorumEndpoints endpoints;
  VoterChanges voter_changes;
  std::map<raft::NodeId, net::Endpoint> dialled;
  std::map<raft::NodeId, net::Endpoint> forwarding_dialled;
  bool dialled_elsewhere(raft::NodeId node, const std::optional<net::Endpoint>& endpoint,
                         bool forwarding) const;
  void learn_endpoints(const protocol::FetchResponse& response);
  void after_voter_event();
  void send_self_update();
  void add_node_endpoints(protocol::FetchResponse& response, int16_t version) const;
  void add_quorum_nodes(protocol::DescribeQuorumResponse& response) const;
  bool stopping = false;
  std::optional<raft::SnapshotId> own_snapshot;  // the last one this node wrote
  int64_t reported_commit = -1;
  std::vector<ParkedFetch> parked_fetches;
  // The high watermark each fetcher was last answered with.
  std::map<raft::NodeId, raft::Offset> high_watermark_told;

  struct Pending {
    int64_t end_offset = 0;
    int32_t epoch = 0;
    AppendDone done;
  };
  std::deque<Pending> pending;

  mutable std::mutex status_mutex;
  QuorumStatus status;
  std::thread thread;
};

// --- KIP-853: voter endpoints and voter changes ---

bool RaftManager::Impl::dialled_elsewhere(raft::NodeId node,
                                          const std::optional<net::Endpoint>& endpoint,
                                          bool forwarding) const {
  const auto& seen = forwarding ? forwarding_dialled : dialled;
  auto found = seen.find(node);
  return found == seen.end() || !endpoint || found->second != *endpoint;
}

// Kafka's Fetch answers (v16+) carry the leader's endpoint: an observer that
// found the leader through a bootstrap server dials it there.
void RaftManager::Impl::learn_endpoints(const protocol::FetchResponse& response) {
  for (const auto& node : response.node_endpoints)
    if (node.node_id >= 0 && node.port > 0 && node.port <= 65535)
      endpoints.learn(node.node_id, net::Endpoint{node.host, static_cast<uint16_t>(node.port)});
}

// This node's Fetch answers name the leader's endpoint (Kafka's
// NodeEndpoints, the listener the quorum uses).
void RaftManager::Impl::add_node_endpoints(protocol::FetchResponse& response,
                                           int16_t version) const {
  if (version < 16 || !replica || !replica->leader()) return;
  const raft::NodeId leader = *replica->leader();
  std::optional<net::Endpoint> endpoint;
  if (leader == options.node_id) {
    for (const VoterEndpoint& own : options.endpoints)
      if (own.name == options.controller_listener) endpoint = net::Endpoint{own.host, own.port};
  } else {
    endpoint = endpoints.find(leader);
  }
  if (!endpoint) return;
  protocol::FetchResponse::NodeEndpoint node;
  node.node_id = leader;
  node.host = endpoint->host;
  node.port = endpoint->port;
  response.node_endpoints.push_back(std::move(node));
}

// DescribeQuorum v2: each voter's listeners and directory id (the voters
// entry in effect, else controller.quorum.voters); an answer of a node
// that does not lead names the leader's endpoint, so a tool finds it.
void RaftManager::Impl::add_quorum_nodes(protocol::DescribeQuorumResponse& response) const {
  if (!replica) return;
  VoterSet voters = endpoints.current(replica->voters(), voter_changes.directory_ids());
  if (auto self = voters.find(options.node_id); self != voters.end()) {
    if (self->second.endpoints.empty()) self->second.endpoints = options.endpoints;
    if (self->second.directory_id.is_zero()) self->second.directory_id = options.directory_id;
  }
  std::set<int32_t> listed;
  auto add_node = [&](int32_t id, const std::vector<VoterEndpoint>& listeners) {
    if (!listed.insert(id).second) return;
    protocol::DescribeQuorumResponse::Node node;
    node.node_id = id;
    for (const VoterEndpoint& endpoint : listeners)
      node.listeners.push_back({endpoint.name, endpoint.host, endpoint.port, {}});
    response.nodes.push_back(std::move(node));
  };
  for (auto& topic : response.topics)
    for (auto& partition : topic.partitions) {
      auto directory = [&](protocol::DescribeQuorumResponse::ReplicaState& state) {
        auto voter = voters.find(state.replica_id);
        if (voter != voters.end()) state.replica_directory_id = voter->second.directory_id;
        auto seen = voter_changes.directory_ids().find(state.replica_id);
        if (state.replica_directory_id.is_zero() && seen != voter_changes.directory_ids().end())
          state.replica_directory_id = seen->second;
      };
      for (auto& state : partition.current_voters) {
        directory(state);
        if (auto voter = voters.find(state.replica_id); voter != voters.end())
          add_node(state.replica_id, voter->second.endpoints);
      }
      for (auto& state : partition.observers) directory(state);
      if (partition.error_code != 0 && partition.leader_id >= 0) {
        auto voter = voters.find(partition.leader_id);
        if (voter != voters.end()) {
          add_node(partition.leader_id, voter->second.endpoints);
        } else if (auto endpoint = endpoints.find(partition.leader_id)) {
          add_node(partition.leader_id,
                   {{options.controller_listener, endpoint->host, endpoint->port}});
        }
      }
    }
}

void RaftManager::Impl::after_voter_event() {
  if (!replica || stopping) return;
  voter_changes.after_event(*replica, now_ms());
  send_self_update();
}

// KIP-853: a voter whose advertised controller endpoints differ from what
// the log records tells the leader (Kafka sends UpdateRaftVoter as a
// follower).
void RaftManager::Impl::send_self_update() {
  std::optional<protocol::UpdateRaftVoterRequest> request =
      voter_changes.self_update(*replica, now_ms());
  if (!request) return;
  net::KafkaClient* client = client_for(*replica->leader());
  if (!client) return;
  request->cluster_id = options.cluster_id;
  const raft::NodeId leader = *replica->leader();
  client->send(*request,
               [this, leader](net::ClientResult<protocol::UpdateRaftVoterResponse> result) {
                 if (answered_ok(leader, result, "UpdateRaftVoter"))
                   spdlog::info("quorum: the leader records this voter's new endpoints");
               });
}

RaftManager::RaftManager(MetadataLog& log, QuorumStateFile& state, RaftManagerOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(log, state, options_)) {
  log.set_local_node(options_.node_id);
}

RaftManager::~RaftManager() { stop(); }

void RaftManager::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([this] { impl_->run(); });
}

void RaftManager::stop() {
  if (!impl_->thread.joinable()) return;
  std::promise<void> stopped;
  asio::post(impl_->io, [this, &stopped] {
    impl_->stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  impl_->work.reset();
  impl_->io.stop();
  impl_->thread.join();
  impl_->clients.clear();
  impl_->forwarding_clients.clear();
  impl_->retired_clients.clear();
}

void RaftManager::append(std::vector<std::vector<uint8_t>> records, AppendDone done) {
  asio::post(impl_->io, [this, records = std::move(records), done = std::move(done)]() mutable {
    impl_->append(std::move(records), std::move(done));
  });
}

void RaftManager::send_raw_to_leader(int16_t api_key, int16_t version_min, int16_t version_max,
                                     net::KafkaClient::Encoder encode,
                                     net::KafkaClient::RawCallback done) {
  auto request = std::make_shared<Impl::LeaderRequest>(
      Impl::LeaderRequest{api_key, version_min, version_max, std::move(encode), std::move(done),
                          impl_->now_ms() + Impl::forwarding_timeout_ms});
  asio::post(impl_->io, [this, request] { impl_->send_to_leader(request); });
}

void RaftManager::resign() {
  asio::post(impl_->io, [this] {
    if (impl_->stopping || !impl_->replica) return;
    impl_->dispatch(impl_->replica->step_down(impl_->now_ms()));
    impl_->after_event();
  });
}

QuorumStatus RaftManager::status() const {
  std::lock_guard lock(impl_->status_mutex);
  return impl_->status;
}

void RaftManager::handle_vote(protocol::VoteRequest request,
                              std::function<void(protocol::VoteResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), answer = std::move(answer)] {
    protocol::VoteResponse response;
    if (!impl_->cluster_id_matches(request.cluster_id)) {
      response.error_code = code(ErrorCode::INCONSISTENT_CLUSTER_ID);
      return answer(response);
    }
    for (const auto& topic : request.topics) {
      auto& topic_out = response.topics.emplace_back();
      topic_out.topic_name = topic.topic_name;
      for (const auto& partition : topic.partitions) {
        auto& out = topic_out.partitions.emplace_back();
        out.partition_index = partition.partition_index;
        out.leader_id = -1;
        if (topic.topic_name != metadata_topic_name ||
            partition.partition_index != metadata_partition) {
          out.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
          continue;
        }
        raft::VoteRequest vote{partition.candidate_epoch, partition.candidate_id,
                               partition.last_offset_epoch, partition.last_offset,
                               partition.pre_vote};
        auto granted = impl_->receive_request<raft::VoteResponse>(partition.candidate_id, vote);
        if (!granted) {
          out.error_code = code(ErrorCode::BROKER_NOT_AVAILABLE);
          continue;
        }
        out.leader_epoch = granted->epoch;
        out.leader_id = granted->leader.value_or(-1);
        out.vote_granted = granted->granted;
      }
    }
    answer(response);
  });
}

void RaftManager::handle_begin_quorum_epoch(
    protocol::BeginQuorumEpochRequest request,
    std::function<void(protocol::BeginQuorumEpochResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), answer = std::move(answer)] {
    protocol::BeginQuorumEpochResponse response;
    if (!impl_->cluster_id_matches(request.cluster_id)) {
      response.error_code = code(ErrorCode::INCONSISTENT_CLUSTER_ID);
      return answer(response);
    }
    for (const auto& topic : request.topics) {
      auto& topic_out = response.topics.emplace_back();
      topic_out.topic_name = topic.topic_name;
      for (const auto& partition : topic.partitions) {
        auto& out = topic_out.partitions.emplace_back();
        out.partition_index = partition.partition_index;
        auto reply = impl_->receive_request<raft::BeginQuorumEpochResponse>(
            partition.leader_id,
            raft::BeginQuorumEpochRequest{partition.leader_epoch, partition.leader_id});
        const QuorumStatus now = status();
        out.leader_epoch = reply ? reply->epoch : now.epoch;
        out.leader_id = now.leader;
      }
    }
    answer(response);
  });
}

void RaftManager::handle_end_quorum_epoch(
    protocol::EndQuorumEpochRequest request,
    std::function<void(protocol::EndQuorumEpochResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), answer = std::move(answer)] {
    protocol::EndQuorumEpochResponse response;
    if (!impl_->cluster_id_matches(request.cluster_id)) {
      response.error_code = code(ErrorCode::INCONSISTENT_CLUSTER_ID);
      return answer(response);
    }
    for (const auto& topic : request.topics) {
      auto& topic_out = response.topics.emplace_back();
      topic_out.topic_name = topic.topic_name;
      for (const auto& partition : topic.partitions) {
        impl_->receive_request<raft::BeginQuorumEpochResponse>(
            partition.leader_id,
            raft::EndQuorumEpochRequest{partition.leader_epoch, partition.leader_id});
        auto& out = topic_out.partitions.emplace_back();
        out.partition_index = partition.partition_index;
        const QuorumStatus now = status();
        out.leader_epoch = now.epoch;
        out.leader_id = now.leader;
      }
    }
    answer(response);
  });
}

void RaftManager::handle_fetch(protocol::FetchRequest request, int16_t version,
                               std::function<void(protocol::FetchResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), version, answer = std::move(answer)] {
    protocol::FetchResponse response;
    if (!impl_->cluster_id_matches(request.cluster_id)) {
      response.error_code = code(ErrorCode::INCONSISTENT_CLUSTER_ID);
      return answer(response);
    }
    const int32_t replica = version >= 15 ? request.replica_state.replica_id : request.replica_id;
    if (is_single_metadata_fetch(request, version) && replica >= 0)
      return long_poll_fetch(request, version, replica, answer);
    for (const auto& topic : request.topics) {
      auto& topic_out = response.responses.emplace_back();
      topic_out.topic = topic.topic;
      topic_out.topic_id = topic.topic_id;
      const bool is_metadata = version >= 13 ? topic.topic_id == metadata_topic_id()
                                             : topic.topic == metadata_topic_name;
      for (const auto& partition : topic.partitions) {
        auto& out = topic_out.partitions.emplace_back();
        out.partition_index = partition.partition;
        if (!is_metadata || partition.partition != metadata_partition || replica < 0) {
          out.error_code = code(version >= 13 ? ErrorCode::UNKNOWN_TOPIC_ID
                                              : ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
          continue;
        }
        if (version >= 17)
          impl_->voter_changes.note_directory(replica, partition.replica_directory_id);
        auto reply = impl_->receive_request<raft::FetchResponse>(
            replica, raft::FetchRequest{partition.current_leader_epoch, replica,
                                        partition.fetch_offset, partition.last_fetched_epoch});
        fill_fetch_partition(out, reply, impl_->log.start_offset());
      }
    }
    impl_->add_node_endpoints(response, version);
    answer(response);
  });
}

bool RaftManager::is_single_metadata_fetch(const protocol::FetchRequest& request, int16_t version) {
  if (request.topics.size() != 1 || request.topics[0].partitions.size() != 1) return false;
  const auto& topic = request.topics[0];
  const bool is_metadata =
      version >= 13 ? topic.topic_id == metadata_topic_id() : topic.topic == metadata_topic_name;
  return is_metadata && topic.partitions[0].partition == metadata_partition;
}

// On the quorum thread: the fetch is answered now or parked (Impl::fetch).
void RaftManager::long_poll_fetch(const protocol::FetchRequest& request, int16_t version,
                                  int32_t replica,
                                  std::function<void(protocol::FetchResponse)> answer) {
  const auto& topic = request.topics[0];
  const auto& partition = topic.partitions[0];
  if (version >= 17) impl_->voter_changes.note_directory(replica, partition.replica_directory_id);
  auto finish = [this, version, topic_name = topic.topic, topic_id = topic.topic_id,
                 index = partition.partition,
                 answer = std::move(answer)](std::optional<raft::FetchResponse> reply) {
    protocol::FetchResponse response;
    auto& topic_out = response.responses.emplace_back();
    topic_out.topic = topic_name;
    topic_out.topic_id = topic_id;
    auto& out = topic_out.partitions.emplace_back();
    out.partition_index = index;
    fill_fetch_partition(out, reply, impl_->log.start_offset());
    impl_->add_node_endpoints(response, version);
    answer(response);
  };
  impl_->fetch(replica,
               raft::FetchRequest{partition.current_leader_epoch, replica, partition.fetch_offset,
                                  partition.last_fetched_epoch},
               request.max_wait_ms, std::move(finish));
}

void RaftManager::fill_fetch_partition(protocol::FetchResponse::PartitionData& out,
                                       const std::optional<raft::FetchResponse>& reply,
                                       int64_t log_start_offset) {
  if (!reply) {
    out.error_code = code(ErrorCode::BROKER_NOT_AVAILABLE);
    return;
  }
  switch (reply->error) {
    case raft::FetchResponse::Error::none:
      break;
    case raft::FetchResponse::Error::fenced_epoch:
      out.error_code = code(ErrorCode::FENCED_LEADER_EPOCH);
      break;
    case raft::FetchResponse::Error::not_leader:
      out.error_code = code(ErrorCode::NOT_LEADER_OR_FOLLOWER);
      break;
  }
  out.high_watermark = reply->high_watermark;
  out.current_leader.leader_id = reply->leader.value_or(-1);
  out.current_leader.leader_epoch = reply->epoch;
  out.log_start_offset = log_start_offset;
  if (reply->snapshot_id) {
    out.snapshot_id.end_offset = reply->snapshot_id->end_offset;
    out.snapshot_id.epoch = reply->snapshot_id->epoch;
  }
  if (reply->diverging) {
    out.diverging_epoch.epoch = reply->diverging->epoch;
    out.diverging_epoch.end_offset = reply->diverging->end_offset;
  }
  out.records = records_of(reply->entries);
}

void RaftManager::handle_describe_quorum(
    protocol::DescribeQuorumRequest request,
    std::function<void(protocol::DescribeQuorumResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), answer = std::move(answer)] {
    protocol::DescribeQuorumResponse response;
    const QuorumStatus now = status();
    for (const auto& topic : request.topics) {
      auto& topic_out = response.topics.emplace_back();
      topic_out.topic_name = topic.topic_name;
      for (const auto& partition : topic.partitions) {
        auto& out = topic_out.partitions.emplace_back();
        out.partition_index = partition.partition_index;
        if (topic.topic_name != metadata_topic_name ||
            partition.partition_index != metadata_partition) {
          out.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
          continue;
        }
        const raft::QuorumInfo info = impl_->replica->quorum_info(impl_->now_ms());
        if (info.error != raft::RaftError::none) {
          out.error_code = code(raft::to_error_code(info.error));
          out.leader_id = now.leader;
          out.leader_epoch = now.epoch;
          continue;
        }
        out.leader_id = info.leader_id;
        out.leader_epoch = info.leader_epoch;
        out.high_watermark = info.high_watermark;
        // The replicas' timestamps are the quorum thread's monotonic
        // milliseconds; DescribeQuorum carries wall-clock ones.
        const int64_t wall_offset = options_.clock->now_ms() - impl_->now_ms();
        auto replica_state = [wall_offset](const raft::ReplicaInfo& replica) {
          protocol::DescribeQuorumResponse::ReplicaState state;
          state.replica_id = replica.replica_id;
          state.log_end_offset = replica.log_end_offset;
          state.last_fetch_timestamp = replica.last_fetch_timestamp_ms < 0
                                           ? -1
                                           : replica.last_fetch_timestamp_ms + wall_offset;
          state.last_caught_up_timestamp = replica.last_caught_up_timestamp_ms < 0
                                               ? -1
                                               : replica.last_caught_up_timestamp_ms + wall_offset;
          return state;
        };
        for (const raft::ReplicaInfo& voter : info.voters)
          out.current_voters.push_back(replica_state(voter));
        for (const raft::ReplicaInfo& observer : info.observers)
          out.observers.push_back(replica_state(observer));
      }
    }
    impl_->add_quorum_nodes(response);
    answer(response);
  });
}

// --- KIP-853's RPCs ---

namespace {

template <class Request>
bool request_cluster_matches(const Request& request, const std::string& cluster_id) {
  return !request.cluster_id || request.cluster_id->empty() || *request.cluster_id == cluster_id;
}

std::string cluster_mismatch(const std::optional<std::string>& given, const std::string& ours) {
  return "The given id \"" + given.value_or("") + "\" doesn't match the cluster id \"" + ours +
         "\"";
}

template <class Response>
std::function<void(ErrorCode, std::string)> respond_with(std::function<void(Response)> answer) {
  return [answer = std::move(answer)](ErrorCode error, std::string message) {
    Response response;
    response.error_code = code(error);
    if (!message.empty()) response.error_message = std::move(message);
    answer(response);
  };
}

}  // namespace

void RaftManager::handle_add_raft_voter(
    protocol::AddRaftVoterRequest request,
    std::function<void(protocol::AddRaftVoterResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), answer = std::move(answer)] {
    auto done = respond_with<protocol::AddRaftVoterResponse>(answer);
    if (!request_cluster_matches(request, options_.cluster_id))
      return done(ErrorCode::INCONSISTENT_CLUSTER_ID,
                  cluster_mismatch(request.cluster_id, options_.cluster_id));
    if (impl_->stopping || !impl_->replica) return done(ErrorCode::NOT_LEADER_OR_FOLLOWER, "");
    impl_->voter_changes.add(*impl_->replica, request, impl_->now_ms(), std::move(done));
    impl_->after_event();
  });
}

void RaftManager::handle_remove_raft_voter(
    protocol::RemoveRaftVoterRequest request,
    std::function<void(protocol::RemoveRaftVoterResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), answer = std::move(answer)] {
    auto done = respond_with<protocol::RemoveRaftVoterResponse>(answer);
    if (!request_cluster_matches(request, options_.cluster_id))
      return done(ErrorCode::INCONSISTENT_CLUSTER_ID,
                  cluster_mismatch(request.cluster_id, options_.cluster_id));
    if (impl_->stopping || !impl_->replica) return done(ErrorCode::NOT_LEADER_OR_FOLLOWER, "");
    impl_->voter_changes.remove(*impl_->replica, request, impl_->now_ms(), std::move(done));
    impl_->after_event();
  });
}

// Kafka answers UpdateRaftVoter at once, with the leader it knows (id,
// epoch, its endpoint on the quorum's listener) whatever the error.
void RaftManager::handle_update_raft_voter(
    protocol::UpdateRaftVoterRequest request,
    std::function<void(protocol::UpdateRaftVoterResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), answer = std::move(answer)] {
    protocol::UpdateRaftVoterResponse response;
    const QuorumStatus now = status();
    response.current_leader.leader_id = now.leader;
    response.current_leader.leader_epoch = now.epoch;
    if (now.leader >= 0) {
      std::optional<net::Endpoint> endpoint;
      if (now.leader == options_.node_id) {
        for (const VoterEndpoint& own : options_.endpoints)
          if (own.name == options_.controller_listener)
            endpoint = net::Endpoint{own.host, own.port};
      } else {
        endpoint = impl_->endpoints.find(now.leader);
      }
      if (endpoint) {
        response.current_leader.host = endpoint->host;
        response.current_leader.port = endpoint->port;
      }
    }
    ErrorCode error = ErrorCode::NONE;
    if (!request_cluster_matches(request, options_.cluster_id)) {
      error = ErrorCode::INCONSISTENT_CLUSTER_ID;
    } else if (impl_->stopping || !impl_->replica) {
      error = ErrorCode::NOT_LEADER_OR_FOLLOWER;
    } else if (request.current_leader_epoch > now.epoch) {
      error = ErrorCode::UNKNOWN_LEADER_EPOCH;
    } else if (request.current_leader_epoch < now.epoch) {
      error = ErrorCode::FENCED_LEADER_EPOCH;
    } else {
      std::vector<VoterEndpoint> listeners;
      for (const auto& listener : request.listeners)
        listeners.push_back({listener.name, listener.host, listener.port});
      auto [code_out, message] = impl_->voter_changes.update(
          *impl_->replica, request.voter_id, request.voter_directory_id, std::move(listeners),
          request.kraft_version_feature.min_supported_version,
          request.kraft_version_feature.max_supported_version, impl_->now_ms());
      error = code_out;
      if (!message.empty())
        spdlog::info("quorum: UpdateRaftVoter of {}: {}", request.voter_id, message);
      impl_->after_event();
    }
    response.error_code = code(error);
    answer(response);
  });
}

// --- FetchSnapshot ---

protocol::FetchSnapshotRequest RaftManager::Impl::fetch_snapshot_request(
    const raft::FetchSnapshotRequest& message) {
  protocol::FetchSnapshotRequest request;
  request.cluster_id = options.cluster_id;
  request.replica_id = options.node_id;
  request.max_bytes = message.max_bytes;
  auto& topic = request.topics.emplace_back();
  topic.name = metadata_topic_name;
  auto& partition = topic.partitions.emplace_back();
  partition.partition = metadata_partition;
  partition.current_leader_epoch = message.epoch;
  partition.snapshot_id.end_offset = message.snapshot_id.end_offset;
  partition.snapshot_id.epoch = message.snapshot_id.epoch;
  partition.position = message.position;
  return request;
}

raft::FetchSnapshotResponse RaftManager::Impl::fetch_snapshot_answer(
    const raft::FetchSnapshotRequest& sent,
    const protocol::FetchSnapshotResponse::PartitionSnapshot& partition) {
  using Error = raft::FetchSnapshotResponse::Error;
  raft::FetchSnapshotResponse response;
  switch (static_cast<ErrorCode>(partition.error_code)) {
    case ErrorCode::NONE:
      break;
    case ErrorCode::FENCED_LEADER_EPOCH:
      response.error = Error::fenced_epoch;
      break;
    case ErrorCode::SNAPSHOT_NOT_FOUND:
      response.error = Error::snapshot_not_found;
      break;
    case ErrorCode::POSITION_OUT_OF_RANGE:
      response.error = Error::position_out_of_range;
      break;
    default:
      response.error = Error::not_leader;
      break;
  }
  response.epoch = partition.current_leader.leader_epoch;
  response.leader = leader_of(partition.current_leader.leader_id);
  response.snapshot_id =
      raft::SnapshotId{partition.snapshot_id.end_offset, partition.snapshot_id.epoch};
  // An answer for another snapshot is dropped by the state machine.
  if (response.error != Error::none) response.snapshot_id = sent.snapshot_id;
  response.size = partition.size_;
  response.position = partition.position;
  if (partition.unaligned_records)
    response.bytes.assign(partition.unaligned_records->bytes.begin(),
                          partition.unaligned_records->bytes.end());
  return response;
}

namespace {

ErrorCode fetch_snapshot_error(raft::FetchSnapshotResponse::Error error) {
  using Error = raft::FetchSnapshotResponse::Error;
  switch (error) {
    case Error::none:
      return ErrorCode::NONE;
    case Error::fenced_epoch:
      return ErrorCode::FENCED_LEADER_EPOCH;
    case Error::not_leader:
      return ErrorCode::NOT_LEADER_OR_FOLLOWER;
    case Error::snapshot_not_found:
      return ErrorCode::SNAPSHOT_NOT_FOUND;
    case Error::position_out_of_range:
      return ErrorCode::POSITION_OUT_OF_RANGE;
  }
  return ErrorCode::UNKNOWN_SERVER_ERROR;
}

}  // namespace

// Kafka's handleFetchSnapshotRequest: one partition, __cluster_metadata-0;
// the state machine answers (the leader's snapshot, a chunk of MaxBytes).
void RaftManager::handle_fetch_snapshot(
    protocol::FetchSnapshotRequest request,
    std::function<void(protocol::FetchSnapshotResponse)> answer) {
  asio::post(impl_->io, [this, request = std::move(request), answer = std::move(answer)] {
    protocol::FetchSnapshotResponse response;
    if (!impl_->cluster_id_matches(request.cluster_id)) {
      response.error_code = code(ErrorCode::INCONSISTENT_CLUSTER_ID);
      return answer(response);
    }
    for (const auto& topic : request.topics) {
      auto& topic_out = response.topics.emplace_back();
      topic_out.name = topic.name;
      for (const auto& partition : topic.partitions) {
        auto& out = topic_out.partitions.emplace_back();
        out.index = partition.partition;
        out.snapshot_id.end_offset = partition.snapshot_id.end_offset;
        out.snapshot_id.epoch = partition.snapshot_id.epoch;
        out.current_leader.leader_id = -1;
        if (topic.name != metadata_topic_name || partition.partition != metadata_partition ||
            request.replica_id < 0) {
          out.error_code = code(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
          continue;
        }
        raft::FetchSnapshotRequest message{
            partition.current_leader_epoch, request.replica_id,
            raft::SnapshotId{partition.snapshot_id.end_offset, partition.snapshot_id.epoch},
            partition.position, request.max_bytes};
        auto reply =
            impl_->receive_request<raft::FetchSnapshotResponse>(request.replica_id, message);
        if (!reply) {
          out.error_code = code(ErrorCode::BROKER_NOT_AVAILABLE);
          continue;
        }
        out.error_code = code(fetch_snapshot_error(reply->error));
        out.current_leader.leader_id = reply->leader.value_or(-1);
        out.current_leader.leader_epoch = reply->epoch;
        out.size_ = reply->size;
        out.position = reply->position;
        auto bytes = std::make_shared<std::string>(std::move(reply->bytes));
        protocol::Records records;
        records.bytes = Bytes(reinterpret_cast<const uint8_t*>(bytes->data()), bytes->size());
        records.owner = bytes;
        out.unaligned_records = std::move(records);
      }
    }
    answer(response);
  });
}

void RaftManager::create_snapshot(int64_t end_offset, std::string data_batches,
                                  std::function<void(bool ok)> done) {
  asio::post(impl_->io,
             [this, end_offset, data_batches = std::move(data_batches), done = std::move(done)] {
               const bool ok = impl_->create_snapshot(end_offset, data_batches);
               if (done) done(ok);
             });
}

VoterSet RaftManager::voter_details(const std::set<int32_t>& ids) const {
  const VoterSet known = impl_->voter_changes.current(*impl_->replica);
  VoterSet voters;
  for (int32_t id : ids) {
    auto node = known.find(id);
    if (node != known.end())
      voters[id] = node->second;
    else
      voters[id].id = id;
  }
  return voters;
}

}  // namespace sluice::cluster
