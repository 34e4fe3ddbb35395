#include "broker/fetch_session.h"

#include <algorithm>

#include "base/assert.h"

namespace sluice::broker {

FetchSessionCache::FetchSessionCache(size_t slots, int64_t evictable_after_ms)
    : slots_(slots), evictable_after_ms_(evictable_after_ms) {}

size_t FetchSessionCache::size() const {
  std::lock_guard lock(mutex_);
  return sessions_.size();
}

FetchSessionContext FetchSessionCache::begin(int32_t session_id, int32_t epoch,
                                             std::vector<FetchPartitionRequest> requested,
                                             const std::vector<FetchPartitionKey>& forgotten, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (epoch == -1 || epoch == 0) return full_fetch(session_id, epoch == 0, std::move(requested), now_ms);
  FetchSessionContext refused;
  auto found = session_id == 0 ? sessions_.end() : sessions_.find(session_id);
  if (found == sessions_.end()) {
    refused.error = ErrorCode::FETCH_SESSION_ID_NOT_FOUND;
    return refused;
  }
  if (epoch != found->second.next_epoch) {
    refused.error = ErrorCode::INVALID_FETCH_SESSION_EPOCH;
    return refused;
  }
  return incremental(found->second, epoch, std::move(requested), forgotten, now_ms);
}

FetchSessionContext FetchSessionCache::full_fetch(int32_t close_id, bool create,
                                                  std::vector<FetchPartitionRequest> requested, int64_t now_ms) {
  if (close_id != 0) remove_session(close_id);
  FetchSessionContext context;
  context.partitions = std::move(requested);
  if (!create || context.partitions.empty()) return context;
  Session* session = create_session(now_ms);
  if (session == nullptr) return context;  // cache full: sessionless
  for (const FetchPartitionRequest& partition : context.partitions) {
    if (!session->partitions.contains(partition.key)) session->order.push_back(partition.key);
    session->partitions[partition.key] = Cached{partition, {}, false};
  }
  context.session_id = session->id;
  return context;
}

FetchSessionContext FetchSessionCache::incremental(Session& session, int32_t epoch,
                                                   std::vector<FetchPartitionRequest> requested,
                                                   const std::vector<FetchPartitionKey>& forgotten, int64_t now_ms) {
  for (const FetchPartitionKey& key : forgotten) {
    if (session.partitions.erase(key) > 0) std::erase(session.order, key);
  }
  for (FetchPartitionRequest& partition : requested) {
    auto [it, added] = session.partitions.try_emplace(partition.key);
    if (added) session.order.push_back(partition.key);
    it->second.request = std::move(partition);
  }
  session.next_epoch = epoch == INT32_MAX ? 1 : epoch + 1;
  touch(session, now_ms);
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
  std::lock_guard lock(mutex_);
  auto found = sessions_.find(context.session_id);
  if (found == sessions_.end()) return include;  // evicted meanwhile: answer in full
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

FetchSessionCache::Session* FetchSessionCache::create_session(int64_t now_ms) {
  if (slots_ == 0) return nullptr;
  if (sessions_.size() >= slots_) {
    const Session& oldest = sessions_.at(lru_.front());
    if (now_ms - oldest.last_used_ms < evictable_after_ms_) return nullptr;
    remove_session(oldest.id);
  }
  std::uniform_int_distribution<int32_t> ids(1, INT32_MAX);
  int32_t id = ids(random_);
  while (sessions_.contains(id)) id = ids(random_);
  Session& session = sessions_[id];
  session.id = id;
  session.next_epoch = 1;
  session.last_used_ms = now_ms;
  session.lru_position = lru_.insert(lru_.end(), id);
  return &session;
}

void FetchSessionCache::remove_session(int32_t id) {
  auto found = sessions_.find(id);
  if (found == sessions_.end()) return;
  lru_.erase(found->second.lru_position);
  sessions_.erase(found);
}

void FetchSessionCache::touch(Session& session, int64_t now_ms) {
  session.last_used_ms = now_ms;
  lru_.splice(lru_.end(), lru_, session.lru_position);
}

}  // namespace sluice::broker
