#pragma once
// What an admin request's caller may see and do: the broker's own ACL
// checks (broker/authorization.h: super.users, allow.everyone.if.no.acl.found,
// deny wins) asked for the caller's principal and IP, as if the caller had
// sent a Kafka request on a connection authenticated as that user.
//
// The caller is User:<name> after HTTP Basic, User:ANONYMOUS when the port
// asks no credentials (admin.authentication none), as a Kafka PLAINTEXT
// listener would call it. Without an authorizer everything is allowed, as
// on the broker's listeners.
//
// Threads: any; the checks read the broker's current ACLs (swapped whole).

#include <string>
#include <string_view>

#include "net/request.h"
#include "security/acl_types.h"

namespace sluice::broker {
class Authorization;
}

namespace sluice::admin {

class AdminAccess {
 public:
  // `user`: the principal's name ("alice", "ANONYMOUS"); `ip` and `port`:
  // the HTTP client's (ACLs may name hosts).
  AdminAccess(const broker::Authorization& authorization, std::string user, const std::string& ip,
              int port);

  bool allows(security::AclOperation operation, security::ResourceType type,
              std::string_view name) const;
  bool allows_cluster(security::AclOperation operation) const;
  bool allows_topic(security::AclOperation operation, std::string_view topic) const {
    return allows(operation, security::ResourceType::TOPIC, topic);
  }
  bool allows_group(security::AclOperation operation, std::string_view group) const {
    return allows(operation, security::ResourceType::GROUP, group);
  }

  // The connection a request handed to the broker's Kafka API carries
  // (broker::Broker::handle): the same principal and host, listener
  // `admin_listener_name` (served with the broker listeners' handlers).
  const net::ConnectionInfo& connection() const { return connection_; }
  const std::string& user() const { return user_; }

  static constexpr const char* admin_listener_name = "ADMIN_HTTP";

 private:
  const broker::Authorization& authorization_;
  std::string user_;
  net::ConnectionInfo connection_;
};

}  // namespace sluice::admin
