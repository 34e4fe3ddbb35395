#include "connect/values.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "connect/errors.h"
#include "connect/java_text.h"

namespace sluice::connect {

namespace {

std::string escape_embedded(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '\\' || c == '"') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

void append(std::string& out, const Value& value, bool embedded);

void append_struct(std::string& out, const Struct& structure) {
  out += '{';
  bool first = true;
  for (const Field& field : structure.schema()->fields) {
    if (!first) out += ',';
    first = false;
    append(out, Value(field.name), true);
    out += ':';
    append(out, structure.get(field), true);
  }
  out += '}';
}

// Values.append.
void append(std::string& out, const Value& value, bool embedded) {
  if (value.is_null()) {
    out += "null";
  } else if (value.is<std::string>()) {
    out +=
        embedded ? "\"" + escape_embedded(value.as<std::string>()) + "\"" : value.as<std::string>();
  } else if (value.is<Bytes>()) {
    std::string encoded = base64_encode(value.as<Bytes>().data);
    out += embedded ? "\"" + encoded + "\"" : encoded;
  } else if (value.is<List>()) {
    out += '[';
    const List& list = value.as<List>();
    for (size_t i = 0; i < list.size(); ++i) {
      if (i) out += ',';
      append(out, list[i], true);
    }
    out += ']';
  } else if (value.is<Map>()) {
    out += '{';
    const Map& map = value.as<Map>();
    for (size_t i = 0; i < map.size(); ++i) {
      if (i) out += ',';
      append(out, map[i].key, true);
      out += ':';
      append(out, map[i].value, true);
    }
    out += '}';
  } else if (value.is<Struct>()) {
    append_struct(out, value.as<Struct>());
  } else {
    out += value.to_string();  // numbers, booleans, decimals, dates (Values.dateFormatFor)
  }
}

bool is_plain_decimal(const std::string& text) {
  size_t position = (text[0] == '+' || text[0] == '-') ? 1 : 0;
  bool digits = false;
  bool point = false;
  for (; position < text.size(); ++position) {
    if (std::isdigit(static_cast<unsigned char>(text[position]))) {
      digits = true;
    } else if (text[position] == '.' && !point) {
      point = true;
    } else {
      return false;
    }
  }
  return digits;
}

SchemaAndValue integral(int64_t number) {
  if (number == static_cast<int8_t>(number)) {
    return {primitive_schema(SchemaType::int8), Value(static_cast<int8_t>(number))};
  }
  if (number == static_cast<int16_t>(number)) {
    return {primitive_schema(SchemaType::int16), Value(static_cast<int16_t>(number))};
  }
  if (number == static_cast<int32_t>(number)) {
    return {primitive_schema(SchemaType::int32), Value(static_cast<int32_t>(number))};
  }
  return {primitive_schema(SchemaType::int64), Value(number)};
}

// Values.parseAsNumber for plain decimal text: an exact integer in 64 bits
// takes the smallest integer type; other numbers with a fraction are FLOAT32
// (FLOAT64 beyond float's range).
std::optional<SchemaAndValue> parse_number(const std::string& text) {
  if (!is_plain_decimal(text)) return std::nullopt;
  size_t point = text.find('.');
  bool integral_value =
      point == std::string::npos || text.find_first_not_of('0', point + 1) == std::string::npos;
  if (integral_value) {
    errno = 0;
    char* end = nullptr;
    long long number = std::strtoll(text.substr(0, point).c_str(), &end, 10);
    if (errno != ERANGE) return integral(number);
  }
  if (point == std::string::npos)
    return std::nullopt;  // an integer beyond 64 bits: Kafka's Decimal, not here
  float as_float = std::strtof(text.c_str(), nullptr);
  if (!std::isinf(as_float))
    return SchemaAndValue{primitive_schema(SchemaType::float32), Value(as_float)};
  return SchemaAndValue{primitive_schema(SchemaType::float64),
                        Value(std::strtod(text.c_str(), nullptr))};
}

Status not_a_number(const Value& value) {
  return data_error("Unable to convert " + value.to_string() + " (class " + java_class_name(value) +
                    ") to a number");
}

}  // namespace

std::optional<std::string> value_to_string(const Value& value) {
  if (value.is_null()) return std::nullopt;
  std::string out;
  append(out, value, false);
  return out;
}

SchemaAndValue parse_string(const std::string& text) {
  if (text.empty()) return {primitive_schema(SchemaType::string), Value(text)};
  std::string trimmed = text;
  size_t begin = trimmed.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return {primitive_schema(SchemaType::string), Value(text)};
  trimmed = trimmed.substr(begin, trimmed.find_last_not_of(" \t\r\n") - begin + 1);
  if (trimmed == "null") return {};
  if (trimmed == "true") return {primitive_schema(SchemaType::boolean), Value(true)};
  if (trimmed == "false") return {primitive_schema(SchemaType::boolean), Value(false)};
  if (std::optional<SchemaAndValue> number = parse_number(trimmed)) return std::move(*number);
  return {primitive_schema(SchemaType::string), Value(text)};
}

Result<int64_t> value_as_long(const Value& value) {
  if (value.is<int8_t>()) return static_cast<int64_t>(value.as<int8_t>());
  if (value.is<int16_t>()) return static_cast<int64_t>(value.as<int16_t>());
  if (value.is<int32_t>()) return static_cast<int64_t>(value.as<int32_t>());
  if (value.is<int64_t>()) return value.as<int64_t>();
  if (value.is<float>()) return static_cast<int64_t>(value.as<float>());
  if (value.is<double>()) return static_cast<int64_t>(value.as<double>());
  if (value.is<std::string>()) {
    const std::string& text = value.as<std::string>();
    if (!text.empty() && is_plain_decimal(text)) {
      return static_cast<int64_t>(
          std::strtold(text.c_str(), nullptr));  // BigDecimal.longValue truncates
    }
  }
  return not_a_number(value);
}

Result<double> value_as_double(const Value& value) {
  if (value.is<float>()) return static_cast<double>(value.as<float>());
  if (value.is<double>()) return value.as<double>();
  if (value.is<std::string>()) {
    const std::string& text = value.as<std::string>();
    if (!text.empty() && decimal_from_text(text)) return std::strtod(text.c_str(), nullptr);
  }
  Result<int64_t> number = value_as_long(value);
  if (!number) return number.status();
  return static_cast<double>(*number);
}

}  // namespace sluice::connect
