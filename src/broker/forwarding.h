#pragma once
// Kafka's request forwarding (KIP-590's shape without the envelope): an
// admin request that changes metadata, received by a node that is not the
// active controller, is sent on to the active controller's controller
// listener in the client's version, and its answer goes back to the client
// unchanged. The network work happens on the quorum's thread; the reactor
// only hands the request over.

#include <spdlog/spdlog.h>

#include <memory>

#include "broker/broker.h"
#include "broker/request_context.h"

namespace sluice::broker {

// True when `request` was forwarded (the context has moved); false when this
// node handles it: it is the active controller, or it leads the quorum and
// is catching up (the local controller then waits, bounded).
// `adjust`, when set, edits the controller's answer before it is sent (the
// forwarding node adds what it answered itself: topics refused by ACLs).
template <class Request>
bool forward_to_controller(Broker& broker, RequestContext& context, Request& request,
                           std::function<void(typename Request::Response&)> adjust = {}) {
  cluster::Controller& controller = broker.controller();
  if (controller.is_active()) return false;
  // This node leads but has not caught up yet: the local controller waits
  // for that. Any other case goes to the leader, once one is known (the
  // quorum retries until the request's deadline).
  const cluster::QuorumStatus status = controller.quorum().status();
  if (status.leader == controller.node_id()) return false;
  auto shared = std::make_shared<RequestContext>(std::move(context));
  const int16_t version = shared->api_version();
  controller.quorum().send_to_leader(
      std::move(request), version,
      [shared, version,
       adjust = std::move(adjust)](net::ClientResult<typename Request::Response> result) {
        if (!result.ok() || result.version != version) {
          spdlog::warn("forwarding {} to the active controller failed: {}", Request::message_name,
                       result.ok() ? "version mismatch" : result.status.message);
          return shared->close_connection();
        }
        if (adjust) adjust(result.message);
        shared->reply(result.message);
      });
  return true;
}

}  // namespace sluice::broker
