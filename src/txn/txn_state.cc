// Kafka's TransactionMetadata transitions (see txn_state.h).
#include "txn/txn_state.h"

#include <array>

#include "base/assert.h"

namespace sluice::txn {

namespace {

constexpr std::array<const char*, 8> state_names = {
    "Empty",          "Ongoing",       "PrepareCommit", "PrepareAbort",
    "CompleteCommit", "CompleteAbort", "Dead",          "PrepareEpochFence"};

}  // namespace

const char* txn_state_name(TxnState state) { return state_names[static_cast<size_t>(state)]; }

std::optional<TxnState> txn_state_from_name(std::string_view name) {
  for (size_t i = 0; i < state_names.size(); ++i)
    if (name == state_names[i]) return static_cast<TxnState>(i);
  return std::nullopt;
}

std::optional<TxnState> txn_state_from_id(int8_t id) {
  if (id < 0 || id > static_cast<int8_t>(TxnState::prepare_epoch_fence)) return std::nullopt;
  return static_cast<TxnState>(id);
}

bool valid_transition(TxnState from, TxnState to) {
  using enum TxnState;
  switch (to) {
    case empty:
      return from == empty || from == complete_commit || from == complete_abort;
    case ongoing:
      return from == ongoing || from == empty || from == complete_commit || from == complete_abort;
    case prepare_commit:
      return from == ongoing;
    case prepare_abort:
      return from == ongoing || from == prepare_epoch_fence;
    case complete_commit:
      return from == prepare_commit;
    case complete_abort:
      return from == prepare_abort;
    case dead:
      return from == empty || from == complete_commit || from == complete_abort;
    case prepare_epoch_fence:
      return from == ongoing;
  }
  return false;
}

bool expiration_allowed(TxnState state) {
  return state == TxnState::empty || state == TxnState::complete_commit ||
         state == TxnState::complete_abort;
}

TxnTransit TxnMetadata::transition_to(TxnState state, int64_t producer_id, int16_t epoch,
                                      int16_t last_epoch, int32_t timeout_ms,
                                      TxnPartitions partitions, int64_t start_ms, int64_t now_ms) {
  SLUICE_ASSERT(!pending, "a transition is prepared while another is pending");
  SLUICE_ASSERT(producer_id >= 0, "a transaction's producer id is never negative");
  SLUICE_ASSERT(state == TxnState::dead || epoch >= 0, "only Dead may have no producer epoch");
  SLUICE_ASSERT(valid_transition(current.state, state), "a transition Kafka does not allow");
  TxnTransit transit;
  transit.producer_id = producer_id;
  transit.previous_producer_id = current.producer_id;
  transit.producer_epoch = epoch;
  transit.last_producer_epoch = last_epoch;
  transit.timeout_ms = timeout_ms;
  transit.state = state;
  transit.partitions = std::move(partitions);
  transit.start_timestamp_ms = start_ms;
  transit.last_update_timestamp_ms = now_ms;
  transit.client_transaction_version = current.client_transaction_version;
  pending = state;
  return transit;
}

TxnTransit TxnMetadata::prepare_fence_epoch() {
  SLUICE_ASSERT(current.producer_epoch < INT16_MAX, "fencing would overflow the producer epoch");
  // A fence whose write failed already bumped the epoch in memory, never
  // returned to any client: reuse it rather than burn another.
  const auto bumped = failed_epoch_fence ? current.producer_epoch
                                         : static_cast<int16_t>(current.producer_epoch + 1);
  return transition_to(TxnState::prepare_epoch_fence, current.producer_id, bumped,
                       no_producer_epoch, current.timeout_ms, current.partitions,
                       current.start_timestamp_ms, current.last_update_timestamp_ms);
}

ErrorCode TxnMetadata::prepare_increment_epoch(int32_t timeout_ms,
                                               std::optional<int16_t> expected_epoch,
                                               int64_t now_ms, TxnTransit& out) {
  SLUICE_ASSERT(!epoch_exhausted(current.producer_epoch), "no producer epoch left to bump to");
  const auto bumped = static_cast<int16_t>(current.producer_epoch + 1);
  int16_t epoch = bumped;
  int16_t last_epoch = no_producer_epoch;  // a new producer: no retry may follow
  if (expected_epoch) {
    if (current.producer_epoch == no_producer_epoch || *expected_epoch == current.producer_epoch) {
      last_epoch = current.producer_epoch;  // a producer recovering (KIP-360)
    } else if (*expected_epoch == current.last_producer_epoch) {
      // A retry of a bump that succeeded: answered the same epoch again.
      epoch = current.producer_epoch;
      last_epoch = current.last_producer_epoch;
    } else {
      return ErrorCode::PRODUCER_FENCED;
    }
  }
  out = transition_to(TxnState::empty, current.producer_id, epoch, last_epoch, timeout_ms, {}, -1,
                      now_ms);
  return ErrorCode::NONE;
}

TxnTransit TxnMetadata::prepare_producer_id_rotation(int64_t new_producer_id, int32_t timeout_ms,
                                                     int64_t now_ms, bool record_last_epoch) {
  SLUICE_ASSERT(current.state != TxnState::ongoing && current.state != TxnState::prepare_commit &&
                    current.state != TxnState::prepare_abort,
                "the producer id rotates only between transactions");
  return transition_to(TxnState::empty, new_producer_id, 0,
                       record_last_epoch ? current.producer_epoch : no_producer_epoch, timeout_ms,
                       {}, -1, now_ms);
}

TxnTransit TxnMetadata::prepare_add_partitions(const TxnPartitions& added, int64_t now_ms,
                                               std::optional<int16_t> client_transaction_version) {
  const bool starts = current.state == TxnState::empty ||
                      current.state == TxnState::complete_commit ||
                      current.state == TxnState::complete_abort;
  TxnPartitions partitions = current.partitions;
  partitions.insert(added.begin(), added.end());
  TxnTransit transit =
      transition_to(TxnState::ongoing, current.producer_id, current.producer_epoch,
                    current.last_producer_epoch, current.timeout_ms, std::move(partitions),
                    starts ? now_ms : current.start_timestamp_ms, now_ms);
  if (client_transaction_version) transit.client_transaction_version = *client_transaction_version;
  return transit;
}

TxnTransit TxnMetadata::prepare_abort_or_commit(TxnState next, int16_t client_transaction_version,
                                                int64_t next_producer_id, int64_t now_ms) {
  // Transactions v2 bump the epoch at each end (checked not to overflow by
  // the caller, which takes a new producer id when exhausted).
  const bool bump = supports_epoch_bump(client_transaction_version);
  const auto epoch =
      bump ? static_cast<int16_t>(current.producer_epoch + 1) : current.producer_epoch;
  const int16_t last_epoch = bump ? current.producer_epoch : current.last_producer_epoch;
  TxnTransit transit =
      transition_to(next, current.producer_id, epoch, last_epoch, current.timeout_ms,
                    current.partitions, current.start_timestamp_ms, now_ms);
  transit.next_producer_id = next_producer_id;
  transit.client_transaction_version = client_transaction_version;
  return transit;
}

TxnTransit TxnMetadata::prepare_complete(int64_t now_ms) {
  const TxnState next = current.state == TxnState::prepare_commit ? TxnState::complete_commit
                                                                  : TxnState::complete_abort;
  // The prepare record is durable: a failed fence is behind us.
  failed_epoch_fence = false;
  int64_t producer_id = current.producer_id;
  int16_t epoch = current.producer_epoch;
  // TV2 with the epoch exhausted: the new producer id takes over now that
  // the markers (with the old one) are written.
  if (supports_epoch_bump(current.client_transaction_version) &&
      current.next_producer_id != no_producer_id) {
    producer_id = current.next_producer_id;
    epoch = 0;
  }
  TxnTransit transit = transition_to(next, producer_id, epoch, current.producer_epoch,
                                     current.timeout_ms, {}, current.start_timestamp_ms, now_ms);
  transit.client_transaction_version = current.client_transaction_version;
  return transit;
}

TxnTransit TxnMetadata::prepare_dead() {
  return transition_to(TxnState::dead, current.producer_id, current.producer_epoch,
                       current.last_producer_epoch, current.timeout_ms, {},
                       current.start_timestamp_ms, current.last_update_timestamp_ms);
}

void TxnMetadata::complete_transition(const TxnTransit& transit) {
  SLUICE_ASSERT(pending == transit.state, "a transition completes that was not the pending one");
  pending.reset();
  // Kafka's completeTransitionTo: InitProducerId (to Empty) and a TV2
  // rotation move the previous producer id to the one before (a producer
  // whose epoch was exhausted may still present that one).
  const bool moves = transit.state == TxnState::empty || transit.producer_id != current.producer_id;
  const int64_t previous = moves ? transit.previous_producer_id : current.previous_producer_id;
  current = transit;
  current.previous_producer_id = previous;
}

}  // namespace sluice::txn
