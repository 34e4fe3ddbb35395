#include "storage/offset_map.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "base/assert.h"

namespace sluice::storage {

struct KeyHasher::State {
  EVP_MD* sha256 = nullptr;
  EVP_MD_CTX* context = nullptr;
};

KeyHasher::KeyHasher() : state_(std::make_unique<State>()) {
  // Fetched once: the implicit fetch of EVP_sha256() costs a lookup per digest.
  state_->sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  state_->context = EVP_MD_CTX_new();
  SLUICE_ASSERT(state_->sha256 != nullptr && state_->context != nullptr, "OpenSSL provides SHA-256");
}

KeyHasher::~KeyHasher() {
  EVP_MD_CTX_free(state_->context);
  EVP_MD_free(state_->sha256);
}

KeyDigest KeyHasher::digest(Bytes key) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  bool ok = EVP_DigestInit_ex2(state_->context, state_->sha256, nullptr) == 1 &&
            EVP_DigestUpdate(state_->context, key.data(), key.size()) == 1 &&
            EVP_DigestFinal_ex(state_->context, out, &length) == 1;
  SLUICE_ASSERT(ok && length >= 16, "SHA-256 of a key");
  KeyDigest digest;
  std::memcpy(&digest.high, out, 8);
  std::memcpy(&digest.low, out + 8, 8);
  return digest;
}

OffsetMap::OffsetMap(size_t memory_bytes, double load_factor)
    : max_slots_(std::max<size_t>(memory_bytes / slot_bytes, 2)), load_factor_(load_factor) {
  SLUICE_ASSERT(load_factor > 0 && load_factor <= 1, "load factor in (0, 1]");
  max_entries_ = entries_allowed(max_slots_);
}

size_t OffsetMap::entries_allowed(size_t slot_count) const {
  auto allowed = static_cast<size_t>(static_cast<double>(slot_count) * load_factor_);
  // One slot always stays empty, so every probe sequence ends.
  return std::min(allowed, slot_count - 1);
}

bool OffsetMap::put(const KeyDigest& key, int64_t offset) {
  SLUICE_ASSERT(offset >= 0, "offsets are non-negative");
  if (slots_.empty()) grow();
  Slot* slot = &slots_[find_slot(key)];
  if (slot->offset < 0) {
    if (full()) return false;
    if (size_ >= entries_allowed(slots_.size())) {
      grow();
      slot = &slots_[find_slot(key)];
    }
    slot->key = key;
    ++size_;
  }
  slot->offset = offset;
  latest_offset_ = std::max(latest_offset_, offset);
  return true;
}

std::optional<int64_t> OffsetMap::get(const KeyDigest& key) const {
  if (slots_.empty()) return std::nullopt;
  const Slot& slot = slots_[find_slot(key)];
  if (slot.offset < 0) return std::nullopt;
  return slot.offset;
}

size_t OffsetMap::find_slot(const KeyDigest& key) const {
  for (size_t i = probe_start(key);; i = (i + 1) % slots_.size()) {
    const Slot& slot = slots_[i];
    if (slot.offset < 0 || slot.key == key) return i;
  }
}

// Doubles the table (up to the configured cap) and reinserts what it holds:
// memory follows the keys of the section being cleaned, not the configured
// maximum, so an idle broker does not hold log.cleaner.dedupe.buffer.size.
void OffsetMap::grow() {
  size_t target = slots_.empty() ? std::min(initial_slots, max_slots_) : std::min(slots_.size() * 2, max_slots_);
  std::vector<Slot> old = std::exchange(slots_, std::vector<Slot>(target));
  for (const Slot& slot : old) {
    if (slot.offset >= 0) slots_[find_slot(slot.key)] = slot;
  }
}

void OffsetMap::clear() {
  slots_ = {};  // released: the next pass grows it again from its first key
  size_ = 0;
  latest_offset_ = -1;
}

}  // namespace sluice::storage
