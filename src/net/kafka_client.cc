#include "net/kafka_client.h"

#include <algorithm>
#include <cmath>

#include "base/assert.h"
#include "protocol/api.h"
#include "protocol/headers.h"
#include "protocol/messages/api_versions_request.h"
#include "protocol/messages/api_versions_response.h"

namespace sluice::net {
namespace {

constexpr int16_t api_versions_key = protocol::ApiVersionsRequest::api_key;
// v3 is the first flexible version, the one every current broker answers.
constexpr int16_t api_versions_version = 3;
constexpr int16_t error_none = 0;
constexpr int16_t error_unsupported_version = 35;

// Reads the correlation id, the first field of every response header version.
std::optional<int32_t> peek_correlation_id(const std::vector<uint8_t>& frame) {
  if (frame.size() < 4) return std::nullopt;
  return static_cast<int32_t>(uint32_t{frame[0]} << 24 | uint32_t{frame[1]} << 16 |
                              uint32_t{frame[2]} << 8 | uint32_t{frame[3]});
}

}  // namespace

const char* client_errc_name(ClientErrc code) {
  switch (code) {
    case ClientErrc::ok:
      return "ok";
    case ClientErrc::disconnected:
      return "disconnected";
    case ClientErrc::timed_out:
      return "timed out";
    case ClientErrc::unsupported_version:
      return "unsupported version";
    case ClientErrc::queue_full:
      return "queue full";
    case ClientErrc::bad_response:
      return "bad response";
    case ClientErrc::closed:
      return "closed";
  }
  return "unknown";
}

KafkaClient::KafkaClient(Transport& transport, Endpoint endpoint, KafkaClientConfig config,
                         const Clock& clock, RandomUnit random_unit)
    : transport_(transport),
      endpoint_(std::move(endpoint)),
      config_(std::move(config)),
      clock_(clock),
      random_unit_(std::move(random_unit)) {
  SLUICE_ASSERT(config_.max_in_flight_requests_per_connection >= 1, "in-flight bound below 1");
  SLUICE_ASSERT(config_.reconnect_backoff.count() > 0, "reconnect backoff must be positive");
}

KafkaClient::~KafkaClient() {
  // No callback runs from here: the owner is being torn down.
  if (connection_) connection_->close();
}

void KafkaClient::send_raw(int16_t api_key, int16_t version_min, int16_t version_max,
                           Encoder encode, RawCallback done) {
  Request request;
  request.api_key = api_key;
  request.version_min = version_min;
  request.version_max = version_max;
  // Kafka's clients never send a version still marked unstable.
  const protocol::ApiInfo* info = protocol::find_api(api_key);
  if (info && info->latest_version_unstable && request.version_max >= info->max_version)
    request.version_max = static_cast<int16_t>(info->max_version - 1);
  request.encode = std::move(encode);
  request.done = std::move(done);
  request.deadline = clock_.monotonic() + config_.request_timeout;

  if (state_ == State::closed) {
    complete(request, {ClientErrc::closed, "client closed"});
  } else if (queued_.size() >= config_.queued_requests_max) {
    complete(request,
             {ClientErrc::queue_full, std::to_string(queued_.size()) +
                                          " requests already wait for " + endpoint_.to_string()});
  } else {
    queued_.push_back(std::move(request));
    bool backoff_over = state_ == State::backing_off && clock_.monotonic() >= reconnect_at_;
    if (state_ == State::idle || backoff_over) connect();
    flush_queue();
  }
}

void KafkaClient::connect() {
  state_ = State::connecting;
  state_since_ = clock_.monotonic();
  uint64_t generation = ++generation_;
  ConnectionEvents events;
  events.on_connected = [this, generation] { on_connected(generation); };
  events.on_frame = [this, generation](std::vector<uint8_t> frame) {
    on_frame(generation, std::move(frame));
  };
  events.on_closed = [this, generation](std::string reason) {
    if (generation != generation_) return;
    ++depth_;
    fail_connection(reason);
    --depth_;
    run_completions();
  };
  connection_ = transport_.connect(endpoint_, std::move(events));
}

void KafkaClient::on_connected(uint64_t generation) {
  if (generation != generation_ || state_ != State::connecting) return;
  ++depth_;
  state_ = State::negotiating;
  state_since_ = clock_.monotonic();
  send_api_versions(api_versions_version);
  --depth_;
  run_completions();
}

// The client's own request: its response goes to on_negotiated (on_frame),
// and its failure is the connection's.
void KafkaClient::send_api_versions(int16_t version) {
  protocol::ApiVersionsRequest request;
  request.client_software_name = "sluice";
  request.client_software_version = "1";
  Request negotiation;
  negotiation.api_key = api_versions_key;
  negotiation.version_min = negotiation.version_max = version;
  negotiation.encode = [request](WireWriter& writer, int16_t version) {
    request.encode(writer, version);
  };
  negotiation.deadline = clock_.monotonic() + config_.request_timeout;
  negotiation.negotiation = true;
  negotiation.version = version;
  write(std::move(negotiation));
}

void KafkaClient::on_negotiated(int16_t version, Bytes body) {
  protocol::ApiVersionsResponse response;
  Status decoded = protocol::decode_exact(body, version, response);
  // A node that does not know `version` answers in v0 with
  // UNSUPPORTED_VERSION and its own ApiVersions range (Kafka's fallback).
  if (!decoded && version > 0 && protocol::decode_exact(body, 0, response)) decoded = Status::ok();
  if (!decoded) return fail_connection("ApiVersions response: " + decoded.to_string());
  if (response.error_code == error_unsupported_version && version > 0) {
    int16_t node_max = 0;  // no range given: v0, as Kafka's clients do
    for (const auto& api : response.api_keys)
      if (api.api_key == api_versions_key) node_max = api.max_version;
    if (node_max < version) return send_api_versions(node_max);
  }
  if (response.error_code != error_none)
    return fail_connection("ApiVersions refused with error " + std::to_string(response.error_code));
  node_versions_.clear();
  for (const auto& api : response.api_keys)
    node_versions_[api.api_key] = {api.min_version, api.max_version};
  state_ = State::ready;
  failed_attempts_ = 0;
  backoff_ = {};
  flush_queue();
}

void KafkaClient::on_frame(uint64_t generation, std::vector<uint8_t> frame) {
  if (generation != generation_) return;
  ++depth_;
  std::optional<int32_t> correlation_id = peek_correlation_id(frame);
  if (in_flight_.empty()) {
    fail_connection("a response with no request outstanding");
  } else if (!correlation_id || *correlation_id != in_flight_.front().correlation_id) {
    fail_connection("correlation id " + (correlation_id ? std::to_string(*correlation_id) : "?") +
                    " where " + std::to_string(in_flight_.front().correlation_id) +
                    " was expected");
  } else {
    Request request = std::move(in_flight_.front());
    in_flight_.pop_front();
    auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(frame));
    WireReader reader(Bytes(shared->data(), shared->size()));
    protocol::ResponseHeader header;
    Status decoded =
        protocol::decode_response_header(reader, request.api_key, request.version, header);
    if (!decoded) {
      // The frame is framed right but unreadable: the stream may be off too.
      complete(request, {ClientErrc::bad_response, decoded.to_string()});
      fail_connection("unreadable response header: " + decoded.to_string());
    } else {
      Bytes body(shared->data() + (shared->size() - reader.remaining()), reader.remaining());
      if (request.negotiation) {
        on_negotiated(request.version, body);
      } else {
        complete(request, {}, request.version, body, shared);
        flush_queue();
      }
    }
  }
  --depth_;
  run_completions();
}

std::optional<int16_t> KafkaClient::choose_version(const Request& request) const {
  auto found = node_versions_.find(request.api_key);
  if (found == node_versions_.end()) return std::nullopt;
  int16_t low = std::max(request.version_min, found->second.first);
  int16_t high = std::min(request.version_max, found->second.second);
  if (low > high) return std::nullopt;
  return high;
}

void KafkaClient::flush_queue() {
  while (state_ == State::ready && !queued_.empty() &&
         in_flight_.size() < static_cast<size_t>(config_.max_in_flight_requests_per_connection)) {
    Request request = std::move(queued_.front());
    queued_.pop_front();
    std::optional<int16_t> version = choose_version(request);
    if (!version) {
      auto found = node_versions_.find(request.api_key);
      complete(
          request,
          {ClientErrc::unsupported_version,
           "API " + std::to_string(request.api_key) + " versions " +
               std::to_string(request.version_min) + "-" + std::to_string(request.version_max) +
               ", node " + endpoint_.to_string() +
               (found == node_versions_.end() ? " does not offer it"
                                              : " offers " + std::to_string(found->second.first) +
                                                    "-" + std::to_string(found->second.second))});
      continue;
    }
    request.version = *version;
    write(std::move(request));
  }
}

void KafkaClient::write(Request request) {
  request.correlation_id = next_correlation_id_;
  // Correlation ids wrap within int32's non-negative range, as Kafka's do.
  next_correlation_id_ = next_correlation_id_ == INT32_MAX ? 0 : next_correlation_id_ + 1;
  protocol::RequestHeader header;
  header.request_api_key = request.api_key;
  header.request_api_version = request.version;
  header.correlation_id = request.correlation_id;
  header.client_id = config_.client_id;
  WireWriter writer;
  protocol::encode_request_header(writer, header);
  request.encode(writer, request.version);
  connection_->send(writer.to_vector());
  in_flight_.push_back(std::move(request));
}

void KafkaClient::fail_connection(const std::string& reason, std::optional<int32_t> timed_out_id) {
  if (state_ == State::closed || state_ == State::idle || state_ == State::backing_off) return;
  if (connection_) connection_->close();
  connection_.reset();
  ++generation_;  // events of the old connection are ignored from now on
  std::string message = endpoint_.to_string() + ": " + reason;
  for (Request& request : in_flight_) {
    if (timed_out_id && request.correlation_id == *timed_out_id)
      complete(request, {ClientErrc::timed_out, message});
    else
      complete(request, {ClientErrc::disconnected, message});
  }
  in_flight_.clear();
  node_versions_.clear();
  // Kafka's ExponentialBackoff: base * 2^attempts, capped, times the jitter.
  double term = static_cast<double>(std::chrono::nanoseconds(config_.reconnect_backoff).count()) *
                std::pow(2.0, failed_attempts_);
  term = std::min(
      term, static_cast<double>(std::chrono::nanoseconds(config_.reconnect_backoff_max).count()));
  double jitter = config_.reconnect_backoff_jitter;
  double factor = 1.0 - jitter + 2.0 * jitter * random_unit_();
  backoff_ = std::chrono::nanoseconds(std::llround(term * factor));
  ++failed_attempts_;
  state_ = State::backing_off;
  reconnect_at_ = clock_.monotonic() + backoff_;
}

void KafkaClient::expire_queued(std::chrono::nanoseconds now) {
  for (auto it = queued_.begin(); it != queued_.end();) {
    if (it->deadline <= now) {
      complete(*it, {ClientErrc::timed_out,
                     endpoint_.to_string() + ": not sent within the request timeout"});
      it = queued_.erase(it);
    } else {
      ++it;
    }
  }
}

void KafkaClient::tick() {
  ++depth_;
  std::chrono::nanoseconds now = clock_.monotonic();
  expire_queued(now);
  auto expired = std::find_if(in_flight_.begin(), in_flight_.end(),
                              [now](const Request& request) { return request.deadline <= now; });
  if (expired != in_flight_.end()) {
    fail_connection(
        "request timed out (correlation id " + std::to_string(expired->correlation_id) + ")",
        expired->correlation_id);
  } else if ((state_ == State::connecting || state_ == State::negotiating) &&
             now - state_since_ >= config_.connection_setup_timeout) {
    fail_connection("connection setup timed out");
  }
  // With nothing to send the client stays disconnected: it connects on
  // demand, and still not before the backoff ends.
  if (state_ == State::backing_off && now >= reconnect_at_ && !queued_.empty()) connect();
  --depth_;
  run_completions();
}

std::optional<std::chrono::nanoseconds> KafkaClient::next_wakeup() const {
  if (!completions_.empty()) return clock_.monotonic();
  std::optional<std::chrono::nanoseconds> wakeup;
  auto earliest = [&wakeup](std::chrono::nanoseconds at) {
    if (!wakeup || at < *wakeup) wakeup = at;
  };
  for (const Request& request : queued_) earliest(request.deadline);
  for (const Request& request : in_flight_) earliest(request.deadline);
  if (state_ == State::connecting || state_ == State::negotiating)
    earliest(state_since_ + config_.connection_setup_timeout);
  if (state_ == State::backing_off && !queued_.empty()) earliest(reconnect_at_);
  return wakeup;
}

void KafkaClient::close() {
  ++depth_;
  if (state_ != State::closed) {
    if (connection_) connection_->close();
    connection_.reset();
    ++generation_;
    state_ = State::closed;
    for (Request& request : in_flight_) complete(request, {ClientErrc::closed, "client closed"});
    for (Request& request : queued_) complete(request, {ClientErrc::closed, "client closed"});
    in_flight_.clear();
    queued_.clear();
  }
  --depth_;
  run_completions();
}

std::optional<std::pair<int16_t, int16_t>> KafkaClient::node_versions(int16_t api_key) const {
  auto found = node_versions_.find(api_key);
  if (found == node_versions_.end()) return std::nullopt;
  return found->second;
}

void KafkaClient::complete(Request& request, ClientStatus status, int16_t version, Bytes body,
                           std::shared_ptr<const std::vector<uint8_t>> frame) {
  if (request.negotiation) return;  // the client's own request: the connection's fate says it
  completions_.push_back([done = std::move(request.done), status = std::move(status), version, body,
                          frame = std::move(frame)] { done(status, version, body, frame); });
}

void KafkaClient::run_completions() {
  // Only the outermost entry point runs callbacks, so a callback that sends
  // or ticks never sees the client half-updated, and never recurses.
  if (depth_ > 0) return;
  ++depth_;
  for (size_t i = 0; i < completions_.size(); ++i) {
    std::function<void()> callback = std::move(completions_[i]);
    callback();
  }
  completions_.clear();
  --depth_;
}

}  // namespace sluice::net
