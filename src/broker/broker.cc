#include "broker/broker.h"

#include <netdb.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "base/rate_limited_log.h"
#include "broker/handlers.h"
#include "broker/sasl.h"
#include "protocol/protocol.h"

namespace sluice::broker {

namespace {

// The listeners' hosts must resolve before anything touches the data dirs:
// a typo in `listeners` is then reported before a new dir is initialised
// (the server resolves them again when it binds, at start()).
Status check_listener_hosts(const BrokerConfig& config) {
  for (const ListenerAddress& listener : config.listeners) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* found = nullptr;
    int error = ::getaddrinfo(listener.host.c_str(), nullptr, &hints, &found);
    if (found != nullptr) ::freeaddrinfo(found);
    if (error != 0)
      return Status(Errc::invalid_value, "listener " + listener.name + ": cannot resolve host '" +
                                             listener.host + "': " + ::gai_strerror(error));
  }
  return Status::ok();
}

QuotaWindows quota_windows(const BrokerConfig& config) {
  QuotaWindows windows;
  windows.samples = static_cast<int>(config.get_int("quota.window.num"));
  windows.window_ms = config.get_int("quota.window.size.seconds") * 1000;
  windows.controller_samples = static_cast<int>(config.get_int("controller.quota.window.num"));
  windows.controller_window_ms = config.get_int("controller.quota.window.size.seconds") * 1000;
  return windows;
}

}  // namespace

Broker::Broker(BrokerConfig config, BrokerEnvironment environment)
    : config_(std::move(config)), environment_(environment) {}

Broker::~Broker() { stop(); }

Result<std::unique_ptr<Broker>> Broker::open(BrokerConfig config, BrokerEnvironment environment) {
  if (Status status = check_listener_hosts(config); !status) return status;
  auto authorization = Authorization::create(config);
  if (!authorization) return authorization.status();
  std::unique_ptr<Broker> broker(new Broker(std::move(config), environment));
  broker->authorization_ = std::move(authorization.value());
  broker->quotas_ = std::make_unique<QuotaManagers>(quota_windows(broker->config_));
  if (Status status = broker->lock_dirs(); !status) return status;
  if (Status status = broker->open_metadata(); !status) return status;
  if (Status status = broker->open_data_path(); !status) return status;
  if (Status status = broker->open_replication(); !status) return status;
  broker->controller_->subscribe(broker.get());  // the data path follows the image
  if (Status status = broker->open_groups(); !status) return status;  // needs the data path
  if (Status status = broker->open_producer_ids(); !status) return status;
  if (Status status = broker->open_marker_sender(); !status) return status;
  if (Status status = broker->open_txn_verifier(); !status) return status;
  if (Status status = broker->open_transactions(); !status) return status;  // likewise
  return broker;
}

// Every log dir and the metadata log dir (when it is another one), as
// Kafka's LogManager and RaftManager do: a second broker on the same dirs
// would write at the same file positions as this one.
Status Broker::lock_dirs() {
  auto same_dir = [](const std::string& a, const std::string& b) {
    std::error_code ignored;
    return std::filesystem::weakly_canonical(a, ignored) ==
           std::filesystem::weakly_canonical(b, ignored);
  };
  std::vector<std::string> dirs = config_.log_dirs;
  if (std::none_of(dirs.begin(), dirs.end(),
                   [&](const auto& dir) { return same_dir(dir, config_.metadata_log_dir); }))
    dirs.push_back(config_.metadata_log_dir);
  for (const std::string& dir : dirs) {
    auto lock = storage::DirLock::acquire(dir);
    if (!lock) return lock.status();
    dir_locks_.push_back(std::move(*lock));
  }
  return Status::ok();
}

Status Broker::start() {
  RateLimitedLog::set_process_interval(
      std::chrono::milliseconds(config_.values.get_int("sluice.log.repeated.warning.interval.ms")));
  server_ = std::make_unique<net::Server>(config_.server_config(), *this);
  Status started = server_->start();
  if (!started) return started;
  register_endpoints();  // ephemeral ports are known now
  schedule_controller_tick();
  schedule_isr_check();
  registration_thread_ = std::thread([this] { run_registration(); });
  return started;
}

void Broker::stop() {
  if (stopped_.exchange(true)) return;
  if (registration_thread_.joinable()) {
    {
      std::lock_guard lock(registration_mutex_);
      registration_stopping_ = true;
    }
    registration_changed_.notify_all();
    registration_thread_.join();
  }
  // Parked fetches answer now, so the server's drain does not wait for them.
  if (delayed_operations_) delayed_operations_->stop();
  // Nor for queued admin requests (cancelled: their connections close); the
  // one running is bounded (cluster::records_per_operation_max) and creates
  // no more partition logs (the next start does).
  if (replica_manager_) replica_manager_->stop_creating_logs();
  close_producer_ids();  // before the controller's work is cancelled: no new requests
  if (controller_) controller_->stop_work();
  // Produces waiting for a transaction coordinator answer now (retriable
  // NOT_ENOUGH_REPLICAS), so the server's drain does not wait for them.
  close_txn_verifier();
  if (server_) server_->stop();
  close_groups();
  close_transactions();
  close_marker_sender();  // after the coordinator: its pending markers answer NOT_COORDINATOR
  close_metadata();
  close_replication();  // the fetchers append to the logs closed next
  close_data_path();
}

std::shared_ptr<net::ConnectionState> Broker::open_connection(
    const net::ConnectionInfo& connection) {
  return open_session(*this, connection);
}

// Rejections below are warned through request_warnings(): a client's
// reconnect loop repeats them (kafka-go wrote 2,574 lines in 90 s).
void Broker::handle(const net::ConnectionInfo& connection, std::shared_ptr<const FrameBuffer> frame,
                    net::Respond respond) {
  if (handle_bare_sasl_token(*this, connection, frame, respond)) return;
  WireReader reader(*frame);
  protocol::RequestHeader header;
  Status status = protocol::decode_request_header(reader, header);
  if (!status) {
    request_warnings().warn("bad request header",
                            "closing connection {} from {}: bad request header: {}",
                            connection.connection_id, connection.peer_address, status.to_string());
    respond(net::Response::close());
    return;
  }
  if (!authentication_allows(connection, header.request_api_key)) {
    respond(net::Response::close());
    return;
  }
  RequestContext context(std::move(header), connection, std::move(frame), std::move(respond));
  const protocol::RequestHeader& request = context.header();
  const ApiHandler* handler =
      find_handler(request.request_api_key, listener_role(config_, connection.listener_name));
  context.start_timing(api_metrics(request.request_api_key));  // nullptr (not served): not counted
  if (handler == nullptr) {
    const protocol::ApiInfo* api = protocol::find_api(request.request_api_key);
    request_warnings().warn(
        fmt::format("API {} not served on {}", request.request_api_key, connection.listener_name),
        "closing connection {} from {}: API {} ({}) is not served on listener {}",
        connection.connection_id, connection.peer_address, request.request_api_key,
        api ? api->name : "unknown key", connection.listener_name);
    context.close_connection();
    return;
  }
  if (request.request_api_version < handler->min_version ||
      request.request_api_version > handler->max_version) {
    if (request.request_api_key == protocol::ApiVersionsRequest::api_key) {
      reply_api_versions_unsupported(std::move(context));
      return;
    }
    const char* name = protocol::find_api(request.request_api_key)->name;
    request_warnings().warn(
        fmt::format("{} v{} not served", name, request.request_api_version),
        "closing connection {} from {}: {} v{} is outside the served versions {}..{}",
        connection.connection_id, connection.peer_address, name, request.request_api_version,
        handler->min_version, handler->max_version);
    context.close_connection();
    return;
  }
  if (quotas_->request.enabled() && !exempt_from_request_quota(connection, *handler))
    return handle_under_request_quota(*handler, std::move(context), reader);
  handler->handle(*this, std::move(context), reader);
}

// Kafka exempts the requests of the cluster's own nodes (the controller's
// APIs, WriteTxnMarkers, a follower's Fetch) and the SASL exchange.
bool Broker::exempt_from_request_quota(const net::ConnectionInfo& connection,
                                       const ApiHandler& handler) const {
  if (listener_role(config_, connection.listener_name) == ListenerRole::controller) return true;
  return handler.api_key == protocol::SaslHandshakeRequest::api_key ||
         handler.api_key == protocol::SaslAuthenticateRequest::api_key ||
         handler.api_key == protocol::WriteTxnMarkersRequest::api_key;
}

// Kafka's request quota (request_percentage): the time a request takes on
// this reactor counts as a percentage of one thread; a client already over
// its quota is throttled in this answer (by at most one quota window), and
// this request's time is counted for the next.
void Broker::handle_under_request_quota(const ApiHandler& handler, RequestContext context,
                                        WireReader& reader) {
  QuotaManager& quota = quotas_->request;
  const QuotaClient client = quota_client_of(context);
  const int64_t now = quota_clock_ms();
  context.throttle(static_cast<int32_t>(
      std::min<int64_t>(quota.throttle_ms(client, now), quotas_->request_throttle_max_ms)));
  auto exempt = std::make_shared<bool>(false);
  context.watch_request_quota_exemption(exempt);
  const auto started = std::chrono::steady_clock::now();
  handler.handle(*this, std::move(context), reader);
  const auto spent = std::chrono::steady_clock::now() - started;
  if (*exempt) return;
  const double percent =
      static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count()) *
      1e-7;
  quota.record(client, percent, quota_clock_ms());
}

}  // namespace sluice::broker
