#include "streams/streams_assignor.h"

#include <algorithm>
#include <tuple>

namespace sluice::streams {
namespace {

// One client while the assignment is made.
struct Client {
  std::string id;
  const AssignorClient* input = nullptr;
  int64_t capacity = 1;
  std::set<TaskId> previous_active;
  std::set<TaskId> previous_standby;
  std::set<TaskId> active;
  std::set<TaskId> standby;
  std::set<TaskId> warmup;

  int64_t lag(const TaskId& task) const {
    if (previous_active.count(task) != 0) return 0;
    auto known = input->lags.find(task);
    return known == input->lags.end() ? kUnknownLag : known->second;
  }
  bool holds(const TaskId& task) const {
    return active.count(task) != 0 || standby.count(task) != 0 || warmup.count(task) != 0;
  }
};

using Clients = std::vector<Client>;  // sorted by id

bool caught_up(const Client& client, const TaskId& task, const AssignorConfig& config) {
  return client.lag(task) <= config.acceptable_recovery_lag;
}

// a's load below b's: count/capacity compared without division.
bool lighter(size_t a_count, int64_t a_capacity, size_t b_count, int64_t b_capacity) {
  return static_cast<int64_t>(a_count) * b_capacity < static_cast<int64_t>(b_count) * a_capacity;
}

// Each client's share of `count` tasks by capacity: the floor, and one
// more for the clients that had the most of `previous` beyond their floor
// (so the remainder costs the fewest moves).
std::vector<size_t> shares(const Clients& clients, size_t count,
                           const std::vector<size_t>& previous) {
  int64_t total_capacity = 0;
  for (const Client& client : clients) total_capacity += client.capacity;
  std::vector<size_t> share(clients.size(), 0);
  size_t given = 0;
  for (size_t i = 0; i < clients.size(); ++i) {
    share[i] = static_cast<size_t>(static_cast<int64_t>(count) * clients[i].capacity /
                                   std::max<int64_t>(1, total_capacity));
    given += share[i];
  }
  std::vector<size_t> order(clients.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    auto extra = [&](size_t i) {
      return static_cast<int64_t>(previous[i]) - static_cast<int64_t>(share[i]);
    };
    if (extra(a) != extra(b)) return extra(a) > extra(b);
    return clients[a].capacity > clients[b].capacity;
  });
  for (size_t k = 0; given < count && !order.empty(); k = (k + 1) % order.size()) {
    ++share[order[k]];
    ++given;
  }
  return share;
}

// The client ranked first by `better` among those `eligible` (nullptr: none).
template <class Eligible, class Better>
Client* pick(Clients& clients, Eligible eligible, Better better) {
  Client* best = nullptr;
  for (Client& client : clients) {
    if (!eligible(client)) continue;
    if (best == nullptr || better(client, *best)) best = &client;
  }
  return best;
}

void assign_stateful_actives(Clients& clients, const std::set<TaskId>& stateful,
                             const AssignorConfig& config) {
  std::vector<size_t> previous(clients.size(), 0);
  for (size_t i = 0; i < clients.size(); ++i) {
    for (const TaskId& task : clients[i].previous_active) previous[i] += stateful.count(task);
  }
  std::vector<size_t> share = shares(clients, stateful.size(), previous);
  auto has_room = [&](const Client& client) {
    return client.active.size() < share[static_cast<size_t>(&client - clients.data())];
  };
  auto caught_up_clients = [&](const TaskId& task) {
    return std::count_if(clients.begin(), clients.end(),
                         [&](const Client& c) { return caught_up(c, task, config); });
  };
  // Sticky: each task stays with its last owner while that one has room;
  // an owner with more than its share keeps first the tasks no other
  // client is caught up on (so a warmed-up replica takes over the others).
  std::vector<TaskId> by_alternatives(stateful.begin(), stateful.end());
  std::stable_sort(by_alternatives.begin(), by_alternatives.end(),
                   [&](const TaskId& a, const TaskId& b) {
                     return caught_up_clients(a) < caught_up_clients(b);
                   });
  std::vector<TaskId> unplaced;
  for (const TaskId& task : by_alternatives) {
    Client* owner = pick(
        clients, [&](const Client& c) { return c.previous_active.count(task) != 0 && has_room(c); },
        [](const Client&, const Client&) { return false; });
    if (owner != nullptr) {
      owner->active.insert(task);
    } else {
      unplaced.push_back(task);
    }
  }
  // The rest (fewest caught-up clients first, as sorted): freshest state,
  // then the least loaded.
  for (const TaskId& task : unplaced) {
    auto better = [&](const Client& a, const Client& b) {
      bool a_fresh = caught_up(a, task, config);
      bool b_fresh = caught_up(b, task, config);
      if (a_fresh != b_fresh) return a_fresh;
      if (a.lag(task) != b.lag(task)) return a.lag(task) < b.lag(task);
      return lighter(a.active.size(), a.capacity, b.active.size(), b.capacity);
    };
    Client* chosen = pick(clients, has_room, better);
    if (chosen == nullptr)
      chosen = pick(
          clients, [](const Client&) { return true; }, better);
    chosen->active.insert(task);
  }
}

// Tasks placed on a client that is behind while another is caught up go
// back to a caught-up client; the intended one warms up. Returns how many
// moved.
int keep_tasks_on_caught_up_clients(Clients& clients, const std::set<TaskId>& stateful,
                                    const AssignorConfig& config) {
  std::vector<std::pair<TaskId, Client*>> movements;
  for (Client& destination : clients) {
    for (const TaskId& task : destination.active) {
      if (stateful.count(task) == 0 || caught_up(destination, task, config)) continue;
      bool fresher_exists = std::any_of(clients.begin(), clients.end(), [&](const Client& c) {
        return caught_up(c, task, config) && c.lag(task) < destination.lag(task);
      });
      if (fresher_exists) movements.emplace_back(task, &destination);
    }
  }
  int warmups_left = config.max_warmup_replicas;
  for (auto& movement : movements) {
    const TaskId& task = movement.first;
    Client* destination = movement.second;
    auto better = [&](const Client& a, const Client& b) {
      bool a_owner = a.previous_active.count(task) != 0;
      bool b_owner = b.previous_active.count(task) != 0;
      if (a_owner != b_owner) return a_owner;
      if (a.lag(task) != b.lag(task)) return a.lag(task) < b.lag(task);
      return lighter(a.active.size(), a.capacity, b.active.size(), b.capacity);
    };
    Client* source = pick(
        clients, [&](const Client& c) { return &c != destination && caught_up(c, task, config); },
        better);
    if (source == nullptr) continue;  // not possible: a fresher client exists
    destination->active.erase(task);
    source->active.insert(task);
    if (warmups_left > 0) {
      destination->warmup.insert(task);
      --warmups_left;
    }
  }
  return static_cast<int>(movements.size());
}

void assign_standbys(Clients& clients, const std::set<TaskId>& stateful,
                     const AssignorConfig& config) {
  if (config.num_standby_replicas <= 0) return;
  int64_t total_capacity = 0;
  for (const Client& client : clients) total_capacity += client.capacity;
  const int64_t wanted = static_cast<int64_t>(stateful.size()) * config.num_standby_replicas;
  auto quota = [&](const Client& client) {  // ceil(wanted * capacity / total)
    return (wanted * client.capacity + total_capacity - 1) / std::max<int64_t>(1, total_capacity);
  };
  for (const TaskId& task : stateful) {
    for (int copy = 0; copy < config.num_standby_replicas; ++copy) {
      auto better = [&](const Client& a, const Client& b) {
        bool a_room = static_cast<int64_t>(a.standby.size()) < quota(a);
        bool b_room = static_cast<int64_t>(b.standby.size()) < quota(b);
        if (a_room != b_room) return a_room;
        bool a_fresh = caught_up(a, task, config);
        bool b_fresh = caught_up(b, task, config);
        if (a_fresh != b_fresh) return a_fresh;
        bool a_had = a.previous_standby.count(task) != 0;
        bool b_had = b.previous_standby.count(task) != 0;
        if (a_had != b_had) return a_had;
        return lighter(a.standby.size(), a.capacity, b.standby.size(), b.capacity);
      };
      Client* chosen = pick(
          clients, [&](const Client& c) { return !c.holds(task); }, better);
      if (chosen == nullptr) break;  // fewer clients than copies: as many as there are
      chosen->standby.insert(task);
    }
  }
}

void assign_stateless_actives(Clients& clients, const std::set<TaskId>& all,
                              const std::set<TaskId>& stateful) {
  std::vector<size_t> previous(clients.size(), 0);
  for (size_t i = 0; i < clients.size(); ++i) previous[i] = clients[i].previous_active.size();
  std::vector<size_t> share = shares(clients, all.size(), previous);
  auto has_room = [&](const Client& client) {
    return client.active.size() < share[static_cast<size_t>(&client - clients.data())];
  };
  auto lightest = [](const Client& a, const Client& b) {
    return lighter(a.active.size(), a.capacity, b.active.size(), b.capacity);
  };
  std::vector<TaskId> unplaced;
  for (const TaskId& task : all) {
    if (stateful.count(task) != 0) continue;
    Client* owner = pick(
        clients, [&](const Client& c) { return c.previous_active.count(task) != 0 && has_room(c); },
        [](const Client&, const Client&) { return false; });
    if (owner != nullptr) {
      owner->active.insert(task);
    } else {
      unplaced.push_back(task);
    }
  }
  for (const TaskId& task : unplaced) {
    Client* chosen = pick(clients, has_room, lightest);
    if (chosen == nullptr)
      chosen = pick(
          clients, [](const Client&) { return true; }, lightest);
    chosen->active.insert(task);
  }
}

// Spreads `tasks` over the client's threads: a thread keeps what it had
// (`had` says so) within its share, the rest go to the least loaded.
template <class Had>
void spread_over_members(const std::set<TaskId>& tasks, const std::vector<AssignorMember>& members,
                         std::vector<std::set<TaskId>*>& out, Had had) {
  const size_t count = members.size();
  std::vector<size_t> share(count, tasks.size() / count);
  std::vector<size_t> previous(count, 0);
  for (size_t i = 0; i < count; ++i) {
    for (const TaskId& task : tasks) previous[i] += had(members[i], task) ? 1 : 0;
  }
  std::vector<size_t> order(count);
  for (size_t i = 0; i < count; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return previous[a] > previous[b]; });
  for (size_t k = 0; k < tasks.size() % count; ++k) ++share[order[k]];
  std::vector<TaskId> unplaced;
  for (const TaskId& task : tasks) {
    bool kept = false;
    for (size_t i = 0; i < count && !kept; ++i) {
      if (had(members[i], task) && out[i]->size() < share[i]) {
        out[i]->insert(task);
        kept = true;
      }
    }
    if (!kept) unplaced.push_back(task);
  }
  for (const TaskId& task : unplaced) {
    size_t best = count;
    for (size_t i = 0; i < count; ++i) {
      if (out[i]->size() >= share[i]) continue;
      if (best == count || out[i]->size() < out[best]->size()) best = i;
    }
    if (best == count) best = 0;
    out[best]->insert(task);
  }
}

}  // namespace

int64_t task_lag(int64_t offset_sum, int64_t end_offset_sum) {
  if (offset_sum == kLatestOffset) return 0;
  if (offset_sum < 0) return end_offset_sum;  // unknown
  if (offset_sum > end_offset_sum) return end_offset_sum;
  return end_offset_sum - offset_sum;
}

AssignorOutput assign_tasks(const AssignorInput& input, const AssignorConfig& config) {
  AssignorOutput output;
  Clients clients;
  for (const auto& [id, client] : input.clients) {
    if (client.members.empty()) continue;
    Client plan;
    plan.id = id;
    plan.input = &client;
    plan.capacity = static_cast<int64_t>(client.members.size());
    for (const AssignorMember& member : client.members) {
      for (const TaskId& task : member.previous_active) {
        if (input.tasks.count(task) != 0) plan.previous_active.insert(task);
      }
      for (const TaskId& task : member.previous_standby) {
        if (input.tasks.count(task) != 0) plan.previous_standby.insert(task);
      }
    }
    clients.push_back(std::move(plan));
  }
  if (clients.empty()) return output;
  std::set<TaskId> stateful;
  for (const TaskId& task : input.stateful_tasks) {
    if (input.tasks.count(task) != 0) stateful.insert(task);
  }

  assign_stateful_actives(clients, stateful, config);
  const int movements = keep_tasks_on_caught_up_clients(clients, stateful, config);
  assign_standbys(clients, stateful, config);
  assign_stateless_actives(clients, input.tasks, stateful);
  output.probing_rebalance_needed = movements > 0;

  for (const Client& client : clients) {
    const auto& members = client.input->members;
    std::vector<std::set<TaskId>*> actives;
    std::vector<std::set<TaskId>*> standbys;
    for (const AssignorMember& member : members) {
      MemberTasks& tasks = output.members[member.member_id];
      actives.push_back(&tasks.active);
      standbys.push_back(&tasks.standby);
    }
    spread_over_members(client.active, members, actives,
                        [](const AssignorMember& member, const TaskId& task) {
                          return member.previous_active.count(task) != 0 ||
                                 member.previous_standby.count(task) != 0;
                        });
    std::set<TaskId> replicas = client.standby;
    replicas.insert(client.warmup.begin(), client.warmup.end());
    spread_over_members(replicas, members, standbys,
                        [](const AssignorMember& member, const TaskId& task) {
                          return member.previous_standby.count(task) != 0 ||
                                 member.previous_active.count(task) != 0;
                        });
    if (!client.warmup.empty()) {
      output.warmups[client.id] = client.warmup;
      for (size_t i = 0; i < members.size(); ++i) {
        for (const TaskId& task : client.warmup) {
          if (standbys[i]->count(task) != 0) {
            output.warmup_members[client.id].insert(members[i].member_id);
          }
        }
      }
    }
  }
  return output;
}

}  // namespace sluice::streams
