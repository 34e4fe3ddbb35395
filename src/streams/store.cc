#include "streams/store.h"

namespace sluice::streams {

std::optional<std::string> InMemoryKeyValueStore::get(const std::string& key) const {
  auto found = entries_.find(key);
  if (found == entries_.end()) return std::nullopt;
  return found->second;
}

void InMemoryKeyValueStore::put(const std::string& key, const std::string& value) {
  entries_.insert_or_assign(key, value);
  changed(key, value);
}

void InMemoryKeyValueStore::remove(const std::string& key) {
  if (entries_.erase(key) != 0) changed(key, std::nullopt);
}

std::vector<std::pair<std::string, std::string>> InMemoryKeyValueStore::range(
    const std::optional<std::string>& from, const std::optional<std::string>& to) const {
  std::vector<std::pair<std::string, std::string>> out;
  auto it = from ? entries_.lower_bound(*from) : entries_.begin();
  for (; it != entries_.end(); ++it) {
    if (to && it->first > *to) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

}  // namespace sluice::streams
