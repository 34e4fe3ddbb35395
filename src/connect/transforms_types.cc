// Transforms that change types or shapes: Cast, TimestampConverter, Flatten
// (Kafka's settings, behaviour and messages; see transform.h).

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "connect/date_format.h"
#include "connect/java_text.h"
#include "connect/transform_support.h"

namespace sluice::connect::detail {

namespace {

std::string trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t\r\n") - begin + 1);
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

std::string class_of(const Value& value) { return "class " + java_class_name(value); }

// --- Cast ---

const std::vector<SchemaType> cast_inputs = {
    SchemaType::int8,    SchemaType::int16,   SchemaType::int32,
    SchemaType::int64,   SchemaType::float32, SchemaType::float64,
    SchemaType::boolean, SchemaType::string,  SchemaType::bytes};

std::string type_list(const std::vector<SchemaType>& types) {
  std::string text = "[";
  for (size_t i = 0; i < types.size(); ++i)
    text += std::string(i ? ", " : "") + schema_type_name(types[i]);
  return text + "]";
}

bool is_cast_input(SchemaType type) {
  return std::find(cast_inputs.begin(), cast_inputs.end(), type) != cast_inputs.end();
}
bool is_cast_output(SchemaType type) { return is_cast_input(type) && type != SchemaType::bytes; }

using CastSpec =
    std::vector<std::pair<std::optional<std::string>, SchemaType>>;  // nullopt: the whole value

Result<SchemaType> parse_cast_type(const std::string& text) {
  std::optional<SchemaType> type = schema_type_from_name(upper(trim(text)));
  if (!type) return config_error("Invalid type found in casting spec: " + trim(text));
  if (!is_cast_output(*type)) {
    return config_error(std::string("Cast transformation does not support casting to ") +
                        schema_type_name(*type) + "; supported types are " +
                        type_list({SchemaType::int8, SchemaType::int16, SchemaType::int32,
                                   SchemaType::int64, SchemaType::float32, SchemaType::float64,
                                   SchemaType::boolean, SchemaType::string}));
  }
  return *type;
}

// Kafka's Cast.parseFieldTypes, messages included (a spec of more than two
// parts names ReplaceField's "renames": Kafka's own wording).
Result<CastSpec> parse_cast_spec(const std::vector<std::string>& mappings) {
  CastSpec spec;
  bool whole_value = false;
  for (const std::string& mapping : mappings) {
    std::vector<std::string> parts = split_colon(mapping);
    if (parts.size() > 2) {
      return config_error("renames", config_value_text(mappings),
                          "Invalid rename mapping: " + mapping);
    }
    Result<SchemaType> type = parse_cast_type(parts.size() == 1   ? parts[0]
                                              : parts.size() == 2 ? parts[1]
                                                                  : "");
    if (!type) return type.status();
    if (parts.size() == 1) {
      spec.emplace_back(std::nullopt, *type);
      whole_value = true;
    } else {
      spec.emplace_back(trim(parts[0]), *type);
    }
  }
  if (whole_value && mappings.size() > 1) {
    return config_error(
        "Cast transformations that specify a type to cast the entire value to may only specify a "
        "single cast in "
        "their spec");
  }
  return spec;
}

// Java's Byte/Short/Integer/Long.parseX: optional sign, decimal digits, range.
std::optional<int64_t> parse_java_integer(const std::string& text, int64_t minimum,
                                          int64_t maximum) {
  if (text.empty()) return std::nullopt;
  size_t start = (text[0] == '+' || text[0] == '-') ? 1 : 0;
  if (start == text.size()) return std::nullopt;
  for (size_t i = start; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
  }
  errno = 0;
  long long number = std::strtoll(text.c_str(), nullptr, 10);
  if (errno == ERANGE || number < minimum || number > maximum) return std::nullopt;
  return number;
}

// Java's Double.parseDouble: blanks trimmed, a trailing d/f/D/F allowed.
std::optional<double> parse_java_double(std::string text) {
  text = trim(text);
  if (!text.empty() && std::strchr("dfDF", text.back()) && text != "Infinity") text.pop_back();
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double number = std::strtod(text.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return number;
}

// A Number value's double (Number.doubleValue), nullopt for other kinds.
std::optional<double> number_as_double(const Value& value) {
  if (value.is<int8_t>()) return value.as<int8_t>();
  if (value.is<int16_t>()) return value.as<int16_t>();
  if (value.is<int32_t>()) return value.as<int32_t>();
  if (value.is<int64_t>()) return static_cast<double>(value.as<int64_t>());
  if (value.is<float>()) return value.as<float>();
  if (value.is<double>()) return value.as<double>();
  if (value.is<Decimal>())
    return std::strtod(decimal_to_text(value.as<Decimal>()).c_str(), nullptr);
  return std::nullopt;
}

// Number.longValue: exact for integers, truncating (saturating) for floats.
std::optional<int64_t> number_as_long(const Value& value) {
  if (value.is<int8_t>()) return value.as<int8_t>();
  if (value.is<int16_t>()) return value.as<int16_t>();
  if (value.is<int32_t>()) return value.as<int32_t>();
  if (value.is<int64_t>()) return value.as<int64_t>();
  std::optional<double> number = number_as_double(value);
  if (!number) return std::nullopt;
  if (std::isnan(*number)) return 0;
  if (*number >= 9.2233720368547758e18) return LLONG_MAX;
  if (*number <= -9.2233720368547758e18) return LLONG_MIN;
  return static_cast<int64_t>(*number);
}

Status out_of_range(const Value& value) {
  return data_error("Value (" + value.to_string() + ") was out of range for requested data type");
}

Result<Value> cast_to_integer(const Value& value, SchemaType target) {
  int64_t number = 0;
  if (std::optional<int64_t> long_value = number_as_long(value)) {
    number = *long_value;
  } else if (value.is<bool>()) {
    number = value.as<bool>() ? 1 : 0;
  } else if (value.is<std::string>()) {
    int64_t minimum = target == SchemaType::int8    ? INT8_MIN
                      : target == SchemaType::int16 ? INT16_MIN
                      : target == SchemaType::int32 ? INT32_MIN
                                                    : INT64_MIN;
    int64_t maximum = target == SchemaType::int8    ? INT8_MAX
                      : target == SchemaType::int16 ? INT16_MAX
                      : target == SchemaType::int32 ? INT32_MAX
                                                    : INT64_MAX;
    std::optional<int64_t> parsed = parse_java_integer(value.as<std::string>(), minimum, maximum);
    if (!parsed) return out_of_range(value);
    number = *parsed;
  } else {
    return data_error("Unexpected type in Cast transformation: " + class_of(value));
  }
  // Java's narrowing conversions keep the low bits.
  switch (target) {
    case SchemaType::int8:
      return Value(static_cast<int8_t>(number));
    case SchemaType::int16:
      return Value(static_cast<int16_t>(number));
    case SchemaType::int32:
      return Value(static_cast<int32_t>(number));
    default:
      return Value(number);
  }
}

Result<Value> cast_to_floating(const Value& value, SchemaType target) {
  double number = 0;
  if (std::optional<double> double_value = number_as_double(value)) {
    number = *double_value;
  } else if (value.is<bool>()) {
    number = value.as<bool>() ? 1 : 0;
  } else if (value.is<std::string>()) {
    std::optional<double> parsed = parse_java_double(value.as<std::string>());
    if (!parsed) return out_of_range(value);
    number = *parsed;
  } else {
    return data_error("Unexpected type in Cast transformation: " + class_of(value));
  }
  return target == SchemaType::float32 ? Value(static_cast<float>(number)) : Value(number);
}

Result<Value> cast_to_boolean(const Value& value) {
  if (std::optional<int64_t> number = number_as_long(value)) return Value(*number != 0);
  if (value.is<bool>()) return value;
  if (value.is<std::string>()) {
    return Value(upper(value.as<std::string>()) == "TRUE");  // Boolean.parseBoolean
  }
  return data_error("Unexpected type in Cast transformation: " + class_of(value));
}

Value cast_to_string(const Value& value) {
  if (value.is<DateTime>()) return Value(iso8601_text(value.as<DateTime>()));
  if (value.is<Bytes>()) return Value(base64_encode(value.as<Bytes>().data));
  return Value(value.to_string());
}

// A logical value as its underlying number (Cast.encodeLogicalType).
Result<Value> encode_logical(const Schema& schema, const Value& value) {
  if (!value.is<DateTime>()) return value;
  if (is_logical(schema, date_logical_name)) {
    Result<int32_t> days = date_to_days(value.as<DateTime>());
    if (!days) return days.status();
    return Value(*days);
  }
  if (is_logical(schema, time_logical_name)) {
    Result<int32_t> millis = time_to_millis(value.as<DateTime>());
    if (!millis) return millis.status();
    return Value(*millis);
  }
  if (is_logical(schema, timestamp_logical_name)) return Value(value.as<DateTime>().millis);
  return value;
}

Result<Value> cast_value(const Schema* schema, const Value& original, SchemaType target) {
  if (original.is_null()) return Value();
  std::optional<SchemaType> inferred =
      schema ? std::optional(schema->type) : inferred_schema_type(original);
  if (!inferred) {
    return data_error("Cast transformation was passed a value of type " + class_of(original) +
                      " which is not supported by Connect's data API");
  }
  if (!is_cast_input(*inferred)) {
    return data_error(std::string("Cast transformation does not support casting from ") +
                      schema_type_name(*inferred) + "; supported types are " +
                      type_list(cast_inputs));
  }
  Value value = original;
  if (schema && schema->name && target != SchemaType::string) {
    Result<Value> encoded = encode_logical(*schema, original);
    if (!encoded) return encoded.status();
    value = std::move(encoded).value();
  }
  switch (target) {
    case SchemaType::int8:
    case SchemaType::int16:
    case SchemaType::int32:
    case SchemaType::int64:
      return cast_to_integer(value, target);
    case SchemaType::float32:
    case SchemaType::float64:
      return cast_to_floating(value, target);
    case SchemaType::boolean:
      return cast_to_boolean(value);
    case SchemaType::string:
      return cast_to_string(value);
    default:
      return data_error(std::string(schema_type_name(target)) +
                        " is not supported in the Cast transformation.");
  }
}

class Cast final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"spec", ConfigType::list, true, std::nullopt, spec_validator()},
        replace_null_with_default_key(),
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<Cast>(side);
    transform->spec_ = std::move(parse_cast_spec(config->get_list("spec"))).value();
    transform->replace_null_with_default_ = config->get_bool("replace.null.with.default");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit Cast(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    const Value& value = operating_value(record, side_);
    if (value.is_null()) return std::optional(std::move(record));
    std::optional<SchemaType> whole = whole_value_type();
    const SchemaPtr& schema = operating_schema(record, side_);
    if (!schema) {
      if (whole) {
        Result<Value> cast =
            cast_value(nullptr, value, *whole);  // before `record` moves: `value` is in it
        return replaced(std::move(record), nullptr, std::move(cast));
      }
      Result<const Map*> map = require_map(value, purpose);
      if (!map) return map.status();
      Map updated = **map;
      for (const auto& [field, type] : spec_) {
        const Value* current = map_find(**map, *field);
        Result<Value> cast = cast_value(nullptr, current ? *current : Value(), type);
        if (!cast) return cast.status();
        map_put(updated, *field, std::move(cast).value());
      }
      return std::optional(
          with_operating(std::move(record), side_, nullptr, Value(std::move(updated))));
    }
    Result<SchemaPtr> updated_schema = schema_for(schema);
    if (!updated_schema) return updated_schema.status();
    if (whole) {
      Result<Value> cast = cast_value(schema.get(), value, *whole);
      return replaced(std::move(record), *updated_schema, std::move(cast));
    }
    Result<const Struct*> structure = require_struct(value, purpose);
    if (!structure) return structure.status();
    Struct updated(*updated_schema);
    for (const Field& field : (*structure)->schema()->fields) {
      Value original = field_value(**structure, field, replace_null_with_default_);
      if (std::optional<SchemaType> target = type_of(field.name)) {
        Result<Value> cast = cast_value(field.schema.get(), original, *target);
        if (!cast) return cast.status();
        original = std::move(cast).value();
      }
      SLUICE_CONNECT_TRY(updated.put(field.name, std::move(original)));
    }
    return std::optional(
        with_operating(std::move(record), side_, *updated_schema, Value(std::move(updated))));
  }

 private:
  static constexpr const char* purpose = "cast types";

  static ConfigValidator spec_validator() {
    return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
      const auto* mappings = std::get_if<std::vector<std::string>>(&value);
      if (!mappings || mappings->empty())
        return ConfigProblem{"Must specify at least one field to cast.", true};
      Result<CastSpec> spec = parse_cast_spec(*mappings);
      if (!spec) return ConfigProblem{spec.status().message(), true};
      return std::nullopt;
    };
  }

  std::optional<SchemaType> whole_value_type() const {
    if (spec_.size() == 1 && !spec_[0].first) return spec_[0].second;
    return std::nullopt;
  }

  std::optional<SchemaType> type_of(const std::string& field) const {
    for (const auto& [name, type] : spec_) {
      if (name && *name == field) return type;
    }
    return std::nullopt;
  }

  Result<std::optional<ConnectRecord>> replaced(ConnectRecord record, SchemaPtr schema,
                                                Result<Value> value) const {
    if (!value) return value.status();
    return std::optional(
        with_operating(std::move(record), side_, std::move(schema), std::move(value).value()));
  }

  Result<SchemaPtr> schema_for(const SchemaPtr& schema) {
    if (SchemaPtr cached = cache_.find(schema)) return cached;
    Result<SchemaPtr> built = build_schema(*schema);
    if (built) cache_.put(schema, *built);
    return built;
  }

  Result<SchemaPtr> build_schema(const Schema& schema) const {
    std::optional<SchemaType> whole = whole_value_type();
    SchemaBuilder builder(whole ? *whole : SchemaType::structure);
    builder.copy_basics(schema);
    if (!whole) {
      for (const Field& field : schema.fields) {
        std::optional<SchemaType> target = type_of(field.name);
        if (!target) {
          builder.field(field.name, field.schema);
          continue;
        }
        SchemaBuilder field_builder(*target);
        if (field.schema->optional) field_builder.optional();
        if (field.schema->default_value) {
          Result<Value> cast =
              cast_value(field.schema.get(), *field.schema->default_value, *target);
          if (!cast) return cast.status();
          field_builder.default_value(std::move(cast).value());
        }
        Result<SchemaPtr> field_schema = field_builder.build();
        if (!field_schema) return field_schema.status();
        builder.field(field.name, *field_schema);
      }
    }
    if (schema.optional) builder.optional();
    if (schema.default_value) {
      Result<Value> cast = cast_value(&schema, *schema.default_value, builder.type());
      if (!cast) return cast.status();
      builder.default_value(std::move(cast).value());
    }
    return builder.build();
  }

  Side side_;
  CastSpec spec_;
  bool replace_null_with_default_ = true;
  SchemaCache cache_;
};

// --- TimestampConverter ---

enum class TimestampKind { string, unix, date, time, timestamp };

int64_t floor_mod(int64_t a, int64_t b) { return ((a % b) + b) % b; }

class TimestampConverter final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"field", ConfigType::string, false, "", {}},
        {"target.type", ConfigType::string, true, std::nullopt,
         one_of({"string", "unix", "Date", "Time", "Timestamp"})},
        {"format", ConfigType::string, false, "", {}},
        {"unix.precision", ConfigType::string, false, "milliseconds",
         one_of({"nanoseconds", "microseconds", "milliseconds", "seconds"})},
        replace_null_with_default_key(),
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<TimestampConverter>(side);
    transform->field_ = *config->get_string("field");
    transform->target_ = kind_of(*config->get_string("target.type"));
    transform->precision_ = *config->get_string("unix.precision");
    transform->replace_null_with_default_ = config->get_bool("replace.null.with.default");
    std::string pattern = *config->get_string("format");
    if (transform->target_ == TimestampKind::string && trim(pattern).empty()) {
      return config_error(
          "TimestampConverter requires format option to be specified when using string timestamps");
    }
    if (!trim(pattern).empty()) {
      Result<DateFormat> format = DateFormat::compile(pattern);
      if (!format) {
        return config_error(
            "TimestampConverter requires a SimpleDateFormat-compatible pattern for string "
            "timestamps: " +
            pattern);
      }
      transform->format_ = std::move(format).value();
    }
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit TimestampConverter(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    const SchemaPtr& schema = operating_schema(record, side_);
    const Value& value = operating_value(record, side_);
    if (!schema) {
      if (value.is_null() || field_.empty()) {
        Result<Value> converted =
            convert(value, std::nullopt);  // before `record` moves: `value` is in it
        return replaced(std::move(record), nullptr, std::move(converted));
      }
      Result<const Map*> map = require_map(value, purpose);
      if (!map) return map.status();
      Map updated = **map;
      const Value* current = map_find(**map, field_);
      Result<Value> converted = convert(current ? *current : Value(), std::nullopt);
      if (!converted) return converted.status();
      map_put(updated, field_, std::move(converted).value());
      return std::optional(
          with_operating(std::move(record), side_, nullptr, Value(std::move(updated))));
    }
    if (field_.empty()) {
      Result<TimestampKind> source = kind_of_schema(*schema);
      if (!source) return source.status();
      SchemaPtr updated_schema = type_schema(schema->optional);
      Result<Value> converted = convert(value, *source);
      return replaced(std::move(record), std::move(updated_schema), std::move(converted));
    }
    if (!value.is_null()) {
      Result<const Struct*> structure = require_struct(value, purpose);
      if (!structure) return structure.status();
    }
    Result<SchemaPtr> updated_schema = schema_for(schema);
    if (!updated_schema) return updated_schema.status();
    Result<Value> updated = convert_struct(value, *updated_schema);
    if (!updated) return updated.status();
    return std::optional(
        with_operating(std::move(record), side_, *updated_schema, std::move(updated).value()));
  }

 private:
  static constexpr const char* purpose = "converting timestamp formats";

  static TimestampKind kind_of(const std::string& name) {
    if (name == "string") return TimestampKind::string;
    if (name == "unix") return TimestampKind::unix;
    if (name == "Date") return TimestampKind::date;
    if (name == "Time") return TimestampKind::time;
    return TimestampKind::timestamp;
  }

  static Result<TimestampKind> kind_of_schema(const Schema& schema) {
    if (is_logical(schema, timestamp_logical_name)) return TimestampKind::timestamp;
    if (is_logical(schema, date_logical_name)) return TimestampKind::date;
    if (is_logical(schema, time_logical_name)) return TimestampKind::time;
    if (schema.type == SchemaType::string) return TimestampKind::string;
    if (schema.type == SchemaType::int64) return TimestampKind::unix;
    return data_error("Schema " + schema.to_string() +
                      " does not correspond to a known timestamp type format");
  }

  SchemaPtr type_schema(bool optional) const {
    switch (target_) {
      case TimestampKind::string:
        return primitive_schema(SchemaType::string, optional);
      case TimestampKind::unix:
        return primitive_schema(SchemaType::int64, optional);
      case TimestampKind::date:
        return optional ? date_schema().optional().build_or_die() : date_schema().build_or_die();
      case TimestampKind::time:
        return optional ? time_schema().optional().build_or_die() : time_schema().build_or_die();
      case TimestampKind::timestamp:
        return optional ? timestamp_schema().optional().build_or_die()
                        : timestamp_schema().build_or_die();
    }
    return nullptr;
  }

  Result<std::optional<ConnectRecord>> replaced(ConnectRecord record, SchemaPtr schema,
                                                Result<Value> value) const {
    if (!value) return value.status();
    return std::optional(
        with_operating(std::move(record), side_, std::move(schema), std::move(value).value()));
  }

  // The value as milliseconds since the epoch (Kafka's toRaw).
  Result<int64_t> to_raw(const Value& value, TimestampKind source) const {
    switch (source) {
      case TimestampKind::string: {
        if (!value.is<std::string>()) {
          return data_error("Expected string timestamp to be a String, but found " +
                            class_of(value));
        }
        if (!format_) {
          return data_error(
              "TimestampConverter requires format option to be specified when using string "
              "timestamps");
        }
        Result<int64_t> parsed = format_->parse(value.as<std::string>());
        if (!parsed) {
          return data_error("Could not parse timestamp: value (" + value.as<std::string>() +
                            ") does not match pattern (" + format_->pattern() + ")");
        }
        return parsed;
      }
      case TimestampKind::unix: {
        if (!value.is<int64_t>())
          return data_error("Expected Unix timestamp to be a Long, but found " + class_of(value));
        int64_t number = value.as<int64_t>();
        if (precision_ == "seconds") return number * 1000;
        if (precision_ == "microseconds") return number / 1000;
        if (precision_ == "nanoseconds") return number / 1'000'000;
        return number;
      }
      case TimestampKind::date:
      case TimestampKind::time:
      case TimestampKind::timestamp: {
        if (!value.is<DateTime>()) {
          const char* label = source == TimestampKind::date   ? "Date"
                              : source == TimestampKind::time ? "Time"
                                                              : "Timestamp";
          return data_error(std::string("Expected ") + label +
                            " to be a java.util.Date, but found " + class_of(value));
        }
        return value.as<DateTime>().millis;
      }
    }
    return data_error("Unsupported timestamp type");
  }

  // Kafka's toType of the target.
  Value to_type(int64_t millis) const {
    switch (target_) {
      case TimestampKind::string:
        return Value(format_->format(millis));
      case TimestampKind::unix:
        if (precision_ == "seconds") return Value(millis / 1000);
        if (precision_ == "microseconds") return Value(millis * 1000);
        if (precision_ == "nanoseconds") return Value(millis * 1'000'000);
        return Value(millis);
      case TimestampKind::date:
        return Value(DateTime{millis - floor_mod(millis, millis_per_day)});
      case TimestampKind::time:
        return Value(DateTime{floor_mod(millis, millis_per_day)});
      case TimestampKind::timestamp:
        return Value(DateTime{millis});
    }
    return Value();
  }

  Result<Value> convert(const Value& value, std::optional<TimestampKind> source) const {
    if (value.is_null()) return Value();
    if (!source) {
      if (value.is<DateTime>()) {
        source = TimestampKind::timestamp;
      } else if (value.is<int64_t>()) {
        source = TimestampKind::unix;
      } else if (value.is<std::string>()) {
        source = TimestampKind::string;
      } else {
        return data_error("TimestampConverter does not support " + class_of(value) +
                          " objects as timestamps");
      }
    }
    Result<int64_t> millis = to_raw(value, *source);
    if (!millis) return millis.status();
    return to_type(*millis);
  }

  Result<SchemaPtr> schema_for(const SchemaPtr& schema) {
    if (SchemaPtr cached = cache_.find(schema)) return cached;
    SchemaBuilder builder = SchemaBuilder::structure();
    builder.copy_basics(*schema);
    for (const Field& field : schema->fields) {
      builder.field(field.name,
                    field.name == field_ ? type_schema(field.schema->optional) : field.schema);
    }
    if (schema->optional) builder.optional();
    if (schema->default_value) {
      Result<SchemaPtr> without_default = builder.build();
      if (!without_default) return without_default.status();
      Result<Value> default_value = convert_struct(*schema->default_value, *without_default);
      if (!default_value) return default_value.status();
      builder.default_value(std::move(default_value).value());
    }
    Result<SchemaPtr> built = builder.build();
    if (built) cache_.put(schema, *built);
    return built;
  }

  Result<Value> convert_struct(const Value& value, const SchemaPtr& updated_schema) const {
    if (value.is_null()) return Value();
    const Struct& original = value.as<Struct>();
    Struct updated(updated_schema);
    for (const Field& field : original.schema()->fields) {
      Value field_value_now = field_value(original, field, replace_null_with_default_);
      if (field.name == field_) {
        Result<TimestampKind> source = kind_of_schema(*field.schema);
        if (!source) return source.status();
        Result<Value> converted = convert(field_value_now, *source);
        if (!converted) return converted.status();
        field_value_now = std::move(converted).value();
      }
      SLUICE_CONNECT_TRY(updated.put(field.name, std::move(field_value_now)));
    }
    return Value(std::move(updated));
  }

  Side side_;
  std::string field_;
  TimestampKind target_ = TimestampKind::timestamp;
  std::optional<DateFormat> format_;
  std::string precision_;
  bool replace_null_with_default_ = true;
  SchemaCache cache_;
};

// --- Flatten ---

class Flatten final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {{"delimiter", ConfigType::string, false, ".", {}}};
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<Flatten>(side);
    transform->delimiter_ = *config->get_string("delimiter");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit Flatten(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    const Value& value = operating_value(record, side_);
    if (value.is_null()) return std::optional(std::move(record));
    const SchemaPtr& schema = operating_schema(record, side_);
    if (!schema) {
      Result<const Map*> map = require_map(value, purpose);
      if (!map) return map.status();
      Map flat;
      SLUICE_CONNECT_TRY(flatten_map(**map, "", flat));
      return std::optional(
          with_operating(std::move(record), side_, nullptr, Value(std::move(flat))));
    }
    Result<const Struct*> structure = require_struct(value, purpose);
    if (!structure) return structure.status();
    SchemaPtr updated_schema = cache_.find(schema);
    if (!updated_schema) {
      SchemaBuilder builder = SchemaBuilder::structure();
      builder.copy_basics(*schema);
      const Struct* parent_default =
          schema->default_value ? &schema->default_value->as<Struct>() : nullptr;
      SLUICE_CONNECT_TRY(flatten_schema(*schema, "", builder, schema->optional, parent_default));
      Result<SchemaPtr> built = builder.build();
      if (!built) return built.status();
      updated_schema = *built;
      cache_.put(schema, updated_schema);
    }
    Struct flat(updated_schema);
    SLUICE_CONNECT_TRY(flatten_struct(**structure, "", flat));
    return std::optional(
        with_operating(std::move(record), side_, updated_schema, Value(std::move(flat))));
  }

 private:
  static constexpr const char* purpose = "flattening";

  std::string name(const std::string& prefix, const std::string& field) const {
    return prefix.empty() ? field : prefix + delimiter_ + field;
  }

  Status flatten_map(const Map& map, const std::string& prefix, Map& flat) const {
    for (const MapEntry& entry : map) {
      std::string key =
          entry.key.is<std::string>() ? entry.key.as<std::string>() : entry.key.to_string();
      std::string field = name(prefix, key);
      if (entry.value.is_null()) {
        map_put(flat, field, Value());
        continue;
      }
      std::optional<SchemaType> type = inferred_schema_type(entry.value);
      if (!type) {
        return data_error("Flatten transformation was passed a value of type class " +
                          java_class_name(entry.value) +
                          " which is not supported by Connect's data API");
      }
      if (*type == SchemaType::map) {
        SLUICE_CONNECT_TRY(flatten_map(entry.value.as<Map>(), field, flat));
      } else if (*type == SchemaType::structure) {
        return data_error("Flatten transformation does not support class " +
                          java_class_name(entry.value) + " for record without schemas (for field " +
                          field + ").");
      } else {
        map_put(flat, field, entry.value);
      }
    }
    return Status::ok();
  }

  Status flatten_schema(const Schema& schema, const std::string& prefix, SchemaBuilder& builder,
                        bool optional, const Struct* parent_default) const {
    for (const Field& field : schema.fields) {
      std::string field_name = name(prefix, field.name);
      bool field_optional = optional || field.schema->optional;
      const Value* field_default = field.schema->default_value.get();
      Value from_parent;
      if (!field_default && parent_default) {
        from_parent = parent_default->get(field);
        if (!from_parent.is_null()) field_default = &from_parent;
      }
      if (field.schema->type == SchemaType::structure) {
        const Struct* nested_default =
            field_default && field_default->is<Struct>() ? &field_default->as<Struct>() : nullptr;
        SLUICE_CONNECT_TRY(
            flatten_schema(*field.schema, field_name, builder, field_optional, nested_default));
      } else if (field.schema->type == SchemaType::map) {
        return data_error(
            "Flatten transformation does not support MAP for record with schemas (for field " +
            field_name + ").");
      } else {
        SchemaBuilder field_builder = field.schema->type == SchemaType::array
                                          ? SchemaBuilder::array(field.schema->value_schema)
                                          : SchemaBuilder(field.schema->type);
        field_builder.copy_basics(*field.schema);
        if (field_optional) field_builder.optional();
        if (field_default) field_builder.default_value(*field_default);
        Result<SchemaPtr> field_schema = field_builder.build();
        if (!field_schema) return field_schema.status();
        builder.field(field_name, *field_schema);
      }
    }
    return Status::ok();
  }

  Status flatten_struct(const Struct& structure, const std::string& prefix, Struct& flat) const {
    for (const Field& field : structure.schema()->fields) {
      std::string field_name = name(prefix, field.name);
      const Value& value = structure.get(field);
      if (field.schema->type == SchemaType::structure) {
        if (!value.is_null())
          SLUICE_CONNECT_TRY(flatten_struct(value.as<Struct>(), field_name, flat));
      } else {
        SLUICE_CONNECT_TRY(flat.put(field_name, value));
      }
    }
    return Status::ok();
  }

  Side side_;
  std::string delimiter_;
  SchemaCache cache_;
};

}  // namespace

std::vector<TransformEntry> type_transforms() {
  std::vector<TransformEntry> entries;
  for (auto family :
       {key_and_value<Cast>("Cast"), key_and_value<TimestampConverter>("TimestampConverter"),
        key_and_value<Flatten>("Flatten")}) {
    entries.insert(entries.end(), family.begin(), family.end());
  }
  return entries;
}

}  // namespace sluice::connect::detail
