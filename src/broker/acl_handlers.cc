// CreateAcls, DescribeAcls and DeleteAcls (Kafka's ACL admin APIs,
// kafka-acls.sh). Creating and deleting go to the active controller, which
// writes the metadata records (forwarded from any other node); describing
// reads this node's metadata image. Without an authorizer each answers
// SECURITY_DISABLED, as Kafka does; a principal without ALTER (create,
// delete) or DESCRIBE (describe) on the cluster gets
// CLUSTER_AUTHORIZATION_FAILED.
#include <map>
#include <tuple>

#include "base/error_code.h"
#include "broker/authorization.h"
#include "broker/broker.h"
#include "broker/forwarding.h"
#include "broker/handlers.h"

namespace sluice::broker {

using protocol::CreateAclsRequest;
using protocol::CreateAclsResponse;
using protocol::DeleteAclsRequest;
using protocol::DeleteAclsResponse;
using protocol::DescribeAclsRequest;
using protocol::DescribeAclsResponse;
namespace sec = security;

namespace {

constexpr const char* kNoAuthorizer = "No Authorizer is configured.";

// Why an ACL request is refused outright, if it is.
std::optional<std::pair<ErrorCode, std::string>> refusal(const Broker& broker,
                                                         const RequestContext& context,
                                                         sec::AclOperation operation) {
  if (!broker.authorization().enabled())
    return std::pair{ErrorCode::SECURITY_DISABLED, std::string(kNoAuthorizer)};
  if (!broker.authorization().allows(context.connection(), operation, sec::ResourceType::CLUSTER,
                                     sec::kClusterResourceName))
    return std::pair{ErrorCode::CLUSTER_AUTHORIZATION_FAILED, std::string()};
  return std::nullopt;
}

sec::AclBinding binding_of(const CreateAclsRequest::AclCreation& creation) {
  return {sec::resource_type_from_code(creation.resource_type),
          creation.resource_name,
          sec::pattern_type_from_code(creation.resource_pattern_type),
          creation.principal,
          creation.host,
          sec::acl_operation_from_code(creation.operation),
          sec::acl_permission_type_from_code(creation.permission_type)};
}

template <class Filter>
sec::AclBindingFilter filter_of(const Filter& filter) {
  sec::AclBindingFilter out;
  out.resource_type = sec::resource_type_from_code(filter.resource_type_filter);
  out.resource_name = filter.resource_name_filter;
  out.pattern_type = sec::pattern_type_from_code(filter.pattern_type_filter);
  out.principal = filter.principal_filter;
  out.host = filter.host_filter;
  out.operation = sec::acl_operation_from_code(filter.operation);
  out.permission = sec::acl_permission_type_from_code(filter.permission_type);
  return out;
}

std::optional<std::string> message_of(const cluster::ApiError& error) {
  if (error.ok() || error.message.empty()) return std::nullopt;
  return error.message;
}

}  // namespace

void handle_create_acls(Broker& broker, RequestContext context, CreateAclsRequest request) {
  if (auto refused = refusal(broker, context, sec::AclOperation::ALTER)) {
    CreateAclsResponse response;
    for (size_t i = 0; i < request.creations.size(); ++i)
      response.results.push_back({to_wire(refused->first), refused->second, {}});
    context.reply(response);
    return;
  }
  if (forward_to_controller(broker, context, request)) return;
  broker.submit_to_controller(
      std::move(context), [&broker, request = std::move(request)](RequestContext& context) {
        std::vector<sec::AclBinding> bindings;
        for (const auto& creation : request.creations) bindings.push_back(binding_of(creation));
        CreateAclsResponse response;
        for (const cluster::ApiError& error : broker.controller().create_acls(bindings))
          response.results.push_back({to_wire(error.code), message_of(error), {}});
        context.reply(response);
      });
}

void handle_delete_acls(Broker& broker, RequestContext context, DeleteAclsRequest request) {
  if (auto refused = refusal(broker, context, sec::AclOperation::ALTER)) {
    DeleteAclsResponse response;
    for (size_t i = 0; i < request.filters.size(); ++i) {
      auto& result = response.filter_results.emplace_back();
      result.error_code = to_wire(refused->first);
      result.error_message = refused->second;
    }
    context.reply(response);
    return;
  }
  if (forward_to_controller(broker, context, request)) return;
  broker.submit_to_controller(
      std::move(context), [&broker, request = std::move(request)](RequestContext& context) {
        std::vector<sec::AclBindingFilter> filters;
        for (const auto& filter : request.filters) filters.push_back(filter_of(filter));
        DeleteAclsResponse response;
        for (const cluster::AclDeletion& deletion : broker.controller().delete_acls(filters)) {
          auto& result = response.filter_results.emplace_back();
          result.error_code = to_wire(deletion.error.code);
          result.error_message = message_of(deletion.error);
          for (const sec::AclBinding& acl : deletion.deleted) {
            auto& matching = result.matching_acls.emplace_back();
            matching.error_message = std::nullopt;
            matching.resource_type = sec::to_code(acl.resource_type);
            matching.resource_name = acl.resource_name;
            matching.pattern_type = sec::to_code(acl.pattern_type);
            matching.principal = acl.principal;
            matching.host = acl.host;
            matching.operation = sec::to_code(acl.operation);
            matching.permission_type = sec::to_code(acl.permission);
          }
        }
        context.reply(response);
      });
}

// Grouped by resource pattern, as Kafka answers.
void handle_describe_acls(Broker& broker, RequestContext context, DescribeAclsRequest request) {
  DescribeAclsResponse response;
  response.error_message = std::nullopt;
  if (auto refused = refusal(broker, context, sec::AclOperation::DESCRIBE)) {
    response.error_code = to_wire(refused->first);
    if (!refused->second.empty()) response.error_message = refused->second;
    context.reply(response);
    return;
  }
  const sec::AclBindingFilter filter = filter_of(request);
  if (sec::AclError error = sec::validate_acl_filter(filter); !error.ok()) {
    response.error_code = error.error_code;
    response.error_message = error.message;
    context.reply(response);
    return;
  }
  using Pattern = std::tuple<int8_t, std::string, int8_t>;
  std::map<Pattern, std::vector<DescribeAclsResponse::AclDescription>> resources;
  for (const auto& [id, acl] : broker.metadata_image()->acls) {
    if (!filter.matches(acl)) continue;
    resources[{sec::to_code(acl.resource_type), acl.resource_name, sec::to_code(acl.pattern_type)}]
        .push_back({acl.principal,
                    acl.host,
                    sec::to_code(acl.operation),
                    sec::to_code(acl.permission),
                    {}});
  }
  for (auto& [pattern, acls] : resources)
    response.resources.push_back(
        {std::get<0>(pattern), std::get<1>(pattern), std::get<2>(pattern), std::move(acls), {}});
  context.reply(response);
}

}  // namespace sluice::broker
