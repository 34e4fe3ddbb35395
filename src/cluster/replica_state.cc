#include "cluster/replica_state.h"

#include <algorithm>

#include "cluster/metadata_image.h"

namespace sluice::cluster {

void record_follower_fetch(FollowerState& state, int64_t fetch_offset, int64_t leader_end,
                           int64_t now_ms) {
  if (fetch_offset >= leader_end)
    state.last_caught_up_ms = std::max(state.last_caught_up_ms, now_ms);
  else if (state.last_fetch_ms >= 0 && fetch_offset >= state.last_fetch_leader_end)
    state.last_caught_up_ms = std::max(state.last_caught_up_ms, state.last_fetch_ms);
  state.log_end_offset = fetch_offset;
  state.last_fetch_ms = now_ms;
  state.last_fetch_leader_end = leader_end;
}

int64_t isr_low_end(const std::vector<int32_t>& isr, int32_t self, int64_t leader_end,
                    const Followers& followers) {
  int64_t low = leader_end;
  for (int32_t member : isr) {
    if (member == self) continue;
    auto found = followers.find(member);
    low = std::min(low, found == followers.end() ? -1 : found->second.log_end_offset);
  }
  return low;
}

std::vector<int32_t> out_of_sync_replicas(const std::vector<int32_t>& isr, int32_t self,
                                          int64_t leader_end, const Followers& followers,
                                          int64_t now_ms, int64_t lag_max_ms) {
  std::vector<int32_t> out;
  for (int32_t member : isr) {
    if (member == self) continue;
    auto found = followers.find(member);
    if (found == followers.end()) {
      out.push_back(member);
      continue;
    }
    const FollowerState& state = found->second;
    bool caught_up =
        state.log_end_offset == leader_end || now_ms - state.last_caught_up_ms <= lag_max_ms;
    if (!caught_up) out.push_back(member);
  }
  return out;
}

bool may_join_isr(const FollowerState& state, int64_t high_watermark,
                  int64_t leader_epoch_start_offset) {
  return state.log_end_offset >= 0 && state.log_end_offset >= high_watermark &&
         state.log_end_offset >= leader_epoch_start_offset;
}

bool isr_eligible(const BrokerImage* broker, int64_t fetch_broker_epoch) {
  if (broker == nullptr || !broker->active()) return false;
  return fetch_broker_epoch < 0 || fetch_broker_epoch == broker->epoch;
}

int64_t follower_truncation_offset(int32_t leader_epoch, int64_t leader_end_offset,
                                   int32_t local_epoch, int64_t local_end_offset,
                                   int64_t log_end_offset, int64_t high_watermark) {
  // The leader knows no epoch at or below ours: keep what is committed.
  if (leader_end_offset < 0) return std::min(high_watermark, log_end_offset);
  if (leader_epoch < 0 || local_epoch < 0) return std::min(leader_end_offset, log_end_offset);
  if (local_epoch != leader_epoch) return std::min(local_end_offset, log_end_offset);
  return std::min({leader_end_offset, local_end_offset, log_end_offset});
}

int64_t epoch_end_truncation_offset(int32_t requested_epoch, int32_t leader_epoch,
                                    int64_t leader_end_offset, int64_t log_end_offset,
                                    int64_t high_watermark) {
  const int64_t committed = std::min(high_watermark, log_end_offset);
  if (leader_epoch < 0 || leader_end_offset < 0) return committed;
  const int64_t target = std::min(leader_end_offset, log_end_offset);
  // Same epoch on both: one leader wrote both copies up to the leader's end.
  if (leader_epoch == requested_epoch) return target;
  // An older epoch only: its end, then the next round asks about the batch
  // now last; cutting nothing would ask the same again forever.
  return target < log_end_offset ? std::max(target, committed) : committed;
}

}  // namespace sluice::cluster
