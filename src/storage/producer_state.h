#pragma once
// The producer state of one partition (Kafka's ProducerStateManager,
// ProducerStateEntry and ProducerAppendInfo): per producer id its epoch, the
// sequence and offset ranges of its last five batches, the coordinator epoch
// of its last transaction marker and the first offset of its ongoing
// transaction. Leader appends from clients are checked against it (sequence
// gaps, replays, old epochs); follower appends and recovery replay batches
// into it without checks, so every replica ends with the same state.
//
// A record set is checked as a whole before any of it is written: prepare()
// validates each batch against the state plus the earlier batches of the
// same set (ProducerUpdates), and apply() installs the result once the bytes
// are written. A refused set changes nothing.
//
// KIP-890 part 1 (Kafka's VerificationStateEntry and VerificationGuard): a
// client's transactional batch that starts a transaction on this partition
// is written only with the guard the leader took before asking the
// transaction coordinator whether the partition is in the transaction.
// Any transactional batch of the producer (its first data batch, or a
// marker) drops the guard, so an answer that arrives after a marker, or
// after a higher epoch started its own verification (a new guard), cannot
// open a transaction the coordinator does not know of.
//
// Concurrency: owned by the Log; called under the partition lock like the
// Log itself. Not thread-safe.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "record/batch.h"
#include "storage/checkpoint_file.h"

namespace sluice::storage {

// Where an append comes from (Kafka's AppendOrigin): it decides how much is
// checked. client: epoch and sequence; coordinator (the group coordinator's
// transactional offset commits, which carry no sequence): epoch only;
// replication (follower fetch, recovery, rebuild): nothing refused.
enum class AppendOrigin { client, coordinator, replication };

// The first sequence of a batch from its last sequence and offset delta
// (sequences wrap at INT32_MAX); -1 for a batch without sequences.
int32_t producer_first_sequence(int32_t last_sequence, int32_t offset_delta);

// Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN.
inline constexpr size_t producer_batches_retained = 5;

// Kafka's BatchMetadata: what a duplicate is answered with.
struct ProducerBatch {
  int32_t first_sequence = -1;
  int32_t last_sequence = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;
  int64_t timestamp_ms = -1;  // the batch's maxTimestamp as written
};

// The last batches of a producer, oldest first; adding a sixth drops the
// oldest. Fixed capacity: copying an entry allocates nothing.
class ProducerBatches {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  const ProducerBatch& operator[](size_t i) const {
    return slots_[(start_ + i) % producer_batches_retained];
  }
  const ProducerBatch& front() const { return (*this)[0]; }
  const ProducerBatch& back() const { return (*this)[size_ - 1]; }
  void push_back(const ProducerBatch& batch);
  void clear() { start_ = size_ = 0; }

 private:
  std::array<ProducerBatch, producer_batches_retained> slots_{};
  size_t start_ = 0;
  size_t size_ = 0;
};

struct ProducerEntry {
  int64_t producer_id = record::no_producer_id;
  int16_t producer_epoch = record::no_producer_epoch;
  int32_t coordinator_epoch = -1;
  int64_t last_timestamp_ms = -1;
  std::optional<int64_t> current_txn_first_offset;
  ProducerBatches batches;

  int32_t first_sequence() const { return batches.empty() ? -1 : batches.front().first_sequence; }
  int32_t last_sequence() const { return batches.empty() ? -1 : batches.back().last_sequence; }
  int64_t last_data_offset() const { return batches.empty() ? -1 : batches.back().last_offset; }
  // The retained batch with exactly the sequence range of `batch`, in the
  // same epoch (Kafka's findDuplicateBatch).
  std::optional<ProducerBatch> find_duplicate(const record::BatchHeader& batch) const;
  // A new epoch forgets the batches of the old one (maybeUpdateProducerEpoch).
  void set_epoch(int16_t epoch);
  void add_batch(int16_t epoch, const ProducerBatch& batch);
};

// A commit or abort marker's content (record/control_batch.h decodes it).
struct TxnMarker {
  bool commit = false;
  int32_t coordinator_epoch = -1;
};

// The marker a control batch (exactly its bytes) carries; nullopt for a
// control batch without records (the cleaner removed its transaction).
// Errc::invalid_value for another control type, or a malformed record.
Result<std::optional<TxnMarker>> txn_marker_of(Bytes batch);

// A transaction a marker ended (Kafka's CompletedTxn).
struct CompletedTxn {
  int64_t producer_id = -1;
  int64_t first_offset = -1;
  int64_t last_offset = -1;  // the marker's offset
  bool aborted = false;
};

// Kafka's VerificationGuard: a value unique in the process; 0 is the
// sentinel, which verifies nothing.
using VerificationGuard = uint64_t;
inline constexpr VerificationGuard no_verification_guard = 0;

// What a client's leader append shows for its transactional batches:
// `required` when transaction.partition.verification.enable is on (and the
// append is a Produce); `guard` the one start_verification() gave it, or
// the sentinel when the transaction was already ongoing then.
struct AppendVerification {
  bool required = false;
  VerificationGuard guard = no_verification_guard;
  bool operator==(const AppendVerification&) const = default;
};

// A verification in progress for one producer (VerificationStateEntry).
struct VerificationEntry {
  VerificationGuard guard = no_verification_guard;
  int64_t started_ms = -1;       // expires like an idle producer
  int32_t lowest_sequence = -1;  // of the batches waiting for it
  int16_t epoch = -1;
};

// Why a record set was refused: Kafka's error code and message.
struct ProducerError {
  ErrorCode code = ErrorCode::NONE;
  std::string message;
  explicit operator bool() const { return code != ErrorCode::NONE; }
};

// One producer's part of a record set being checked (ProducerAppendInfo).
struct ProducerUpdate {
  int64_t producer_id = -1;
  ProducerEntry current;  // the state before this set (empty if unknown)
  ProducerEntry updated;  // epoch, coordinator epoch, transaction; batches of this set only
  std::vector<int64_t> started_txns;  // first offsets of transactions this set begins
  bool transactional = false;         // a transactional batch: its verification ends
  std::vector<CompletedTxn> completed_txns;
};

// The producers of one record set; usually one.
using ProducerUpdates = std::vector<ProducerUpdate>;

class ProducerStateManager {
 public:
  explicit ProducerStateManager(TopicPartition tp) : tp_(std::move(tp)) {}

  const ProducerEntry* find(int64_t producer_id) const;
  const std::map<int64_t, ProducerEntry>& producers() const { return producers_; }
  size_t size() const { return producers_.size(); }

  // A client's retry of one of the producer's retained batches (Kafka's
  // analyzeAndValidateProducerState looks it up before any check).
  std::optional<ProducerBatch> find_duplicate(const record::BatchHeader& batch) const;

  // Checks `batch` (offsets assigned; a batch with a producer id) on top of
  // the state and `updates`, and records it in `updates`. `marker`: the
  // content of a control batch (nullopt for data, or a control batch with
  // no record, which changes nothing). Errors only for origin client
  // (and coordinator: epochs and coordinator epochs). `verification`: a
  // client's transactional batch that opens a transaction needs the guard
  // of the producer's verification (INVALID_TXN_STATE otherwise).
  ProducerError prepare(const record::BatchHeader& batch, const std::optional<TxnMarker>& marker,
                        AppendOrigin origin, ProducerUpdates& updates,
                        const AppendVerification& verification = {}) const;
  // Installs `updates` (the set is written) and moves the map end offset.
  // Returns the transactions the set completed.
  std::vector<CompletedTxn> apply(ProducerUpdates& updates, int64_t next_offset);

  // The offset up to which the state covers the log (Kafka's mapEndOffset).
  int64_t map_end_offset() const { return map_end_offset_; }
  void set_map_end_offset(int64_t offset) { map_end_offset_ = offset; }

  // Every producer forgotten; the state restarts at `offset`.
  void clear(int64_t offset);
  // Loads a snapshot's entries (the state must be empty); the state then
  // covers the log up to `offset`.
  void load(std::vector<ProducerEntry> entries, int64_t offset);
  // Forgets producers idle for `expiration_ms` (by their last batch's
  // timestamp) with no ongoing transaction (Kafka's removeExpiredProducers,
  // producer.id.expiration.ms). Returns how many went.
  size_t remove_expired(int64_t now_ms, int64_t expiration_ms);
  // The log start moved up: ongoing transactions wholly below it are
  // forgotten (Kafka keeps the producers: their sequences stay checked).
  void on_log_start_offset_incremented(int64_t log_start_offset);

  // Whether the producer has a transaction ongoing in `epoch` here.
  bool has_ongoing_txn(int64_t producer_id, int16_t epoch) const;
  // Kafka's maybeStartTransactionVerification: the sentinel when the
  // producer's transaction is already ongoing here (nothing to verify),
  // else the guard of its verification, created if none is in progress
  // (a higher epoch gets a new guard; the lowest sequence waiting is kept).
  VerificationGuard start_verification(int64_t producer_id, int32_t sequence, int16_t epoch,
                                       int64_t now_ms);
  const VerificationEntry* verification(int64_t producer_id) const;

  // First offsets of ongoing transactions, lowest first.
  const std::map<int64_t, int64_t>& ongoing_txns() const { return ongoing_txns_; }

 private:
  ProducerError check_epoch(const ProducerUpdate& update, int16_t epoch, int64_t offset,
                            AppendOrigin origin) const;
  ProducerError check_sequence(const ProducerUpdate& update, int16_t epoch, int32_t first_sequence,
                               int64_t offset) const;
  ProducerError check_verified(const ProducerUpdate& update, const record::BatchHeader& batch,
                               const AppendVerification& verification) const;
  ProducerError append_data(ProducerUpdate& update, const record::BatchHeader& batch,
                            AppendOrigin origin, const AppendVerification& verification) const;
  ProducerError append_marker(ProducerUpdate& update, const record::BatchHeader& batch,
                              const TxnMarker& marker, AppendOrigin origin) const;
  std::string where(int64_t producer_id, int64_t offset) const;

  TopicPartition tp_;
  std::map<int64_t, ProducerEntry> producers_;
  std::map<int64_t, int64_t> ongoing_txns_;  // first offset -> producer id
  std::map<int64_t, VerificationEntry> verifications_;  // by producer id
  int64_t map_end_offset_ = 0;
};

}  // namespace sluice::storage
