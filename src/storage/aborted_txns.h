#pragma once
// The aborted transactions of one log (Kafka's TransactionIndex, the
// `.txnindex` beside each segment, and UnifiedLog.collectAbortedTransactions):
// per transaction an abort marker ended, the producer id, the first offset
// of its data, the marker's offset and the last stable offset when it
// completed. A read_committed Fetch answers the ones overlapping what it
// returns so the consumer can drop their records.
//
// Kept in memory per Log, not in per-segment files: rebuilt from the log at
// open (a header-only replay of every segment from the log start), added to
// by appends, cut by truncation and by the log start moving. Kafka's format
// (34-byte version-0 entries) is the same content.
//
// Concurrency: owned by the Log, called under the partition lock.

#include <cstdint>
#include <vector>

namespace sluice::storage {

struct AbortedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;         // the abort marker's offset
  int64_t last_stable_offset = -1;  // the LSO right after it completed
  bool operator==(const AbortedTxn&) const = default;
};

class AbortedTxnIndex {
 public:
  // Entries come in marker order (ascending last_offset), as the log is.
  void add(const AbortedTxn& txn);
  // Truncation: drops every entry whose marker is at or above `offset`.
  void truncate_from(int64_t offset);
  // The log start moved: entries whose marker is below it can overlap no
  // fetch any more.
  void drop_below(int64_t log_start_offset);
  void clear() { entries_.clear(); }

  // Kafka's collectAbortedTxns: every transaction overlapping
  // [fetch_offset, upper_bound_offset): its marker at or after the fetch
  // offset and its first offset below the bound; in marker order.
  std::vector<AbortedTxn> collect(int64_t fetch_offset, int64_t upper_bound_offset) const;

  const std::vector<AbortedTxn>& entries() const { return entries_; }

 private:
  std::vector<AbortedTxn> entries_;  // ascending last_offset
};

}  // namespace sluice::storage
