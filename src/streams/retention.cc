#include "streams/retention.h"

#include <algorithm>

namespace sluice::streams {

int64_t RetentionIndex::oldest_live(const KeyValueBytesStore& bytes) const {
  index_if_needed(bytes);
  if (observed_ == std::numeric_limits<int64_t>::min()) return observed_;
  return observed_ - retention_ + 1;
}

bool RetentionIndex::admit(KeyValueBytesStore& bytes, int64_t time, const std::string& store_key) {
  index_if_needed(bytes);
  observed_ = std::max(observed_, time);
  int64_t oldest = oldest_live(bytes);
  while (!by_time_.empty() && by_time_.begin()->first < oldest) {
    for (const std::string& expired : by_time_.begin()->second) bytes.remove(expired);
    by_time_.erase(by_time_.begin());
  }
  if (time < oldest) return false;
  by_time_[time].insert(store_key);
  return true;
}

void RetentionIndex::index_if_needed(const KeyValueBytesStore& bytes) const {
  if (indexed_) return;
  indexed_ = true;
  for (const auto& [store_key, value] : bytes.range({}, {})) {
    std::optional<int64_t> time = time_of_(store_key);
    if (!time) continue;
    by_time_[*time].insert(store_key);
    observed_ = std::max(observed_, *time);
  }
}

}  // namespace sluice::streams
