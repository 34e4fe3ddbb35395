#pragma once
// The contract between the network layer and whoever answers requests.
//
// net frames bytes and keeps order; it does not know Kafka's APIs. A
// RequestHandler gets each request frame (the bytes after the 4-byte size)
// and answers it exactly once through the `Respond` callback, now or later and
// from any thread. Responses leave a connection in request order however they
// complete (pipelining): a late acks=all Produce holds back the answers queued
// behind it.
//
// A handler may instead answer Response::at_turn(start): the request is then
// handled (`start` called) only once every earlier request of the connection
// is answered, as Kafka handles a connection's requests one at a time; used
// for answers that must describe the cluster as of their sending.
//
// Ordering rule for handlers: effects that must follow request order (appends
// of pipelined Produce requests) are started inside handle(), before it
// returns, in an order-keeping way: done there, or queued there to a FIFO
// that keeps it (the broker's append lanes, one per partition); the answer
// may be deferred. A later request of the same connection may then be
// handled before an earlier one's effect is done (a Fetch pipelined behind a
// Produce may not see its records yet); its answer still leaves after the
// earlier answer.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"

namespace sluice::net {

// Bytes a response sends straight from an open file with sendfile(2), not
// through a user-space buffer (Fetch's record sets). The body holds them as a
// write_external range of `length` bytes at file_slice_placeholder(): the
// connection sends the response's file slices, in order, where the body's
// placeholder ranges are. The descriptor's owner goes in keep_alive.
struct FileSlice {
  int fd = -1;
  int64_t position = 0;
  size_t length = 0;
};

// The address every file slice's placeholder range starts at: a read-only
// mapping of zeros, never sent, as long as the largest slice (Kafka's int32
// byte limits). Anything that reads a body as memory sees zeros, not garbage.
const uint8_t* file_slice_placeholder();
constexpr size_t file_slice_length_max = size_t{1} << 31;

// One answer. `body` is the response header + message (no size prefix: net
// writes it). Bytes referenced by `body.write_external` must stay alive until
// the response is written: `keep_alive` holds their owners.
struct Response {
  WireWriter body;
  std::vector<FileSlice> file_slices;  // in body order, see FileSlice
  std::vector<std::shared_ptr<const void>> keep_alive;
  bool send = true;          // false: nothing is written (Produce with acks=0)
  bool close_after = false;  // close the connection once this is written
  // A quota's throttle (Kafka's KIP-219): once this is written (or, unsent,
  // its turn came), the connection reads no further request for this long.
  int32_t mute_ms = 0;

  // The body as sent, in order: ranges of memory, and file slices where the
  // body holds their placeholders. Views into this response.
  struct Part {
    Bytes memory;
    const FileSlice* file = nullptr;  // set: send this slice instead of `memory`
  };
  std::vector<Part> parts() const;
  // The body as sent, file slices read in: for tests and tools that look at
  // an answer without a connection. Empty if a file slice cannot be read.
  std::vector<uint8_t> bytes() const;

  static Response none() {
    Response response;
    response.send = false;
    return response;
  }
  static Response close() {
    Response response;
    response.send = false;
    response.close_after = true;
    return response;
  }
  // No answer yet: the request is to be handled at its turn (below).
  static Response at_turn(std::function<void(std::function<void(Response)>)> start) {
    Response response;
    response.send = false;
    response.handle_at_turn = std::move(start);
    return response;
  }

  // Set (Response::at_turn): the connection calls it on its reactor once
  // every earlier request of the connection is answered, with the Respond
  // that answers this request (exactly once, as handle()'s). Kafka handles a
  // connection's requests one at a time, so an answer that describes the
  // cluster (Metadata, FindCoordinator) describes it as of after the earlier
  // requests; computed at arrival behind a slow one (an acks=all Produce
  // waiting seconds for a dead follower to leave the ISR) it would leave
  // describing the cluster as it was seconds before, after fresher answers
  // the client got from other brokers. Dropped unrun if the connection
  // closes first.
  std::function<void(std::function<void(Response)>)> handle_at_turn;
};

class ReactorExecutor;

// Kafka's security protocols, with their wire ids (listener.security.protocol.map).
enum class SecurityProtocol : int16_t { plaintext = 0, ssl = 1, sasl_plaintext = 2, sasl_ssl = 3 };
inline bool uses_tls(SecurityProtocol protocol) {
  return protocol == SecurityProtocol::ssl || protocol == SecurityProtocol::sasl_ssl;
}
inline bool uses_sasl(SecurityProtocol protocol) {
  return protocol == SecurityProtocol::sasl_plaintext || protocol == SecurityProtocol::sasl_ssl;
}

// What a request handler keeps per connection (the broker: its SASL
// exchange and the authenticated principal); see RequestHandler.
class ConnectionState {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~ConnectionState() = default;

  // A quota's throttle decided while handling a request: the connection
  // hands no further request to the handler before `until`, even while the
  // throttled answer is still being made (pipelined requests wait, as behind
  // Kafka's one-request-at-a-time channel). Any thread.
  void mute_until(Clock::time_point until) {
    const int64_t at = until.time_since_epoch().count();
    int64_t current = muted_until_.load(std::memory_order_relaxed);
    while (current < at && !muted_until_.compare_exchange_weak(current, at)) {
    }
  }
  // Lifts the mute (a request found to be exempt after it was set).
  void unmute() { muted_until_.store(0, std::memory_order_relaxed); }
  Clock::time_point muted_until() const {
    return Clock::time_point(Clock::duration(muted_until_.load(std::memory_order_relaxed)));
  }

 private:
  std::atomic<int64_t> muted_until_{0};
};

// Identifies the peer of a request, for logs, quotas and ACLs.
struct ConnectionInfo {
  uint64_t connection_id = 0;
  std::string listener_name;
  std::string peer_address;  // "ip:port"
  // Runs work on this connection's reactor (below); null outside a Server.
  std::shared_ptr<ReactorExecutor> reactor{};
  SecurityProtocol security_protocol = SecurityProtocol::plaintext;
  // Subject of the client's verified TLS certificate (RFC 2253), empty
  // without one.
  std::string tls_peer_subject{};
  // From RequestHandler::open_connection; the same object for every
  // request of the connection.
  std::shared_ptr<ConnectionState> state{};
};

// Runs tasks on one reactor thread, later, never inline: work that belongs
// to a connection but is set off on another thread (a parked Fetch woken
// by an append another reactor handles) runs where the connection lives,
// not on the thread that set it off. Callable from any thread; the same
// lifetime as `Respond`: after the server's stop() tasks are dropped
// unrun, and it must not outlive the Server object.
class ReactorExecutor {
 public:
  virtual ~ReactorExecutor() = default;
  virtual void post(std::function<void()> task) = 0;
};

using Respond = std::function<void(Response)>;

// `respond` for a caller of RequestHandler::handle that is no connection (an
// in-process caller, a test) and sends one request at a time: nothing is
// before it, so an answer put off to its turn (Response::at_turn) is handled
// at once.
inline Respond taking_turn_at_once(Respond respond) {
  return [respond](Response response) {
    if (response.handle_at_turn) return response.handle_at_turn(respond);
    respond(std::move(response));
  };
}

class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // Called on the connection's reactor thread, in arrival order. `respond`
  // must be called exactly once; it may outlive the connection (a response
  // for a closed connection is dropped) and the server's stop(), not the
  // Server object (it posts to the server's reactors). The frame's bytes count against
  // queued.max.request.bytes until its last owner drops it: keep it no
  // longer than its views are needed (request_memory_pool.h).
  virtual void handle(const ConnectionInfo& connection, std::shared_ptr<const FrameBuffer> frame,
                      Respond respond) = 0;
  // Called on the connection's reactor once it is established (after its
  // TLS handshake), before its first request: the state every request of
  // the connection then carries (ConnectionInfo::state). The handler touches
  // it on that reactor only, in handle().
  virtual std::shared_ptr<ConnectionState> open_connection(const ConnectionInfo& /*connection*/) {
    return nullptr;
  }
};

}  // namespace sluice::net
