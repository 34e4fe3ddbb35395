// The brokers' lifecycle APIs a controller serves (Kafka's
// ControllerApis): BrokerRegistration (62), BrokerHeartbeat (63),
// UnregisterBroker (64). Each decodes into the controller's own request
// type and runs on the controller thread (Broker::submit_to_controller):
// the answer waits for the records' commit, never on a reactor.
#include "base/error_code.h"
#include "broker/admin_common.h"
#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {
namespace {

using namespace protocol;

cluster::BrokerRegistration registration_of(const BrokerRegistrationRequest& request) {
  cluster::BrokerRegistration out;
  out.broker_id = request.broker_id;
  out.cluster_id = request.cluster_id;
  out.incarnation_id = request.incarnation_id;
  for (const auto& listener : request.listeners)
    out.listeners.push_back(
        {listener.name, listener.host, listener.port, listener.security_protocol});
  for (const auto& feature : request.features)
    out.features.push_back(
        {feature.name, feature.min_supported_version, feature.max_supported_version});
  out.rack = request.rack;
  out.is_migrating_zk_broker = request.is_migrating_zk_broker;
  out.previous_broker_epoch = request.previous_broker_epoch;
  return out;
}

}  // namespace

void handle_broker_registration(Broker& broker, RequestContext context,
                                BrokerRegistrationRequest request) {
  broker.submit_to_controller(
      std::move(context),
      [&broker, registration = registration_of(request)](RequestContext& context) {
        cluster::BrokerRegistrationReply reply = broker.controller().register_broker(registration);
        BrokerRegistrationResponse response;
        response.error_code = to_wire(reply.error.code);
        response.broker_epoch = reply.broker_epoch;
        context.reply(response);
      });
}

void handle_broker_heartbeat(Broker& broker, RequestContext context,
                             BrokerHeartbeatRequest request) {
  cluster::BrokerHeartbeat heartbeat;
  heartbeat.broker_id = request.broker_id;
  heartbeat.broker_epoch = request.broker_epoch;
  heartbeat.current_metadata_offset = request.current_metadata_offset;
  heartbeat.want_fence = request.want_fence;
  heartbeat.want_shutdown = request.want_shut_down;
  broker.submit_to_controller(std::move(context), [&broker, heartbeat](RequestContext& context) {
    cluster::BrokerHeartbeatReply reply = broker.controller().heartbeat(heartbeat);
    BrokerHeartbeatResponse response;
    response.error_code = to_wire(reply.error.code);
    response.is_caught_up = reply.is_caught_up;
    response.is_fenced = reply.is_fenced;
    response.should_shut_down = reply.should_shutdown;
    context.reply(response);
  });
}

void handle_unregister_broker(Broker& broker, RequestContext context,
                              UnregisterBrokerRequest request) {
  broker.submit_to_controller(
      std::move(context), [&broker, id = request.broker_id](RequestContext& context) {
        cluster::ApiError error = broker.controller().unregister_broker(id);
        UnregisterBrokerResponse response;
        response.error_code = to_wire(error.code);
        response.error_message =
            error.ok() ? std::nullopt : std::optional<std::string>(error.message);
        context.reply(response);
      });
}

}  // namespace sluice::broker
