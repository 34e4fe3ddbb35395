#pragma once
// The stores of a stream-stream join (internal to stream_joins.h):
//
// - JoinWindowStore: each side's records by key and timestamp, duplicates
//   kept (Kafka's window store with retainDuplicates): under Kafka's window
//   store keys (the key's bytes, the timestamp as 8 bytes, a 4-byte
//   sequence number that tells duplicates apart), so its changelog carries
//   the keys Kafka Streams writes. Records older than the retention (the
//   join window's size plus its grace period) before the newest timestamp
//   put are neither stored nor fetched, as Kafka's in-memory window store.
// - OuterJoinStore: a left or outer join's records that have not found a
//   partner yet (Kafka's KSTREAM-OUTERSHARED- store), under Kafka's keys
//   (timestamp, a side byte: 1 left, 0 right, the key's bytes) and list
//   values (Kafka's ListValueStore: each entry a side byte and the value's
//   bytes), ordered by timestamp. It also holds the join's time tracker,
//   which both sides of the join share within a task.

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "streams/serde.h"
#include "streams/store.h"

namespace sluice::streams {

namespace join_bytes {

// Kafka's WindowKeySchema.toStoreKeyBinary(key, timestamp, sequence).
std::string window_key(std::string_view key, int64_t timestamp, uint32_t sequence);
struct WindowKey {
  std::string key;
  int64_t timestamp = 0;
  uint32_t sequence = 0;
};
std::optional<WindowKey> parse_window_key(std::string_view bytes);

// Kafka's TimestampedKeyAndJoinSideSerializer: timestamp, side, key.
std::string outer_key(std::string_view key, int64_t timestamp, bool left_side);
struct OuterKey {
  std::string key;
  int64_t timestamp = 0;
  bool left_side = false;
};
std::optional<OuterKey> parse_outer_key(std::string_view bytes);

// Kafka's ListSerde of byte arrays (VARIABLE_SIZE: a strategy byte 1, the
// count, then each entry's length and bytes); entries are
// LeftOrRightValueSerializer's bytes (a side byte, the value's bytes).
std::string list_append(const std::optional<std::string>& list, std::string_view entry);
std::vector<std::string> list_entries(std::string_view list);

// Java's long addition (wraps), for the join's time arithmetic.
inline int64_t java_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

}  // namespace join_bytes

template <class K, class V>
class JoinWindowStore final : public StateStore {
 public:
  JoinWindowStore(std::unique_ptr<KeyValueBytesStore> bytes, int64_t retention, Serde<K> key_serde,
                  Serde<V> value_serde)
      : StateStore(bytes->name()),
        bytes_(std::move(bytes)),
        retention_(retention),
        key_serde_(std::move(key_serde)),
        value_serde_(std::move(value_serde)) {}

  bool persistent() const override { return bytes_->persistent(); }
  void flush() override { bytes_->flush(); }
  void close() override { bytes_->close(); }
  KeyValueBytesStore* bytes_store() override { return bytes_.get(); }
  int64_t retention_ms() const { return retention_; }
  int64_t observed_stream_time() {
    load_if_needed();
    return observed_;
  }

  // A new entry (never replaces one); dropped when already expired.
  void put(const K& key, const V& value, int64_t timestamp) {
    load_if_needed();
    observed_ = std::max(observed_, timestamp);
    if (timestamp < oldest_live()) return;  // Kafka: "Skipping record for expired segment"
    std::optional<std::string> value_bytes = value_serde_.serialize(name(), value);
    if (!value_bytes) return;  // a null value is a delete of nothing
    sequence_ = (sequence_ + 1) & 0x7fffffffU;
    std::string store_key = join_bytes::window_key(key_bytes(key), timestamp, sequence_);
    bytes_->put(store_key, *value_bytes);
    by_time_[timestamp].push_back(std::move(store_key));
    expire();
  }

  // The key's live entries with timestamps in [from, to]: by timestamp,
  // then in the order they were put.
  std::vector<std::pair<int64_t, V>> fetch(const K& key, int64_t from, int64_t to) {
    load_if_needed();
    std::vector<std::pair<int64_t, V>> out;
    from = std::max(from, oldest_live());
    if (from > to) return out;
    std::string prefix = key_bytes(key);
    for (const auto& [store_key, value] :
         bytes_->range(join_bytes::window_key(prefix, from, 0),
                       join_bytes::window_key(prefix, to, 0xffffffffU))) {
      std::optional<join_bytes::WindowKey> parsed = join_bytes::parse_window_key(store_key);
      if (!parsed || parsed->key != prefix) continue;  // a longer key sharing the prefix
      out.emplace_back(parsed->timestamp,
                       value_serde_.deserialize(name(), std::string_view(value)));
    }
    return out;
  }

 private:
  // Kafka's observedStreamTime - retentionPeriod + 1.
  int64_t oldest_live() const { return join_bytes::java_add(observed_, 1 - retention_); }

  void expire() {
    int64_t oldest = oldest_live();
    while (!by_time_.empty() && by_time_.begin()->first < oldest) {
      for (const std::string& store_key : by_time_.begin()->second) bytes_->remove(store_key);
      by_time_.erase(by_time_.begin());
    }
  }

  std::string key_bytes(const K& key) const {
    std::optional<std::string> bytes = key_serde_.serialize(name(), key);
    if (!bytes) throw SerializationError("a state store key cannot be null");
    return *bytes;
  }

  // Entries restored from the changelog bypassed put(): index them, and
  // take the stream time and sequence numbers on from them, once.
  void load_if_needed() {
    if (loaded_) return;
    loaded_ = true;
    for (const auto& [store_key, value] : bytes_->range({}, {})) {
      std::optional<join_bytes::WindowKey> parsed = join_bytes::parse_window_key(store_key);
      if (!parsed) continue;
      by_time_[parsed->timestamp].push_back(store_key);
      observed_ = std::max(observed_, parsed->timestamp);
      sequence_ = std::max(sequence_, parsed->sequence);
    }
  }

  std::unique_ptr<KeyValueBytesStore> bytes_;
  int64_t retention_;
  Serde<K> key_serde_;
  Serde<V> value_serde_;
  bool loaded_ = false;
  int64_t observed_ = -1;  // Kafka's NO_TIMESTAMP
  uint32_t sequence_ = 0;
  std::map<int64_t, std::vector<std::string>> by_time_;
};

// Kafka's KStreamImplJoin.TimeTracker: the highest timestamp either side of
// the join has seen, and a lower bound of the outer store's timestamps
// (Long.MAX_VALUE: unknown).
struct JoinTimeTracker {
  int64_t stream_time = -1;
  int64_t min_time = std::numeric_limits<int64_t>::max();
};

template <class K, class VL, class VR>
class OuterJoinStore final : public StateStore {
 public:
  // One unmatched record: its key, timestamp and side, and its value.
  struct Entry {
    std::string store_key;
    K key{};
    int64_t timestamp = 0;
    bool left_side = false;
    std::vector<std::pair<std::optional<VL>, std::optional<VR>>> values;  // one side set
  };

  OuterJoinStore(std::unique_ptr<KeyValueBytesStore> bytes, Serde<K> key_serde,
                 Serde<VL> left_serde, Serde<VR> right_serde)
      : StateStore(bytes->name()),
        bytes_(std::move(bytes)),
        key_serde_(std::move(key_serde)),
        left_serde_(std::move(left_serde)),
        right_serde_(std::move(right_serde)) {}

  bool persistent() const override { return bytes_->persistent(); }
  void flush() override { bytes_->flush(); }
  void close() override { bytes_->close(); }
  KeyValueBytesStore* bytes_store() override { return bytes_.get(); }
  JoinTimeTracker& tracker() { return tracker_; }

  void add_left(const K& key, int64_t timestamp, const VL& value) {
    add(key, timestamp, true, left_serde_.serialize(name(), value));
  }
  void add_right(const K& key, int64_t timestamp, const VR& value) {
    add(key, timestamp, false, right_serde_.serialize(name(), value));
  }
  // Forgets the key's unmatched records of one side at one timestamp (it
  // has found a partner): Kafka's putIfAbsent(key, null).
  void remove(const K& key, int64_t timestamp, bool left_side) {
    std::string store_key = join_bytes::outer_key(key_bytes(key), timestamp, left_side);
    if (bytes_->get(store_key)) bytes_->remove(store_key);
  }
  void remove_entry(const std::string& store_key) { bytes_->remove(store_key); }

  // Every entry, by timestamp, then right before left, then key bytes.
  std::vector<Entry> all() const {
    std::vector<Entry> out;
    for (const auto& [store_key, list] : bytes_->range({}, {})) {
      std::optional<join_bytes::OuterKey> parsed = join_bytes::parse_outer_key(store_key);
      if (!parsed) continue;
      Entry entry;
      entry.store_key = store_key;
      entry.key = key_serde_.deserialize(name(), std::string_view(parsed->key));
      entry.timestamp = parsed->timestamp;
      entry.left_side = parsed->left_side;
      for (const std::string& item : join_bytes::list_entries(list)) {
        if (item.empty()) continue;
        std::string_view bytes = std::string_view(item).substr(1);
        if (item[0] != 0) {
          entry.values.emplace_back(left_serde_.deserialize(name(), bytes), std::nullopt);
        } else {
          entry.values.emplace_back(std::nullopt, right_serde_.deserialize(name(), bytes));
        }
      }
      out.push_back(std::move(entry));
    }
    return out;
  }

 private:
  void add(const K& key, int64_t timestamp, bool left_side,
           const std::optional<std::string>& value) {
    if (!value) return;
    std::string store_key = join_bytes::outer_key(key_bytes(key), timestamp, left_side);
    std::string item(1, left_side ? '\1' : '\0');
    item += *value;
    bytes_->put(store_key, join_bytes::list_append(bytes_->get(store_key), item));
  }

  std::string key_bytes(const K& key) const {
    std::optional<std::string> bytes = key_serde_.serialize(name(), key);
    if (!bytes) throw SerializationError("a state store key cannot be null");
    return *bytes;
  }

  std::unique_ptr<KeyValueBytesStore> bytes_;
  Serde<K> key_serde_;
  Serde<VL> left_serde_;
  Serde<VR> right_serde_;
  JoinTimeTracker tracker_;
};

namespace stores {

// One side's JoinWindowStore over the bytes store `supplier` gives.
template <class K, class V>
StoreBuilder join_window_store(BytesStoreSupplier supplier, int64_t retention, Serde<K> key_serde,
                               Serde<V> value_serde) {
  StoreBuilder builder;
  builder.name = supplier.name;
  builder.build = [=]() -> std::unique_ptr<StateStore> {
    return std::make_unique<JoinWindowStore<K, V>>(supplier.get(), retention, key_serde,
                                                   value_serde);
  };
  return builder;
}

// A left or outer join's OuterJoinStore over the bytes store `supplier` gives.
template <class K, class VL, class VR>
StoreBuilder outer_join_store(BytesStoreSupplier supplier, Serde<K> key_serde, Serde<VL> left_serde,
                              Serde<VR> right_serde) {
  StoreBuilder builder;
  builder.name = supplier.name;
  builder.build = [=]() -> std::unique_ptr<StateStore> {
    return std::make_unique<OuterJoinStore<K, VL, VR>>(supplier.get(), key_serde, left_serde,
                                                       right_serde);
  };
  return builder;
}

}  // namespace stores
}  // namespace sluice::streams
