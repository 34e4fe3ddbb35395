#pragma once
// The record cache (Kafka's ThreadCache, NamedCache and
// CachingKeyValueStore): `cache.max.bytes.buffering` (Kafka 3.4+:
// `statestore.cache.max.bytes`; default 10485760) shared by a stream
// thread's caching stores, each a layer over its store's bytes.
//
// A write lands in the cache as a dirty entry; the store below (and so its
// changelog) and the processors downstream see the key's latest value only
// when the cache flushes it: at every commit (Task::flush) or when the
// thread's caches outgrow their bytes and this store's least recently used
// entry is evicted, which flushes every dirty entry of the store, in the
// order they were last written (Kafka's NamedCache.evict). So an aggregation
// forwards one update per key per commit interval instead of one per record.
// A flushed entry whose key has no value either in the cache or in the store
// (written, then deleted) writes and forwards nothing.
//
// `cache.max.bytes.buffering=0` builds no cache: every update is forwarded
// at once (Kafka's caches evict at every write then: the same output).
// Entry sizes are Kafka's estimate: key, value, the record context (8 + 8 +
// 4 + topic + headers) and 25 bytes of bookkeeping.
//
// Reads (get, range) see the cache over the store; unlike Kafka's, a read
// that misses does not fill the cache.

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "streams/record.h"
#include "streams/store_layers.h"
#include "streams/streams_metrics.h"

namespace sluice::streams {

constexpr int64_t kDefaultCacheMaxBytes = 10 * 1024 * 1024;

// What a cached write remembers of the record that made it, and restores
// while its flush writes and forwards (Kafka's ProcessorRecordContext).
struct CachedRecordContext {
  int64_t timestamp = 0;
  Headers headers;
  std::optional<RecordMetadata> metadata;
};

// The task's side: its current record context.
class RecordContextAccess {
 public:
  virtual ~RecordContextAccess() = default;
  virtual CachedRecordContext current_record_context() const = 0;
  // Runs `body` with `context` as the current record context, then puts the
  // previous one back.
  virtual void with_record_context(const CachedRecordContext& context,
                                   const std::function<void()>& body) = 0;
};

class CachingKeyValueBytesStore;

// The bytes every caching store of one stream thread shares.
class ThreadCache {
 public:
  explicit ThreadCache(int64_t max_bytes) : max_bytes_(max_bytes) {}
  ThreadCache(const ThreadCache&) = delete;
  ThreadCache& operator=(const ThreadCache&) = delete;

  int64_t max_bytes() const { return max_bytes_; }
  int64_t size_bytes() const { return size_bytes_; }
  // Stores built with caching get a cache only when this is true.
  bool enabled() const { return max_bytes_ > 0; }

  // For caching stores: their size changed by `delta`; evicts from `store`
  // while the thread's caches hold more than their bytes.
  void resized(int64_t delta) { size_bytes_ += delta; }
  void maybe_evict(CachingKeyValueBytesStore& store);

 private:
  int64_t max_bytes_;
  int64_t size_bytes_ = 0;
};

class CachingKeyValueBytesStore final : public ForwardingBytesStore {
 public:
  CachingKeyValueBytesStore(std::unique_ptr<KeyValueBytesStore> inner, ThreadCache& cache,
                            RecordContextAccess& context, std::shared_ptr<TaskMetrics> metrics);
  ~CachingKeyValueBytesStore() override;

  std::optional<std::string> get(const std::string& key) const override;
  void put(const std::string& key, const std::string& value) override;
  void remove(const std::string& key) override;
  std::vector<std::pair<std::string, std::string>> range(
      const std::optional<std::string>& from, const std::optional<std::string>& to) const override;
  size_t approximate_entries() const override;
  void flush() override;
  bool set_cache_flush_listener(CacheFlushListener listener) override;

  // For the thread cache.
  bool empty() const { return entries_.empty(); }
  int64_t size_bytes() const { return size_bytes_; }
  void evict_eldest();
  // Entries held (dirty or not), for tests.
  size_t cached_entries() const { return entries_.size(); }

 private:
  using KeyList = std::list<const std::string*>;
  struct Entry {
    std::optional<std::string> value;  // nullopt: deleted
    CachedRecordContext context;
    bool dirty = false;
    int64_t size = 0;
    KeyList::iterator lru;
    KeyList::iterator dirty_position;
  };
  struct Flushed {
    std::string key;
    std::optional<std::string> value;
    CachedRecordContext context;
  };

  void write(const std::string& key, std::optional<std::string> value);
  void flush_dirty(std::optional<Flushed> evicted);
  void write_through(const Flushed& entry);
  void erase(std::map<std::string, Entry>::iterator entry);
  void add_size(int64_t delta);
  static int64_t entry_size(const std::string& key, const Entry& entry);

  ThreadCache& cache_;
  RecordContextAccess& context_;
  std::shared_ptr<TaskMetrics> metrics_;
  CacheFlushListener listener_;
  std::map<std::string, Entry> entries_;
  mutable KeyList lru_;  // most recently used first; a read moves its key up
  KeyList dirty_;        // in the order of their last write
  int64_t size_bytes_ = 0;
};

}  // namespace sluice::streams
