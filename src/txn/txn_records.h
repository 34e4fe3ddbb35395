#pragma once
// The records of __transaction_state (Kafka's TransactionLog,
// src/protocol/schema/coordinator_records.json): key TransactionLogKey v0
// (the transactional id), value TransactionLogValue v0, or v1 (flexible,
// with the client's transaction version) for transactions v2 (KIP-890);
// every version is read. A tombstone (null value) removes an expired id.

#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/result.h"
#include "coordinator/coordinator_runtime.h"
#include "txn/txn_state.h"

namespace sluice::txn {

coordinator::CoordinatorRecord txn_record(const std::string& transactional_id,
                                          const TxnTransit& transit);
coordinator::CoordinatorRecord txn_tombstone(const std::string& transactional_id);

// A decoded record: the id, and its state (none: a tombstone). The value's
// last epoch is unknown (-1), as in Kafka; an unknown status id fails.
struct TxnLogEntry {
  std::string transactional_id;
  std::optional<TxnTransit> value;
};
Result<TxnLogEntry> decode_txn_record(Bytes key, std::optional<Bytes> value);

}  // namespace sluice::txn
