// KRaft's RPCs on the controller listener (Vote, BeginQuorumEpoch,
// EndQuorumEpoch, Fetch of __cluster_metadata-0, FetchSnapshot), DescribeQuorum and
// KIP-853's AddRaftVoter, RemoveRaftVoter, UpdateRaftVoter: each
// is handed to the quorum's thread (cluster/raft_manager.h), which answers;
// the reactor never waits on it.

#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {

using namespace protocol;

namespace {

// The quorum answers on its own thread; the context moves there with it.
template <class Response>
std::function<void(Response)> answer_on(RequestContext context) {
  auto shared = std::make_shared<RequestContext>(std::move(context));
  return [shared](Response response) { shared->reply(response); };
}

// The record bytes an answer references (large ones are written from
// where they are, not copied into the body) stay alive until it is sent.
std::vector<std::shared_ptr<const void>> record_owners(const FetchSnapshotResponse& response) {
  std::vector<std::shared_ptr<const void>> owners;
  for (const auto& topic : response.topics)
    for (const auto& partition : topic.partitions)
      if (partition.unaligned_records && partition.unaligned_records->owner)
        owners.push_back(partition.unaligned_records->owner);
  return owners;
}

std::vector<std::shared_ptr<const void>> record_owners(const FetchResponse& response) {
  std::vector<std::shared_ptr<const void>> owners;
  for (const auto& topic : response.responses)
    for (const auto& partition : topic.partitions)
      if (partition.records && partition.records->owner) owners.push_back(partition.records->owner);
  return owners;
}

template <class Response>
std::function<void(Response)> answer_with_records_on(RequestContext context) {
  auto shared = std::make_shared<RequestContext>(std::move(context));
  return [shared](Response response) { shared->reply(response, record_owners(response)); };
}

}  // namespace

void handle_vote(Broker& broker, RequestContext context, VoteRequest request) {
  broker.controller().quorum().handle_vote(std::move(request),
                                           answer_on<VoteResponse>(std::move(context)));
}

void handle_begin_quorum_epoch(Broker& broker, RequestContext context,
                               BeginQuorumEpochRequest request) {
  broker.controller().quorum().handle_begin_quorum_epoch(
      std::move(request), answer_on<BeginQuorumEpochResponse>(std::move(context)));
}

void handle_end_quorum_epoch(Broker& broker, RequestContext context,
                             EndQuorumEpochRequest request) {
  broker.controller().quorum().handle_end_quorum_epoch(
      std::move(request), answer_on<EndQuorumEpochResponse>(std::move(context)));
}

// Only the leader knows every replica's progress, so a broker listener
// forwards the request to it (as Kafka's brokers forward DescribeQuorum to
// the active controller) and `sluice cluster info` works against any node.
// A controller listener answers itself (NOT_LEADER_OR_FOLLOWER when it does
// not lead, as Kafka's does): that is also where forwarded requests land,
// so two nodes with stale views never bounce a request between them.
void handle_describe_quorum(Broker& broker, RequestContext context, DescribeQuorumRequest request) {
  cluster::RaftManager& quorum = broker.controller().quorum();
  const cluster::QuorumStatus status = quorum.status();
  const bool on_controller_listener =
      broker.config().is_controller_listener(context.connection().listener_name);
  if (on_controller_listener || status.role == raft::Role::leader || status.leader < 0) {
    return quorum.handle_describe_quorum(std::move(request),
                                         answer_on<DescribeQuorumResponse>(std::move(context)));
  }
  auto shared = std::make_shared<RequestContext>(std::move(context));
  const int16_t version = shared->api_version();
  quorum.send_to_leader(std::move(request), version,
                        [shared, version](net::ClientResult<DescribeQuorumResponse> result) {
                          if (!result.ok() || result.version != version) {
                            spdlog::warn(
                                "forwarding DescribeQuorum to the quorum's leader failed: {}",
                                result.ok() ? "version mismatch" : result.status.message);
                            return shared->close_connection();
                          }
                          shared->reply(result.message);
                        });
}

// KIP-853 voter changes. A controller listener answers itself (the leader
// runs the change; another controller answers NOT_LEADER_OR_FOLLOWER, as
// Kafka's do); a broker listener forwards the request to the quorum's
// leader, as Kafka's brokers forward AddRaftVoter and RemoveRaftVoter.
template <class Request, class Response>
void voter_change(Broker& broker, RequestContext context, Request request,
                  void (cluster::RaftManager::*handle)(Request, std::function<void(Response)>)) {
  cluster::RaftManager& quorum = broker.controller().quorum();
  const bool on_controller_listener =
      broker.config().is_controller_listener(context.connection().listener_name);
  const cluster::QuorumStatus status = quorum.status();
  if (on_controller_listener || status.role == raft::Role::leader || status.leader < 0)
    return (quorum.*handle)(std::move(request), answer_on<Response>(std::move(context)));
  auto shared = std::make_shared<RequestContext>(std::move(context));
  const int16_t version = shared->api_version();
  quorum.send_to_leader(
      std::move(request), version, [shared, version](net::ClientResult<Response> result) {
        if (!result.ok() || result.version != version) {
          spdlog::warn("forwarding {} to the quorum's leader failed: {}", Request::message_name,
                       result.ok() ? "version mismatch" : result.status.message);
          return shared->close_connection();
        }
        shared->reply(result.message);
      });
}

void handle_add_raft_voter(Broker& broker, RequestContext context, AddRaftVoterRequest request) {
  voter_change(broker, std::move(context), std::move(request),
               &cluster::RaftManager::handle_add_raft_voter);
}

void handle_remove_raft_voter(Broker& broker, RequestContext context,
                              RemoveRaftVoterRequest request) {
  voter_change(broker, std::move(context), std::move(request),
               &cluster::RaftManager::handle_remove_raft_voter);
}

void handle_update_raft_voter(Broker& broker, RequestContext context,
                              UpdateRaftVoterRequest request) {
  broker.controller().quorum().handle_update_raft_voter(
      std::move(request), answer_on<UpdateRaftVoterResponse>(std::move(context)));
}

// A follower downloading the leader's metadata snapshot (controller
// listener only, as Kafka advertises it).
void handle_fetch_snapshot(Broker& broker, RequestContext context, FetchSnapshotRequest request) {
  broker.controller().quorum().handle_fetch_snapshot(
      std::move(request), answer_with_records_on<FetchSnapshotResponse>(std::move(context)));
}

void handle_metadata_fetch(Broker& broker, RequestContext context, FetchRequest request) {
  const int16_t version = context.api_version();
  broker.controller().quorum().handle_fetch(
      std::move(request), version, answer_with_records_on<FetchResponse>(std::move(context)));
}

}  // namespace sluice::broker
