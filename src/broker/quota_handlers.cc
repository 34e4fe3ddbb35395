// DescribeClientQuotas and AlterClientQuotas (KIP-546): the client quotas
// kept in the metadata log. Describing reads this node's image; altering
// goes to the active controller (forwarded from any node), as Kafka does.
// Kafka's ACLs: DESCRIBE_CONFIGS on the cluster to describe (the handler
// table checks it), ALTER_CONFIGS to alter (every entry refused).
#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/forwarding.h"
#include "broker/handlers.h"
#include "cluster/client_quotas.h"

namespace sluice::broker {

using protocol::AlterClientQuotasRequest;
using protocol::AlterClientQuotasResponse;
using protocol::DescribeClientQuotasRequest;
using protocol::DescribeClientQuotasResponse;

namespace {

std::vector<cluster::ClientQuotaAlteration> alterations_of(
    const AlterClientQuotasRequest& request) {
  std::vector<cluster::ClientQuotaAlteration> out;
  for (const auto& entry : request.entries) {
    cluster::ClientQuotaAlteration& alteration = out.emplace_back();
    for (const auto& part : entry.entity)
      alteration.entity.emplace_back(part.entity_type, part.entity_name);
    for (const auto& op : entry.ops)
      alteration.ops.emplace_back(op.key, op.remove ? std::nullopt : std::optional(op.value));
  }
  return out;
}

AlterClientQuotasResponse answer_each(const AlterClientQuotasRequest& request,
                                      const std::vector<cluster::ApiError>& errors) {
  AlterClientQuotasResponse response;
  for (size_t i = 0; i < request.entries.size(); ++i) {
    auto& out = response.entries.emplace_back();
    for (const auto& part : request.entries[i].entity)
      out.entity.push_back({part.entity_type, part.entity_name, {}});
    const cluster::ApiError& error = errors[i];
    out.error_code = to_wire(error.code);
    out.error_message = error.ok() ? std::nullopt : std::optional<std::string>(error.message);
  }
  return response;
}

}  // namespace

void handle_alter_client_quotas(Broker& broker, RequestContext context,
                                AlterClientQuotasRequest request) {
  if (!broker.authorization().allows_cluster(context.connection(),
                                             security::AclOperation::ALTER_CONFIGS)) {
    const cluster::ApiError refused{ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
                                    "Cluster authorization failed."};
    return context.reply(
        answer_each(request, std::vector<cluster::ApiError>(request.entries.size(), refused)));
  }
  if (forward_to_controller(broker, context, request)) return;
  broker.submit_to_controller(
      std::move(context), [&broker, request = std::move(request)](RequestContext& context) {
        std::vector<cluster::ApiError> errors =
            broker.controller().alter_client_quotas(alterations_of(request), request.validate_only);
        context.reply(answer_each(request, errors));
      });
}

void handle_describe_client_quotas(Broker& broker, RequestContext context,
                                   DescribeClientQuotasRequest request) {
  std::vector<cluster::QuotaFilterComponent> components;
  for (const auto& component : request.components)
    components.push_back({component.entity_type, component.match_type, component.match});
  const cluster::MetadataImagePtr image = broker.metadata_image();
  cluster::QuotaDescription found =
      cluster::describe_client_quotas(image->client_quotas, components, request.strict);
  DescribeClientQuotasResponse response;
  response.error_code = to_wire(found.error);
  if (found.error != ErrorCode::NONE) {
    response.error_message = found.message;
    response.entries = std::nullopt;
    return context.reply(response);
  }
  response.error_message = std::nullopt;
  for (const auto& [entity, values] : found.entries) {
    auto& entry = response.entries->emplace_back();
    for (const auto& [type, name] : entity) entry.entity.push_back({type, name, {}});
    for (const auto& [key, value] : values) entry.values.push_back({key, value, {}});
  }
  context.reply(response);
}

}  // namespace sluice::broker
