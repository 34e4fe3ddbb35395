#pragma once
// Everything a handler needs to answer one request: its header, its
// connection, the frame it came in (decoded `records` views point into it),
// and the way back. A handler answers exactly once: reply(), reply_none()
// (acks=0 Produce) or close_connection().
//
// Metrics: once start_timing() named the API's series, answering records
// the latency and, for an answer carrying an error, an error
// (request_metrics.h).

#include <chrono>
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
    protocol::ResponseHeader response_header;
    response_header.correlation_id = header_.correlation_id;
    out.body.reserve(16 + response.size(version));
    protocol::encode_response_header(out.body, header_.request_api_key, version,
                                     response_header);
    response.encode(out.body, version);
    out.keep_alive = std::move(keep_alive);
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
    respond_(net::Response::none());
  }
  void close_connection() {
    note_error();
    finish_timing();
    respond_(net::Response::close());
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
};

}  // namespace sluice::broker
