#include "storage/aborted_txns.h"

#include <algorithm>

namespace sluice::storage {

namespace {

bool marker_before(const AbortedTxn& txn, int64_t offset) { return txn.last_offset < offset; }

}  // namespace

void AbortedTxnIndex::add(const AbortedTxn& txn) {
  // A replay after a truncation must not list a transaction twice.
  if (!entries_.empty() && entries_.back().last_offset >= txn.last_offset) return;
  entries_.push_back(txn);
}

void AbortedTxnIndex::truncate_from(int64_t offset) {
  auto from = std::lower_bound(entries_.begin(), entries_.end(), offset, marker_before);
  entries_.erase(from, entries_.end());
}

void AbortedTxnIndex::drop_below(int64_t log_start_offset) {
  auto to = std::lower_bound(entries_.begin(), entries_.end(), log_start_offset, marker_before);
  entries_.erase(entries_.begin(), to);
}

std::vector<AbortedTxn> AbortedTxnIndex::collect(int64_t fetch_offset,
                                                 int64_t upper_bound_offset) const {
  std::vector<AbortedTxn> found;
  auto it = std::lower_bound(entries_.begin(), entries_.end(), fetch_offset, marker_before);
  for (; it != entries_.end(); ++it)
    if (it->first_offset < upper_bound_offset) found.push_back(*it);
  return found;
}

}  // namespace sluice::storage
