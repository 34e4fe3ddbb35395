#pragma once
// Java's text forms that Kafka's output depends on, so that our bytes are
// the bytes Kafka writes: Double.toString and Float.toString (Jackson writes
// JSON numbers with them), java.util.Base64 (JSON's BYTES and Decimal
// payloads), BigInteger/BigDecimal in text and two's complement bytes
// (Decimal's unscaled value), SimpleDateFormat's ISO 8601 forms in UTC.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "connect/data.h"

namespace sluice::connect {

// Double.toString / Float.toString (shortest digits that read back the same
// value; scientific "1.0E10" outside [1e-3, 1e7)).
std::string java_double_text(double number);
std::string java_float_text(float number);

// java.util.Base64's basic encoder (with padding) and decoder (nullopt on
// input that is not base64).
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// BigInteger.toByteArray of a 64-bit number (minimal two's complement).
std::string twos_complement_bytes(int64_t number);
// BigDecimal(text): "-12.340" -> unscaled -12340, scale 3; "1E+3" -> 1, scale -3.
std::optional<Decimal> decimal_from_text(std::string_view text);
// BigDecimal.toPlainString of a Decimal.
std::string decimal_to_text(const Decimal& decimal);

// "yyyy-MM-dd", "HH:mm:ss.SSS'Z'" and "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'" in UTC
// (Kafka's Values.dateFormatFor picks one by the value).
std::string iso8601_text(const DateTime& value);

}  // namespace sluice::connect
