#pragma once
// State stores (Kafka's StateStore, KeyValueStore, Stores): the bytes store
// a task owns, the typed view processors use, and the builders a topology
// holds (each task builds its own stores from them).
//
// A store's changes are what its changelog topic carries
// (`<application.id>-<store>-changelog`, when logging is enabled): the
// runtime restores a store from it at start. The in-memory store keeps keys
// ordered by their bytes, as Kafka's stores order them, so range scans
// agree with Kafka's for the same serdes.
//
// Persistent stores (RocksDB, rocksdb_store.h) open in `init()`, under the
// task's state directory; in-memory stores need no directory. Every store
// kind (key-value, window, session) lies over a `KeyValueBytesStore`, so
// the bytes store chosen (a `BytesStoreSupplier`) decides where it lives.
//
// Threads: one stream thread writes a store; interactive queries read it
// from other threads (interactive_queries.h). Each bytes store makes its
// single operations safe for that: the in-memory store holds a
// reader-writer lock, RocksDB is thread-safe. A read sees each write whole
// but several reads are no snapshot (as Kafka's stores).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "streams/record.h"
#include "streams/serde.h"

namespace sluice::streams {

class KeyValueBytesStore;

// Puts a layer over a store's bytes (the runtime's record cache and
// metering): takes the bytes store, returns the one to use instead.
using BytesStoreWrapper =
    std::function<std::unique_ptr<KeyValueBytesStore>(std::unique_ptr<KeyValueBytesStore>)>;
// Kafka's InvalidStateStoreException: a store that cannot be used now (closed,
// migrated, not yet restored, an instance not running); retrying later may work.
class InvalidStateStoreException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Kafka's ProcessorStateException: a store's files cannot be opened or written.
class ProcessorStateException : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What a store learns when its task opens it (Kafka's StateStoreContext).
struct StoreContext {
  std::string application_id;
  std::string task_id;  // "<subtopology>_<partition>"
  // The task's directory (`<state.dir>/<application.id>/<task>`); empty
  // when there is none (persistent stores then cannot open).
  std::string state_dir;
};

class StateStore {
 public:
  explicit StateStore(std::string name) : name_(std::move(name)) {}
  virtual ~StateStore() = default;
  const std::string& name() const { return name_; }
  virtual bool persistent() const = 0;
  // Opens the store (persistent stores: their files) before the task uses
  // it. A typed store opens the bytes store under it.
  virtual void init(const StoreContext& context);
  virtual void flush() {}
  virtual void close() {}
  // The bytes under a typed store (what a changelog logs and restores);
  // the store itself when it is one.
  virtual KeyValueBytesStore* bytes_store() { return nullptr; }
  // Replaces the bytes under this store by `wrap(them)`; false when the
  // store has no bytes store to wrap.
  virtual bool wrap_bytes_store(const BytesStoreWrapper& wrap) {
    (void)wrap;
    return false;
  }

 private:
  std::string name_;
};

// Receives every change a store makes (the changelog writer; tests).
using ChangeListener =
    std::function<void(const std::string& key, const std::optional<std::string>& value)>;

// A key's latest value leaving a record cache (record_cache.h), with the
// value it replaces in the store below and the context of its last write.
struct FlushedEntry {
  const std::string& key;
  const std::optional<std::string>& new_value;
  const std::optional<std::string>& old_value;
  int64_t timestamp;
  const Headers& headers;
};
using CacheFlushListener = std::function<void(const FlushedEntry& entry)>;

class KeyValueBytesStore : public StateStore {
 public:
  using StateStore::StateStore;
  virtual std::optional<std::string> get(const std::string& key) const = 0;
  virtual void put(const std::string& key, const std::string& value) = 0;
  virtual void remove(const std::string& key) = 0;
  // Every entry with from <= key <= to (bytes order); nullopt bounds are open.
  virtual std::vector<std::pair<std::string, std::string>> range(
      const std::optional<std::string>& from, const std::optional<std::string>& to) const = 0;
  virtual size_t approximate_entries() const = 0;

  void set_change_listener(ChangeListener listener) { listener_ = std::move(listener); }
  // With a record cache in this store's layers, `listener` gets what the
  // cache flushes and the caller stops forwarding each update itself
  // (Kafka's setFlushListener); false without a cache.
  virtual bool set_cache_flush_listener(CacheFlushListener listener) {
    (void)listener;
    return false;
  }

 protected:
  void changed(const std::string& key, const std::optional<std::string>& value) const {
    if (listener_) listener_(key, value);
  }

 private:
  ChangeListener listener_;
};

class InMemoryKeyValueStore final : public KeyValueBytesStore {
 public:
  using KeyValueBytesStore::KeyValueBytesStore;
  bool persistent() const override { return false; }
  std::optional<std::string> get(const std::string& key) const override;
  void put(const std::string& key, const std::string& value) override;
  void remove(const std::string& key) override;
  std::vector<std::pair<std::string, std::string>> range(
      const std::optional<std::string>& from, const std::optional<std::string>& to) const override;
  size_t approximate_entries() const override;
  KeyValueBytesStore* bytes_store() override { return this; }

 private:
  mutable std::shared_mutex mutex_;  // the stream thread writes, queries read
  std::map<std::string, std::string> entries_;
};

// The typed view a processor gets (Kafka's KeyValueStore<K, V>); keys and
// values go through the store's serdes. Stores never hold null values: a
// put of a value that says null (std::optional's nullopt) deletes the key.
template <class K, class V>
class KeyValueStore final : public StateStore {
 public:
  KeyValueStore(std::unique_ptr<KeyValueBytesStore> bytes, Serde<K> key_serde, Serde<V> value_serde)
      : StateStore(bytes->name()),
        bytes_(std::move(bytes)),
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

  // Kafka's TimestampedCacheFlushListener: with a record cache under this
  // store, `forward` gets each key's latest value (and the one it replaced)
  // when the cache flushes it; returns false without a cache (the caller
  // then forwards every update itself).
  template <class Forward>
  bool set_flush_listener(Forward forward) {
    return bytes_->set_cache_flush_listener([this, forward](const FlushedEntry& entry) {
      Record<K, Change<V>> record{key_serde_.deserialize(name(), std::string_view(entry.key)),
                                  Change<V>{}, entry.timestamp, entry.headers};
      if (entry.new_value) record.value.new_value = decode(*entry.new_value);
      if (entry.old_value) record.value.old_value = decode(*entry.old_value);
      forward(record);
    });
  }

  std::optional<V> get(const K& key) const {
    std::optional<std::string> bytes = bytes_->get(key_bytes(key));
    if (!bytes) return std::nullopt;
    return value_serde_.deserialize(bytes_->name(), std::string_view(*bytes));
  }
  void put(const K& key, const V& value) {
    std::optional<std::string> bytes = value_serde_.serialize(bytes_->name(), value);
    if (!bytes) {
      bytes_->remove(key_bytes(key));
      return;
    }
    bytes_->put(key_bytes(key), *bytes);
  }
  // Puts only when the key is absent; returns what was there.
  std::optional<V> put_if_absent(const K& key, const V& value) {
    std::optional<V> existing = get(key);
    if (!existing) put(key, value);
    return existing;
  }
  // Removes the key; returns what was there.
  std::optional<V> remove(const K& key) {
    std::optional<V> existing = get(key);
    bytes_->remove(key_bytes(key));
    return existing;
  }
  std::vector<std::pair<K, V>> range(const K& from, const K& to) const {
    return decode(bytes_->range(key_bytes(from), key_bytes(to)));
  }
  std::vector<std::pair<K, V>> all() const { return decode(bytes_->range({}, {})); }
  size_t approximate_entries() const { return bytes_->approximate_entries(); }

 private:
  std::string key_bytes(const K& key) const {
    std::optional<std::string> bytes = key_serde_.serialize(bytes_->name(), key);
    if (!bytes) throw SerializationError("a state store key cannot be null");
    return *bytes;
  }
  std::vector<std::pair<K, V>> decode(
      const std::vector<std::pair<std::string, std::string>>& entries) const {
    std::vector<std::pair<K, V>> out;
    out.reserve(entries.size());
    for (const auto& [key, value] : entries) {
      out.emplace_back(key_serde_.deserialize(bytes_->name(), std::string_view(key)),
                       value_serde_.deserialize(bytes_->name(), std::string_view(value)));
    }
    return out;
  }

  V decode(const std::string& bytes) const {
    return value_serde_.deserialize(name(), std::string_view(bytes));
  }

  std::unique_ptr<KeyValueBytesStore> bytes_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
};

// What a topology keeps of a store: how each task builds one, and whether
// its changes are logged to a changelog topic (Kafka's StoreBuilder).
struct StoreBuilder {
  std::string name;
  bool logging_enabled = true;
  // Writes go through the thread's record cache (cache.max.bytes.buffering)
  // when it has room: Kafka's withCachingEnabled(), the DSL's default.
  bool caching_enabled = false;
  std::function<std::unique_ptr<StateStore>()> build;
};

// Makes the bytes store a typed store lies over (Kafka's
// KeyValueBytesStoreSupplier; window and session stores use the same, as
// here they lie over key-value bytes).
struct BytesStoreSupplier {
  std::string name;
  bool persistent = false;
  std::function<std::unique_ptr<KeyValueBytesStore>()> get;
};

// Kafka's WindowBytesStoreSupplier: the bytes, with the window size and
// how long windows are kept.
struct WindowBytesStoreSupplier {
  BytesStoreSupplier bytes;
  int64_t retention_ms = 0;
  int64_t window_size_ms = 0;
};

namespace stores {

// Kafka's Stores.inMemoryKeyValueStore(name).
BytesStoreSupplier in_memory_key_value_store(std::string name);
// Kafka's Stores.persistentKeyValueStore(name): RocksDB, under
// `<task dir>/rocksdb/<name>` (rocksdb_store.cc).
BytesStoreSupplier persistent_key_value_store(std::string name);

// Kafka's Stores.keyValueStoreBuilder(supplier, key serde, value serde).
template <class K, class V>
StoreBuilder key_value_store_builder(BytesStoreSupplier supplier, Serde<K> key_serde,
                                     Serde<V> value_serde) {
  StoreBuilder builder;
  builder.name = supplier.name;
  builder.build = [supplier, key_serde, value_serde]() -> std::unique_ptr<StateStore> {
    return std::make_unique<KeyValueStore<K, V>>(supplier.get(), key_serde, value_serde);
  };
  return builder;
}

// Kafka's Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(name), ...).
template <class K, class V>
StoreBuilder in_memory_key_value(std::string name, Serde<K> key_serde, Serde<V> value_serde) {
  return key_value_store_builder(in_memory_key_value_store(std::move(name)), std::move(key_serde),
                                 std::move(value_serde));
}

// Kafka's Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(name), ...).
template <class K, class V>
StoreBuilder persistent_key_value(std::string name, Serde<K> key_serde, Serde<V> value_serde) {
  return key_value_store_builder(persistent_key_value_store(std::move(name)), std::move(key_serde),
                                 std::move(value_serde));
}

}  // namespace stores

}  // namespace sluice::streams
