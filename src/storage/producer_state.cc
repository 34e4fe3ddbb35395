#include "storage/producer_state.h"

#include <algorithm>
#include <atomic>
#include <limits>

#include "record/record_reader.h"

namespace sluice::storage {

namespace {

// Kafka's DefaultRecordBatch.decrementSequence: sequences wrap at INT32_MAX.
int32_t decrement_sequence(int32_t sequence, int32_t decrement) {
  if (sequence < decrement) return std::numeric_limits<int32_t>::max() - (decrement - sequence) + 1;
  return sequence - decrement;
}

bool in_sequence(int32_t last_sequence, int32_t next_sequence) {
  return static_cast<int64_t>(next_sequence) == static_cast<int64_t>(last_sequence) + 1 ||
         (next_sequence == 0 && last_sequence == std::numeric_limits<int32_t>::max());
}

ProducerBatch batch_metadata(const record::BatchHeader& batch) {
  ProducerBatch out;
  out.last_sequence = batch.last_sequence();
  out.first_sequence = producer_first_sequence(out.last_sequence, batch.last_offset_delta);
  out.first_offset = batch.base_offset;
  out.last_offset = batch.last_offset();
  out.timestamp_ms = batch.max_timestamp;
  return out;
}

// Guards are unique in the process (Kafka's incrementing id): a guard of
// one verification can never pass for another's, even across partitions.
VerificationGuard next_verification_guard() {
  static std::atomic<VerificationGuard> last{no_verification_guard};
  return last.fetch_add(1, std::memory_order_relaxed) + 1;
}

}  // namespace

int32_t producer_first_sequence(int32_t last_sequence, int32_t offset_delta) {
  if (last_sequence < 0) return record::no_sequence;
  return decrement_sequence(last_sequence, offset_delta);
}

Result<std::optional<TxnMarker>> txn_marker_of(Bytes batch) {
  auto reader = record::RecordReader::open(batch);
  if (!reader) return reader.status();
  record::Record record;
  if (!reader->next(record)) {
    if (!reader->status()) return reader->status();
    return std::optional<TxnMarker>();
  }
  if (!record.key || !record.value)
    return Status(Errc::invalid_value, "a control record without key or value");
  auto key = record::parse_control_key(*record.key);
  if (!key) return key.status();
  if (key->type != record::ControlType::commit && key->type != record::ControlType::abort)
    return Status(Errc::invalid_value, "control record type " +
                                           std::to_string(static_cast<int16_t>(key->type)) +
                                           " is not a transaction marker");
  auto value = record::parse_end_txn_marker(*record.value);
  if (!value) return value.status();
  return std::optional<TxnMarker>(
      TxnMarker{key->type == record::ControlType::commit, value->coordinator_epoch});
}

void ProducerBatches::push_back(const ProducerBatch& batch) {
  if (size_ == producer_batches_retained) {
    slots_[start_] = batch;
    start_ = (start_ + 1) % producer_batches_retained;
    return;
  }
  slots_[(start_ + size_) % producer_batches_retained] = batch;
  ++size_;
}

std::optional<ProducerBatch> ProducerEntry::find_duplicate(const record::BatchHeader& batch) const {
  if (batch.producer_epoch != producer_epoch) return std::nullopt;
  const int32_t last = batch.last_sequence();
  for (size_t i = 0; i < batches.size(); ++i)
    if (batches[i].first_sequence == batch.base_sequence && batches[i].last_sequence == last)
      return batches[i];
  return std::nullopt;
}

void ProducerEntry::set_epoch(int16_t epoch) {
  if (producer_epoch == epoch) return;
  batches.clear();
  producer_epoch = epoch;
}

void ProducerEntry::add_batch(int16_t epoch, const ProducerBatch& batch) {
  set_epoch(epoch);
  batches.push_back(batch);
  last_timestamp_ms = batch.timestamp_ms;
}

const ProducerEntry* ProducerStateManager::find(int64_t producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? nullptr : &it->second;
}

std::optional<ProducerBatch> ProducerStateManager::find_duplicate(
    const record::BatchHeader& batch) const {
  const ProducerEntry* entry = find(batch.producer_id);
  if (!entry) return std::nullopt;
  return entry->find_duplicate(batch);
}

std::string ProducerStateManager::where(int64_t producer_id, int64_t offset) const {
  return "producer " + std::to_string(producer_id) + " at offset " + std::to_string(offset) +
         " in partition " + tp_.topic + "-" + std::to_string(tp_.partition);
}

ProducerError ProducerStateManager::check_epoch(const ProducerUpdate& update, int16_t epoch,
                                                int64_t offset, AppendOrigin origin) const {
  if (epoch >= update.updated.producer_epoch || origin == AppendOrigin::replication) return {};
  // Kafka answers INVALID_PRODUCER_EPOCH here since 2.7 (not PRODUCER_FENCED,
  // which is fatal to the client): the producer aborts and retries.
  return {ErrorCode::INVALID_PRODUCER_EPOCH, "Epoch of " + where(update.producer_id, offset) +
                                                 " is " + std::to_string(epoch) +
                                                 ", which is smaller than the last seen epoch " +
                                                 std::to_string(update.updated.producer_epoch)};
}

ProducerError ProducerStateManager::check_sequence(const ProducerUpdate& update, int16_t epoch,
                                                   int32_t first_sequence, int64_t offset) const {
  const ProducerEntry& updated = update.updated;
  const ProducerEntry& current = update.current;
  // Kafka's guard against an OUT_OF_ORDER_SEQUENCE loop: while a
  // verification is in progress, no batch after the lowest one waiting for
  // it may be written before it.
  if (const VerificationEntry* waiting = verification(update.producer_id);
      waiting && first_sequence > waiting->lowest_sequence)
    return {ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            "Out of order sequence number for " + where(update.producer_id, offset) + ": " +
                std::to_string(first_sequence) + " (incoming seq. number), " +
                std::to_string(waiting->lowest_sequence) + " (earliest seen sequence)"};
  if (epoch != updated.producer_epoch) {
    // A new epoch starts at sequence 0, except for a producer this
    // partition knows nothing of (its batches were all deleted, or it
    // expired): any sequence is taken then (KIP-360).
    if (first_sequence != 0 && updated.producer_epoch != record::no_producer_epoch)
      return {ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
              "Invalid sequence number for new epoch of " + where(update.producer_id, offset) +
                  ": " + std::to_string(epoch) + " (request epoch), " +
                  std::to_string(first_sequence) + " (seq. number), " +
                  std::to_string(updated.producer_epoch) + " (current producer epoch)"};
    return {};
  }
  int32_t last_sequence = record::no_sequence;
  if (!updated.batches.empty())
    last_sequence = updated.last_sequence();
  else if (epoch == current.producer_epoch)
    last_sequence = current.last_sequence();
  if (current.producer_epoch == record::no_producer_epoch ||
      in_sequence(last_sequence, first_sequence))
    return {};
  return {ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
          "Out of order sequence number for " + where(update.producer_id, offset) + ": " +
              std::to_string(first_sequence) + " (incoming seq. number), " +
              std::to_string(last_sequence) + " (current end sequence number)"};
}

// Kafka's check in analyzeAndValidateProducerState: a transactional batch
// that would open a transaction must carry the guard of the producer's
// verification; an ongoing transaction (in the batch's epoch) needs none.
ProducerError ProducerStateManager::check_verified(const ProducerUpdate& update,
                                                   const record::BatchHeader& batch,
                                                   const AppendVerification& verification) const {
  if (!verification.required || !batch.is_transactional()) return {};
  if (has_ongoing_txn(update.producer_id, batch.producer_epoch)) return {};
  const VerificationEntry* entry = this->verification(update.producer_id);
  if (verification.guard != no_verification_guard && entry && entry->guard == verification.guard)
    return {};
  return {ErrorCode::INVALID_TXN_STATE, "Record was not part of an ongoing transaction (" +
                                            where(update.producer_id, batch.base_offset) + ")"};
}

ProducerError ProducerStateManager::append_data(ProducerUpdate& update,
                                                const record::BatchHeader& batch,
                                                AppendOrigin origin,
                                                const AppendVerification& verification) const {
  // Kafka checks this first (analyzeAndValidateProducerState), before the
  // producer's epoch and sequence.
  if (origin == AppendOrigin::client)
    if (ProducerError e = check_verified(update, batch, verification); e) return e;
  if (ProducerError e = check_epoch(update, batch.producer_epoch, batch.base_offset, origin); e)
    return e;
  if (origin == AppendOrigin::client)
    if (ProducerError e =
            check_sequence(update, batch.producer_epoch, batch.base_sequence, batch.base_offset);
        e)
      return e;
  ProducerEntry& updated = update.updated;
  if (updated.current_txn_first_offset && !batch.is_transactional()) {
    if (origin != AppendOrigin::replication)
      return {ErrorCode::INVALID_TXN_STATE,
              "Expected transactional write from " + where(update.producer_id, batch.base_offset)};
  } else if (!updated.current_txn_first_offset && batch.is_transactional()) {
    updated.current_txn_first_offset = batch.base_offset;
    update.started_txns.push_back(batch.base_offset);
  }
  updated.add_batch(batch.producer_epoch, batch_metadata(batch));
  return {};
}

ProducerError ProducerStateManager::append_marker(ProducerUpdate& update,
                                                  const record::BatchHeader& batch,
                                                  const TxnMarker& marker,
                                                  AppendOrigin origin) const {
  if (ProducerError e = check_epoch(update, batch.producer_epoch, batch.base_offset, origin); e)
    return e;
  ProducerEntry& updated = update.updated;
  if (updated.coordinator_epoch > marker.coordinator_epoch && origin != AppendOrigin::replication)
    return {ErrorCode::TRANSACTION_COORDINATOR_FENCED,
            "Invalid coordinator epoch for " + where(update.producer_id, batch.base_offset) + ": " +
                std::to_string(marker.coordinator_epoch) + " (zombie), " +
                std::to_string(updated.coordinator_epoch) + " (current)"};
  // Only a transaction with data completes: an empty one moves no LSO and
  // has no place in the transaction index.
  if (updated.current_txn_first_offset)
    update.completed_txns.push_back(
        {update.producer_id, *updated.current_txn_first_offset, batch.base_offset, !marker.commit});
  updated.set_epoch(batch.producer_epoch);
  updated.coordinator_epoch = marker.coordinator_epoch;
  updated.current_txn_first_offset.reset();
  updated.last_timestamp_ms = batch.max_timestamp;
  return {};
}

ProducerError ProducerStateManager::prepare(const record::BatchHeader& batch,
                                            const std::optional<TxnMarker>& marker,
                                            AppendOrigin origin, ProducerUpdates& updates,
                                            const AppendVerification& verification) const {
  auto it = std::find_if(updates.begin(), updates.end(), [&](const ProducerUpdate& u) {
    return u.producer_id == batch.producer_id;
  });
  if (it == updates.end()) {
    ProducerUpdate update;
    update.producer_id = batch.producer_id;
    if (const ProducerEntry* entry = find(batch.producer_id)) update.current = *entry;
    update.current.producer_id = batch.producer_id;
    update.updated = update.current;
    update.updated.batches.clear();
    updates.push_back(std::move(update));
    it = std::prev(updates.end());
  }
  // Kafka's updateProducers: any transactional batch (data, or a marker)
  // ends the producer's verification once the set is written.
  if (batch.is_transactional()) it->transactional = true;
  if (batch.is_control()) {
    // A control batch without a record: its transaction was cleaned away.
    if (!marker) return {};
    return append_marker(*it, batch, *marker, origin);
  }
  return append_data(*it, batch, origin, verification);
}

bool ProducerStateManager::has_ongoing_txn(int64_t producer_id, int16_t epoch) const {
  const ProducerEntry* entry = find(producer_id);
  return entry && entry->current_txn_first_offset && entry->producer_epoch == epoch;
}

VerificationGuard ProducerStateManager::start_verification(int64_t producer_id, int32_t sequence,
                                                           int16_t epoch, int64_t now_ms) {
  if (has_ongoing_txn(producer_id, epoch)) return no_verification_guard;
  auto [it, created] = verifications_.try_emplace(producer_id);
  VerificationEntry& entry = it->second;
  if (created || epoch > entry.epoch) {
    // A higher epoch gets a guard of its own: an answer for the older
    // epoch's verification then opens nothing.
    entry = {next_verification_guard(), now_ms, sequence, epoch};
  } else if (epoch == entry.epoch && sequence < entry.lowest_sequence) {
    entry.lowest_sequence = sequence;
  }
  return entry.guard;
}

const VerificationEntry* ProducerStateManager::verification(int64_t producer_id) const {
  auto it = verifications_.find(producer_id);
  return it == verifications_.end() ? nullptr : &it->second;
}

std::vector<CompletedTxn> ProducerStateManager::apply(ProducerUpdates& updates,
                                                      int64_t next_offset) {
  std::vector<CompletedTxn> completed;
  for (ProducerUpdate& update : updates) {
    auto [it, inserted] = producers_.try_emplace(update.producer_id, update.updated);
    if (!inserted) {
      ProducerEntry& entry = it->second;
      const ProducerEntry& next = update.updated;
      entry.set_epoch(next.producer_epoch);
      for (size_t i = 0; i < next.batches.size(); ++i) entry.batches.push_back(next.batches[i]);
      entry.coordinator_epoch = next.coordinator_epoch;
      entry.current_txn_first_offset = next.current_txn_first_offset;
      entry.last_timestamp_ms = next.last_timestamp_ms;
    }
    if (update.transactional) verifications_.erase(update.producer_id);
    for (int64_t first : update.started_txns) ongoing_txns_[first] = update.producer_id;
    for (const CompletedTxn& txn : update.completed_txns) {
      ongoing_txns_.erase(txn.first_offset);
      completed.push_back(txn);
    }
  }
  map_end_offset_ = std::max(map_end_offset_, next_offset);
  return completed;
}

void ProducerStateManager::clear(int64_t offset) {
  producers_.clear();
  ongoing_txns_.clear();
  map_end_offset_ = offset;
}

void ProducerStateManager::load(std::vector<ProducerEntry> entries, int64_t offset) {
  for (ProducerEntry& entry : entries) {
    if (entry.current_txn_first_offset)
      ongoing_txns_[*entry.current_txn_first_offset] = entry.producer_id;
    const int64_t producer_id = entry.producer_id;
    producers_[producer_id] = entry;
  }
  map_end_offset_ = offset;
}

size_t ProducerStateManager::remove_expired(int64_t now_ms, int64_t expiration_ms) {
  // Verifications whose answer never came (Kafka expires them alike).
  std::erase_if(verifications_,
                [&](const auto& item) { return now_ms - item.second.started_ms >= expiration_ms; });
  return std::erase_if(producers_, [&](const auto& item) {
    const ProducerEntry& entry = item.second;
    return !entry.current_txn_first_offset && now_ms - entry.last_timestamp_ms >= expiration_ms;
  });
}

void ProducerStateManager::on_log_start_offset_incremented(int64_t log_start_offset) {
  map_end_offset_ = std::max(map_end_offset_, log_start_offset);
}

}  // namespace sluice::storage
