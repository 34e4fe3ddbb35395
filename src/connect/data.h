#pragma once
// Kafka Connect's data model (org.apache.kafka.connect.data): schemas, struct
// values and the value type every converter and transform works on. Plain
// values with no I/O; schemas are immutable once built and shared by pointer.
//
// Value kinds map one to one onto the Java classes Connect uses, because
// Kafka's error messages name those classes ("Invalid Java object for schema
// with type INT32: class java.lang.String for field: \"id\""); java_class_name
// gives the name Kafka would print, so our messages are Kafka's.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"

namespace sluice::connect {

enum class SchemaType {
  int8,
  int16,
  int32,
  int64,
  float32,
  float64,
  boolean,
  string,
  bytes,
  array,
  map,
  structure
};

// Kafka's Schema.Type names: "INT8" ... "STRUCT".
const char* schema_type_name(SchemaType type);
// The lower-case JSON names ("int8", "float", "double", ...) of JsonSchema.
std::optional<SchemaType> schema_type_from_name(std::string_view upper_case_name);
bool is_primitive(SchemaType type);

class Value;
struct Schema;
using SchemaPtr = std::shared_ptr<const Schema>;
using Parameters =
    std::vector<std::pair<std::string, std::string>>;  // insertion order, as Kafka's LinkedHashMap

struct Field {
  std::string name;
  int index = 0;
  SchemaPtr schema;
};

struct Schema {
  SchemaType type = SchemaType::string;
  bool optional = false;
  std::shared_ptr<const Value> default_value;  // null: no default
  std::optional<std::string> name;
  std::optional<int32_t> version;
  std::optional<std::string> doc;
  std::optional<Parameters> parameters;
  std::vector<Field> fields;  // struct only
  SchemaPtr key_schema;       // map only
  SchemaPtr value_schema;     // array and map

  const Field* field(std::string_view field_name) const;
  const std::string* parameter(std::string_view key) const;
  // Kafka's ConnectSchema.toString: "Schema{name:TYPE}" or "Schema{TYPE}".
  std::string to_string() const;
};

// Deep equality, as ConnectSchema.equals (type, optional, default, fields,
// key and value schemas, name, version, doc, parameters).
bool schema_equals(const Schema& a, const Schema& b);
bool schema_equals(const SchemaPtr& a, const SchemaPtr& b);

// BYTES values (Java's byte[]): distinct from STRING.
struct Bytes {
  std::string data;
  friend bool operator==(const Bytes&, const Bytes&) = default;
};

// The Decimal logical type's value (java.math.BigDecimal): the unscaled
// value as big-endian two's complement bytes, exactly Decimal's BYTES form.
struct Decimal {
  std::string unscaled;
  int32_t scale = 0;
  friend bool operator==(const Decimal&, const Decimal&) = default;
};

// The Date, Time and Timestamp logical types' value (java.util.Date):
// milliseconds since the epoch, UTC.
struct DateTime {
  int64_t millis = 0;
  friend bool operator==(const DateTime&, const DateTime&) = default;
};

struct MapEntry;
using List = std::vector<Value>;
using Map = std::vector<MapEntry>;  // insertion order; keys unique

// A value of a STRUCT schema: one slot per field, null until put.
class Struct {
 public:
  explicit Struct(SchemaPtr schema);

  const SchemaPtr& schema() const { return schema_; }
  // Kafka's Struct.put: checks the name and validates the value against the
  // field's schema ("x is not a valid field name", Invalid value ...).
  Status put(std::string_view field_name, Value value);
  Status put(const Field& field, Value value);
  // Kafka's get: the field's default when the slot is null.
  Result<Value> get(std::string_view field_name) const;
  const Value& get(const Field& field) const;
  Result<Value> get_without_default(std::string_view field_name) const;
  const Value& get_without_default(const Field& field) const;
  // Kafka's Struct.validate: required fields without defaults are set, every
  // value matches its field's schema.
  Status validate() const;
  const std::vector<Value>& values() const { return values_; }
  std::string to_string() const;  // Kafka's "Struct{a=1,b=x}"

  friend bool operator==(const Struct& a, const Struct& b);

 private:
  SchemaPtr schema_;
  std::vector<Value> values_;
};

class Value {
 public:
  using Data = std::variant<std::monostate, bool, int8_t, int16_t, int32_t, int64_t, float, double,
                            std::string, Bytes, List, Map, Struct, Decimal, DateTime>;

  Value() = default;
  // Exactly one of the alternatives (no silent int -> int64 promotions: the
  // kind is part of the value, as Java's boxed classes are).
  template <class T>
  requires(!std::same_as<std::decay_t<T>, Value> && std::is_constructible_v<Data, T> &&
           !std::is_same_v<std::decay_t<T>, const char*>) Value(T&& value)
      : data_(std::forward<T>(value)) {}  // NOLINT(google-explicit-constructor)
  Value(const char* text);                // NOLINT(google-explicit-constructor)

  bool is_null() const { return std::holds_alternative<std::monostate>(data_); }
  template <class T>
  bool is() const {
    return std::holds_alternative<T>(data_);
  }
  template <class T>
  const T& as() const {
    SLUICE_ASSERT(is<T>(), "Value::as of another kind");
    return std::get<T>(data_);
  }
  template <class T>
  T& as() {
    SLUICE_ASSERT(is<T>(), "Value::as of another kind");
    return std::get<T>(data_);
  }
  const Data& data() const { return data_; }
  // Java's toString of the value (Integer.toString, Struct{...}, [a, b], {k=v}).
  std::string to_string() const;

  friend bool operator==(const Value& a, const Value& b);

 private:
  Data data_;
};

struct MapEntry {
  Value key;
  Value value;
  friend bool operator==(const MapEntry& a, const MapEntry& b) = default;
};

// Defined here, where MapEntry is complete: the variant's members need it.
inline Value::Value(const char* text) : data_(std::string(text)) {}

// Map helpers for schemaless (string-keyed) maps.
const Value* map_find(const Map& map, std::string_view key);
void map_put(Map& map, Value key, Value value);  // replaces an equal key in place
void map_remove(Map& map, std::string_view key);

// Kafka's name of the Java class that holds such a value ("java.lang.Integer",
// "[B", "java.util.HashMap", ...), "null" for null.
std::string java_class_name(const Value& value);
// The schema type ConnectSchema.schemaType infers for a schemaless value;
// nullopt for null, Decimal and DateTime (Kafka infers none for them).
std::optional<SchemaType> inferred_schema_type(const Value& value);

// Kafka's ConnectSchema.validateValue: the value's kind matches the schema's
// type (or logical type), null only where optional, recursively.
Status validate_value(const Schema& schema, const Value& value);
Status validate_value(const std::string& field_name, const Schema& schema, const Value& value);

// Schemas are built with SchemaBuilder, as Kafka's: a misuse (duplicate
// field, invalid default) is remembered and returned by build().
class SchemaBuilder {
 public:
  explicit SchemaBuilder(SchemaType type);
  static SchemaBuilder int8() { return SchemaBuilder(SchemaType::int8); }
  static SchemaBuilder int16() { return SchemaBuilder(SchemaType::int16); }
  static SchemaBuilder int32() { return SchemaBuilder(SchemaType::int32); }
  static SchemaBuilder int64() { return SchemaBuilder(SchemaType::int64); }
  static SchemaBuilder float32() { return SchemaBuilder(SchemaType::float32); }
  static SchemaBuilder float64() { return SchemaBuilder(SchemaType::float64); }
  static SchemaBuilder boolean() { return SchemaBuilder(SchemaType::boolean); }
  static SchemaBuilder string() { return SchemaBuilder(SchemaType::string); }
  static SchemaBuilder bytes() { return SchemaBuilder(SchemaType::bytes); }
  static SchemaBuilder structure() { return SchemaBuilder(SchemaType::structure); }
  static SchemaBuilder array(SchemaPtr value_schema);
  static SchemaBuilder map(SchemaPtr key_schema, SchemaPtr value_schema);
  // A copy of `schema`'s settings to change (Kafka's SchemaUtil.copySchemaBasics
  // copies name, version, doc and parameters only: see copy_basics).
  static SchemaBuilder from(const Schema& schema);

  SchemaBuilder& optional();
  SchemaBuilder& required();
  SchemaBuilder& name(std::optional<std::string> name);
  SchemaBuilder& version(std::optional<int32_t> version);
  SchemaBuilder& doc(std::optional<std::string> doc);
  SchemaBuilder& parameter(std::string key, std::string value);
  SchemaBuilder& parameters(const Parameters& parameters);
  SchemaBuilder& field(std::string field_name, SchemaPtr field_schema);
  SchemaBuilder& default_value(Value value);
  // Kafka's SchemaUtil.copySchemaBasics: name, version, doc, parameters.
  SchemaBuilder& copy_basics(const Schema& source);

  SchemaType type() const { return schema_.type; }
  Result<SchemaPtr> build() const;
  // For schemas written in code, whose misuse is a programmer error.
  SchemaPtr build_or_die() const;

 private:
  Schema schema_;
  std::optional<Value> pending_default_;
  std::string error_;
};

// Shared primitive schemas (Kafka's Schema.INT32_SCHEMA, OPTIONAL_STRING_SCHEMA...).
SchemaPtr primitive_schema(SchemaType type, bool optional = false);

// Logical types, by Kafka's names.
// Date and Time logical values count milliseconds; a Date is whole days.
inline constexpr int64_t millis_per_day = 86'400'000;

inline constexpr std::string_view decimal_logical_name = "org.apache.kafka.connect.data.Decimal";
inline constexpr std::string_view date_logical_name = "org.apache.kafka.connect.data.Date";
inline constexpr std::string_view time_logical_name = "org.apache.kafka.connect.data.Time";
inline constexpr std::string_view timestamp_logical_name =
    "org.apache.kafka.connect.data.Timestamp";
inline constexpr std::string_view decimal_scale_parameter = "scale";

SchemaBuilder decimal_schema(int32_t scale);
SchemaBuilder date_schema();
SchemaBuilder time_schema();
SchemaBuilder timestamp_schema();
bool is_logical(const Schema& schema, std::string_view logical_name);

// Logical <-> underlying representation, with Kafka's messages.
Result<int32_t> date_to_days(const DateTime& value);    // Date.fromLogical
Result<int32_t> time_to_millis(const DateTime& value);  // Time.fromLogical
DateTime date_from_days(int32_t days);
DateTime time_from_millis(int32_t millis);
Result<int32_t> decimal_scale(const Schema& schema);  // the "scale" parameter

}  // namespace sluice::connect
