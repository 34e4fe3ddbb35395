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
//
// Controlled shutdown (shut_down_gracefully, on SIGTERM): heartbeats ask
// WantShutDown, one each lifecycle poll, until the controller answers
// ShouldShutDown (it has moved this broker's leaderships away and every
// active broker has applied that); then a node leading the quorum resigns.

#include <spdlog/spdlog.h>

#include "base/thread_name.h"
#include "broker/broker.h"
#include "cluster/features.h"
#include "cluster/ids.h"

namespace sluice::broker {

namespace {

constexpr std::chrono::milliseconds lifecycle_poll{100};
// A controlled shutdown gives up when no active controller is known this long.
constexpr std::chrono::milliseconds no_controller_patience{1000};

int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

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
    } else if (std::chrono::steady_clock::now() >= next_heartbeat || want_shutdown_) {
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

void Broker::on_heartbeat_answer(int16_t error, bool fenced, bool should_shutdown) {
  std::lock_guard lock(registration_mutex_);
  lifecycle_in_flight_ = false;
  if (error == 0 && should_shutdown && want_shutdown_ && !should_shutdown_) {
    should_shutdown_ = true;
    registration_changed_.notify_all();  // shut_down_gracefully waits for it
  }
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
  registration.features = cluster::supported_features();
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
  for (const cluster::BrokerFeatureRange& feature : registration.features)
    request.features.push_back({feature.name, feature.min_version, feature.max_version, {}});
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
    heartbeat.want_shutdown = want_shutdown_;
  }
  heartbeat.current_metadata_offset = controller_->applied_offset();
  if (controller_->is_active()) {
    cluster::BrokerHeartbeatReply reply = controller_->heartbeat(heartbeat);
    return on_heartbeat_answer(static_cast<int16_t>(reply.error.code), reply.is_fenced,
                               reply.should_shutdown);
  }
  protocol::BrokerHeartbeatRequest request;
  request.broker_id = heartbeat.broker_id;
  request.broker_epoch = heartbeat.broker_epoch;
  request.current_metadata_offset = heartbeat.current_metadata_offset;
  request.want_shut_down = heartbeat.want_shutdown;
  {
    std::lock_guard lock(registration_mutex_);
    lifecycle_in_flight_ = true;
  }
  controller_->quorum().send_to_leader(
      std::move(request), protocol::BrokerHeartbeatRequest::max_version,
      [this](net::ClientResult<protocol::BrokerHeartbeatResponse> result) {
        if (!result.ok())
          return on_heartbeat_answer(static_cast<int16_t>(ErrorCode::NOT_CONTROLLER), true);
        on_heartbeat_answer(result.message.error_code, result.message.is_fenced,
                            result.message.should_shut_down);
      });
}

std::string Broker::shut_down_gracefully(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string what;
  if (lone_node()) return "no controlled shutdown: a cluster of one";
  if (!config_.quorum.broker_role || !registration_thread_.joinable())
    ;  // a controller only: no partitions to hand over
  else if (!config_.get_bool("controlled.shutdown.enable"))
    what = "no controlled shutdown: controlled.shutdown.enable=false";
  else
    what = controlled_shutdown(deadline);
  if (std::string resigned = resign_quorum_leadership(deadline); !resigned.empty())
    what += (what.empty() ? "" : "; ") + resigned;
  return what;
}

// Waits for ShouldShutDown; the lifecycle thread sends the heartbeats.
std::string Broker::controlled_shutdown(std::chrono::steady_clock::time_point deadline) {
  const auto started = std::chrono::steady_clock::now();
  std::unique_lock lock(registration_mutex_);
  if (broker_epoch_ < 0) return "no controlled shutdown: this broker is not registered";
  spdlog::info("metadata: broker {} asks the active controller for a controlled shutdown",
               config_.node_id);
  want_shutdown_ = true;
  registration_changed_.notify_all();
  auto no_controller_since = std::chrono::steady_clock::now();
  while (!should_shutdown_) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      return fmt::format("controlled shutdown timed out after {} ms (the controller did not agree)",
                         elapsed_ms(started));
    if (controller_->quorum().status().leader >= 0)
      no_controller_since = now;
    else if (now - no_controller_since >= no_controller_patience)
      return fmt::format("controlled shutdown given up after {} ms: no active controller",
                         elapsed_ms(started));
    registration_changed_.wait_for(lock, lifecycle_poll);
  }
  return fmt::format("controlled shutdown completed in {} ms (no partition led here)",
                     elapsed_ms(started));
}

// A node leading the quorum hands it over before it goes (Kafka resigns
// with EndQuorumEpoch), waiting until another voter leads, or the deadline.
std::string Broker::resign_quorum_leadership(std::chrono::steady_clock::time_point deadline) {
  cluster::RaftManager& quorum = controller_->quorum();
  if (lone_node() || quorum.status().leader != config_.node_id) return "";
  const auto started = std::chrono::steady_clock::now();
  // An election takes up to two election timeouts; with no majority left
  // alive none comes, and waiting longer would not help.
  deadline = std::min(deadline,
                      started + 2 * std::chrono::milliseconds(config_.quorum.election_timeout_ms));
  quorum.resign();
  while (std::chrono::steady_clock::now() < deadline) {
    const int32_t leader = quorum.status().leader;
    if (leader >= 0 && leader != config_.node_id)
      return fmt::format("quorum leadership resigned, node {} leads after {} ms", leader,
                         elapsed_ms(started));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return fmt::format("quorum leadership resigned, no other leader after {} ms",
                     elapsed_ms(started));
}

}  // namespace sluice::broker
