// This broker's lifecycle in a quorum (Kafka's BrokerLifecycleManager):
// register with the active controller (BrokerRegistration, a new
// incarnation id per process), then heartbeat every
// broker.heartbeat.interval.ms with the metadata offset applied here, so
// the controller unfences it once it has caught up and fences it if it
// falls silent. A STALE_BROKER_EPOCH answer (the controller lost or fenced
// the registration) registers again.
//
// The requests go over the quorum's client to the active controller; when
// this node is the active controller they are calls on it. A lone node
// registers itself directly (register_endpoints), as it always has.

#include <spdlog/spdlog.h>

#include "base/thread_name.h"
#include "broker/broker.h"
#include "cluster/ids.h"

namespace sluice::broker {

namespace {

constexpr std::chrono::milliseconds lifecycle_poll{100};

}  // namespace

bool Broker::lone_node() const {
  const auto& voters = controller_->quorum().voters();
  return voters.size() == 1 && voters.count(config_.node_id) != 0;
}

void Broker::run_registration() {
  set_current_thread_name("lifecycle");
  incarnation_id_ = cluster::random_uuid(*environment_.random);
  auto next_heartbeat = std::chrono::steady_clock::now();
  std::unique_lock lock(registration_mutex_);
  while (!registration_stopping_) {
    registration_changed_.wait_for(lock, lifecycle_poll);
    if (registration_stopping_) break;
    if (lone_node()) {
      if (registered_in(*controller_->image()) || !controller_->is_active()) continue;
      lock.unlock();
      register_endpoints();
      lock.lock();
      continue;
    }
    if (!config_.quorum.broker_role || lifecycle_in_flight_) continue;
    if (broker_epoch_ < 0) {
      lock.unlock();
      send_registration();
      lock.lock();
    } else if (std::chrono::steady_clock::now() >= next_heartbeat) {
      next_heartbeat = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(config_.quorum.broker_heartbeat_interval_ms);
      lock.unlock();
      send_heartbeat();
      lock.lock();
    }
  }
}

void Broker::on_registered(int16_t error, int64_t broker_epoch) {
  std::lock_guard lock(registration_mutex_);
  lifecycle_in_flight_ = false;
  if (error != 0) {
    spdlog::debug("metadata: registering broker {} failed: {}", config_.node_id,
                  error_name(static_cast<ErrorCode>(error)));
    return;
  }
  if (broker_epoch_ != broker_epoch)
    spdlog::info("metadata: broker {} registered with broker epoch {}", config_.node_id,
                 broker_epoch);
  broker_epoch_ = broker_epoch;
}

void Broker::on_heartbeat_answer(int16_t error, bool fenced) {
  std::lock_guard lock(registration_mutex_);
  lifecycle_in_flight_ = false;
  if (error == static_cast<int16_t>(ErrorCode::STALE_BROKER_EPOCH)) {
    spdlog::info("metadata: broker {} registers again (its epoch {} is stale)", config_.node_id,
                 broker_epoch_);
    broker_epoch_ = -1;
    return;
  }
  if (error == 0 && fenced_ != fenced) {
    spdlog::info("metadata: broker {} is {}", config_.node_id, fenced ? "fenced" : "unfenced");
    fenced_ = fenced;
  }
}

void Broker::send_registration() {
  cluster::BrokerRegistration registration;
  registration.broker_id = config_.node_id;
  registration.cluster_id = controller_->cluster_id();
  registration.incarnation_id = incarnation_id_;
  registration.listeners = advertised_endpoints();
  registration.rack = config_.quorum.broker_rack;
  if (controller_->is_active()) {
    cluster::BrokerRegistrationReply reply = controller_->register_broker(registration);
    return on_registered(static_cast<int16_t>(reply.error.code), reply.broker_epoch);
  }
  protocol::BrokerRegistrationRequest request;
  request.broker_id = registration.broker_id;
  request.cluster_id = registration.cluster_id;
  request.incarnation_id = registration.incarnation_id;
  for (const cluster::BrokerEndpoint& endpoint : registration.listeners)
    request.listeners.push_back(
        {endpoint.listener_name, endpoint.host, endpoint.port, endpoint.security_protocol, {}});
  request.rack = registration.rack;
  {
    std::lock_guard lock(registration_mutex_);
    lifecycle_in_flight_ = true;
  }
  controller_->quorum().send_to_leader(
      std::move(request), protocol::BrokerRegistrationRequest::max_version,
      [this](net::ClientResult<protocol::BrokerRegistrationResponse> result) {
        if (!result.ok()) return on_registered(static_cast<int16_t>(ErrorCode::NOT_CONTROLLER), -1);
        on_registered(result.message.error_code, result.message.broker_epoch);
      });
}

void Broker::send_heartbeat() {
  cluster::BrokerHeartbeat heartbeat;
  heartbeat.broker_id = config_.node_id;
  {
    std::lock_guard lock(registration_mutex_);
    heartbeat.broker_epoch = broker_epoch_;
  }
  heartbeat.current_metadata_offset = controller_->applied_offset();
  if (controller_->is_active()) {
    cluster::BrokerHeartbeatReply reply = controller_->heartbeat(heartbeat);
    return on_heartbeat_answer(static_cast<int16_t>(reply.error.code), reply.is_fenced);
  }
  protocol::BrokerHeartbeatRequest request;
  request.broker_id = heartbeat.broker_id;
  request.broker_epoch = heartbeat.broker_epoch;
  request.current_metadata_offset = heartbeat.current_metadata_offset;
  {
    std::lock_guard lock(registration_mutex_);
    lifecycle_in_flight_ = true;
  }
  controller_->quorum().send_to_leader(
      std::move(request), protocol::BrokerHeartbeatRequest::max_version,
      [this](net::ClientResult<protocol::BrokerHeartbeatResponse> result) {
        if (!result.ok())
          return on_heartbeat_answer(static_cast<int16_t>(ErrorCode::NOT_CONTROLLER), true);
        on_heartbeat_answer(result.message.error_code, result.message.is_fenced);
      });
}

}  // namespace sluice::broker
