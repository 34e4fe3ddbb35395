#include "cluster/broker_heartbeats.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

namespace sluice::cluster {

void BrokerHeartbeatManager::register_broker(int32_t id, bool fenced) {
  Session& session = brokers_[id];
  session = Session{};
  session.last_contact = clock_.monotonic();
  session.fenced = fenced;
}

std::vector<int32_t> BrokerHeartbeatManager::ids() const {
  std::vector<int32_t> out;
  for (const auto& [id, session] : brokers_) out.push_back(id);
  return out;
}

void BrokerHeartbeatManager::remove(int32_t id) { brokers_.erase(id); }

bool BrokerHeartbeatManager::expired(int32_t id, const Session& session) const {
  if (id == exempt_id_) return false;
  return clock_.monotonic() - session.last_contact > session_timeout_;
}

bool BrokerHeartbeatManager::has_valid_session(int32_t id) const {
  auto found = brokers_.find(id);
  if (found == brokers_.end() || found->second.fenced) return false;
  return !expired(id, found->second);
}

void BrokerHeartbeatManager::touch(int32_t id, bool fenced, int64_t metadata_offset) {
  Session& session = brokers_[id];
  session.last_contact = clock_.monotonic();
  session.fenced = fenced;
  session.metadata_offset = metadata_offset;
  if (fenced) session.controlled_shutdown_offset = -1;
}

void BrokerHeartbeatManager::fence(int32_t id) {
  auto found = brokers_.find(id);
  if (found == brokers_.end()) return;
  found->second.fenced = true;
  found->second.controlled_shutdown_offset = -1;
}

void BrokerHeartbeatManager::set_controlled_shutdown_offset(int32_t id, int64_t offset) {
  auto found = brokers_.find(id);
  if (found == brokers_.end() || found->second.fenced) return;
  if (found->second.controlled_shutdown_offset < 0)
    found->second.controlled_shutdown_offset = offset;
}

BrokerControlState BrokerHeartbeatManager::current_state(const Session& session) const {
  if (session.fenced) return BrokerControlState::fenced;
  if (session.controlled_shutdown_offset >= 0) return BrokerControlState::controlled_shutdown;
  return BrokerControlState::unfenced;
}

BrokerControlStates BrokerHeartbeatManager::next_state(int32_t id, int64_t metadata_offset,
                                                       bool want_fence, bool want_shutdown,
                                                       int64_t registration_offset,
                                                       bool has_leaderships) const {
  auto found = brokers_.find(id);
  const BrokerControlState current =
      found == brokers_.end() ? BrokerControlState::fenced : current_state(found->second);
  using S = BrokerControlState;
  switch (current) {
    case S::fenced:
      if (want_shutdown) return {current, S::shutdown_now};
      if (!want_fence && metadata_offset >= registration_offset) {
        spdlog::info(
            "metadata: broker {} is unfenced: it caught up with its registration at "
            "offset {}",
            id, registration_offset);
        return {current, S::unfenced};
      }
      return {current, S::fenced};
    case S::unfenced:
      if (want_fence) return {current, want_shutdown ? S::shutdown_now : S::fenced};
      if (want_shutdown)
        return {current, has_leaderships ? S::controlled_shutdown : S::shutdown_now};
      return {current, S::unfenced};
    case S::controlled_shutdown:
      if (has_leaderships) return {current, S::controlled_shutdown};
      // Every active broker has seen the records that moved leadership away.
      if (found->second.controlled_shutdown_offset <= lowest_active_offset())
        return {current, S::shutdown_now};
      return {current, S::controlled_shutdown};
    case S::shutdown_now:
      break;
  }
  return {current, S::shutdown_now};
}

std::vector<int32_t> BrokerHeartbeatManager::stale_brokers() const {
  std::vector<std::pair<std::chrono::nanoseconds, int32_t>> stale;
  for (const auto& [id, session] : brokers_)
    if (!session.fenced && expired(id, session)) stale.emplace_back(session.last_contact, id);
  std::sort(stale.begin(), stale.end());
  std::vector<int32_t> out;
  for (const auto& [contact, id] : stale) out.push_back(id);
  return out;
}

int64_t BrokerHeartbeatManager::lowest_active_offset() const {
  int64_t lowest = std::numeric_limits<int64_t>::max();
  for (const auto& [id, session] : brokers_)
    if (!session.fenced && session.controlled_shutdown_offset < 0 && id != exempt_id_)
      lowest = std::min(lowest, session.metadata_offset);
  return lowest;
}

}  // namespace sluice::cluster
