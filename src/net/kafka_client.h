#pragma once
// An asynchronous Kafka-protocol client for one remote node (DESIGN.md
// "Inter-node traffic"): replica fetchers, the quorum and the controller
// each hold one per node they talk to. Behaviour follows Kafka's
// NetworkClient:
//   - connects on demand (when a request is waiting), then negotiates
//     versions with ApiVersions (v3; a node that refuses it with
//     UNSUPPORTED_VERSION is asked again in the highest version it names)
//     before anything else is sent;
//   - pipelines up to `max_in_flight_requests_per_connection` requests,
//     each with its own correlation id; responses must come back in request
//     order: a response whose correlation id is not the oldest outstanding
//     one is a broken connection (closed, and every in-flight request failed);
//   - `request_timeout` counts from send(): a request still waiting to be
//     sent then fails alone; one in flight fails and closes the connection
//     (its response could no longer be told apart), failing the rest;
//   - a failed connect or a lost connection fails in-flight requests with
//     ClientErrc::disconnected; requests not yet sent wait for the next
//     connection, which comes after an exponential backoff
//     (reconnect.backoff.ms doubling to reconnect.backoff.max.ms, times a
//     random factor in [1 - jitter, 1 + jitter]), reset once a connection
//     has negotiated its versions.
//
// Threading: not thread-safe. Every call, and every transport event, happens
// on one executor (the reactor running the transport, or the test thread);
// callbacks run there too, from tick(), close() or a transport event, never
// inside send() (a failure send() finds is reported at the next tick()), and
// must not block.
// The owner calls tick() periodically (timeouts and reconnects are checked
// there against the injected clock); next_wakeup() says when it is due.
// A callback may call send(), close() or tick() on the same client, but must
// not destroy it; destroy the client only outside its callbacks, after close().

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "net/transport.h"
#include "protocol/codec.h"

namespace sluice::net {

enum class ClientErrc {
  ok = 0,
  disconnected,         // the connection failed or broke before the response came
  timed_out,            // request_timeout passed
  unsupported_version,  // no version both sides support (or the API is not offered)
  queue_full,           // queued_requests_max requests already wait
  bad_response,         // the response did not decode
  closed,               // close() was called
};
const char* client_errc_name(ClientErrc code);

struct ClientStatus {
  ClientErrc code = ClientErrc::ok;
  std::string message;
  bool ok() const { return code == ClientErrc::ok; }
};

struct KafkaClientConfig {
  std::string client_id = "sluice";
  int max_in_flight_requests_per_connection = 5;     // Kafka's default
  size_t queued_requests_max = 1000;                 // waiting to be sent; beyond: queue_full
  std::chrono::milliseconds request_timeout{30000};  // request.timeout.ms
  std::chrono::milliseconds connection_setup_timeout{10000};  // socket.connection.setup.timeout.ms
  std::chrono::milliseconds reconnect_backoff{50};            // reconnect.backoff.ms
  std::chrono::milliseconds reconnect_backoff_max{1000};      // reconnect.backoff.max.ms
  double reconnect_backoff_jitter = 0.2;                      // Kafka's fixed jitter
};

// A response's body and the frame it lives in: record views in a decoded
// message point into `frame`, which the result keeps alive.
template <class Message>
struct ClientResult {
  ClientStatus status;
  int16_t version = -1;  // the version the request was sent in
  Message message{};
  std::shared_ptr<const std::vector<uint8_t>> frame;
  bool ok() const { return status.ok(); }
};

class KafkaClient {
 public:
  // Writes the request body (no header) in `version`.
  using Encoder = std::function<void(WireWriter& writer, int16_t version)>;
  // The response body (after the response header) on success; empty otherwise.
  using RawCallback = std::function<void(const ClientStatus& status, int16_t version, Bytes body,
                                         std::shared_ptr<const std::vector<uint8_t>> frame)>;
  // A value in [0, 1): the jitter's randomness, injected for determinism.
  using RandomUnit = std::function<double()>;

  // `transport` and `clock` must outlive the client.
  KafkaClient(Transport& transport, Endpoint endpoint, KafkaClientConfig config, const Clock& clock,
              RandomUnit random_unit);
  ~KafkaClient();
  KafkaClient(const KafkaClient&) = delete;
  KafkaClient& operator=(const KafkaClient&) = delete;

  // Sends `request` in the highest version both this build and the node
  // support, at most `version_max`; `done` gets the decoded response or why
  // there is none, exactly once.
  // (`typename Request::Response` keeps the callback's type out of
  // deduction, so a lambda can be passed.)
  template <class Request>
  void send(Request request, std::function<void(ClientResult<typename Request::Response>)> done,
            int16_t version_max = Request::max_version) {
    using Response = typename Request::Response;
    auto shared = std::make_shared<Request>(std::move(request));
    send_raw(
        Request::api_key, Request::min_version,
        std::min<int16_t>(version_max, Request::max_version),
        [shared](WireWriter& writer, int16_t version) { shared->encode(writer, version); },
        [done = std::move(done)](const ClientStatus& status, int16_t version, Bytes body,
                                 std::shared_ptr<const std::vector<uint8_t>> frame) {
          ClientResult<Response> result;
          result.status = status;
          result.version = version;
          result.frame = std::move(frame);
          if (status.ok()) {
            Status decoded = protocol::decode_exact(body, version, result.message);
            if (!decoded) result.status = {ClientErrc::bad_response, decoded.to_string()};
          }
          done(std::move(result));
        });
  }

  void send_raw(int16_t api_key, int16_t version_min, int16_t version_max, Encoder encode,
                RawCallback done);

  // Checks timeouts and starts a due reconnect. Call at least every
  // next_wakeup(); more often is harmless.
  void tick();
  // When tick() has work next (monotonic clock), or nullopt when idle.
  std::optional<std::chrono::nanoseconds> next_wakeup() const;

  // Closes the connection and fails every request with ClientErrc::closed;
  // later sends fail the same way.
  void close();

  bool ready() const { return state_ == State::ready; }
  const Endpoint& endpoint() const { return endpoint_; }
  // The node's version range for `api_key` from the last negotiation.
  std::optional<std::pair<int16_t, int16_t>> node_versions(int16_t api_key) const;
  size_t in_flight() const { return in_flight_.size(); }
  size_t queued() const { return queued_.size(); }
  // Consecutive failed connection attempts (0 once one negotiates).
  int failed_attempts() const { return failed_attempts_; }
  // The pause before the next connect (for tests and logs).
  std::chrono::nanoseconds current_backoff() const { return backoff_; }

 private:
  enum class State { idle, backing_off, connecting, negotiating, ready, closed };
  struct Request {
    int16_t api_key = 0;
    int16_t version_min = 0;
    int16_t version_max = 0;
    Encoder encode;
    RawCallback done;
    std::chrono::nanoseconds deadline{};
    int16_t version = -1;        // once sent
    int32_t correlation_id = 0;  // once sent
    bool negotiation = false;    // the client's own ApiVersions
  };

  void connect();
  void on_connected(uint64_t generation);
  void on_frame(uint64_t generation, std::vector<uint8_t> frame);
  void send_api_versions(int16_t version);
  void on_negotiated(int16_t version, Bytes body);
  void write(Request request);
  void flush_queue();
  void fail_connection(const std::string& reason, std::optional<int32_t> timed_out_id = {});
  void expire_queued(std::chrono::nanoseconds now);
  void complete(Request& request, ClientStatus status, int16_t version = -1, Bytes body = {},
                std::shared_ptr<const std::vector<uint8_t>> frame = {});
  std::optional<int16_t> choose_version(const Request& request) const;
  void run_completions();

  Transport& transport_;
  Endpoint endpoint_;
  KafkaClientConfig config_;
  const Clock& clock_;
  RandomUnit random_unit_;

  State state_ = State::idle;
  std::unique_ptr<Connection> connection_;
  uint64_t generation_ = 0;                  // which connection an event belongs to
  std::chrono::nanoseconds state_since_{};   // connecting/negotiating began
  std::chrono::nanoseconds reconnect_at_{};  // backing_off until
  std::chrono::nanoseconds backoff_{};
  int failed_attempts_ = 0;
  int32_t next_correlation_id_ = 0;
  std::unordered_map<int16_t, std::pair<int16_t, int16_t>> node_versions_;
  std::deque<Request> queued_;
  std::deque<Request> in_flight_;
  // Callbacks run after the client's state is consistent, never nested.
  std::vector<std::function<void()>> completions_;
  int depth_ = 0;
};

}  // namespace sluice::net
