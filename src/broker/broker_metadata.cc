// The broker's metadata side: the controller (meta.properties, the metadata
// log replayed into the image, this broker's registration) and the glue
// that makes the data path follow the image.
#include <spdlog/spdlog.h>

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

std::map<std::string, std::string> security_protocol_map(const BrokerConfig& config) {
  std::map<std::string, std::string> out;
  for (const std::string& item : config.values.get_list("listener.security.protocol.map")) {
    size_t colon = item.find(':');
    if (colon != std::string::npos) out[item.substr(0, colon)] = item.substr(colon + 1);
  }
  return out;
}

// controller.quorum.voters: "id@host:port,..." (BrokerConfig checked it).
std::map<int32_t, net::Endpoint> quorum_voters(const BrokerConfig& config) {
  std::map<int32_t, net::Endpoint> out;
  for (const std::string& item : config.values.get_list("controller.quorum.voters")) {
    const size_t at = item.find('@');
    const size_t colon = item.rfind(':');
    if (at == std::string::npos || colon == std::string::npos || colon < at) continue;
    net::Endpoint endpoint;
    endpoint.host = item.substr(at + 1, colon - at - 1);
    endpoint.port = static_cast<uint16_t>(std::stoi(item.substr(colon + 1)));
    out[std::stoi(item.substr(0, at))] = endpoint;
  }
  return out;
}

}  // namespace

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
  options.quorum_voters = quorum_voters(config_);
  options.election_timeout_ms = config_.get_int("controller.quorum.election.timeout.ms");
  options.fetch_timeout_ms = config_.get_int("controller.quorum.fetch.timeout.ms");
  options.request_timeout_ms = config_.get_int("controller.quorum.request.timeout.ms");
  auto controller = cluster::Controller::open(*metadata_file_system_, std::move(options));
  if (!controller) return controller.status();
  controller_ = std::move(controller.value());
  register_endpoints();
  return Status::ok();
}

// The advertised listeners; a port 0 (ephemeral) becomes the bound port
// once the server listens.
std::vector<cluster::BrokerEndpoint> Broker::advertised_endpoints() const {
  const auto protocols = security_protocol_map(config_);
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
// controller is elected.
void Broker::register_endpoints() {
  if (!controller_->is_active()) return;
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

// Until the image shows this broker with its endpoints: registers through
// the local controller when it is the active one (Kafka's brokers send
// BrokerRegistration to the active controller; the same record results).
void Broker::run_registration() {
  set_current_thread_name("registration");
  std::unique_lock lock(registration_mutex_);
  while (!registration_stopping_) {
    registration_changed_.wait_for(lock, std::chrono::milliseconds(200));
    if (registration_stopping_) break;
    if (registered_in(*controller_->image()) || !controller_->is_active()) continue;
    lock.unlock();
    register_endpoints();
    lock.lock();
  }
}

void Broker::on_metadata_update(const cluster::MetadataDelta& delta,
                                const cluster::MetadataImagePtr& new_image) {
  if (!replica_manager_) return;
  if (Status status = replica_manager_->apply_delta(delta, new_image); !status)
    spdlog::error("metadata: applying image at offset {}: {}", new_image->offset,
                  status.to_string());
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
