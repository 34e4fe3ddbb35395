#include "connect/runtime/assignor.h"

#include <algorithm>
#include <set>

namespace sluice::connect {
namespace {

// A member's load for one kind of item, the new item going to the least
// loaded (ties to the lower id: the map is ordered).
template <class Item>
std::string least_loaded(const std::map<std::string, std::set<Item>>& holding) {
  std::string best;
  size_t best_load = SIZE_MAX;
  for (const auto& [id, items] : holding) {
    if (items.size() < best_load) {
      best = id;
      best_load = items.size();
    }
  }
  return best;
}

// Revokes surplus items of one kind from the most loaded members while the
// spread is above one; only items the member already held (not assigned in
// this round) are revoked, the highest first.
template <class Item>
void balance(std::map<std::string, std::set<Item>>& holding,
             const std::map<std::string, std::set<Item>>& kept,
             std::map<std::string, std::set<Item>>& revoked) {
  std::map<std::string, size_t> load;
  for (const auto& [id, items] : holding) load[id] = items.size();
  while (load.size() > 1) {
    auto most = std::max_element(load.begin(), load.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    auto least = std::min_element(load.begin(), load.end(),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
    if (most->second <= least->second + 1) break;
    const std::set<Item>& candidates = kept.at(most->first);
    auto item = std::find_if(candidates.rbegin(), candidates.rend(),
                             [&](const Item& i) { return holding[most->first].contains(i); });
    if (item == candidates.rend()) break;
    revoked[most->first].insert(*item);
    holding[most->first].erase(*item);
    --most->second;
    ++least->second;  // where the follow-up round will put it
  }
}

template <class Item>
void assign_kind(const std::vector<AssignorMember>& members, const std::set<Item>& configured,
                 const std::set<Item>& pending_lost, bool may_balance,
                 std::set<Item> Allocation::*field, AssignorResult& result,
                 std::map<std::string, std::set<Item>>& holding) {
  std::map<std::string, std::set<Item>> kept;
  std::set<Item> taken;
  for (const AssignorMember& member : members) {
    std::set<Item>& mine = kept[member.id];
    for (const Item& item : member.held.*field) {
      if (!configured.contains(item) || taken.contains(item)) {
        (result.revoked[member.id].*field).insert(item);
        continue;
      }
      taken.insert(item);
      mine.insert(item);
    }
  }
  holding = kept;
  for (const Item& item : configured) {
    if (taken.contains(item) || pending_lost.contains(item)) continue;
    const std::string to = least_loaded(holding);
    holding[to].insert(item);
    (result.assigned[to].*field).insert(item);
  }
  if (!may_balance) return;
  std::map<std::string, std::set<Item>> revoked;
  balance(holding, kept, revoked);
  for (auto& [id, items] : revoked) {
    for (const Item& item : items) (result.revoked[id].*field).insert(item);
  }
}

}  // namespace

AssignorResult assign(const std::vector<AssignorMember>& members, const Allocation& configured,
                      AssignorMemory& memory, int64_t now_ms, int64_t max_delay_ms) {
  AssignorResult result;
  if (members.empty()) return result;
  std::set<std::string> present;
  for (const AssignorMember& member : members) present.insert(member.id);

  // Work that members of the previous round held and that left with them.
  Allocation lost;
  for (const auto& [id, allocation] : memory.previous) {
    if (present.contains(id)) continue;
    lost.connectors.insert(allocation.connectors.begin(), allocation.connectors.end());
    lost.tasks.insert(allocation.tasks.begin(), allocation.tasks.end());
  }
  for (const AssignorMember& member : members) {
    for (const auto& c : member.held.connectors) lost.connectors.erase(c);
    for (const auto& t : member.held.tasks) lost.tasks.erase(t);
  }
  for (auto it = lost.connectors.begin(); it != lost.connectors.end();) {
    it = configured.connectors.contains(*it) ? std::next(it) : lost.connectors.erase(it);
  }
  for (auto it = lost.tasks.begin(); it != lost.tasks.end();) {
    it = configured.tasks.contains(*it) ? std::next(it) : lost.tasks.erase(it);
  }

  Allocation pending;  // lost work still waiting for its member
  if (lost.empty() || max_delay_ms <= 0) {
    memory.lost_deadline_ms.reset();
  } else {
    if (!memory.lost_deadline_ms) memory.lost_deadline_ms = now_ms + max_delay_ms;
    if (now_ms < *memory.lost_deadline_ms) {
      pending = lost;
      result.delay_ms = static_cast<int32_t>(*memory.lost_deadline_ms - now_ms);
    } else {
      memory.lost_deadline_ms.reset();
    }
  }

  const bool may_balance = pending.empty();
  std::map<std::string, std::set<std::string>> connectors;
  std::map<std::string, std::set<std::pair<std::string, int>>> tasks;
  assign_kind(members, configured.connectors, pending.connectors, may_balance,
              &Allocation::connectors, result, connectors);
  assign_kind(members, configured.tasks, pending.tasks, may_balance, &Allocation::tasks, result,
              tasks);

  // Remembered: what each member is left with, and the pending lost work
  // under the members that left (so it stays lost until it moves).
  std::map<std::string, Allocation> next;
  for (const AssignorMember& member : members) {
    next[member.id].connectors = connectors[member.id];
    next[member.id].tasks = tasks[member.id];
  }
  if (!pending.empty()) {
    for (const auto& [id, allocation] : memory.previous) {
      if (present.contains(id)) continue;
      Allocation& still = next[id];
      for (const auto& c : allocation.connectors) {
        if (pending.connectors.contains(c)) still.connectors.insert(c);
      }
      for (const auto& t : allocation.tasks) {
        if (pending.tasks.contains(t)) still.tasks.insert(t);
      }
      if (still.empty()) next.erase(id);
    }
  }
  memory.previous = std::move(next);
  return result;
}

}  // namespace sluice::connect
