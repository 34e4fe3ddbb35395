#include "streams/record_cache.h"

namespace sluice::streams {

void ThreadCache::maybe_evict(CachingKeyValueBytesStore& store) {
  // Kafka evicts from the store written to only: a flush it causes may have
  // grown other stores' caches, which their own writes will shrink.
  while (size_bytes_ > max_bytes_ && !store.empty()) store.evict_eldest();
}

CachingKeyValueBytesStore::CachingKeyValueBytesStore(std::unique_ptr<KeyValueBytesStore> inner,
                                                     ThreadCache& cache,
                                                     RecordContextAccess& context,
                                                     std::shared_ptr<TaskMetrics> metrics)
    : ForwardingBytesStore(std::move(inner)),
      cache_(cache),
      context_(context),
      metrics_(std::move(metrics)) {}

CachingKeyValueBytesStore::~CachingKeyValueBytesStore() { add_size(-size_bytes_); }

int64_t CachingKeyValueBytesStore::entry_size(const std::string& key, const Entry& entry) {
  // Kafka's LRUNode.size(): key + 3 references, and LRUCacheEntry's
  // dirty flag + value + record context (timestamp, offset, partition,
  // topic, headers).
  int64_t size = static_cast<int64_t>(key.size()) + 24 + 1 + 8 + 8 + 4;
  if (entry.value) size += static_cast<int64_t>(entry.value->size());
  if (entry.context.metadata) size += static_cast<int64_t>(entry.context.metadata->topic.size());
  for (const Header& header : entry.context.headers) {
    size += static_cast<int64_t>(header.key.size());
    if (header.value) size += static_cast<int64_t>(header.value->size());
  }
  return size;
}

void CachingKeyValueBytesStore::add_size(int64_t delta) {
  size_bytes_ += delta;
  cache_.resized(delta);
  if (metrics_) metrics_->cache_bytes.fetch_add(delta, std::memory_order_relaxed);
}

std::optional<std::string> CachingKeyValueBytesStore::get(const std::string& key) const {
  auto found = entries_.find(key);
  if (found == entries_.end()) return inner().get(key);
  lru_.splice(lru_.begin(), lru_, found->second.lru);
  return found->second.value;
}

void CachingKeyValueBytesStore::put(const std::string& key, const std::string& value) {
  write(key, value);
}

void CachingKeyValueBytesStore::remove(const std::string& key) { write(key, std::nullopt); }

void CachingKeyValueBytesStore::write(const std::string& key, std::optional<std::string> value) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& entry = it->second;
  if (!inserted) {
    add_size(-entry.size);
    lru_.erase(entry.lru);
    if (entry.dirty) dirty_.erase(entry.dirty_position);
  }
  entry.value = std::move(value);
  entry.context = context_.current_record_context();
  entry.dirty = true;
  lru_.push_front(&it->first);
  entry.lru = lru_.begin();
  dirty_.push_back(&it->first);
  entry.dirty_position = std::prev(dirty_.end());
  entry.size = entry_size(key, entry);
  add_size(entry.size);
  cache_.maybe_evict(*this);
}

void CachingKeyValueBytesStore::erase(std::map<std::string, Entry>::iterator entry) {
  add_size(-entry->second.size);
  lru_.erase(entry->second.lru);
  if (entry->second.dirty) dirty_.erase(entry->second.dirty_position);
  entries_.erase(entry);
}

void CachingKeyValueBytesStore::evict_eldest() {
  if (lru_.empty()) return;
  auto eldest = entries_.find(*lru_.back());
  bool dirty = eldest->second.dirty;
  Flushed evicted{eldest->first, std::move(eldest->second.value),
                  std::move(eldest->second.context)};
  erase(eldest);
  if (dirty) flush_dirty(std::move(evicted));
}

void CachingKeyValueBytesStore::flush() {
  flush_dirty(std::nullopt);
  ForwardingBytesStore::flush();
}

void CachingKeyValueBytesStore::flush_dirty(std::optional<Flushed> evicted) {
  if (dirty_.empty() && !evicted) return;
  std::vector<Flushed> flushed;
  flushed.reserve(dirty_.size() + 1);
  if (evicted) flushed.push_back(std::move(*evicted));
  std::vector<std::string> deleted;
  for (const std::string* key : dirty_) {
    Entry& entry = entries_.at(*key);
    flushed.push_back({*key, entry.value, entry.context});
    entry.dirty = false;
    if (!entry.value) deleted.push_back(*key);
  }
  // Cleared before anything is written: what follows may write to this
  // store again (Kafka's flush is re-entrant the same way).
  dirty_.clear();
  for (const Flushed& entry : flushed) write_through(entry);
  for (const std::string& key : deleted) {
    auto found = entries_.find(key);
    if (found != entries_.end() && !found->second.dirty && !found->second.value) erase(found);
  }
}

void CachingKeyValueBytesStore::write_through(const Flushed& entry) {
  std::optional<std::string> old_value = inner().get(entry.key);
  // Written then deleted before any flush: nothing to write or say.
  if (!entry.value && !old_value) return;
  context_.with_record_context(entry.context, [&] {
    if (entry.value) {
      inner().put(entry.key, *entry.value);
    } else {
      inner().remove(entry.key);
    }
    if (listener_) {
      listener_(FlushedEntry{entry.key, entry.value, old_value, entry.context.timestamp,
                             entry.context.headers});
    }
  });
}

std::vector<std::pair<std::string, std::string>> CachingKeyValueBytesStore::range(
    const std::optional<std::string>& from, const std::optional<std::string>& to) const {
  std::map<std::string, std::string> merged;
  for (auto& [key, value] : inner().range(from, to))
    merged.emplace(std::move(key), std::move(value));
  auto it = from ? entries_.lower_bound(*from) : entries_.begin();
  for (; it != entries_.end() && (!to || it->first <= *to); ++it) {
    if (it->second.value) {
      merged.insert_or_assign(it->first, *it->second.value);
    } else {
      merged.erase(it->first);
    }
  }
  return {std::make_move_iterator(merged.begin()), std::make_move_iterator(merged.end())};
}

size_t CachingKeyValueBytesStore::approximate_entries() const {
  return inner().approximate_entries() + dirty_.size();
}

bool CachingKeyValueBytesStore::set_cache_flush_listener(CacheFlushListener listener) {
  listener_ = std::move(listener);
  return true;
}

}  // namespace sluice::streams
