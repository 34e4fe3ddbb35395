#pragma once
// Everything a handler needs to answer one request: its header, its
// connection, the frame it came in (decoded `records` views point into it),
// and the way back. A handler answers exactly once: reply(), reply_none()
// (acks=0 Produce) or close_connection().
//
// Metrics: once start_timing() named the API's series, answering records
// the latency and, for an answer carrying an error, an error
// (request_metrics.h).
//
// Quotas: throttle() before answering puts the throttle time in the
// answer's throttle_time_ms (the larger of the two) and mutes the
// connection for it once the answer is written (broker/quotas.h).

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "broker/request_metrics.h"
#include "net/request.h"
#include "protocol/protocol.h"

namespace sluice::broker {

class RequestContext {
 public:
  RequestContext(protocol::RequestHeader header, net::ConnectionInfo connection,
                 std::shared_ptr<const FrameBuffer> frame, net::Respond respond)
      : header_(std::move(header)),
        connection_(std::move(connection)),
        frame_(std::move(frame)),
        respond_(std::move(respond)) {}

  const protocol::RequestHeader& header() const { return header_; }
  int16_t api_version() const { return header_.request_api_version; }
  const net::ConnectionInfo& connection() const { return connection_; }
  // Owner of the request bytes, for responses or deferred work that keep
  // views into them.
  const std::shared_ptr<const FrameBuffer>& frame() const { return frame_; }

  // Encodes the response header and `response` in the request's version.
  // Bytes `response` references externally are kept alive by `keep_alive`.
  template <class Response>
  void reply(const Response& response,
             std::vector<std::shared_ptr<const void>> keep_alive = {},
             std::vector<net::FileSlice> file_slices = {}) {
    reply_in_version(response, header_.request_api_version, std::move(keep_alive), std::move(file_slices));
  }
  template <class Response>
  void reply_in_version(const Response& response, int16_t version,
                        std::vector<std::shared_ptr<const void>> keep_alive = {},
                        std::vector<net::FileSlice> file_slices = {}) {
    net::Response out;
    if constexpr (requires(Response r) { r.throttle_time_ms = int32_t{}; }) {
      if (throttle_ms_ > response.throttle_time_ms) {
        Response throttled = response;
        throttled.throttle_time_ms = throttle_ms_;
        encode(throttled, version, out.body);
      } else {
        encode(response, version, out.body);
      }
    } else {
      encode(response, version, out.body);
    }
    out.keep_alive = std::move(keep_alive);
    out.mute_ms = throttle_ms_;
    out.file_slices = std::move(file_slices);
    out.close_after = close_after_reply_;
    if constexpr (requires { response.error_code != 0; })
      if (response.error_code != 0) note_error();
    finish_timing();
    respond_(std::move(out));
  }
  // The connection closes once the answer is written (Kafka closes after
  // answering a failed authentication).
  void close_after_reply() { close_after_reply_ = true; }
  void reply_none() {
    finish_timing();
    net::Response out = net::Response::none();
    out.mute_ms = throttle_ms_;
    respond_(std::move(out));
  }
  // A quota's throttle for this answer (the largest one given counts).
  void throttle(int32_t ms) {
    throttle_ms_ = std::max(throttle_ms_, ms);
    if (ms > 0 && connection_.state)
      connection_.state->mute_until(net::ConnectionState::Clock::now() +
                                    std::chrono::milliseconds(ms));
  }
  int32_t throttle_ms() const { return throttle_ms_; }
  // The request-time quota (Broker::handle) is not for this request (a
  // follower's Fetch, which Kafka exempts): no throttle, no mute (a
  // follower's connection has no other), and its time is not counted. Said
  // before the handler returns.
  void exempt_from_request_quota() {
    if (!request_quota_exempt_) return;
    *request_quota_exempt_ = true;
    throttle_ms_ = 0;
    if (connection_.state) connection_.state->unmute();
  }
  void watch_request_quota_exemption(std::shared_ptr<bool> exempt) {
    request_quota_exempt_ = std::move(exempt);
  }
  void close_connection() {
    note_error();
    finish_timing();
    respond_(net::Response::close());
  }
  // Kafka handles a connection's requests one at a time: `handle` runs (on
  // the connection's reactor, with this context) once every earlier request
  // of the connection is answered, so an answer that describes the cluster
  // describes it as of then, not as of its arrival behind a slow request
  // (net::Response::handle_at_turn). This context is moved into it.
  void handle_at_turn(std::function<void(RequestContext)> handle) {
    net::Respond put_off = std::move(respond_);
    put_off(net::Response::at_turn(
        [context = std::move(*this), handle = std::move(handle)](net::Respond turn) mutable {
          context.respond_ = std::move(turn);
          handle(std::move(context));
        }));
  }

  // Counts the request under `metrics` and times it until its answer.
  void start_timing(const ApiMetrics* metrics) {
    metrics_ = metrics;
    if (metrics_ == nullptr) return;
    metrics_->requests.inc();
    started_ = std::chrono::steady_clock::now();
  }
  // An error the answer's top-level error code does not show (a partition's).
  void note_error() {
    if (metrics_ != nullptr && !error_noted_) metrics_->errors.inc();
    error_noted_ = true;
  }

 private:
  template <class Response>
  void encode(const Response& response, int16_t version, WireWriter& body) const {
    protocol::ResponseHeader response_header;
    response_header.correlation_id = header_.correlation_id;
    body.reserve(16 + response.size(version));
    protocol::encode_response_header(body, header_.request_api_key, version, response_header);
    response.encode(body, version);
  }

  void finish_timing() {
    if (metrics_ != nullptr) metrics_->latency.observe(std::chrono::steady_clock::now() - started_);
  }

  protocol::RequestHeader header_;
  net::ConnectionInfo connection_;
  std::shared_ptr<const FrameBuffer> frame_;
  net::Respond respond_;
  const ApiMetrics* metrics_ = nullptr;
  std::chrono::steady_clock::time_point started_;
  bool error_noted_ = false;
  bool close_after_reply_ = false;
  int32_t throttle_ms_ = 0;
  std::shared_ptr<bool> request_quota_exempt_;  // set only while a request quota applies
};

}  // namespace sluice::broker
