#pragma once
// Window stores (Kafka's WindowStore): a value per key and window start,
// kept for `retention_ms` of stream time. The bytes live in a key-value
// store under Kafka's window store keys (WindowKeySchema: the key's bytes,
// the window start as 8 bytes, a 4-byte sequence number 0), so the
// changelog carries the keys Kafka Streams' window stores write.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

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

template <class K, class V>
class WindowStore final : public StateStore {
 public:
  WindowStore(std::unique_ptr<KeyValueBytesStore> bytes, int64_t window_size, int64_t retention,
              Serde<K> key_serde, Serde<V> value_serde)
      : StateStore(bytes->name()),
        bytes_(std::move(bytes)),
        window_size_(window_size),
        retention_(retention),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  bool persistent() const override { return bytes_->persistent(); }
  void flush() override { bytes_->flush(); }
  void close() override { bytes_->close(); }
  KeyValueBytesStore* bytes_store() override { return bytes_.get(); }
  int64_t retention_ms() const { return retention_; }

  std::optional<V> fetch(const K& key, int64_t window_start) const {
    std::optional<std::string> bytes = bytes_->get(window_store_key(key_bytes(key), window_start));
    if (!bytes) return std::nullopt;
    return value_serde_.deserialize(name(), std::string_view(*bytes));
  }

  // A value that says null removes the window.
  void put(const K& key, const V& value, int64_t window_start) {
    std::string store_key = window_store_key(key_bytes(key), window_start);
    std::optional<std::string> bytes = value_serde_.serialize(name(), value);
    index_if_needed();
    if (!bytes) {
      bytes_->remove(store_key);
      return;
    }
    bytes_->put(store_key, *bytes);
    by_start_[window_start].insert(store_key);
  }

  // The key's windows starting in [from, to], oldest first.
  std::vector<std::pair<int64_t, V>> fetch(const K& key, int64_t from, int64_t to) const {
    std::vector<std::pair<int64_t, V>> out;
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
    for (const auto& [store_key, value] : bytes_->range({}, {})) {
      std::optional<WindowStoreKey> parsed = parse_window_store_key(store_key);
      if (!parsed) continue;
      Windowed<K> windowed{key_serde_.deserialize(name(), std::string_view(parsed->key)),
                           Window{parsed->window_start, parsed->window_start + window_size_}};
      out.emplace_back(std::move(windowed),
                       value_serde_.deserialize(name(), std::string_view(value)));
    }
    return out;
  }

  // Drops windows that start more than the retention before `stream_time`
  // (Kafka's segments expire the same windows, coarser).
  void expire(int64_t stream_time) {
    index_if_needed();
    int64_t oldest_kept = stream_time - retention_ + 1;
    while (!by_start_.empty() && by_start_.begin()->first < oldest_kept) {
      for (const std::string& store_key : by_start_.begin()->second) bytes_->remove(store_key);
      by_start_.erase(by_start_.begin());
    }
  }

 private:
  std::string key_bytes(const K& key) const {
    std::optional<std::string> bytes = key_serde_.serialize(name(), key);
    if (!bytes) throw SerializationError("a state store key cannot be null");
    return *bytes;
  }
  // Windows restored from a changelog were not put through put(): index
  // them once, on first use.
  void index_if_needed() {
    if (indexed_) return;
    indexed_ = true;
    for (const auto& [store_key, value] : bytes_->range({}, {})) {
      if (auto parsed = parse_window_store_key(store_key))
        by_start_[parsed->window_start].insert(store_key);
    }
  }

  std::unique_ptr<KeyValueBytesStore> bytes_;
  int64_t window_size_;
  int64_t retention_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
  bool indexed_ = false;
  std::map<int64_t, std::set<std::string>> by_start_;
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
