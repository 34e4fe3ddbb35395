#include "admin/admin_access.h"

#include "broker/authorization.h"
#include "broker/session.h"

namespace sluice::admin {

AdminAccess::AdminAccess(const broker::Authorization& authorization, std::string user,
                         const std::string& ip, int port)
    : authorization_(authorization), user_(std::move(user)) {
  connection_.listener_name = admin_listener_name;
  // Authorization::host_of takes what precedes the last ':' (v6 included).
  connection_.peer_address = ip + ":" + std::to_string(port);
  // An authenticated session of no listener: the broker's checks read the
  // principal from it, and its SASL gate lets every API through.
  connection_.state = std::make_shared<broker::Session>(nullptr, user_, true);
}

bool AdminAccess::allows(security::AclOperation operation, security::ResourceType type,
                         std::string_view name) const {
  return authorization_.allows(connection_, operation, type, name);
}

bool AdminAccess::allows_cluster(security::AclOperation operation) const {
  return authorization_.allows_cluster(connection_, operation);
}

}  // namespace sluice::admin
