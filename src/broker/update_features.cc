// UpdateFeatures (KIP-584; Admin.updateFeatures, kafka-features.sh
// upgrade|downgrade): the new finalized levels, committed by the active
// controller (forwarded there from any other node), all or nothing. Kafka's
// answer: on failure the top-level error with "The update failed for all
// features since the following feature had an error: ..."; on success
// v0-1 also list each feature with NONE, v2 lists none. Describing the
// features is ApiVersions' (api_versions.cc).
#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/forwarding.h"
#include "broker/handlers.h"
#include "cluster/features.h"

namespace sluice::broker {

using protocol::UpdateFeaturesRequest;
using protocol::UpdateFeaturesResponse;

namespace {

// v0's AllowDowngrade stands for a safe downgrade (Kafka's
// UpdateFeaturesRequest.upgradeType).
std::vector<cluster::FeatureUpdate> updates_of(const UpdateFeaturesRequest& request,
                                               int16_t version) {
  std::vector<cluster::FeatureUpdate> updates;
  for (const auto& update : request.feature_updates) {
    int8_t type = update.upgrade_type;
    if (version == 0) type = update.allow_downgrade ? 2 : 1;
    updates.push_back({update.feature, update.max_version_level, type});
  }
  return updates;
}

UpdateFeaturesResponse answer(const UpdateFeaturesRequest& request, int16_t version,
                              const cluster::ApiError& error) {
  UpdateFeaturesResponse response;
  response.error_code = to_wire(error.code);
  response.error_message = std::nullopt;
  if (!error.ok()) {
    response.error_message =
        "The update failed for all features since the following feature had an error: " +
        error.message;
    return response;
  }
  if (version <= 1)
    for (const auto& update : request.feature_updates)
      response.results.push_back({update.feature, to_wire(ErrorCode::NONE), std::nullopt, {}});
  return response;
}

}  // namespace

void handle_update_features(Broker& broker, RequestContext context, UpdateFeaturesRequest request) {
  if (forward_to_controller(broker, context, request)) return;
  broker.submit_to_controller(std::move(context),
                              [&broker, request = std::move(request)](RequestContext& context) {
                                const int16_t version = context.api_version();
                                cluster::ApiError error = broker.controller().update_features(
                                    updates_of(request, version), request.validate_only);
                                context.reply(answer(request, version, error));
                              });
}

}  // namespace sluice::broker
