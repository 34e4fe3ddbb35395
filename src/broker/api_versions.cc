// ApiVersions: the APIs and version ranges served on the request's listener
// (the handler table of its role, handlers.h), or, for a version the broker does not know, Kafka's
// fallback: a v0 response with UNSUPPORTED_VERSION and the same list, so any client can read it and
// retry with a version it shares.
#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/handlers.h"

namespace sluice::broker {

using protocol::ApiVersionsRequest;
using protocol::ApiVersionsResponse;

void handle_api_versions(Broker& broker, RequestContext context, ApiVersionsRequest) {
  ApiVersionsResponse response;
  ListenerRole role = listener_role(broker.config(), context.connection().listener_name);
  for (const ApiHandler& handler : api_handlers(role))
    response.api_keys.push_back({handler.api_key, handler.min_version, handler.max_version, {}});
  context.reply(response);
}

// Called by the broker before decoding, for a version above the served range.
void reply_api_versions_unsupported(RequestContext context) {
  ApiVersionsResponse response;
  response.error_code = static_cast<int16_t>(ErrorCode::UNSUPPORTED_VERSION);
  const ApiHandler* self = find_handler(ApiVersionsRequest::api_key);
  response.api_keys.push_back({self->api_key, self->min_version, self->max_version, {}});
  context.reply_in_version(response, 0);
}

}  // namespace sluice::broker
