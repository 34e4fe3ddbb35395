#include "streams/store.h"

#include <mutex>

namespace sluice::streams {

void StateStore::init(const StoreContext& context) {
  KeyValueBytesStore* bytes = bytes_store();
  if (bytes != nullptr && static_cast<StateStore*>(bytes) != this) bytes->init(context);
}

std::optional<std::string> InMemoryKeyValueStore::get(const std::string& key) const {
  std::shared_lock lock(mutex_);
  auto found = entries_.find(key);
  if (found == entries_.end()) return std::nullopt;
  return found->second;
}

void InMemoryKeyValueStore::put(const std::string& key, const std::string& value) {
  {
    std::unique_lock lock(mutex_);
    entries_.insert_or_assign(key, value);
  }
  changed(key, value);
}

void InMemoryKeyValueStore::remove(const std::string& key) {
  size_t erased = 0;
  {
    std::unique_lock lock(mutex_);
    erased = entries_.erase(key);
  }
  if (erased != 0) changed(key, std::nullopt);
}

size_t InMemoryKeyValueStore::approximate_entries() const {
  std::shared_lock lock(mutex_);
  return entries_.size();
}

std::vector<std::pair<std::string, std::string>> InMemoryKeyValueStore::range(
    const std::optional<std::string>& from, const std::optional<std::string>& to) const {
  std::shared_lock lock(mutex_);
  std::vector<std::pair<std::string, std::string>> out;
  auto it = from ? entries_.lower_bound(*from) : entries_.begin();
  for (; it != entries_.end(); ++it) {
    if (to && it->first > *to) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

namespace stores {

BytesStoreSupplier in_memory_key_value_store(std::string name) {
  BytesStoreSupplier supplier;
  supplier.name = name;
  supplier.persistent = false;
  supplier.get = [name]() -> std::unique_ptr<KeyValueBytesStore> {
    return std::make_unique<InMemoryKeyValueStore>(name);
  };
  return supplier;
}

}  // namespace stores
}  // namespace sluice::streams
