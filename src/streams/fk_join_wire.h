#pragma once
// The bytes a foreign-key join writes (Kafka's foreignkeyjoin package), so
// its internal topics and subscription store read as Kafka Streams' do:
//
//   SubscriptionWrapper (registration topic, subscription store), v1:
//     {1 bit hash-is-null}{7 bits version}{1 byte instruction}
//     {16 bytes hash: two big-endian longs, absent when null}
//     {primary key bytes}{4 bytes big-endian primary partition}
//     (v0 has no partition)
//   SubscriptionResponseWrapper (response topic), v0:
//     {1 bit hash-is-null}{7 bits version}{16 bytes hash, absent when null}
//     {foreign value bytes; none: null}
//   CombinedKey (the subscription store's key):
//     {4 bytes big-endian foreign key length}{foreign key bytes}{primary key bytes}
//
// Bytes that do not parse throw SerializationError (the deserialization
// handler decides), never crash.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "streams/murmur3.h"
#include "streams/serde.h"

namespace sluice::streams::fkjoin {

// What the other side does with a subscription (Kafka's Instruction).
enum class Instruction : uint8_t {
  delete_key_no_propagate = 0x00,                // unsubscribe, say nothing
  delete_key_and_propagate = 0x01,               // unsubscribe, send (key, null)
  propagate_null_if_no_fk_val_available = 0x02,  // subscribe, send the value or null
  propagate_only_if_fk_val_available = 0x03,     // subscribe, send the value if any
};

constexpr int8_t kSubscriptionVersion = 1;
constexpr int8_t kResponseVersion = 0;

struct SubscriptionBytes {
  int8_t version = kSubscriptionVersion;
  std::optional<Hash128> hash;
  Instruction instruction = Instruction::delete_key_no_propagate;
  std::string primary_key;
  std::optional<int32_t> primary_partition;  // v1 only
};

struct ResponseBytes {
  int8_t version = kResponseVersion;
  std::optional<Hash128> hash;
  std::optional<std::string> foreign_value;  // nullopt: null (also when empty)
};

std::string encode_subscription(const SubscriptionBytes& subscription);
SubscriptionBytes decode_subscription(std::string_view bytes);
std::string encode_response(const ResponseBytes& response);
ResponseBytes decode_response(std::string_view bytes);

std::string combined_key(std::string_view foreign_key, std::string_view primary_key);
std::string combined_key_prefix(std::string_view foreign_key);
// The primary key's bytes of a combined key.
std::string_view primary_key_of(std::string_view combined);
// The least key greater than every key with this prefix (Kafka's Bytes.increment).
std::string prefix_upper_bound(std::string prefix);

const char* instruction_name(Instruction instruction);

}  // namespace sluice::streams::fkjoin
