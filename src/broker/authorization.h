#pragma once
// Kafka's authorization on the broker: when `authorizer.class.name` names
// Kafka's StandardAuthorizer (or its ZooKeeper-era AclAuthorizer), every
// request is checked against the ACLs of the metadata log
// (security/acl_authorizer.h: super.users, allow.everyone.if.no.acl.found,
// deny wins); without it, as in Kafka, everything is allowed and the ACL
// APIs answer SECURITY_DISABLED.
//
// The authorizer is rebuilt from the metadata image when its ACLs change
// and swapped in whole: a check reads one consistent set, from any thread.
// Who asks: the connection's principal (session.h) and its IP address.

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "net/request.h"
#include "security/acl_authorizer.h"

namespace sluice::cluster {
struct MetadataImage;
class MetadataDelta;
}  // namespace sluice::cluster

namespace sluice::broker {

struct BrokerConfig;

class Authorization {
 public:
  // Reads authorizer.class.name, super.users and
  // allow.everyone.if.no.acl.found; an unknown authorizer class is an error.
  static Result<std::unique_ptr<Authorization>> create(const BrokerConfig& config);

  bool enabled() const { return enabled_; }
  // Rebuilds the authorizer when `delta` changed the ACLs.
  void follow(const cluster::MetadataDelta& delta, const cluster::MetadataImage& image);

  bool allows(const net::ConnectionInfo& connection, security::AclOperation operation,
              security::ResourceType type, std::string_view name) const;
  bool allows_cluster(const net::ConnectionInfo& connection,
                      security::AclOperation operation) const {
    return allows(connection, operation, security::ResourceType::CLUSTER,
                  security::kClusterResourceName);
  }
  bool allows_topic(const net::ConnectionInfo& connection, security::AclOperation operation,
                    std::string_view topic) const {
    return allows(connection, operation, security::ResourceType::TOPIC, topic);
  }
  bool allows_group(const net::ConnectionInfo& connection, security::AclOperation operation,
                    std::string_view group) const {
    return allows(connection, operation, security::ResourceType::GROUP, group);
  }
  // KIP-430's authorized-operations field: of the operations in `all_bits`
  // (bit n: operation code n), those allowed on the resource.
  int32_t authorized_operations(const net::ConnectionInfo& connection, security::ResourceType type,
                                std::string_view name, int32_t all_bits) const;
  // KIP-679: allowed `operation` on some resource of `type`.
  bool allows_any(const net::ConnectionInfo& connection, security::AclOperation operation,
                  security::ResourceType type) const;
  // InitProducerId without a transactional id: IDEMPOTENT_WRITE on the
  // cluster or WRITE on any topic.
  bool may_init_idempotent_producer(const net::ConnectionInfo& connection) const;

  // The connection's principal ("User:alice") and host (its IP).
  static std::string principal_of(const net::ConnectionInfo& connection);
  static std::string host_of(const net::ConnectionInfo& connection);

  Authorization(bool enabled, security::AclAuthorizerConfig config)
      : enabled_(enabled),
        config_(std::move(config)),
        current_(std::make_shared<security::AclAuthorizer>(config_)) {}

 private:
  bool enabled_;
  security::AclAuthorizerConfig config_;
  std::atomic<std::shared_ptr<const security::AclAuthorizer>> current_;
};

}  // namespace sluice::broker
