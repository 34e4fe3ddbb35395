#pragma once
// The admin HTTP port (`admin.listener`, cpp-httplib): Prometheus `/metrics`,
// `/v1/health`, and the JSON admin API (`/v1/cluster`, `/v1/topics`,
// `/v1/topics/{t}`, `/v1/groups`, `/v1/groups/{g}`; shapes in json_api.h),
// and POST /v1/topics, DELETE /v1/topics/{t} (topic_writes.h).
//
// Life cycle (server/serve.cc): start() binds before the broker opens its logs,
// so /v1/health answers 503 during start-up recovery; attach() once the
// broker serves turns it to 200 and enables the broker-backed endpoints
// (503 before); detach() before the broker stops. A port that cannot be
// bound fails start() with a message naming admin.listener.
//
// Authentication (admin_auth.h): with AdminAuthentication::mtls the port
// serves HTTPS only to clients whose certificate chains to the truststore,
// and the caller is its subject mapped by ssl.principal.mapping.rules. With
// AdminAuthentication::basic every
// endpoint needs HTTP Basic credentials of a SCRAM user (401 with
// `WWW-Authenticate: Basic realm="sluice"` otherwise; 503 while no broker is
// attached, as nothing can check them yet); with an authorizer the caller's
// ACLs then decide what it sees and does (json_api.h, topic_writes.h).
//
// Threads: start/attach/detach/stop from the controlling thread. Requests
// run on the server's own small thread pool, never on the broker's
// reactors; they read the broker through its thread-safe accessors (the
// metadata image snapshot, partition offsets under the partition lock, the
// group coordinator's mutex), each held only briefly.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "admin/admin_auth.h"
#include "base/metrics.h"
#include "base/result.h"

namespace sluice::broker {
class Broker;
}

namespace sluice::admin {

struct AdminAddress {
  std::string host;
  uint16_t port = 0;  // 0: any free port
};

// "host:port" ("[v6]:port" too). Errors name admin.listener.
Result<AdminAddress> parse_admin_listener(const std::string& text);

// The admin port's settings as configured (text, unset as "").
struct AdminSettings {
  std::string listener;                             // admin.listener
  std::string authentication = "auto";              // admin.authentication
  std::string keystore_location;                    // admin.ssl.keystore.location
  std::string key_password;                         // admin.ssl.key.password
  std::string truststore_location;                  // admin.ssl.truststore.location
  std::string principal_mapping_rules = "DEFAULT";  // ssl.principal.mapping.rules
};

struct AdminOptions {
  AdminAddress address;
  AdminAuthentication authentication = AdminAuthentication::none;
  // With mtls: PEM files (as Kafka's ssl.keystore.location with
  // ssl.keystore.type=PEM: the key and its certificate chain in one file).
  std::string keystore_location;
  std::string key_password;
  std::string truststore_location;
  std::string principal_mapping_rules = "DEFAULT";
};

// Checks the settings together (auto asks credentials off loopback; mtls
// needs both stores and valid mapping rules). Errors name the setting.
Result<AdminOptions> parse_admin_options(const AdminSettings& settings);

class AdminServer {
 public:
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts serving (health 503 until attach).
  static Result<std::unique_ptr<AdminServer>> start(const AdminOptions& options);
  uint16_t bound_port() const { return bound_port_; }

  // The broker serves: health 200, broker endpoints and collectors on.
  void attach(broker::Broker& broker);
  // Broker endpoints answer 503 again; waits for requests using the broker.
  void detach();
  // Stops accepting and joins the server's threads (after detach).
  void stop();

 private:
  struct Impl;
  explicit AdminServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  uint16_t bound_port_ = 0;
};

}  // namespace sluice::admin
