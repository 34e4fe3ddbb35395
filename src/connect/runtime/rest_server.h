#pragma once
// Kafka Connect's REST API over a Herder: the same paths, status codes and
// JSON as Kafka's ConnectorsResource, ConnectorPluginsResource,
// LoggingResource and RootResource, so curl scripts, UIs and `sluice
// connector` written for Kafka Connect work unchanged. The server only
// translates: every decision (validation, conflicts, states) is the herder's,
// and its RestError's status and message are answered as they are.
//
// Threads: cpp-httplib serves each connection on a worker of its own pool,
// so the herder is called from several threads at once (Herder's contract).
// start() returns once the port is bound; stop() waits for the workers.
// Beside Kafka's API, GET /metrics answers the tasks' metrics in Prometheus'
// text format (task_metrics.h).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "connect/connector.h"
#include "connect/runtime/herder.h"
#include "connect/runtime/task_metrics.h"

namespace sluice::connect {

// Kafka's PluginInfo: {"class", "type", "version"}; type is "source", "sink",
// "transformation", "predicate", "converter" or "header_converter".
struct PluginInfo {
  std::string class_name;
  std::string type;
  std::string version;
};

// What GET /connector-plugins lists: the connectors given (sinks first, then
// sources, as Kafka), then the transforms, predicates and converters of the
// foundation, at `version` (Kafka reports its own version for those it ships).
std::vector<PluginInfo> plugin_infos(const std::vector<ConnectorPlugin>& connectors,
                                     const std::string& version);

struct RestServerOptions {
  std::string host = "0.0.0.0";  // Kafka's default listener, http://:8083
  uint16_t port = 8083;          // 0: any free port (port() tells which)
  std::string version;           // GET /'s "version"
  std::string commit;            // GET /'s "commit"
  std::vector<PluginInfo> plugins;
  // Herder calls may wait (a restart, a rebalance): enough workers that a
  // slow call does not hold up status queries.
  int worker_threads = 8;
  // What GET /metrics renders (Prometheus' text format): the tasks' metrics.
  const metrics::Registry* metrics = &connect_metrics_registry();
};

class RestServer {
 public:
  RestServer(Herder& herder, RestServerOptions options);
  ~RestServer();  // stops
  RestServer(const RestServer&) = delete;
  RestServer& operator=(const RestServer&) = delete;

  // Binds and starts serving; the error names the address that failed.
  Status start();
  void stop();
  uint16_t port() const;  // the bound port, after start()

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::connect
