#pragma once
// The seam between the Kafka-protocol client (kafka_client.h) and the
// network: connect to an endpoint, send frames, receive frames, close.
// Real: TcpTransport (tcp_transport.h, Asio). Tests and the simulator:
// MemoryTransport (memory_transport.h), whose delivery the test drives.
//
// A frame is what follows Kafka's 4-byte size prefix; the transport writes
// and strips the prefix. Frames on one connection arrive in the order sent.
//
// Threading: a transport and its connections belong to one executor (a
// reactor thread, or the test's thread). Every method is called there and
// every event is delivered there, never from inside connect() or send()
// synchronously unless documented by the implementation (MemoryTransport
// delivers only when the test calls it, never from inside the client's calls).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace sluice::net {

struct Endpoint {
  std::string host;
  uint16_t port = 0;

  std::string to_string() const { return host + ":" + std::to_string(port); }
  bool operator==(const Endpoint&) const = default;
};

// What a connection reports to its owner. Exactly one of on_connected or
// on_closed follows connect(); after on_connected, frames arrive through
// on_frame until on_closed. on_closed is called at most once, with a reason,
// and never after the owner called Connection::close().
struct ConnectionEvents {
  std::function<void()> on_connected;
  std::function<void(std::vector<uint8_t> frame)> on_frame;
  std::function<void(std::string reason)> on_closed;
};

class Connection {
 public:
  virtual ~Connection() = default;
  // Queues one frame (without its size prefix); frames leave in call order.
  // Only after on_connected. A frame sent on a connection that is failing is
  // dropped silently: on_closed reports the failure.
  virtual void send(std::vector<uint8_t> frame) = 0;
  // Closes at once, dropping what is unsent; no event follows. Idempotent.
  virtual void close() = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Starts connecting to `endpoint`; the outcome arrives through `events`.
  // The returned connection is owned by the caller; destroying it closes it.
  virtual std::unique_ptr<Connection> connect(const Endpoint& endpoint,
                                              ConnectionEvents events) = 0;
};

}  // namespace sluice::net
