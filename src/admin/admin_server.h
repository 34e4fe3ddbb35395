#pragma once
// The admin HTTP port (`admin.listener`, cpp-httplib): Prometheus `/metrics`,
// `/v1/health`, and the JSON admin API (`/v1/cluster`, `/v1/topics`,
// `/v1/topics/{t}`, `/v1/groups`, `/v1/groups/{g}`; shapes in json_api.h).
//
// Life cycle (server/serve.cc): start() binds before the broker opens its logs,
// so /v1/health answers 503 during start-up recovery; attach() once the
// broker serves turns it to 200 and enables the broker-backed endpoints
// (503 before); detach() before the broker stops. A port that cannot be
// bound fails start() with a message naming admin.listener.
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

class AdminServer {
 public:
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds and starts serving (health 503 until attach).
  static Result<std::unique_ptr<AdminServer>> start(const AdminAddress& address);
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
