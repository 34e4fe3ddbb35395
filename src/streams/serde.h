#pragma once
// Serializers and deserializers (Kafka's Serde): the byte formats are
// Kafka's, so a Streams application here reads and writes topics that
// Kafka Streams applications and Kafka's clients share.
//
// Null bytes: Kafka's deserializers return Java's null. Here a serde of
// std::optional<T> (`serdes::optional`) maps null to nullopt and back; the
// string and bytes serdes read null as the empty string (a record without a
// key is the common case, and word count should not need an optional key);
// the numeric and JSON serdes refuse null with a SerializationError, which
// the deserialization exception handler sees like any other bad record.

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sluice::streams {

class SerializationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class T>
struct Serde {
  using Type = T;
  // nullopt: null bytes.
  std::function<std::optional<std::string>(const std::string& topic, const T& value)> serialize;
  std::function<T(const std::string& topic, std::optional<std::string_view> bytes)> deserialize;
};

namespace serdes {

Serde<std::string> string();
// Raw bytes, kept in a std::string.
Serde<std::string> bytes();
// Kafka's IntegerSerde, LongSerde, ShortSerde: big-endian two's complement.
Serde<int32_t> integer();
Serde<int64_t> long_();
Serde<int16_t> short_();
// Kafka's DoubleSerde and FloatSerde: IEEE 754, big-endian.
Serde<double> double_();
Serde<float> float_();
// JSON text (nlohmann), as Kafka's JsonSerializer-based serdes write it.
Serde<nlohmann::json> json();

template <class T>
Serde<std::optional<T>> optional(Serde<T> inner) {
  return {
      [inner](const std::string& topic,
              const std::optional<T>& value) -> std::optional<std::string> {
        if (!value) return std::nullopt;
        return inner.serialize(topic, *value);
      },
      [inner](const std::string& topic, std::optional<std::string_view> bytes) -> std::optional<T> {
        if (!bytes) return std::nullopt;
        return inner.deserialize(topic, bytes);
      }};
}

// A user type T through JSON: T needs nlohmann's to_json/from_json.
template <class T>
Serde<T> json_of() {
  Serde<nlohmann::json> inner = json();
  return {[inner](const std::string& topic, const T& value) {
            return inner.serialize(topic, nlohmann::json(value));
          },
          [inner](const std::string& topic, std::optional<std::string_view> bytes) {
            try {
              return inner.deserialize(topic, bytes).template get<T>();
            } catch (const nlohmann::json::exception& e) {
              throw SerializationError(std::string("JSON does not match the type: ") + e.what());
            }
          }};
}

}  // namespace serdes

// The serde a type gets when an operation names none (Kafka's
// default.key.serde / default.value.serde, chosen here by the type):
// strings, the integer and floating types, JSON, and optionals of them.
template <class T>
struct DefaultSerde {
  static constexpr bool available = false;
};
#define SLUICE_STREAMS_DEFAULT_SERDE(Type, make) \
  template <>                                    \
  struct DefaultSerde<Type> {                    \
    static constexpr bool available = true;      \
    static Serde<Type> get() { return make(); }  \
  }
SLUICE_STREAMS_DEFAULT_SERDE(std::string, serdes::string);
SLUICE_STREAMS_DEFAULT_SERDE(int16_t, serdes::short_);
SLUICE_STREAMS_DEFAULT_SERDE(int32_t, serdes::integer);
SLUICE_STREAMS_DEFAULT_SERDE(int64_t, serdes::long_);
SLUICE_STREAMS_DEFAULT_SERDE(float, serdes::float_);
SLUICE_STREAMS_DEFAULT_SERDE(double, serdes::double_);
SLUICE_STREAMS_DEFAULT_SERDE(nlohmann::json, serdes::json);
#undef SLUICE_STREAMS_DEFAULT_SERDE
template <class T>
struct DefaultSerde<std::optional<T>> {
  static constexpr bool available = DefaultSerde<T>::available;
  static Serde<std::optional<T>> get() { return serdes::optional(DefaultSerde<T>::get()); }
};

// Whether a value says null: only std::optional's nullopt does.
template <class T>
bool is_null_value(const T&) {
  return false;
}
template <class T>
bool is_null_value(const std::optional<T>& value) {
  return !value.has_value();
}

}  // namespace sluice::streams
