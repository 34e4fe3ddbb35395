// ApiVersions: the APIs and version ranges served on the request's listener
// (the handler table of its role, handlers.h), or, for a version the broker does not know, Kafka's
// fallback: a v0 response with UNSUPPORTED_VERSION and the same list, so any client can read it and
// retry with a version it shares. A v3+ request naming its client software
// outside Kafka's pattern is answered INVALID_REQUEST with no APIs; v3+
// answers carry the feature flags.
#include <string_view>

#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/handlers.h"
#include "cluster/features.h"

namespace sluice::broker {

using protocol::ApiVersionsRequest;
using protocol::ApiVersionsResponse;

namespace {

bool is_alphanumeric(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Kafka's ApiVersionsRequest.SOFTWARE_NAME_VERSION_PATTERN,
// [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?: letters and digits at both
// ends, '-' and '.' also allowed between them.
bool is_valid_client_software_text(std::string_view text) {
  if (text.empty() || !is_alphanumeric(text.front()) || !is_alphanumeric(text.back())) return false;
  for (char c : text)
    if (!is_alphanumeric(c) && c != '-' && c != '.') return false;
  return true;
}

// KIP-584's feature flags (v3+, tagged): the ranges this build supports and
// the levels the metadata log has finalized, with the image's offset as the
// epoch a client keeps the newest of. Before v4 a supported range starting
// at 0 is left out: older clients cannot read it (KAFKA-17492).
void add_features(const Broker& broker, int16_t version, ApiVersionsResponse& response) {
  for (const cluster::BrokerFeatureRange& range : cluster::supported_features())
    if (version >= 4 || range.min_version > 0)
      response.supported_features.push_back({range.name, range.min_version, range.max_version, {}});
  cluster::MetadataImagePtr image = broker.metadata_image();
  if (!image) return;
  response.finalized_features_epoch = image->offset;
  for (const auto& [name, level] : image->features)
    if (level != 0) response.finalized_features.push_back({name, level, level, {}});
}

}  // namespace

void handle_api_versions(Broker& broker, RequestContext context, ApiVersionsRequest request) {
  ApiVersionsResponse response;
  // Kafka's ApiVersionsRequest.isValid, checked by KafkaApis.handleApiVersionsRequest.
  if (context.api_version() >= 3 &&
      !(is_valid_client_software_text(request.client_software_name) &&
        is_valid_client_software_text(request.client_software_version))) {
    response.error_code = to_wire(ErrorCode::INVALID_REQUEST);
    return context.reply(response);
  }
  ListenerRole role = listener_role(broker.config(), context.connection().listener_name);
  for (const ApiHandler& handler : api_handlers(role))
    response.api_keys.push_back({handler.api_key, handler.min_version, handler.max_version, {}});
  if (context.api_version() >= 3) add_features(broker, context.api_version(), response);
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
