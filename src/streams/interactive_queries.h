#pragma once
// Interactive queries of local stores (Kafka's KafkaStreams#store,
// StoreQueryParameters, QueryableStoreTypes, ReadOnlyKeyValueStore,
// ReadOnlyWindowStore):
//
//   auto counts = streams.store(StoreQueryParameters<...>::from_name_and_type(
//       "counts-store", queryable_store_types::key_value_store<std::string, int64_t>()));
//   std::optional<int64_t> n = counts.get("kafka");
//
// A view reads the store of that name in every running task of this
// instance (or of one partition, `with_partition`), looking them up again
// at each call as Kafka's composite stores do: after a rebalance it reads
// the tasks the instance has then. A store still restoring is not read.
//
// Threads: a query runs on the caller's thread while stream threads write.
// Each read is one operation of the store, which is safe against the
// writer by the store's own locking (store.h); a read that spans several
// stores (all(), range()) is no snapshot of them. Stream threads add a
// task's stores once restored and remove them before closing them, under
// the registry's lock, which queries hold while they read: a store never
// closes under a query.

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "streams/store.h"
#include "streams/window_store.h"
#include "streams/windows.h"

namespace sluice::streams {

// Kafka's UnknownStateStoreException: no store of that name in the topology.
class UnknownStateStoreException : public InvalidStateStoreException {
 public:
  using InvalidStateStoreException::InvalidStateStoreException;
};

// Kafka's StreamsNotStartedException: store() before start().
class StreamsNotStartedException : public InvalidStateStoreException {
 public:
  using InvalidStateStoreException::InvalidStateStoreException;
};

// Kafka's InvalidStateStorePartitionException: no local task of that partition.
class InvalidStateStorePartitionException : public InvalidStateStoreException {
 public:
  using InvalidStateStoreException::InvalidStateStoreException;
};

// The queryable stores of an instance's running tasks, by store name.
class LocalStores {
 public:
  struct Entry {
    std::string task_id;
    int32_t partition = 0;
    const StateStore* store = nullptr;
  };

  // A restored task's stores become queryable.
  void add(const std::string& task_id, int32_t partition,
           const std::map<std::string, const StateStore*>& stores) {
    std::unique_lock lock(mutex_);
    for (const auto& [name, store] : stores) by_store_[name].push_back({task_id, partition, store});
  }

  // Before a task closes its stores: waits for the queries reading them.
  void remove(const std::string& task_id) {
    std::unique_lock lock(mutex_);
    for (auto& [name, entries] : by_store_) {
      std::erase_if(entries, [&](const Entry& entry) { return entry.task_id == task_id; });
    }
  }

  // Calls `reader(entries)` with the stores named `store` (of `partition`
  // only, when given) under the shared lock; throws Kafka's
  // InvalidStateStoreException when there is none.
  template <class Read>
  auto read(const std::string& store, std::optional<int32_t> partition, Read&& reader) const {
    std::shared_lock lock(mutex_);
    std::vector<const Entry*> found;
    if (auto entries = by_store_.find(store); entries != by_store_.end()) {
      for (const Entry& entry : entries->second) {
        if (!partition || entry.partition == *partition) found.push_back(&entry);
      }
    }
    if (found.empty()) {
      if (partition) {
        throw InvalidStateStorePartitionException("The specified partition " +
                                                  std::to_string(*partition) + " for store " +
                                                  store + " does not exist.");
      }
      throw InvalidStateStoreException("The state store, " + store +
                                       ", may have migrated to another instance.");
    }
    return reader(found);
  }

 private:
  mutable std::shared_mutex mutex_;
  std::map<std::string, std::vector<Entry>> by_store_;
};

namespace detail {

// The task's store as the type a view reads, or Kafka's message.
template <class Store>
const Store& queried_store(const LocalStores::Entry& entry, const char* type_name) {
  const auto* typed = dynamic_cast<const Store*>(entry.store);
  if (typed == nullptr) {
    throw InvalidStateStoreException(
        "Cannot get state store " + entry.store->name() + " because the queryable store type [" +
        type_name + "] does not accept the actual store type of task " + entry.task_id + ".");
  }
  return *typed;
}

}  // namespace detail

// Kafka's ReadOnlyKeyValueStore over the instance's tasks.
template <class K, class V>
class ReadOnlyKeyValueStore {
 public:
  ReadOnlyKeyValueStore(std::shared_ptr<const LocalStores> stores, std::string name,
                        std::optional<int32_t> partition)
      : stores_(std::move(stores)), name_(std::move(name)), partition_(partition) {}

  // The key's value in the first task holding it (a key lives in one).
  std::optional<V> get(const K& key) const {
    return stores_->read(name_, partition_, [&](const auto& entries) -> std::optional<V> {
      for (const LocalStores::Entry* entry : entries) {
        if (std::optional<V> value = typed(*entry).get(key)) return value;
      }
      return std::nullopt;
    });
  }
  // from <= key <= to (bytes order), task by task.
  std::vector<std::pair<K, V>> range(const K& from, const K& to) const {
    return collect([&](const KeyValueStore<K, V>& store) { return store.range(from, to); });
  }
  std::vector<std::pair<K, V>> all() const {
    return collect([](const KeyValueStore<K, V>& store) { return store.all(); });
  }
  // The sum of the tasks' estimates (Kafka's approximateNumEntries).
  int64_t approximate_num_entries() const {
    return stores_->read(name_, partition_, [&](const auto& entries) {
      uint64_t total = 0;
      for (const LocalStores::Entry* entry : entries) total += typed(*entry).approximate_entries();
      return static_cast<int64_t>(std::min<uint64_t>(total, std::numeric_limits<int64_t>::max()));
    });
  }

 private:
  static const KeyValueStore<K, V>& typed(const LocalStores::Entry& entry) {
    return detail::queried_store<KeyValueStore<K, V>>(entry, "key-value store of these types");
  }
  template <class Read>
  std::vector<std::pair<K, V>> collect(Read read) const {
    return stores_->read(name_, partition_, [&](const auto& entries) {
      std::vector<std::pair<K, V>> out;
      for (const LocalStores::Entry* entry : entries) {
        for (auto& pair : read(typed(*entry))) out.push_back(std::move(pair));
      }
      return out;
    });
  }

  std::shared_ptr<const LocalStores> stores_;
  std::string name_;
  std::optional<int32_t> partition_;
};

// Kafka's ReadOnlyWindowStore over the instance's tasks.
template <class K, class V>
class ReadOnlyWindowStore {
 public:
  ReadOnlyWindowStore(std::shared_ptr<const LocalStores> stores, std::string name,
                      std::optional<int32_t> partition)
      : stores_(std::move(stores)), name_(std::move(name)), partition_(partition) {}

  // The value of the key's window starting at `window_start`.
  std::optional<V> fetch(const K& key, int64_t window_start) const {
    return stores_->read(name_, partition_, [&](const auto& entries) -> std::optional<V> {
      for (const LocalStores::Entry* entry : entries) {
        if (std::optional<V> value = typed(*entry).fetch(key, window_start)) return value;
      }
      return std::nullopt;
    });
  }
  // The key's windows starting in [from, to], oldest first.
  std::vector<std::pair<int64_t, V>> fetch(const K& key, int64_t from, int64_t to) const {
    return stores_->read(name_, partition_, [&](const auto& entries) {
      for (const LocalStores::Entry* entry : entries) {
        std::vector<std::pair<int64_t, V>> windows = typed(*entry).fetch(key, from, to);
        if (!windows.empty()) return windows;
      }
      return std::vector<std::pair<int64_t, V>>{};
    });
  }
  // Every window starting in [from, to], task by task.
  std::vector<std::pair<Windowed<K>, V>> fetch_all(int64_t from, int64_t to) const {
    return collect(
        [&](const Windowed<K>& key) { return key.window.start >= from && key.window.start <= to; });
  }
  std::vector<std::pair<Windowed<K>, V>> all() const {
    return collect([](const Windowed<K>&) { return true; });
  }

 private:
  static const WindowStore<K, V>& typed(const LocalStores::Entry& entry) {
    return detail::queried_store<WindowStore<K, V>>(entry, "window store of these types");
  }
  template <class Keep>
  std::vector<std::pair<Windowed<K>, V>> collect(Keep keep) const {
    return stores_->read(name_, partition_, [&](const auto& entries) {
      std::vector<std::pair<Windowed<K>, V>> out;
      for (const LocalStores::Entry* entry : entries) {
        for (auto& pair : typed(*entry).all()) {
          if (keep(pair.first)) out.push_back(std::move(pair));
        }
      }
      return out;
    });
  }

  std::shared_ptr<const LocalStores> stores_;
  std::string name_;
  std::optional<int32_t> partition_;
};

// Kafka's QueryableStoreTypes: what a store is read as.
namespace queryable_store_types {

template <class K, class V>
struct KeyValueStoreType {
  using View = ReadOnlyKeyValueStore<K, V>;
};
template <class K, class V>
struct WindowStoreType {
  using View = ReadOnlyWindowStore<K, V>;
};

template <class K, class V>
KeyValueStoreType<K, V> key_value_store() {
  return {};
}
template <class K, class V>
WindowStoreType<K, V> window_store() {
  return {};
}

}  // namespace queryable_store_types

// Kafka's StoreQueryParameters: a store's name, how to read it, and
// optionally the one partition to read.
template <class Type>
struct StoreQueryParameters {
  std::string store_name;
  std::optional<int32_t> partition;

  static StoreQueryParameters from_name_and_type(std::string name, Type /*type*/) {
    return {std::move(name), std::nullopt};
  }
  StoreQueryParameters with_partition(int32_t only) && {
    partition = only;
    return std::move(*this);
  }
};

}  // namespace sluice::streams
