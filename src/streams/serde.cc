#include "streams/serde.h"

#include <bit>
#include <cstring>

namespace sluice::streams::serdes {
namespace {

std::string_view require_bytes(std::optional<std::string_view> bytes, const char* type) {
  if (!bytes) throw SerializationError(std::string("null bytes for a non-nullable ") + type);
  return *bytes;
}

template <class Unsigned>
std::string big_endian(Unsigned value) {
  std::string out(sizeof(Unsigned), '\0');
  for (size_t i = 0; i < sizeof(Unsigned); ++i) {
    out[sizeof(Unsigned) - 1 - i] = static_cast<char>(value & 0xff);
    value = static_cast<Unsigned>(value >> 8);
  }
  return out;
}

template <class Unsigned>
Unsigned from_big_endian(std::string_view bytes, const char* type) {
  if (bytes.size() != sizeof(Unsigned)) {
    // Kafka's message: "Size of data received by IntegerDeserializer is not 4".
    throw SerializationError(std::string("Size of data received by ") + type + " is not " +
                             std::to_string(sizeof(Unsigned)));
  }
  Unsigned value = 0;
  for (unsigned char byte : bytes) value = static_cast<Unsigned>((value << 8) | byte);
  return value;
}

template <class Signed, class Unsigned>
Serde<Signed> integral(const char* deserializer_name) {
  return {[](const std::string&, const Signed& value) -> std::optional<std::string> {
            return big_endian(static_cast<Unsigned>(value));
          },
          [deserializer_name](const std::string&, std::optional<std::string_view> bytes) {
            return static_cast<Signed>(from_big_endian<Unsigned>(
                require_bytes(bytes, deserializer_name), deserializer_name));
          }};
}

template <class Floating, class Unsigned>
Serde<Floating> floating(const char* deserializer_name) {
  static_assert(sizeof(Floating) == sizeof(Unsigned));
  return {[](const std::string&, const Floating& value) -> std::optional<std::string> {
            return big_endian(std::bit_cast<Unsigned>(value));
          },
          [deserializer_name](const std::string&, std::optional<std::string_view> bytes) {
            return std::bit_cast<Floating>(from_big_endian<Unsigned>(
                require_bytes(bytes, deserializer_name), deserializer_name));
          }};
}

Serde<std::string> text() {
  return {[](const std::string&, const std::string& value) -> std::optional<std::string> {
            return value;
          },
          [](const std::string&, std::optional<std::string_view> bytes) {
            return bytes ? std::string(*bytes) : std::string();
          }};
}

}  // namespace

Serde<std::string> string() { return text(); }
Serde<std::string> bytes() { return text(); }
Serde<int32_t> integer() { return integral<int32_t, uint32_t>("IntegerDeserializer"); }
Serde<int64_t> long_() { return integral<int64_t, uint64_t>("LongDeserializer"); }
Serde<int16_t> short_() { return integral<int16_t, uint16_t>("ShortDeserializer"); }
Serde<double> double_() { return floating<double, uint64_t>("DoubleDeserializer"); }
Serde<float> float_() { return floating<float, uint32_t>("FloatDeserializer"); }

Serde<nlohmann::json> json() {
  return {[](const std::string&, const nlohmann::json& value) -> std::optional<std::string> {
            return value.dump();
          },
          [](const std::string&, std::optional<std::string_view> bytes) {
            std::string_view text = require_bytes(bytes, "JSON deserializer");
            nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
            if (value.is_discarded()) throw SerializationError("invalid JSON");
            return value;
          }};
}

}  // namespace sluice::streams::serdes
