#pragma once
// One transactional id's state (Kafka's TransactionMetadata): the states of
// a transaction, the transitions Kafka allows between them, and the
// prepare_* steps that compute the state a request leads to. A prepared
// transition is only *pending* (`TxnMetadata::pending`): the coordinator
// appends it to __transaction_state and enters it (complete_transition)
// once the append is durable, or drops it (revert) if the append failed.
// While a transition is pending, other requests for the id answer
// CONCURRENT_TRANSACTIONS.
//
// Plain data: touched only on the strand of the id's __transaction_state
// partition (txn_coordinator.h).

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/error_code.h"
#include "txn/txn_interfaces.h"

namespace sluice::txn {

// Kafka's TransactionState ids (the TransactionStatus of TransactionLogValue).
enum class TxnState : int8_t {
  empty = 0,
  ongoing = 1,
  prepare_commit = 2,
  prepare_abort = 3,
  complete_commit = 4,
  complete_abort = 5,
  dead = 6,
  prepare_epoch_fence = 7,  // in memory only: never written
};

// Kafka's names ("Empty", "Ongoing", "PrepareCommit", ...): DescribeTransactions,
// ListTransactions filters, `sluice txn`.
const char* txn_state_name(TxnState state);
std::optional<TxnState> txn_state_from_name(std::string_view name);
std::optional<TxnState> txn_state_from_id(int8_t id);
// Kafka's validPreviousStates: may `from` move to `to`?
bool valid_transition(TxnState from, TxnState to);
// Empty, CompleteCommit, CompleteAbort: an idle id may expire
// (transactional.id.expiration.ms).
bool expiration_allowed(TxnState state);

inline constexpr int64_t no_producer_id = -1;
inline constexpr int16_t no_producer_epoch = -1;
// Kafka's TransactionMetadata.isEpochExhausted: no epoch left to bump to
// (one is kept for fencing).
inline bool epoch_exhausted(int16_t epoch) { return epoch >= INT16_MAX - 1; }
// Transaction version 2 (KIP-890 part 2): the epoch is bumped at every
// transaction's end.
inline bool supports_epoch_bump(int16_t client_transaction_version) {
  return client_transaction_version >= 2;
}

using TxnPartitions = std::set<MarkerPartition>;

// What a transactional id's state is (or becomes): a TransactionLogValue's
// content plus the last epoch (KIP-360 retries), which the record does not
// carry (a loaded id has none, as in Kafka).
struct TxnTransit {
  int64_t producer_id = no_producer_id;
  int64_t previous_producer_id = no_producer_id;
  int64_t next_producer_id = no_producer_id;  // TV2: the id after an exhausted epoch
  int16_t producer_epoch = no_producer_epoch;
  int16_t last_producer_epoch = no_producer_epoch;
  int32_t timeout_ms = 0;
  TxnState state = TxnState::empty;
  TxnPartitions partitions;
  int64_t start_timestamp_ms = -1;
  int64_t last_update_timestamp_ms = -1;
  int16_t client_transaction_version = 0;
  bool operator==(const TxnTransit&) const = default;
};

struct TxnMetadata {
  std::string transactional_id;
  TxnTransit current;
  std::optional<TxnState> pending;  // a prepared transition not yet durable
  // A fence's bumped epoch could not be written: the next fence reuses it
  // (Kafka's hasFailedEpochFence; the epoch was never given to a client).
  bool failed_epoch_fence = false;
  // The prepared Complete{Commit,Abort} while its markers are sent, and
  // whether they are all written (its append then may be retried).
  std::optional<TxnTransit> completing;
  bool markers_written = false;
  bool complete_in_flight = false;

  // Kafka's prepare* steps: each sets `pending` and returns the transit.
  // Programmer errors (a transition Kafka forbids, a pending one) assert.
  TxnTransit prepare_fence_epoch();
  // InitProducerId on an idle id: bump the epoch, or, with an expected epoch
  // (KIP-360), bump it if it is the current one, return the current one
  // unchanged if it is the last (a retry), else PRODUCER_FENCED.
  ErrorCode prepare_increment_epoch(int32_t timeout_ms, std::optional<int16_t> expected_epoch,
                                    int64_t now_ms, TxnTransit& out);
  TxnTransit prepare_producer_id_rotation(int64_t new_producer_id, int32_t timeout_ms,
                                          int64_t now_ms, bool record_last_epoch);
  // `client_transaction_version`: set by a partition leader's implicit add
  // (KIP-890 part 2: 2); nullopt keeps the transaction's.
  TxnTransit prepare_add_partitions(const TxnPartitions& added, int64_t now_ms,
                                    std::optional<int16_t> client_transaction_version = {});
  TxnTransit prepare_abort_or_commit(TxnState next, int16_t client_transaction_version,
                                     int64_t next_producer_id, int64_t now_ms);
  TxnTransit prepare_complete(int64_t now_ms);
  TxnTransit prepare_dead();

  // The append of `transit` is durable: it becomes the state.
  void complete_transition(const TxnTransit& transit);
  // The append failed: the pending transition is dropped.
  void revert() { pending.reset(); }

 private:
  TxnTransit transition_to(TxnState state, int64_t producer_id, int16_t epoch, int16_t last_epoch,
                           int32_t timeout_ms, TxnPartitions partitions, int64_t start_ms,
                           int64_t now_ms);
};

}  // namespace sluice::txn
