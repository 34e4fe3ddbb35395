#include "streams/global_table.h"

namespace sluice::streams {

void SynchronizedKeyValueBytesStore::flush() {
  std::lock_guard lock(mutex_);
  inner_->flush();
}

void SynchronizedKeyValueBytesStore::close() {
  std::lock_guard lock(mutex_);
  inner_->close();
}

std::optional<std::string> SynchronizedKeyValueBytesStore::get(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return inner_->get(key);
}

void SynchronizedKeyValueBytesStore::put(const std::string& key, const std::string& value) {
  {
    std::lock_guard lock(mutex_);
    inner_->put(key, value);
  }
  changed(key, value);
}

void SynchronizedKeyValueBytesStore::remove(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    inner_->remove(key);
  }
  changed(key, std::nullopt);
}

std::vector<std::pair<std::string, std::string>> SynchronizedKeyValueBytesStore::range(
    const std::optional<std::string>& from, const std::optional<std::string>& to) const {
  std::lock_guard lock(mutex_);
  return inner_->range(from, to);
}

size_t SynchronizedKeyValueBytesStore::approximate_entries() const {
  std::lock_guard lock(mutex_);
  return inner_->approximate_entries();
}

}  // namespace sluice::streams
