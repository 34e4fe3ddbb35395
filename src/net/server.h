#pragma once
// Listeners and connections on Asio reactors: one io_context per thread, each
// connection pinned to one reactor for its life, requests read and answered
// by C++20 coroutines without a thread per connection.
//
// Thread contract: start() and stop() are called from one controlling thread;
// everything else runs on the reactors.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/request.h"
#include "net/tls.h"

namespace sluice::net {

struct ListenerConfig {
  ListenerConfig() = default;
  ListenerConfig(std::string listener_name, std::string listener_host, uint16_t listener_port,
                 SecurityProtocol protocol = SecurityProtocol::plaintext,
                 std::shared_ptr<TlsContext> context = {})
      : name(std::move(listener_name)),
        host(std::move(listener_host)),
        port(listener_port),
        security_protocol(protocol),
        tls(std::move(context)) {}

  std::string name = "PLAINTEXT";
  std::string host = "127.0.0.1";
  uint16_t port = 9092;  // 0: any free port (tests); see Server::bound_port
  SecurityProtocol security_protocol = SecurityProtocol::plaintext;
  // Set for SSL and SASL_SSL: connections handshake before their first frame.
  std::shared_ptr<TlsContext> tls;
};

struct ServerConfig {
  std::vector<ListenerConfig> listeners;
  int reactor_threads = 0;                          // 0: one per core
  int32_t socket_request_max_bytes = 104857600;     // socket.request.max.bytes
  int64_t connections_max_idle_ms = 600000;         // connections.max.idle.ms
  int max_in_flight_requests_per_connection = 128;  // pipelining bound
  // Request bytes held by all connections at most (queued.max.request.bytes,
  // <= 0: unbounded); reading stops while they are spent. See
  // request_memory_pool.h and README.md for the default.
  int64_t queued_max_request_bytes = int64_t{512} << 20;
  // A frame whose body is not fully received this long after its reading
  // began closes the connection (sluice.request.receive.timeout.ms).
  int64_t request_receive_timeout_ms = 30000;
  // First and longest pause of the accept loop after accept fails for lack
  // of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM).
  int64_t accept_backoff_ms_min = 50;
  int64_t accept_backoff_ms_max = 1000;
};

class Server {
 public:
  Server(ServerConfig config, RequestHandler& handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener and starts the reactors. Fails (naming the address)
  // if a port cannot be bound.
  Status start();
  // The port a listener actually bound (differs from its config for port 0).
  uint16_t bound_port(size_t listener_index) const;
  // Stops accepting, gives connections up to `drain_ms` to finish writing the
  // answers of requests already read, then closes them and joins the reactors.
  void stop(int64_t drain_ms = 3000);

  size_t open_connections() const;
  // Request bytes held now (queued.max.request.bytes accounting).
  int64_t request_bytes_held() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::net
