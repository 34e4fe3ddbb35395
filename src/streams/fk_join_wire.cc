#include "streams/fk_join_wire.h"

namespace sluice::streams::fkjoin {
namespace {

constexpr uint8_t kHashIsNull = 0x80;
constexpr uint8_t kVersionMask = 0x7f;
constexpr size_t kHashBytes = 16;

void put_int64(std::string& out, int64_t value) {
  auto bits = static_cast<uint64_t>(value);
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(bits >> shift));
}

void put_int32(std::string& out, int32_t value) {
  auto bits = static_cast<uint32_t>(value);
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(bits >> shift));
}

uint64_t get_big_endian(std::string_view bytes) {
  uint64_t value = 0;
  for (unsigned char byte : bytes) value = (value << 8) | byte;
  return value;
}

// Reads a layout front to back; running past the end is a SerializationError.
class Reader {
 public:
  Reader(std::string_view bytes, const char* what) : bytes_(bytes), what_(what) {}
  std::string_view take(size_t count) {
    if (count > bytes_.size()) {
      throw SerializationError(std::string(what_) + ": " + std::to_string(count) +
                               " bytes wanted, " + std::to_string(bytes_.size()) + " left");
    }
    std::string_view taken = bytes_.substr(0, count);
    bytes_.remove_prefix(count);
    return taken;
  }
  uint8_t byte() { return static_cast<uint8_t>(take(1)[0]); }
  Hash128 hash() {
    auto h1 = static_cast<int64_t>(get_big_endian(take(8)));
    auto h2 = static_cast<int64_t>(get_big_endian(take(8)));
    return {h1, h2};
  }
  size_t left() const { return bytes_.size(); }

 private:
  std::string_view bytes_;
  const char* what_;
};

// {1 bit hash-is-null}{7 bits version}, then the hash when present.
void put_version_and_hash(std::string& out, int8_t version, const std::optional<Hash128>& hash) {
  if (version < 0) throw SerializationError("a wrapper's version cannot be negative");
  if (hash) {
    out.push_back(static_cast<char>(version));
  } else {
    out.push_back(static_cast<char>(static_cast<uint8_t>(version) | kHashIsNull));
  }
}

void put_hash(std::string& out, const std::optional<Hash128>& hash) {
  if (!hash) return;
  put_int64(out, (*hash)[0]);
  put_int64(out, (*hash)[1]);
}

}  // namespace

const char* instruction_name(Instruction instruction) {
  switch (instruction) {
    case Instruction::delete_key_no_propagate:
      return "DELETE_KEY_NO_PROPAGATE";
    case Instruction::delete_key_and_propagate:
      return "DELETE_KEY_AND_PROPAGATE";
    case Instruction::propagate_null_if_no_fk_val_available:
      return "PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE";
    case Instruction::propagate_only_if_fk_val_available:
      return "PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE";
  }
  return "UNKNOWN";
}

std::string encode_subscription(const SubscriptionBytes& subscription) {
  if (subscription.version > kSubscriptionVersion) {
    throw SerializationError("Unsupported SubscriptionWrapper version " +
                             std::to_string(subscription.version));
  }
  std::string out;
  out.reserve(2 + kHashBytes + subscription.primary_key.size() + 4);
  put_version_and_hash(out, subscription.version, subscription.hash);
  out.push_back(static_cast<char>(subscription.instruction));
  put_hash(out, subscription.hash);
  out += subscription.primary_key;
  if (subscription.version >= 1) put_int32(out, subscription.primary_partition.value_or(-1));
  return out;
}

SubscriptionBytes decode_subscription(std::string_view bytes) {
  Reader in(bytes, "SubscriptionWrapper");
  SubscriptionBytes subscription;
  uint8_t first = in.byte();
  subscription.version = static_cast<int8_t>(first & kVersionMask);
  if (subscription.version > kSubscriptionVersion) {
    throw SerializationError("SubscriptionWrapper does not support version " +
                             std::to_string(subscription.version));
  }
  uint8_t instruction = in.byte();
  if (instruction > static_cast<uint8_t>(Instruction::propagate_only_if_fk_val_available)) {
    throw SerializationError("Unknown instruction byte value = " + std::to_string(instruction));
  }
  subscription.instruction = static_cast<Instruction>(instruction);
  if ((first & kHashIsNull) == 0) subscription.hash = in.hash();
  size_t partition_bytes = subscription.version >= 1 ? 4 : 0;
  if (in.left() < partition_bytes) throw SerializationError("SubscriptionWrapper: truncated");
  subscription.primary_key = std::string(in.take(in.left() - partition_bytes));
  if (partition_bytes != 0) {
    subscription.primary_partition = static_cast<int32_t>(get_big_endian(in.take(4)));
  }
  return subscription;
}

std::string encode_response(const ResponseBytes& response) {
  std::string out;
  put_version_and_hash(out, response.version, response.hash);
  put_hash(out, response.hash);
  if (response.foreign_value) out += *response.foreign_value;
  return out;
}

ResponseBytes decode_response(std::string_view bytes) {
  Reader in(bytes, "SubscriptionResponseWrapper");
  ResponseBytes response;
  uint8_t first = in.byte();
  response.version = static_cast<int8_t>(first & kVersionMask);
  if (response.version != kResponseVersion) {
    throw SerializationError("SubscriptionResponseWrapper is of an incompatible version.");
  }
  if ((first & kHashIsNull) == 0) response.hash = in.hash();
  // Kafka reads no bytes as null (an empty value too).
  if (in.left() > 0) response.foreign_value = std::string(in.take(in.left()));
  return response;
}

std::string combined_key_prefix(std::string_view foreign_key) {
  std::string out;
  out.reserve(4 + foreign_key.size());
  put_int32(out, static_cast<int32_t>(foreign_key.size()));
  out += foreign_key;
  return out;
}

std::string combined_key(std::string_view foreign_key, std::string_view primary_key) {
  std::string out = combined_key_prefix(foreign_key);
  out += primary_key;
  return out;
}

std::string_view primary_key_of(std::string_view combined) {
  Reader in(combined, "CombinedKey");
  auto length = static_cast<int32_t>(get_big_endian(in.take(4)));
  if (length < 0) throw SerializationError("CombinedKey: negative foreign key length");
  in.take(static_cast<size_t>(length));
  return combined.substr(4 + static_cast<size_t>(length));
}

std::string prefix_upper_bound(std::string prefix) {
  for (size_t i = prefix.size(); i-- > 0;) {
    auto byte = static_cast<uint8_t>(prefix[i]);
    if (byte != 0xff) {
      prefix[i] = static_cast<char>(byte + 1);
      return prefix;
    }
    prefix[i] = '\0';
  }
  throw SerializationError("a prefix of only 0xff bytes has no upper bound");
}

}  // namespace sluice::streams::fkjoin
