#pragma once
// Which partition of a coordinator topic a key lives in, as Kafka computes it
// for both coordinators: Utils.abs(key.hashCode()) % partitions, with Java's
// String.hashCode. A group of __consumer_offsets and a transactional id of
// __transaction_state must land where Kafka puts them, so a cluster mixing
// Sluice and Kafka tools (or a log copied between them) agrees.

#include <cstdint>
#include <string>

namespace sluice::coordinator {

// Java's String.hashCode over the UTF-16 code units of `text` (UTF-8 here).
int32_t java_string_hash(const std::string& text);
// Utils.abs(java_string_hash(key)) % partitions (Integer.MIN_VALUE maps to 0).
int32_t partition_for_key(const std::string& key, int32_t partitions);

}  // namespace sluice::coordinator
