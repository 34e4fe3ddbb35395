// KRaft's RPCs on the controller listener (Vote, BeginQuorumEpoch,
// EndQuorumEpoch, Fetch of __cluster_metadata-0) and DescribeQuorum: each
// is handed to the quorum's thread (cluster/raft_manager.h), which answers;
// the reactor never waits on it.

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

void handle_describe_quorum(Broker& broker, RequestContext context, DescribeQuorumRequest request) {
  broker.controller().quorum().handle_describe_quorum(
      std::move(request), answer_on<DescribeQuorumResponse>(std::move(context)));
}

void handle_metadata_fetch(Broker& broker, RequestContext context, FetchRequest request) {
  const int16_t version = context.api_version();
  broker.controller().quorum().handle_fetch(std::move(request), version,
                                            answer_on<FetchResponse>(std::move(context)));
}

}  // namespace sluice::broker
