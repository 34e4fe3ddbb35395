#pragma once
// The log cleaner's key -> latest offset map (Kafka's SkimpyOffsetMap): a
// fixed-size open-addressing table of (key digest, offset) built over the
// dirty section of a log, bounded by log.cleaner.dedupe.buffer.size.
//
// Keys are not stored, only their digests, so memory is 24 bytes per slot
// whatever the key size. A digest collision between two keys would make the
// cleaner drop the older key's record, so the digest must be collision-free in
// practice, including for keys chosen by an adversary (group ids in
// __consumer_offsets are chosen by clients): it is the first 128 bits of
// SHA-256 of the key bytes (OpenSSL). Finding a second key with the digest of
// a given key costs ~2^128 work; a chance collision among n keys has
// probability ~n^2 / 2^129 (about 10^-26 for 10^6 keys). Kafka uses MD5,
// whose collisions can be forged; SHA-256 costs a little more CPU per key.
//
// Not thread-safe: one per cleaner thread.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "base/bytes.h"

namespace sluice::storage {

struct KeyDigest {
  uint64_t high = 0;
  uint64_t low = 0;
  friend bool operator==(const KeyDigest&, const KeyDigest&) = default;
};

// SHA-256 of the key, truncated to 128 bits. Reuses one OpenSSL context.
class KeyHasher {
 public:
  KeyHasher();
  ~KeyHasher();
  KeyHasher(const KeyHasher&) = delete;
  KeyHasher& operator=(const KeyHasher&) = delete;
  KeyDigest digest(Bytes key);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

class OffsetMap {
 public:
  static constexpr size_t slot_bytes = 24;  // 16 digest + 8 offset

  // A table of at most memory_bytes / 24 slots, filled to at most
  // load_factor (log.cleaner.io.buffer.load.factor, 0.9) so probes stay
  // short. It starts empty and doubles as keys arrive; clear() frees it.
  OffsetMap(size_t memory_bytes, double load_factor = 0.9);

  // Records `offset` as the latest for the key. False, changing nothing, if
  // the key is new and the map already holds max_entries() keys.
  bool put(const KeyDigest& key, int64_t offset);
  std::optional<int64_t> get(const KeyDigest& key) const;
  void clear();

  size_t size() const { return size_; }
  size_t max_entries() const { return max_entries_; }
  bool full() const { return size_ >= max_entries_; }
  // Memory the table holds now (it grows with the keys put since clear()).
  size_t allocated_bytes() const { return slots_.size() * sizeof(Slot); }
  // The largest offset put since clear(), or -1.
  int64_t latest_offset() const { return latest_offset_; }

 private:
  struct Slot {
    KeyDigest key;
    int64_t offset = -1;  // -1: empty
  };
  static constexpr size_t initial_slots = 4096;

  size_t probe_start(const KeyDigest& key) const { return static_cast<size_t>(key.low % slots_.size()); }
  size_t entries_allowed(size_t slot_count) const;
  // The index of the slot holding `key`, or of the empty slot where it would go.
  size_t find_slot(const KeyDigest& key) const;
  void grow();

  std::vector<Slot> slots_;
  size_t max_slots_ = 0;
  double load_factor_ = 0.9;
  size_t max_entries_ = 0;
  size_t size_ = 0;
  int64_t latest_offset_ = -1;
};

}  // namespace sluice::storage
