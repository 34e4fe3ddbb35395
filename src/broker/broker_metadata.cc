// The broker's metadata side: the controller (meta.properties, the metadata
// log replayed into the image, this broker's registration) and the glue
// that makes the data path follow the image.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "base/thread_name.h"
#include "broker/broker.h"
#include "storage/posix_file_system.h"

namespace sluice::broker {
namespace {

// listener.security.protocol.map's protocol names -> Kafka's ids.
int16_t security_protocol_id(const std::string& name) {
  if (name == "SSL") return 1;
  if (name == "SASL_PLAINTEXT") return 2;
  if (name == "SASL_SSL") return 3;
  return 0;  // PLAINTEXT
}

// controller.quorum.voters as the quorum dials them.
std::map<int32_t, net::Endpoint> quorum_voters(const QuorumSettings& quorum) {
  std::map<int32_t, net::Endpoint> out;
  for (const auto& [id, address] : quorum.voters)
    out[id] = net::Endpoint{address.host, address.port};
  return out;
}
// The controller listeners as advertised (advertised.listeners, else
// listeners), in controller.listener.names order: a voter's endpoints (KIP-853).
std::vector<cluster::VoterEndpoint> advertised_controller_endpoints(const BrokerConfig& config) {
  std::vector<cluster::VoterEndpoint> out;
  for (const std::string& name : config.controller_listener_names) {
    const ListenerAddress* found = nullptr;
    for (const ListenerAddress& address : config.advertised_listeners)
      if (address.name == name && !found) found = &address;
    for (const ListenerAddress& address : config.listeners)
      if (address.name == name && !found) found = &address;
    if (found) out.push_back({found->name, found->host, found->port});
  }
  return out;
}

// One period of the controller's tick: claimed once, then the next one is
// scheduled by the callback.
class PeriodicTask final : public DelayedOperation {
 public:
  explicit PeriodicTask(std::function<void()> run) : run_(std::move(run)) {}
  void expire() override {
    if (claim()) run_();
  }

 private:
  std::function<void()> run_;
};

}  // namespace

// Every second, or a quarter of broker.session.timeout.ms when that is
// shorter, so a session is fenced soon after it expires.
void Broker::schedule_controller_tick() {
  if (stopped_.load() || !delayed_operations_ || !controller_) return;
  const int64_t session_ms = config_.values.get_int("broker.session.timeout.ms");
  const auto period = std::chrono::milliseconds(std::clamp<int64_t>(session_ms / 4, 10, 1000));
  delayed_operations_->schedule(std::make_shared<PeriodicTask>([this] {
                                  // On the timer thread; stop() sets stopped_ before
                                  // it stops the timer, so this ends there.
                                  if (stopped_.load()) return;
                                  controller_->submit([this] { controller_->tick(); });
                                  schedule_controller_tick();
                                }),
                                period);
}

Status Broker::open_metadata() {
  metadata_file_system_ = std::make_unique<storage::PosixFileSystem>();
  cluster::ControllerOptions options;
  options.node_id = config_.node_id;
  options.metadata_log_dir = config_.metadata_log_dir;
  options.log_dirs = config_.log_dirs;
  if (auto cluster_id = config_.values.text("cluster.id")) options.cluster_id = *cluster_id;
  options.broker_config = &config_.values;
  if (config_.quorum.roles_explicit) options.unformatted_dirs = cluster::UnformattedDirs::refuse;
  options.clock = environment_.clock;
  options.random = environment_.random;
  options.quorum_voters = quorum_voters(config_.quorum);
  for (const HostPort& server : config_.quorum.bootstrap_servers)
    options.quorum_bootstrap_servers.push_back(net::Endpoint{server.host, server.port});
  if (!config_.controller_listener_names.empty())
    options.controller_listener = config_.controller_listener_names.front();
  if (config_.quorum.controller_role)
    options.controller_endpoints = advertised_controller_endpoints(config_);
  options.election_timeout_ms = config_.quorum.election_timeout_ms;
  options.fetch_timeout_ms = config_.quorum.fetch_timeout_ms;
  options.request_timeout_ms = config_.quorum.request_timeout_ms;
  options.snapshot_record_bytes_max = config_.quorum.snapshot_record_bytes_max;
  if (config_.values.is_set("metadata.log.segment.bytes"))
    options.metadata_segment_bytes =
        static_cast<uint64_t>(config_.values.get_int("metadata.log.segment.bytes"));
  auto controller = cluster::Controller::open(*metadata_file_system_, std::move(options));
  if (!controller) return controller.status();
  controller_ = std::move(controller.value());
  register_endpoints();
  return Status::ok();
}

// The advertised listeners; a port 0 (ephemeral) becomes the bound port
// once the server listens.
std::vector<cluster::BrokerEndpoint> Broker::advertised_endpoints() const {
  const auto protocols = effective_protocol_map(config_);
  std::vector<cluster::BrokerEndpoint> endpoints;
  for (size_t i = 0; i < config_.advertised_listeners.size(); ++i) {
    const ListenerAddress& address = config_.advertised_listeners[i];
    // Controller listeners serve the quorum, not clients (Kafka registers
    // only the broker's).
    if (config_.is_controller_listener(address.name)) continue;
    cluster::BrokerEndpoint endpoint;
    endpoint.listener_name = address.name;
    endpoint.host = address.host;
    endpoint.port = address.port;
    if (endpoint.port == 0 && server_ && i < config_.listeners.size())
      endpoint.port = server_->bound_port(i);
    auto protocol = protocols.find(address.name);
    endpoint.security_protocol =
        security_protocol_id(protocol == protocols.end() ? address.name : protocol->second);
    endpoints.push_back(std::move(endpoint));
  }
  return endpoints;
}

// A lone node's controller is active at once: it registers now. A node of a
// larger quorum registers from its registration loop (start()), once a
// controller is elected. A controller-only node is no broker, even as the
// sole voter of its quorum: partitions must not be placed on it.
void Broker::register_endpoints() {
  if (!config_.quorum.broker_role || !lone_node() || !controller_->is_active()) return;
  std::optional<std::string> rack = config_.values.text("broker.rack");
  cluster::ApiError registered = controller_->register_broker(advertised_endpoints(), rack);
  if (!registered.ok())
    spdlog::error("metadata: registering node {} failed: {}", config_.node_id, registered.message);
}

bool Broker::registered_in(const cluster::MetadataImage& image) const {
  auto found = image.brokers.find(config_.node_id);
  if (found == image.brokers.end() || found->second.fenced) return false;
  return found->second.endpoints == advertised_endpoints();
}

void Broker::on_metadata_update(const cluster::MetadataDelta& delta,
                                const cluster::MetadataImagePtr& new_image) {
  authorization_->follow(delta, *new_image);
  if (delta.client_quotas_changed()) quotas_->update(new_image->client_quotas);
  if (!replica_manager_) return;
  if (Status status = replica_manager_->apply_delta(delta, new_image); !status)
    spdlog::error("metadata: applying image at offset {}: {}", new_image->offset,
                  status.to_string());
  follow_replicas(new_image);
}

void Broker::submit_to_controller(RequestContext context,
                                  std::function<void(RequestContext&)> work) {
  auto shared = std::make_shared<RequestContext>(std::move(context));
  controller_->submit([shared, work = std::move(work)] { work(*shared); },
                      [shared] { shared->close_connection(); });
}

// After the server has drained (no handler waits on the controller).
void Broker::close_metadata() {
  if (!controller_) return;
  controller_->unsubscribe(this);
  controller_->stop();
}

}  // namespace sluice::broker
