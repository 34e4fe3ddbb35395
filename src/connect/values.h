#pragma once
// The parts of Kafka's org.apache.kafka.connect.data.Values that the
// converters and transforms here need: a value's string form (what
// SimpleHeaderConverter writes and InsertHeader/Cast print), the inference of
// a schema and value from a string (what SimpleHeaderConverter reads and
// InsertHeader's value.literal holds), and numeric conversions (MaskField's
// replacement).
//
// parse_string covers Kafka's scalars: null, true/false, integers (the
// smallest of INT8..INT64 that holds them), decimals (FLOAT32 as Kafka picks,
// beyond float range FLOAT64), everything else a STRING. Still to come:
// Kafka's nested arrays "[1,2]" and maps "{a:1}" and ISO 8601 temporal
// literals, which read as STRING here.

#include <optional>
#include <string>

#include "connect/converter.h"
#include "connect/data.h"

namespace sluice::connect {

// Values.convertToString: null stays null.
std::optional<std::string> value_to_string(const Value& value);
// Values.parseString.
SchemaAndValue parse_string(const std::string& text);
// Values.asLong / asDouble of a value with no schema (MaskField's mappers):
// a number, or a string that BigDecimal reads; Kafka's message otherwise.
Result<int64_t> value_as_long(const Value& value);
Result<double> value_as_double(const Value& value);

}  // namespace sluice::connect
