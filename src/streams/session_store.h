#pragma once
// Session stores (Kafka's SessionStore): an aggregate per key and session
// [start, end] (both inclusive), kept for `retention_ms` after the session
// ends (retention.h). The bytes live in a key-value store under Kafka's
// session store keys (SessionKeySchema: the key's bytes, the end, the
// start, 8 bytes each, big-endian), so a key's sessions are ordered by end
// then start, as Kafka's stores iterate them, and the changelog carries the
// keys Kafka Streams' session stores write. serdes::session_windowed writes
// the same bytes (Kafka's SessionWindowedSerde).

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "streams/retention.h"
#include "streams/serde.h"
#include "streams/store.h"
#include "streams/windows.h"

namespace sluice::streams {

// Kafka's SessionKeySchema.toBinary(key, start, end) and back.
std::string session_store_key(const std::string& key, int64_t start, int64_t end);
struct SessionStoreKey {
  std::string key;
  int64_t start = 0;
  int64_t end = 0;
};
std::optional<SessionStoreKey> parse_session_store_key(std::string_view bytes);

template <class K, class V>
class SessionStore final : public StateStore {
 public:
  SessionStore(std::unique_ptr<KeyValueBytesStore> bytes, int64_t retention, Serde<K> key_serde,
               Serde<V> value_serde)
      : StateStore(bytes->name()),
        bytes_(std::move(bytes)),
        retention_(retention,
                   [](const std::string& store_key) -> std::optional<int64_t> {
                     std::optional<SessionStoreKey> parsed = parse_session_store_key(store_key);
                     if (!parsed) return std::nullopt;
                     return parsed->end;
                   }),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  bool persistent() const override { return bytes_->persistent(); }
  void flush() override { bytes_->flush(); }
  void close() override { bytes_->close(); }
  KeyValueBytesStore* bytes_store() override { return bytes_.get(); }
  int64_t retention_ms() const { return retention_.retention_ms(); }

  // Kafka's findSessions(key, earliestSessionEndTime, latestSessionStartTime):
  // the key's sessions ending at or after `earliest_end` and starting at or
  // before `latest_start`, by end then start.
  std::vector<std::pair<Windowed<K>, V>> find_sessions(const K& key, int64_t earliest_end,
                                                       int64_t latest_start) const {
    std::vector<std::pair<Windowed<K>, V>> out;
    earliest_end = std::max(earliest_end, retention_.oldest_live(*bytes_));
    std::string prefix = key_bytes(key);
    std::string from = session_store_key(prefix, 0, std::max<int64_t>(earliest_end, 0));
    std::string to = prefix + std::string(16, '\xff');
    for (const auto& [store_key, value] : bytes_->range(from, to)) {
      std::optional<SessionStoreKey> parsed = parse_session_store_key(store_key);
      if (!parsed || parsed->key != prefix) continue;  // a longer key sharing the prefix
      if (parsed->end < earliest_end || parsed->start > latest_start) continue;
      out.emplace_back(Windowed<K>{key, Window{parsed->start, parsed->end}},
                       value_serde_.deserialize(name(), std::string_view(value)));
    }
    return out;
  }

  // Every session of the key (Kafka's fetch(key)).
  std::vector<std::pair<Windowed<K>, V>> fetch(const K& key) const {
    return find_sessions(key, 0, std::numeric_limits<int64_t>::max());
  }

  // Kafka's fetchSession(key, start, end).
  std::optional<V> fetch_session(const K& key, int64_t start, int64_t end) const {
    if (end < retention_.oldest_live(*bytes_)) return std::nullopt;
    std::optional<std::string> bytes = bytes_->get(session_store_key(key_bytes(key), start, end));
    if (!bytes) return std::nullopt;
    return value_serde_.deserialize(name(), std::string_view(*bytes));
  }

  // A value that says null removes the session; a session that has expired
  // is not put.
  void put(const Windowed<K>& session, const V& value) {
    std::string store_key =
        session_store_key(key_bytes(session.key), session.window.start, session.window.end);
    std::optional<std::string> bytes = value_serde_.serialize(name(), value);
    if (!bytes) {
      bytes_->remove(store_key);
      return;
    }
    if (!retention_.admit(*bytes_, session.window.end, store_key)) {
      spdlog::debug("Skipping record for expired segment. store=[{}]", name());
      return;
    }
    bytes_->put(store_key, *bytes);
  }

  void remove(const Windowed<K>& session) {
    bytes_->remove(
        session_store_key(key_bytes(session.key), session.window.start, session.window.end));
  }

  // Every live session, by key bytes, end, start.
  std::vector<std::pair<Windowed<K>, V>> all() const {
    std::vector<std::pair<Windowed<K>, V>> out;
    int64_t oldest = retention_.oldest_live(*bytes_);
    for (const auto& [store_key, value] : bytes_->range({}, {})) {
      std::optional<SessionStoreKey> parsed = parse_session_store_key(store_key);
      if (!parsed || parsed->end < oldest) continue;
      out.emplace_back(Windowed<K>{key_serde_.deserialize(name(), std::string_view(parsed->key)),
                                   Window{parsed->start, parsed->end}},
                       value_serde_.deserialize(name(), std::string_view(value)));
    }
    return out;
  }

 private:
  std::string key_bytes(const K& key) const {
    std::optional<std::string> bytes = key_serde_.serialize(name(), key);
    if (!bytes) throw SerializationError("a state store key cannot be null");
    return *bytes;
  }

  std::unique_ptr<KeyValueBytesStore> bytes_;
  RetentionIndex retention_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
};

namespace stores {

// Kafka's Stores.sessionStoreBuilder(supplier, key serde, value serde):
// sessions over the supplier's bytes (in memory or RocksDB), kept for
// `retention` ms of stream time.
template <class K, class V>
StoreBuilder session_store_builder(BytesStoreSupplier supplier, int64_t retention,
                                   Serde<K> key_serde, Serde<V> value_serde) {
  StoreBuilder builder;
  builder.name = supplier.name;
  builder.build = [=]() -> std::unique_ptr<StateStore> {
    return std::make_unique<SessionStore<K, V>>(supplier.get(), retention, key_serde, value_serde);
  };
  return builder;
}

// Kafka's Stores.sessionStoreBuilder(Stores.inMemorySessionStore(...)).
template <class K, class V>
StoreBuilder in_memory_session(std::string name, int64_t retention, Serde<K> key_serde,
                               Serde<V> value_serde) {
  return session_store_builder(in_memory_key_value_store(std::move(name)), retention,
                               std::move(key_serde), std::move(value_serde));
}

// Kafka's Stores.sessionStoreBuilder(Stores.persistentSessionStore(...)):
// RocksDB under `<task dir>/rocksdb/<name>`.
template <class K, class V>
StoreBuilder persistent_session(std::string name, int64_t retention, Serde<K> key_serde,
                                Serde<V> value_serde) {
  return session_store_builder(persistent_key_value_store(std::move(name)), retention,
                               std::move(key_serde), std::move(value_serde));
}

}  // namespace stores

namespace serdes {

// Kafka's SessionWindowedSerializer/Deserializer: the inner key's bytes, the
// session's end and start (8 bytes each, big-endian).
template <class K>
Serde<Windowed<K>> session_windowed(Serde<K> inner) {
  return {
      [inner](const std::string& topic, const Windowed<K>& windowed) -> std::optional<std::string> {
        std::optional<std::string> key = inner.serialize(topic, windowed.key);
        return session_store_key(key.value_or(""), windowed.window.start, windowed.window.end);
      },
      [inner](const std::string& topic, std::optional<std::string_view> bytes) {
        std::optional<SessionStoreKey> parsed;
        if (bytes) parsed = parse_session_store_key(*bytes);
        if (!parsed) throw SerializationError("a session-windowed key needs at least 16 bytes");
        return Windowed<K>{inner.deserialize(topic, std::string_view(parsed->key)),
                           Window{parsed->start, parsed->end}};
      }};
}

}  // namespace serdes
}  // namespace sluice::streams
