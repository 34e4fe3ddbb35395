#pragma once
// Broker sessions on the active controller (Kafka's BrokerHeartbeatManager):
// when each broker was last heard from, the metadata offset it reported,
// and where it is in its lifecycle (fenced, unfenced, in controlled
// shutdown). It decides; the controller writes the records that carry the
// decisions out (cluster/controller.h) and tells it what was committed.
//
// Sessions are memory only, like Kafka's: a controller that starts (or
// becomes active) gives every registered broker a fresh session, so a
// broker is fenced only after a whole session timeout without a heartbeat
// to this controller.
//
// Time is the injected Clock's monotonic time (a ManualClock in tests).
// Not thread-safe: the controller calls it under its lock.

#include <chrono>
#include <cstdint>
#include <map>
#include <vector>

#include "base/clock.h"

namespace sluice::cluster {

// A broker's lifecycle states (Kafka's BrokerControlState).
enum class BrokerControlState : uint8_t { fenced, unfenced, controlled_shutdown, shutdown_now };

struct BrokerControlStates {
  BrokerControlState current;
  BrokerControlState next;
};

class BrokerHeartbeatManager {
 public:
  BrokerHeartbeatManager(const Clock& clock, std::chrono::milliseconds session_timeout)
      : clock_(clock), session_timeout_(session_timeout) {}

  std::chrono::milliseconds session_timeout() const { return session_timeout_; }

  // A new session for a (re)registered incarnation, contact now. The
  // controlled shutdown offset is reset.
  void register_broker(int32_t id, bool fenced);
  // Forgets the broker (unregistered, or a new incarnation replaces it).
  void remove(int32_t id);
  bool known(int32_t id) const { return brokers_.count(id) != 0; }
  std::vector<int32_t> ids() const;
  // Kafka's hasValidSession: unfenced and heard from within the session
  // timeout. A fenced broker has none, so a new incarnation may take its id.
  bool has_valid_session(int32_t id) const;

  // A heartbeat arrived: contact now, the state it is in after the
  // heartbeat, the metadata offset it reported.
  void touch(int32_t id, bool fenced, int64_t metadata_offset);
  // The broker was fenced (session expired, or it asked to be).
  void fence(int32_t id);
  // The broker entered controlled shutdown with the records ending at
  // `offset`: it may shut down once every active broker has reached it.
  // Kept if already set.
  void set_controlled_shutdown_offset(int32_t id, int64_t offset);
  // Never expires (the controller's own node, in this process).
  void set_exempt(int32_t id) { exempt_id_ = id; }

  // Kafka's calculateNextBrokerState for a heartbeat of broker `id`
  // (registered) with its registration record's offset and whether it still
  // leads a partition.
  BrokerControlStates next_state(int32_t id, int64_t metadata_offset, bool want_fence,
                                 bool want_shutdown, int64_t registration_offset,
                                 bool has_leaderships) const;

  // Unfenced brokers whose last contact is older than the session timeout,
  // oldest first.
  std::vector<int32_t> stale_brokers() const;
  // The lowest metadata offset over active (unfenced, not shutting down)
  // brokers; INT64_MAX when there is none.
  int64_t lowest_active_offset() const;

 private:
  struct Session {
    std::chrono::nanoseconds last_contact{};
    int64_t metadata_offset = -1;
    bool fenced = true;
    int64_t controlled_shutdown_offset = -1;  // -1: not shutting down
  };
  BrokerControlState current_state(const Session& session) const;
  bool expired(int32_t id, const Session& session) const;

  const Clock& clock_;
  std::chrono::milliseconds session_timeout_;
  std::map<int32_t, Session> brokers_;
  int32_t exempt_id_ = -1;
};

}  // namespace sluice::cluster
