#pragma once
// The Transport over TCP, on an Asio reactor (transport.h).
//
// Threading: connections live on `reactor`; connect(), Connection::send()
// and close() must be called on the thread running it, and events are
// delivered there. A peer's frame over `frame_bytes_max` closes the
// connection (on_closed says so) instead of allocating it.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "net/transport.h"

namespace asio {
class io_context;
}  // namespace asio

namespace sluice::net {

class TcpTransport final : public Transport {
 public:
  // 100 MiB + slack: the largest Fetch response a broker sends by default
  // (fetch.max.bytes 50 MiB, replica.fetch.response.max.bytes 10 MiB) fits.
  static constexpr size_t default_frame_bytes_max = size_t{128} << 20;

  explicit TcpTransport(asio::io_context& reactor, size_t frame_bytes_max = default_frame_bytes_max)
      : reactor_(reactor), frame_bytes_max_(frame_bytes_max) {}

  std::unique_ptr<Connection> connect(const Endpoint& endpoint, ConnectionEvents events) override;

 private:
  asio::io_context& reactor_;
  size_t frame_bytes_max_;
};

// Calls `tick` on `reactor` every `interval` (KafkaClient::tick for the
// clients of that reactor: timeouts and reconnects) until destroyed.
// Create and destroy it on the reactor's thread; no tick runs after the
// destructor returns.
class ReactorTicker {
 public:
  ReactorTicker(asio::io_context& reactor, std::chrono::milliseconds interval,
                std::function<void()> tick);
  ~ReactorTicker();
  ReactorTicker(const ReactorTicker&) = delete;
  ReactorTicker& operator=(const ReactorTicker&) = delete;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace sluice::net
