#pragma once
// Incremental fetch sessions (KIP-227): the broker remembers, per session,
// the partitions a consumer fetches and what it last told it about each, so
// a request lists only the partitions that changed and a response carries
// only partitions with news (records, an error, or a moved high watermark,
// last stable offset or log start offset).
//
// Request metadata (session_id, epoch):
//   (0, -1)  full fetch, no session          (0, 0)  full fetch, new session
//   (id, -1) close id, full sessionless fetch (id, 0)  close id, new session
//   (id, n>0) incremental: n must be the session's next epoch
// Errors: FETCH_SESSION_ID_NOT_FOUND (unknown id, or 0 with n>0),
// INVALID_FETCH_SESSION_EPOCH. The cache holds at most `slots` sessions
// (max.incremental.fetch.session.cache.slots); when full, the least recently
// used session idle for `evictable_after_ms` is evicted, otherwise the new
// session is refused (session id 0: the client keeps doing full fetches).
//
// Threads: every method may be called from any thread. The sessions are
// spread over `shards` independently locked shards (a session's id says
// which: id % shards), so fetches of different sessions on different
// reactors rarely meet on a lock; only creating a session when the cache is
// full looks at every shard (for the least recently used session). Kafka
// shards its cache the same way (KAFKA-15431: 8 shards).

#include <atomic>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/error_code.h"
#include "base/uuid.h"

namespace sluice::broker {

// A partition as a request names it: by topic id (v13+) or by name.
struct FetchPartitionKey {
  Uuid topic_id;
  std::string topic;  // the name (resolved from the id when known)
  int32_t partition = 0;
  friend auto operator<=>(const FetchPartitionKey& a, const FetchPartitionKey& b) {
    if (auto c = a.topic_id <=> b.topic_id; c != 0) return c;
    if (auto c = a.topic.compare(b.topic); c != 0) return c <=> 0;
    return a.partition <=> b.partition;
  }
  friend bool operator==(const FetchPartitionKey&, const FetchPartitionKey&) = default;
};

// What to fetch for one partition.
struct FetchPartitionRequest {
  FetchPartitionKey key;
  int64_t fetch_offset = 0;
  int32_t current_leader_epoch = -1;
  int32_t max_bytes = 0;
};

// What a response says about one partition (for the change tracking).
struct FetchPartitionState {
  ErrorCode error = ErrorCode::NONE;
  bool has_records = false;
  int64_t high_watermark = -1;
  int64_t last_stable_offset = -1;
  int64_t log_start_offset = -1;
};

struct FetchSessionContext {
  ErrorCode error = ErrorCode::NONE;  // top-level: the request is refused
  int32_t session_id = 0;             // for the response (0: none)
  bool incremental = false;
  std::vector<FetchPartitionRequest> partitions;  // what to fetch, in order
};

class FetchSessionCache {
 public:
  static constexpr size_t default_shards = 8;
  explicit FetchSessionCache(size_t slots = 1000, int64_t evictable_after_ms = 120000,
                             size_t shards = default_shards);

  // Applies the request's session fields; `requested` are the partitions
  // the request lists, `forgotten` those it removes (incremental only).
  FetchSessionContext begin(int32_t session_id, int32_t epoch, std::vector<FetchPartitionRequest> requested,
                            const std::vector<FetchPartitionKey>& forgotten, int64_t now_ms);

  // After the partitions of `context` were read: records what the response
  // says and returns, per partition of context.partitions, whether it goes
  // in the response (always true unless incremental).
  std::vector<bool> complete(const FetchSessionContext& context, const std::vector<FetchPartitionState>& states);

  size_t size() const;
  size_t slots() const { return slots_; }

 private:
  struct Cached {
    FetchPartitionRequest request;
    FetchPartitionState sent;  // what the last response said
    bool ever_sent = false;
  };
  struct Session {
    int32_t id = 0;
    int32_t next_epoch = 1;
    int64_t last_used_ms = 0;
    std::vector<FetchPartitionKey> order;  // insertion order, for stable responses
    std::map<FetchPartitionKey, Cached> partitions;
    std::list<int32_t>::iterator lru_position;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<int32_t, Session> sessions;
    std::list<int32_t> lru;  // front: least recently used
    std::mt19937 random{std::random_device{}()};
  };
  Shard& shard_of(int32_t id) { return shards_[static_cast<uint32_t>(id) % shards_.size()]; }
  FetchSessionContext full_fetch(bool create, std::vector<FetchPartitionRequest> requested,
                                 int64_t now_ms);
  static FetchSessionContext incremental(Session& session, int32_t epoch,
                                         std::vector<FetchPartitionRequest> requested,
                                         const std::vector<FetchPartitionKey>& forgotten,
                                         int64_t now_ms);
  int32_t create_session(Session filled, int64_t now_ms);
  bool evict_least_recently_used(int64_t now_ms);
  void remove_session(int32_t id);
  void remove_locked(Shard& shard, int32_t id);
  static void touch(Shard& shard, Session& session, int64_t now_ms);

  const size_t slots_;
  const int64_t evictable_after_ms_;
  std::vector<Shard> shards_;
  std::atomic<size_t> size_{0};          // sessions in all shards, at most slots_
  std::atomic<uint32_t> next_shard_{0};  // new sessions go round robin over the shards
};

}  // namespace sluice::broker
