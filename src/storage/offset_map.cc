#include "storage/offset_map.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>

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
    : slots_(std::max<size_t>(memory_bytes / slot_bytes, 1)) {
  SLUICE_ASSERT(load_factor > 0 && load_factor <= 1, "load factor in (0, 1]");
  max_entries_ = static_cast<size_t>(static_cast<double>(slots_.size()) * load_factor);
  // One slot always stays empty, so every probe sequence ends.
  max_entries_ = std::min(max_entries_, slots_.size() - 1);
}

bool OffsetMap::put(const KeyDigest& key, int64_t offset) {
  SLUICE_ASSERT(offset >= 0, "offsets are non-negative");
  for (size_t i = probe_start(key);; i = (i + 1) % slots_.size()) {
    Slot& slot = slots_[i];
    if (slot.offset >= 0 && slot.key == key) {
      slot.offset = offset;
      break;
    }
    if (slot.offset < 0) {
      if (full()) return false;
      slot = Slot{key, offset};
      ++size_;
      break;
    }
  }
  latest_offset_ = std::max(latest_offset_, offset);
  return true;
}

std::optional<int64_t> OffsetMap::get(const KeyDigest& key) const {
  for (size_t i = probe_start(key);; i = (i + 1) % slots_.size()) {
    const Slot& slot = slots_[i];
    if (slot.offset < 0) return std::nullopt;
    if (slot.key == key) return slot.offset;
  }
}

void OffsetMap::clear() {
  if (size_ > 0) std::fill(slots_.begin(), slots_.end(), Slot{});
  size_ = 0;
  latest_offset_ = -1;
}

}  // namespace sluice::storage
