#include "broker/fetch_session.h"

#include <algorithm>

#include "base/assert.h"

namespace sluice::broker {

FetchSessionCache::FetchSessionCache(size_t slots, int64_t evictable_after_ms, size_t shards)
    : slots_(slots),
      evictable_after_ms_(evictable_after_ms),
      shards_(std::max<size_t>(shards, 1)) {}

size_t FetchSessionCache::size() const { return size_.load(std::memory_order_relaxed); }

FetchSessionContext FetchSessionCache::begin(int32_t session_id, int32_t epoch,
                                             std::vector<FetchPartitionRequest> requested,
                                             const std::vector<FetchPartitionKey>& forgotten, int64_t now_ms) {
  if (epoch == -1 || epoch == 0) {
    if (session_id != 0) remove_session(session_id);
    return full_fetch(epoch == 0, std::move(requested), now_ms);
  }
  FetchSessionContext refused;
  refused.error = ErrorCode::FETCH_SESSION_ID_NOT_FOUND;
  if (session_id == 0) return refused;
  Shard& shard = shard_of(session_id);
  std::lock_guard lock(shard.mutex);
  auto found = shard.sessions.find(session_id);
  if (found == shard.sessions.end()) return refused;
  if (epoch != found->second.next_epoch) {
    refused.error = ErrorCode::INVALID_FETCH_SESSION_EPOCH;
    return refused;
  }
  touch(shard, found->second, now_ms);
  return incremental(found->second, epoch, std::move(requested), forgotten, now_ms);
}

FetchSessionContext FetchSessionCache::full_fetch(bool create,
                                                  std::vector<FetchPartitionRequest> requested,
                                                  int64_t now_ms) {
  FetchSessionContext context;
  context.partitions = std::move(requested);
  if (!create || context.partitions.empty()) return context;
  // The session is filled before it is published: no lock held meanwhile.
  Session session;
  for (const FetchPartitionRequest& partition : context.partitions) {
    if (!session.partitions.contains(partition.key)) session.order.push_back(partition.key);
    session.partitions[partition.key] = Cached{partition, {}, false};
  }
  context.session_id = create_session(std::move(session), now_ms);  // 0 if full: sessionless
  return context;
}

FetchSessionContext FetchSessionCache::incremental(Session& session, int32_t epoch,
                                                   std::vector<FetchPartitionRequest> requested,
                                                   const std::vector<FetchPartitionKey>& forgotten,
                                                   int64_t) {
  for (const FetchPartitionKey& key : forgotten) {
    if (session.partitions.erase(key) > 0) std::erase(session.order, key);
  }
  for (FetchPartitionRequest& partition : requested) {
    auto [it, added] = session.partitions.try_emplace(partition.key);
    if (added) session.order.push_back(partition.key);
    it->second.request = std::move(partition);
  }
  session.next_epoch = epoch == INT32_MAX ? 1 : epoch + 1;
  FetchSessionContext context;
  context.session_id = session.id;
  context.incremental = true;
  context.partitions.reserve(session.order.size());
  for (const FetchPartitionKey& key : session.order) context.partitions.push_back(session.partitions[key].request);
  return context;
}

static bool changed(const FetchPartitionState& now, const FetchPartitionState& before) {
  return now.has_records || now.error != ErrorCode::NONE || now.high_watermark != before.high_watermark ||
         now.last_stable_offset != before.last_stable_offset || now.log_start_offset != before.log_start_offset;
}

std::vector<bool> FetchSessionCache::complete(const FetchSessionContext& context,
                                              const std::vector<FetchPartitionState>& states) {
  SLUICE_ASSERT(states.size() == context.partitions.size(), "one state per fetched partition");
  std::vector<bool> include(states.size(), true);
  if (context.session_id == 0) return include;
  Shard& shard = shard_of(context.session_id);
  std::lock_guard lock(shard.mutex);
  auto found = shard.sessions.find(context.session_id);
  if (found == shard.sessions.end()) return include;  // evicted meanwhile: answer in full
  Session& session = found->second;
  for (size_t i = 0; i < states.size(); ++i) {
    auto cached = session.partitions.find(context.partitions[i].key);
    if (cached == session.partitions.end()) continue;
    Cached& entry = cached->second;
    if (context.incremental && entry.ever_sent) include[i] = changed(states[i], entry.sent);
    entry.sent = states[i];
    entry.ever_sent = true;
  }
  return include;
}

// Publishes `filled` under a new id and returns the id, or 0 when the cache
// is full and no session has been idle for evictable_after_ms.
int32_t FetchSessionCache::create_session(Session filled, int64_t now_ms) {
  if (slots_ == 0) return 0;
  // Take a slot, or free one by evicting (the evicted session's slot is ours).
  size_t taken = size_.load(std::memory_order_relaxed);
  while (true) {
    if (taken >= slots_) {
      if (!evict_least_recently_used(now_ms)) return 0;
      break;
    }
    if (size_.compare_exchange_weak(taken, taken + 1, std::memory_order_relaxed)) break;
  }
  const size_t index = next_shard_.fetch_add(1, std::memory_order_relaxed) % shards_.size();
  Shard& shard = shards_[index];
  std::lock_guard lock(shard.mutex);
  // A random id that maps to this shard (id % shards == index), never 0.
  const auto count = static_cast<int32_t>(shards_.size());
  std::uniform_int_distribution<int32_t> multiples(
      0, (INT32_MAX - static_cast<int32_t>(index)) / count);
  int32_t id = 0;
  while (id == 0 || shard.sessions.contains(id))
    id = multiples(shard.random) * count + static_cast<int32_t>(index);
  Session& session = shard.sessions[id] = std::move(filled);
  session.id = id;
  session.next_epoch = 1;
  session.last_used_ms = now_ms;
  session.lru_position = shard.lru.insert(shard.lru.end(), id);
  return id;
}

// Removes the least recently used session of the whole cache (the oldest of
// the shards' own least recently used) if it has been idle long enough; its
// slot passes to the caller (size_ unchanged). Rare: only when full.
bool FetchSessionCache::evict_least_recently_used(int64_t now_ms) {
  Shard* oldest_shard = nullptr;
  int32_t oldest_id = 0;
  int64_t oldest_used_ms = INT64_MAX;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    if (shard.lru.empty()) continue;
    const Session& front = shard.sessions.at(shard.lru.front());
    if (front.last_used_ms < oldest_used_ms) {
      oldest_shard = &shard;
      oldest_id = front.id;
      oldest_used_ms = front.last_used_ms;
    }
  }
  if (oldest_shard == nullptr || now_ms - oldest_used_ms < evictable_after_ms_) return false;
  std::lock_guard lock(oldest_shard->mutex);
  auto found = oldest_shard->sessions.find(oldest_id);
  // Used or removed since we looked: another request got there first.
  if (found == oldest_shard->sessions.end() || found->second.last_used_ms != oldest_used_ms)
    return false;
  oldest_shard->lru.erase(found->second.lru_position);
  oldest_shard->sessions.erase(found);
  return true;
}

void FetchSessionCache::remove_session(int32_t id) {
  Shard& shard = shard_of(id);
  std::lock_guard lock(shard.mutex);
  remove_locked(shard, id);
}

void FetchSessionCache::remove_locked(Shard& shard, int32_t id) {
  auto found = shard.sessions.find(id);
  if (found == shard.sessions.end()) return;
  shard.lru.erase(found->second.lru_position);
  shard.sessions.erase(found);
  size_.fetch_sub(1, std::memory_order_relaxed);
}

void FetchSessionCache::touch(Shard& shard, Session& session, int64_t now_ms) {
  session.last_used_ms = now_ms;
  shard.lru.splice(shard.lru.end(), shard.lru, session.lru_position);
}

}  // namespace sluice::broker
