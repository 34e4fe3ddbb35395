#pragma once
// Window stores (Kafka's WindowStore): a value per key and window start,
// kept for `retention_ms` of stream time. The bytes live in a key-value
// store under Kafka's window store keys (WindowKeySchema: the key's bytes,
// the window start as 8 bytes, a 4-byte sequence number 0), so the
// changelog carries the keys Kafka Streams' window stores write. Windows
// expire as Kafka's segments expire them (retention.h): once the latest
// window start put is more than the retention past theirs.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
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

// Kafka's WindowKeySchema.toStoreKeyBinary(key, start, 0) and back.
std::string window_store_key(const std::string& key, int64_t window_start);
struct WindowStoreKey {
  std::string key;
  int64_t window_start = 0;
};
std::optional<WindowStoreKey> parse_window_store_key(const std::string& bytes);

// A value with the highest timestamp of the records in it (Kafka's
// ValueAndTimestamp, what its timestamped stores keep).
template <class V>
struct TimestampedValue {
  V value{};
  int64_t timestamp = 0;
  auto operator<=>(const TimestampedValue&) const = default;
};

namespace serdes {

// Kafka's ValueAndTimestampSerializer: the timestamp (8 bytes, big-endian),
// then the value's bytes.
template <class V>
Serde<TimestampedValue<V>> timestamped(Serde<V> inner) {
  Serde<int64_t> time = long_();
  return {[inner, time](const std::string& topic,
                        const TimestampedValue<V>& value) -> std::optional<std::string> {
            std::optional<std::string> bytes = inner.serialize(topic, value.value);
            if (!bytes) return std::nullopt;
            return *time.serialize(topic, value.timestamp) + *bytes;
          },
          [inner, time](const std::string& topic, std::optional<std::string_view> bytes) {
            if (!bytes || bytes->size() < 8) {
              throw SerializationError("a timestamped value needs at least 8 bytes");
            }
            return TimestampedValue<V>{inner.deserialize(topic, bytes->substr(8)),
                                       time.deserialize(topic, bytes->substr(0, 8))};
          }};
}

}  // namespace serdes

template <class K, class V>
class WindowStore final : public StateStore {
 public:
  WindowStore(std::unique_ptr<KeyValueBytesStore> bytes, int64_t window_size, int64_t retention,
              Serde<K> key_serde, Serde<V> value_serde)
      : StateStore(bytes->name()),
        bytes_(std::move(bytes)),
        window_size_(window_size),
        retention_(retention,
                   [](const std::string& store_key) -> std::optional<int64_t> {
                     std::optional<WindowStoreKey> parsed = parse_window_store_key(store_key);
                     if (!parsed) return std::nullopt;
                     return parsed->window_start;
                   }),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  bool persistent() const override { return bytes_->persistent(); }
  void flush() override { bytes_->flush(); }
  void close() override { bytes_->close(); }
  KeyValueBytesStore* bytes_store() override { return bytes_.get(); }
  bool wrap_bytes_store(const BytesStoreWrapper& wrap) override {
    bytes_ = wrap(std::move(bytes_));
    return true;
  }
  int64_t retention_ms() const { return retention_.retention_ms(); }

  std::optional<V> fetch(const K& key, int64_t window_start) const {
    if (window_start < retention_.oldest_live(*bytes_)) return std::nullopt;
    std::optional<std::string> bytes = bytes_->get(window_store_key(key_bytes(key), window_start));
    if (!bytes) return std::nullopt;
    return value_serde_.deserialize(name(), std::string_view(*bytes));
  }

  // A value that says null removes the window; a window that has expired
  // is not put.
  void put(const K& key, const V& value, int64_t window_start) {
    std::string store_key = window_store_key(key_bytes(key), window_start);
    std::optional<std::string> bytes = value_serde_.serialize(name(), value);
    if (!bytes) {
      bytes_->remove(store_key);
      return;
    }
    if (!retention_.admit(*bytes_, window_start, store_key)) {
      spdlog::debug("Skipping record for expired segment. store=[{}]", name());
      return;
    }
    bytes_->put(store_key, *bytes);
  }

  // The key's windows starting in [from, to], oldest first.
  std::vector<std::pair<int64_t, V>> fetch(const K& key, int64_t from, int64_t to) const {
    std::vector<std::pair<int64_t, V>> out;
    from = std::max(from, retention_.oldest_live(*bytes_));
    if (to < from) return out;
    std::string prefix = key_bytes(key);
    for (const auto& [store_key, value] :
         bytes_->range(window_store_key(prefix, from), window_store_key(prefix, to))) {
      std::optional<WindowStoreKey> parsed = parse_window_store_key(store_key);
      if (!parsed || parsed->key != prefix) continue;  // a longer key sharing the prefix
      out.emplace_back(parsed->window_start,
                       value_serde_.deserialize(name(), std::string_view(value)));
    }
    return out;
  }

  // Every window held, by key bytes then start.
  std::vector<std::pair<Windowed<K>, V>> all() const {
    std::vector<std::pair<Windowed<K>, V>> out;
    int64_t oldest = retention_.oldest_live(*bytes_);
    for (const auto& [store_key, value] : bytes_->range({}, {})) {
      std::optional<WindowStoreKey> parsed = parse_window_store_key(store_key);
      if (!parsed || parsed->window_start < oldest) continue;
      Windowed<K> windowed{key_serde_.deserialize(name(), std::string_view(parsed->key)),
                           Window{parsed->window_start, parsed->window_start + window_size_}};
      out.emplace_back(std::move(windowed),
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
  int64_t window_size_;
  RetentionIndex retention_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
};

namespace stores {

// Kafka's Stores.inMemoryWindowStore(name, retention, window size, false).
WindowBytesStoreSupplier in_memory_window_store(std::string name, int64_t retention_ms,
                                                int64_t window_size_ms);
// Kafka's Stores.persistentWindowStore(name, retention, window size, false):
// RocksDB (one database, not Kafka's time segments).
WindowBytesStoreSupplier persistent_window_store(std::string name, int64_t retention_ms,
                                                 int64_t window_size_ms);

// Kafka's Stores.windowStoreBuilder(supplier, key serde, value serde).
template <class K, class V>
StoreBuilder window_store_builder(WindowBytesStoreSupplier supplier, Serde<K> key_serde,
                                  Serde<V> value_serde) {
  StoreBuilder builder;
  builder.name = supplier.bytes.name;
  builder.build = [supplier, key_serde, value_serde]() -> std::unique_ptr<StateStore> {
    return std::make_unique<WindowStore<K, V>>(supplier.bytes.get(), supplier.window_size_ms,
                                               supplier.retention_ms, key_serde, value_serde);
  };
  return builder;
}

// Kafka's Stores.windowStoreBuilder(Stores.inMemoryWindowStore(...)).
template <class K, class V>
StoreBuilder in_memory_window(std::string name, int64_t window_size, int64_t retention,
                              Serde<K> key_serde, Serde<V> value_serde) {
  return window_store_builder(in_memory_window_store(std::move(name), retention, window_size),
                              std::move(key_serde), std::move(value_serde));
}

// Kafka's Stores.windowStoreBuilder(Stores.persistentWindowStore(...)).
template <class K, class V>
StoreBuilder persistent_window(std::string name, int64_t window_size, int64_t retention,
                               Serde<K> key_serde, Serde<V> value_serde) {
  return window_store_builder(persistent_window_store(std::move(name), retention, window_size),
                              std::move(key_serde), std::move(value_serde));
}

}  // namespace stores
}  // namespace sluice::streams
