#pragma once
// Retention of window and session stores (Kafka's segmented stores): the
// store's stream time is the highest segment time put into it (a window's
// start, a session's end); an entry whose time is at or before stream time
// minus the retention has expired: a put of one is skipped, fetches do not
// see it, and it is removed from the bytes (its removal reaches the
// changelog, where Kafka's segments just drop it).

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "streams/store.h"

namespace sluice::streams {

class RetentionIndex {
 public:
  // `time_of(store key)`: the entry's segment time, nullopt for a key that
  // is not the store's.
  using TimeOf = std::function<std::optional<int64_t>(const std::string& store_key)>;
  RetentionIndex(int64_t retention, TimeOf time_of)
      : retention_(retention), time_of_(std::move(time_of)) {}

  int64_t retention_ms() const { return retention_; }
  // The oldest segment time fetches see.
  int64_t oldest_live(const KeyValueBytesStore& bytes) const;
  // Records a put of `store_key` at `time`, removing what expires with it;
  // false when the entry itself has expired (skip the put).
  bool admit(KeyValueBytesStore& bytes, int64_t time, const std::string& store_key);

 private:
  // Entries restored from a changelog were not put through admit(): index
  // them once, on first use.
  void index_if_needed(const KeyValueBytesStore& bytes) const;

  int64_t retention_;
  TimeOf time_of_;
  mutable bool indexed_ = false;
  mutable int64_t observed_ = std::numeric_limits<int64_t>::min();
  mutable std::map<int64_t, std::set<std::string>> by_time_;
};

}  // namespace sluice::streams
