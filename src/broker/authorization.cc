#include "broker/authorization.h"

#include <spdlog/spdlog.h>

#include "broker/broker_config.h"
#include "broker/session.h"
#include "cluster/metadata_image.h"

namespace sluice::broker {
namespace {

bool is_kafka_authorizer(const std::string& name) {
  return name == "org.apache.kafka.metadata.authorizer.StandardAuthorizer" ||
         name == "kafka.security.authorizer.AclAuthorizer";
}

}  // namespace

Result<std::unique_ptr<Authorization>> Authorization::create(const BrokerConfig& config) {
  const std::string name = config.values.get_string("authorizer.class.name");
  if (!name.empty() && !is_kafka_authorizer(name))
    return Status(Errc::invalid_value,
                  "authorizer.class.name: " + name +
                      " is not known; Sluice offers Kafka's "
                      "org.apache.kafka.metadata.authorizer.StandardAuthorizer (or unset: no "
                      "authorization)");
  security::AclAuthorizerConfig authorizer;
  auto super_users = security::parse_super_users(config.values.get_string("super.users"));
  if (!super_users)
    return Status(Errc::invalid_value, "super.users: " + super_users.status().message());
  authorizer.super_users = std::move(super_users.value());
  authorizer.allow_everyone_if_no_acl_found =
      config.values.get_bool("allow.everyone.if.no.acl.found");
  return std::make_unique<Authorization>(!name.empty(), std::move(authorizer));
}

void Authorization::follow(const cluster::MetadataDelta& delta,
                           const cluster::MetadataImage& image) {
  if (!delta.acls_changed()) return;
  auto authorizer = std::make_shared<security::AclAuthorizer>(config_);
  for (const auto& [id, binding] : image.acls)
    if (security::AclError error = authorizer->add(id, binding); !error.ok())
      spdlog::error("metadata: ACL {} not applied: {}", security::to_string(binding),
                    error.message);
  current_.store(std::move(authorizer));
}

std::string Authorization::principal_of(const net::ConnectionInfo& connection) {
  const Session* session = session_of(connection);
  return session != nullptr ? session->principal() : "User:ANONYMOUS";
}

std::string Authorization::host_of(const net::ConnectionInfo& connection) {
  const std::string& address = connection.peer_address;
  const size_t colon = address.rfind(':');
  return colon == std::string::npos ? address : address.substr(0, colon);
}

bool Authorization::allows(const net::ConnectionInfo& connection, security::AclOperation operation,
                           security::ResourceType type, std::string_view name) const {
  if (!enabled_) return true;
  const std::string principal = principal_of(connection);
  const std::string host = host_of(connection);
  return current_.load()->authorize({principal, host, operation, type, name}) ==
         security::AuthorizationResult::ALLOWED;
}

int32_t Authorization::authorized_operations(const net::ConnectionInfo& connection,
                                             security::ResourceType type, std::string_view name,
                                             int32_t all_bits) const {
  if (!enabled_) return all_bits;
  int32_t allowed = 0;
  for (int code = 0; code < 31; ++code)
    if ((all_bits & (1 << code)) != 0 &&
        allows(connection, security::acl_operation_from_code(static_cast<int8_t>(code)), type,
               name))
      allowed |= 1 << code;
  return allowed;
}

bool Authorization::allows_any(const net::ConnectionInfo& connection,
                               security::AclOperation operation,
                               security::ResourceType type) const {
  if (!enabled_) return true;
  return current_.load()->authorize_by_resource_type(principal_of(connection), host_of(connection),
                                                     operation, type) ==
         security::AuthorizationResult::ALLOWED;
}

bool Authorization::may_init_idempotent_producer(const net::ConnectionInfo& connection) const {
  if (!enabled_) return true;
  return current_.load()->may_init_idempotent_producer(principal_of(connection),
                                                       host_of(connection));
}

}  // namespace sluice::broker
