#pragma once
// The broker: owns the storage, the cluster state and the network server,
// and turns request frames into handler calls (net::RequestHandler).
//
// Thread contract: open/start/stop from the controlling thread (main);
// handle() runs on reactor threads, concurrently across connections.

#include <atomic>
#include <memory>

#include "broker/broker_config.h"
#include "net/server.h"

namespace sluice::broker {

class Broker : public net::RequestHandler {
 public:
  // Loads the data in the configured directories (recovering after an
  // unclean stop). Fails with a message naming the problem.
  static Result<std::unique_ptr<Broker>> open(BrokerConfig config);
  ~Broker() override;

  // Starts listening. After it returns ok the broker serves requests.
  Status start();
  // Stops accepting, drains answers owed, flushes and writes checkpoints.
  void stop();

  uint16_t bound_port(size_t listener_index = 0) const { return server_->bound_port(listener_index); }
  const BrokerConfig& config() const { return config_; }

  void handle(const net::ConnectionInfo& connection, std::vector<uint8_t> frame,
              net::Respond respond) override;

 private:
  explicit Broker(BrokerConfig config);

  BrokerConfig config_;
  std::unique_ptr<net::Server> server_;
  std::atomic<bool> stopped_{false};
};

}  // namespace sluice::broker
