// Writing and reading the records of __transaction_state (Kafka's
// TransactionLog keyToBytes / valueToBytes / readTxnRecord*).
#include "txn/txn_records.h"

#include <map>
#include <vector>

#include "protocol/record_framing.h"

namespace sluice::txn {

namespace records = protocol::coordinator;

namespace {

constexpr int16_t key_version = 0;

std::vector<uint8_t> key_bytes(const std::string& transactional_id) {
  records::TransactionLogKey key;
  key.transactional_id = transactional_id;
  return records::encode_versioned(key, key_version);
}

}  // namespace

coordinator::CoordinatorRecord txn_record(const std::string& transactional_id,
                                          const TxnTransit& transit) {
  records::TransactionLogValue value;
  value.producer_id = transit.producer_id;
  value.producer_epoch = transit.producer_epoch;
  value.transaction_timeout_ms = transit.timeout_ms;
  value.transaction_status = static_cast<int8_t>(transit.state);
  value.transaction_last_update_timestamp_ms = transit.last_update_timestamp_ms;
  value.transaction_start_timestamp_ms = transit.start_timestamp_ms;
  value.client_transaction_version = transit.client_transaction_version;
  // Kafka writes a null partition list for Empty, the partitions grouped
  // by topic otherwise.
  if (transit.state == TxnState::empty) {
    value.transaction_partitions.reset();
  } else {
    std::map<std::string, std::vector<int32_t>> by_topic;
    for (const auto& partition : transit.partitions)
      by_topic[partition.topic].push_back(partition.partition);
    for (auto& [topic, ids] : by_topic) {
      records::TransactionLogValue::PartitionsSchema schema;
      schema.topic = topic;
      schema.partition_ids = std::move(ids);
      value.transaction_partitions->push_back(std::move(schema));
    }
  }
  // v0 (not flexible) until transactions v2 need the tagged client version,
  // as Kafka's transaction.version feature decides.
  const int16_t value_version = supports_epoch_bump(transit.client_transaction_version) ? 1 : 0;
  return {key_bytes(transactional_id), records::encode_versioned(value, value_version)};
}

coordinator::CoordinatorRecord txn_tombstone(const std::string& transactional_id) {
  return {key_bytes(transactional_id), std::nullopt};
}

Result<TxnLogEntry> decode_txn_record(Bytes key, std::optional<Bytes> value) {
  TxnLogEntry entry;
  WireReader key_reader(key);
  int16_t version = 0;
  if (Status status = records::read_version(key_reader, version); !status) return status;
  if (version != key_version)
    return Status(Errc::invalid_value,
                  "TransactionLogKey: unknown version " + std::to_string(version));
  records::TransactionLogKey parsed_key;
  if (Status status = parsed_key.decode(key_reader, version); !status) return status;
  entry.transactional_id = std::move(parsed_key.transactional_id);
  if (!value) return entry;
  WireReader reader(*value);
  if (Status status = records::read_version(reader, version); !status) return status;
  if (version < records::TransactionLogValue::min_version ||
      version > records::TransactionLogValue::max_version)
    return Status(Errc::invalid_value,
                  "TransactionLogValue: unknown version " + std::to_string(version));
  records::TransactionLogValue parsed;
  if (Status status = parsed.decode(reader, version); !status) return status;
  auto state = txn_state_from_id(parsed.transaction_status);
  if (!state)
    return Status(Errc::invalid_value, "TransactionLogValue: unknown transaction status " +
                                           std::to_string(parsed.transaction_status));
  TxnTransit transit;
  transit.producer_id = parsed.producer_id;
  transit.previous_producer_id = parsed.previous_producer_id;
  transit.next_producer_id = parsed.next_producer_id;
  transit.producer_epoch = parsed.producer_epoch;
  transit.timeout_ms = parsed.transaction_timeout_ms;
  transit.state = *state;
  if (parsed.transaction_partitions)
    for (const auto& topic : *parsed.transaction_partitions)
      for (int32_t id : topic.partition_ids) transit.partitions.insert({topic.topic, id});
  transit.last_update_timestamp_ms = parsed.transaction_last_update_timestamp_ms;
  transit.start_timestamp_ms = parsed.transaction_start_timestamp_ms;
  transit.client_transaction_version = parsed.client_transaction_version;
  entry.value = std::move(transit);
  return entry;
}

}  // namespace sluice::txn
