#pragma once
// The quorum of this node: drives the KRaft state machine (raft/raft.h) on
// its own thread ("quorum"), over the metadata log (MetadataLog as
// raft::RaftLog), the `quorum-state` file, and Kafka's RPCs to the other
// voters (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch of
// __cluster_metadata-0) through one net::KafkaClient per voter.
//
// Kafka's RaftManager/KafkaRaftClient shape: one thread owns the log and
// the state machine; it writes and fsyncs the log itself (never a
// reactor: inbound RPCs are posted to it and answered from it), and it
// tells `on_commit` each time the high watermark moves, so the controller
// applies committed records (and only those) to the metadata image.
//
// A lone node (the voters are this node alone) elects itself at once and
// needs no network.
//
// Threading: every public method may be called from any thread; the
// callbacks (`done`, `answer`, `on_commit`) run on the quorum thread and
// must not block on it.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/error_code.h"
#include "base/result.h"
#include "cluster/metadata_log.h"
#include "cluster/quorum_state_file.h"
#include "cluster/raft/raft.h"
#include "cluster/voter_set.h"
#include "net/kafka_client.h"
#include "net/transport.h"
#include "protocol/messages.h"

namespace sluice::cluster {

struct RaftManagerOptions {
  int32_t node_id = 1;
  std::string cluster_id;
  // controller.quorum.voters: id -> the endpoint of its controller listener.
  // This node's own entry is not dialled.
  std::map<int32_t, net::Endpoint> voters;
  // controller.quorum.bootstrap.servers: where a node that is not a voter
  // (or knows no voters) finds the leader (quorum_endpoints.h).
  std::vector<net::Endpoint> bootstrap_servers;
  // KIP-853: the controller listener dialled (the first of
  // controller.listener.names), this node's advertised controller
  // listeners (written into voters entries, sent with UpdateRaftVoter
  // when the log says otherwise) and the metadata log dir's directory id.
  std::string controller_listener = "CONTROLLER";
  std::vector<VoterEndpoint> endpoints;
  Uuid directory_id;
  int64_t election_timeout_ms = 1000;  // controller.quorum.election.timeout.ms
  int64_t fetch_timeout_ms = 2000;     // controller.quorum.fetch.timeout.ms
  int64_t request_timeout_ms = 2000;   // controller.quorum.request.timeout.ms
  int64_t retry_backoff_ms = 20;       // controller.quorum.retry.backoff.ms
  // How long a Fetch of this node waits at the leader for news (Kafka's
  // KafkaRaftClient.MAX_FETCH_WAIT_MS, not a setting); 0: no long poll.
  int64_t fetch_max_wait_ms = 500;
  const Clock* clock = &system_clock();
  uint64_t random_seed = 1;
  // The high watermark moved to `committed_end` (quorum thread).
  std::function<void(int64_t committed_end)> on_commit;
  // A log or quorum-state write that could not be undone (Kafka halts).
  std::function<void(const std::string& message)> on_fatal;
  // The snapshots (snapshot_store.h), used on the quorum thread only; null:
  // none (create_snapshot fails, FetchSnapshot is answered with an error).
  raft::SnapshotStore* snapshots = nullptr;
  // The voter set of the latest snapshot with its endpoints (see
  // VoterChangeOptions::snapshot_voters); quorum thread.
  std::function<std::optional<VoterSet>()> snapshot_voters;
};

// What the quorum looks like from this node, for handlers and metrics.
struct QuorumStatus {
  raft::Role role = raft::Role::unattached;
  int32_t epoch = 0;
  int32_t leader = -1;          // -1: none known
  int64_t high_watermark = -1;  // -1: not known yet
  int64_t log_end_offset = 0;
  int64_t leader_changes = 0;  // since start
  int64_t log_start_offset = 0;
  std::optional<raft::SnapshotId> latest_snapshot;
  int64_t snapshots_installed = 0;  // fetched from the leader since start
};

// Why an append was not committed.
enum class AppendError { not_leader, lost_leadership, write_failed, stopped };

class RaftManager {
 public:
  RaftManager(MetadataLog& log, QuorumStateFile& state, RaftManagerOptions options);
  ~RaftManager();
  RaftManager(const RaftManager&) = delete;
  RaftManager& operator=(const RaftManager&) = delete;

  void start();
  // Fails appends still waiting (AppendError::stopped) and joins the thread.
  void stop();

  // Appends `records` (framed metadata records) as one batch if this node
  // leads, and calls `done` with the offset after the batch once it is
  // committed, or with why it will not be (a batch whose leader lost its
  // epoch may still be committed by the next one: the caller answers
  // NOT_CONTROLLER, and the image shows what happened).
  using AppendDone = std::function<void(std::optional<AppendError> error, int64_t end_offset)>;
  void append(std::vector<std::vector<uint8_t>> records, AppendDone done);

  QuorumStatus status() const;
  // On shutdown (Kafka's graceful shutdown of a leader): if this node
  // leads, it stops and tells the other voters, who elect one of them at
  // once. Returns before that; status() shows the new leader.
  void resign();

  // Sends `request` to the voter leading the quorum (its controller
  // listener), for the requests any node receives and only the active
  // controller handles (Kafka forwards them too). `done` runs on the
  // quorum thread; no known leader fails it with ClientErrc::disconnected.
  template <class Request>
  void send_to_leader(Request request, int16_t version_max,
                      std::function<void(net::ClientResult<typename Request::Response>)> done) {
    using Response = typename Request::Response;
    auto shared = std::make_shared<Request>(std::move(request));
    send_raw_to_leader(
        Request::api_key, Request::min_version,
        std::min<int16_t>(version_max, Request::max_version),
        [shared](WireWriter& writer, int16_t version) { shared->encode(writer, version); },
        [done = std::move(done)](const net::ClientStatus& status, int16_t version, Bytes body,
                                 std::shared_ptr<const std::vector<uint8_t>> frame) {
          net::ClientResult<Response> result;
          result.status = status;
          result.version = version;
          result.frame = std::move(frame);
          if (status.ok()) {
            Status decoded = protocol::decode_exact(body, version, result.message);
            if (!decoded) result.status = {net::ClientErrc::bad_response, decoded.to_string()};
          }
          done(std::move(result));
        });
  }
  void send_raw_to_leader(int16_t api_key, int16_t version_min, int16_t version_max,
                          net::KafkaClient::Encoder encode, net::KafkaClient::RawCallback done);
  // The configured voters (controller.quorum.voters), not the set in effect,
  // which lives in the log (KIP-853) and DescribeQuorum reports.
  bool is_voter() const { return options_.voters.count(options_.node_id) != 0; }
  const std::map<int32_t, net::Endpoint>& voters() const { return options_.voters; }

  // Kafka's RPCs received on the controller listener (`version`: the
  // request's); `answer` is called once, on the quorum thread.
  void handle_vote(protocol::VoteRequest request,
                   std::function<void(protocol::VoteResponse)> answer);
  void handle_begin_quorum_epoch(protocol::BeginQuorumEpochRequest request,
                                 std::function<void(protocol::BeginQuorumEpochResponse)> answer);
  void handle_end_quorum_epoch(protocol::EndQuorumEpochRequest request,
                               std::function<void(protocol::EndQuorumEpochResponse)> answer);
  // A Fetch of __cluster_metadata-0 (the handler routes it here). On the
  // leader, one that finds nothing new for the fetcher is answered when
  // there is news, or after its MaxWaitMs (long poll).
  void handle_fetch(protocol::FetchRequest request, int16_t version,
                    std::function<void(protocol::FetchResponse)> answer);
  void handle_describe_quorum(protocol::DescribeQuorumRequest request,
                              std::function<void(protocol::DescribeQuorumResponse)> answer);
  // KIP-853 (raft_manager_voters.cc), as Kafka's Add/Remove/UpdateVoterHandler:
  // the leader appends the voters entry and answers Add/Remove once it is
  // committed (or REQUEST_TIMED_OUT after the request's timeout), Update at
  // once; any other node answers NOT_LEADER_OR_FOLLOWER.
  void handle_add_raft_voter(protocol::AddRaftVoterRequest request,
                             std::function<void(protocol::AddRaftVoterResponse)> answer);
  void handle_remove_raft_voter(protocol::RemoveRaftVoterRequest request,
                                std::function<void(protocol::RemoveRaftVoterResponse)> answer);
  void handle_update_raft_voter(protocol::UpdateRaftVoterRequest request,
                                std::function<void(protocol::UpdateRaftVoterResponse)> answer);
  void handle_fetch_snapshot(protocol::FetchSnapshotRequest request,
                             std::function<void(protocol::FetchSnapshotResponse)> answer);

  // Snapshots the state below `end_offset` (committed, applied by the
  // caller) with `data_batches` (snapshot_format.h) on the quorum thread:
  // written and synced, then the log drops its prefix. An offset the quorum
  // cannot snapshot (not past the latest snapshot, above the high
  // watermark) is skipped with a debug line. `done(ok)` runs on the quorum
  // thread.
  void create_snapshot(int64_t end_offset, std::string data_batches,
                       std::function<void(bool ok)> done = {});
  // What this node knows of voters `ids` (endpoints, directory ids: the
  // voters entry in effect, else the configured voters), for the VotersRecord
  // of a snapshot. Quorum thread only (the snapshot store calls it there).
  VoterSet voter_details(const std::set<int32_t>& ids) const;

 private:
  struct Impl;
  static bool is_single_metadata_fetch(const protocol::FetchRequest& request, int16_t version);
  void long_poll_fetch(const protocol::FetchRequest& request, int16_t version, int32_t replica,
                       std::function<void(protocol::FetchResponse)> answer);
  static void fill_fetch_partition(protocol::FetchResponse::PartitionData& out,
                                   const std::optional<raft::FetchResponse>& reply,
                                   int64_t log_start_offset);
  RaftManagerOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Kafka's fixed id of the metadata topic (Topic.METADATA_TOPIC_ID).
Uuid metadata_topic_id();

}  // namespace sluice::cluster
