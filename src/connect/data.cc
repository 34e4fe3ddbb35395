#include "connect/data.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "connect/errors.h"
#include "connect/java_text.h"

namespace sluice::connect {

namespace {

struct TypeName {
  SchemaType type;
  const char* name;
};

constexpr TypeName type_names[] = {
    {SchemaType::int8, "INT8"},       {SchemaType::int16, "INT16"},
    {SchemaType::int32, "INT32"},     {SchemaType::int64, "INT64"},
    {SchemaType::float32, "FLOAT32"}, {SchemaType::float64, "FLOAT64"},
    {SchemaType::boolean, "BOOLEAN"}, {SchemaType::string, "STRING"},
    {SchemaType::bytes, "BYTES"},     {SchemaType::array, "ARRAY"},
    {SchemaType::map, "MAP"},         {SchemaType::structure, "STRUCT"},
};

bool same_default(const std::shared_ptr<const Value>& a, const std::shared_ptr<const Value>& b) {
  if (!a || !b) return !a && !b;
  return *a == *b;
}

// Whether `value`'s kind is one of the Java classes Kafka accepts for the
// schema (ConnectSchema's SCHEMA_TYPE_CLASSES and LOGICAL_TYPE_CLASSES).
bool kind_matches(const Schema& schema, const Value& value) {
  if (schema.name) {
    if (*schema.name == decimal_logical_name) return value.is<Decimal>();
    if (*schema.name == date_logical_name || *schema.name == time_logical_name ||
        *schema.name == timestamp_logical_name) {
      return value.is<DateTime>();
    }
  }
  switch (schema.type) {
    case SchemaType::int8:
      return value.is<int8_t>();
    case SchemaType::int16:
      return value.is<int16_t>();
    case SchemaType::int32:
      return value.is<int32_t>();
    case SchemaType::int64:
      return value.is<int64_t>();
    case SchemaType::float32:
      return value.is<float>();
    case SchemaType::float64:
      return value.is<double>();
    case SchemaType::boolean:
      return value.is<bool>();
    case SchemaType::string:
      return value.is<std::string>();
    case SchemaType::bytes:
      return value.is<Bytes>();
    case SchemaType::array:
      return value.is<List>();
    case SchemaType::map:
      return value.is<Map>();
    case SchemaType::structure:
      return value.is<Struct>();
  }
  return false;
}

Status validate_at(const Schema& schema, const Value& value, const std::string& location);

Status validate_children(const Schema& schema, const Value& value, const std::string& location) {
  if (schema.type == SchemaType::array) {
    std::string entry_location = "element of array " + location;
    if (!schema.value_schema) return data_error("No schema defined for " + entry_location);
    for (const Value& entry : value.as<List>()) {
      if (Status status = validate_at(*schema.value_schema, entry, entry_location); !status)
        return status;
    }
  } else if (schema.type == SchemaType::map) {
    std::string key_location = "key of map " + location;
    std::string value_location = "value of map " + location;
    if (!schema.key_schema) return data_error("No schema defined for " + key_location);
    if (!schema.value_schema) return data_error("No schema defined for " + value_location);
    for (const MapEntry& entry : value.as<Map>()) {
      if (Status status = validate_at(*schema.key_schema, entry.key, key_location); !status)
        return status;
      if (Status status = validate_at(*schema.value_schema, entry.value, value_location); !status)
        return status;
    }
  } else if (schema.type == SchemaType::structure) {
    const Struct& structure = value.as<Struct>();
    if (!schema_equals(*structure.schema(), schema))
      return data_error("Struct schemas do not match.");
    return structure.validate();
  }
  return Status::ok();
}

Status validate_at(const Schema& schema, const Value& value, const std::string& location) {
  if (value.is_null()) {
    if (schema.optional) return Status::ok();
    return data_error("Invalid value: null used for required " + location +
                      ", schema type: " + schema_type_name(schema.type));
  }
  if (!kind_matches(schema, value)) {
    std::string message = "Invalid Java object for schema";
    if (schema.name) message += " \"" + *schema.name + "\"";
    message += std::string(" with type ") + schema_type_name(schema.type) + ": class " +
               java_class_name(value);
    return data_error(message + " for " + location);
  }
  return validate_children(schema, value, location);
}

}  // namespace

const char* schema_type_name(SchemaType type) {
  for (const TypeName& entry : type_names) {
    if (entry.type == type) return entry.name;
  }
  return "?";
}

std::optional<SchemaType> schema_type_from_name(std::string_view upper_case_name) {
  for (const TypeName& entry : type_names) {
    if (upper_case_name == entry.name) return entry.type;
  }
  return std::nullopt;
}

bool is_primitive(SchemaType type) {
  return type != SchemaType::array && type != SchemaType::map && type != SchemaType::structure;
}

const Field* Schema::field(std::string_view field_name) const {
  for (const Field& candidate : fields) {
    if (candidate.name == field_name) return &candidate;
  }
  return nullptr;
}

const std::string* Schema::parameter(std::string_view key) const {
  if (!parameters) return nullptr;
  for (const auto& entry : *parameters) {
    if (entry.first == key) return &entry.second;
  }
  return nullptr;
}

std::string Schema::to_string() const {
  if (name) return "Schema{" + *name + ":" + schema_type_name(type) + "}";
  return std::string("Schema{") + schema_type_name(type) + "}";
}

bool schema_equals(const Schema& a, const Schema& b) {
  if (&a == &b) return true;
  if (a.type != b.type || a.optional != b.optional || a.name != b.name || a.version != b.version ||
      a.doc != b.doc || a.parameters != b.parameters ||
      !same_default(a.default_value, b.default_value) ||
      !schema_equals(a.key_schema, b.key_schema) ||
      !schema_equals(a.value_schema, b.value_schema) || a.fields.size() != b.fields.size()) {
    return false;
  }
  for (size_t i = 0; i < a.fields.size(); ++i) {
    if (a.fields[i].name != b.fields[i].name || a.fields[i].index != b.fields[i].index ||
        !schema_equals(a.fields[i].schema, b.fields[i].schema)) {
      return false;
    }
  }
  return true;
}

bool schema_equals(const SchemaPtr& a, const SchemaPtr& b) {
  if (!a || !b) return !a && !b;
  return schema_equals(*a, *b);
}

// --- Struct ---

Struct::Struct(SchemaPtr schema) : schema_(std::move(schema)) {
  SLUICE_ASSERT(schema_ && schema_->type == SchemaType::structure,
                "a Struct needs a STRUCT schema");
  values_.resize(schema_->fields.size());
}

Status Struct::put(std::string_view field_name, Value value) {
  const Field* field = schema_->field(field_name);
  if (!field) return data_error(std::string(field_name) + " is not a valid field name");
  return put(*field, std::move(value));
}

Status Struct::put(const Field& field, Value value) {
  SLUICE_ASSERT(field.index >= 0 && static_cast<size_t>(field.index) < values_.size(),
                "a Field of another schema");
  if (Status status = validate_value(field.name, *field.schema, value); !status) return status;
  values_[field.index] = std::move(value);
  return Status::ok();
}

Result<Value> Struct::get(std::string_view field_name) const {
  const Field* field = schema_->field(field_name);
  if (!field) return data_error(std::string(field_name) + " is not a valid field name");
  return get(*field);
}

const Value& Struct::get(const Field& field) const {
  const Value& value = values_[field.index];
  if (value.is_null() && field.schema->default_value) return *field.schema->default_value;
  return value;
}

Result<Value> Struct::get_without_default(std::string_view field_name) const {
  const Field* field = schema_->field(field_name);
  if (!field) return data_error(std::string(field_name) + " is not a valid field name");
  return values_[field->index];
}

const Value& Struct::get_without_default(const Field& field) const { return values_[field.index]; }

Status Struct::validate() const {
  for (const Field& field : schema_->fields) {
    const Value& value = values_[field.index];
    if (value.is_null() && (field.schema->optional || field.schema->default_value)) continue;
    if (Status status = validate_value(field.name, *field.schema, value); !status) return status;
  }
  return Status::ok();
}

std::string Struct::to_string() const {
  std::string text = "Struct{";
  bool first = true;
  for (const Field& field : schema_->fields) {
    const Value& value = values_[field.index];
    if (value.is_null()) continue;
    if (!first) text += ",";
    first = false;
    text += field.name + "=" + value.to_string();
  }
  return text + "}";
}

bool operator==(const Struct& a, const Struct& b) {
  return schema_equals(a.schema_, b.schema_) && a.values_ == b.values_;
}

// --- Value ---

bool operator==(const Value& a, const Value& b) { return a.data_ == b.data_; }

std::string Value::to_string() const {
  struct Printer {
    std::string operator()(std::monostate) const { return "null"; }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(int8_t v) const { return std::to_string(v); }
    std::string operator()(int16_t v) const { return std::to_string(v); }
    std::string operator()(int32_t v) const { return std::to_string(v); }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(float v) const { return java_float_text(v); }
    std::string operator()(double v) const { return java_double_text(v); }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const Bytes&) const { return "[B"; }
    std::string operator()(const List& v) const {
      std::string text = "[";
      for (size_t i = 0; i < v.size(); ++i) text += (i ? ", " : "") + v[i].to_string();
      return text + "]";
    }
    std::string operator()(const Map& v) const {
      std::string text = "{";
      for (size_t i = 0; i < v.size(); ++i) {
        text += (i ? ", " : "") + v[i].key.to_string() + "=" + v[i].value.to_string();
      }
      return text + "}";
    }
    std::string operator()(const Struct& v) const { return v.to_string(); }
    std::string operator()(const Decimal& v) const { return decimal_to_text(v); }
    std::string operator()(const DateTime& v) const { return iso8601_text(v); }
  };
  return std::visit(Printer{}, data_);
}

const Value* map_find(const Map& map, std::string_view key) {
  for (const MapEntry& entry : map) {
    if (entry.key.is<std::string>() && entry.key.as<std::string>() == key) return &entry.value;
  }
  return nullptr;
}

void map_put(Map& map, Value key, Value value) {
  for (MapEntry& entry : map) {
    if (entry.key == key) {
      entry.value = std::move(value);
      return;
    }
  }
  map.push_back(MapEntry{std::move(key), std::move(value)});
}

void map_remove(Map& map, std::string_view key) {
  std::erase_if(map, [key](const MapEntry& entry) {
    return entry.key.is<std::string>() && entry.key.as<std::string>() == key;
  });
}

std::string java_class_name(const Value& value) {
  static const char* const names[] = {
      "null",
      "java.lang.Boolean",
      "java.lang.Byte",
      "java.lang.Short",
      "java.lang.Integer",
      "java.lang.Long",
      "java.lang.Float",
      "java.lang.Double",
      "java.lang.String",
      "[B",
      "java.util.ArrayList",
      "java.util.HashMap",
      "org.apache.kafka.connect.data.Struct",
      "java.math.BigDecimal",
      "java.util.Date",
  };
  static_assert(std::size(names) == std::variant_size_v<Value::Data>);
  return names[value.data().index()];
}

std::optional<SchemaType> inferred_schema_type(const Value& value) {
  static const std::optional<SchemaType> types[] = {
      std::nullopt,          SchemaType::boolean, SchemaType::int8,    SchemaType::int16,
      SchemaType::int32,     SchemaType::int64,   SchemaType::float32, SchemaType::float64,
      SchemaType::string,    SchemaType::bytes,   SchemaType::array,   SchemaType::map,
      SchemaType::structure, std::nullopt,        std::nullopt,
  };
  static_assert(std::size(types) == std::variant_size_v<Value::Data>);
  return types[value.data().index()];
}

Status validate_value(const Schema& schema, const Value& value) {
  return validate_at(schema, value, "value");
}

Status validate_value(const std::string& field_name, const Schema& schema, const Value& value) {
  return validate_at(schema, value, "field: \"" + field_name + "\"");
}

// --- SchemaBuilder ---

SchemaBuilder::SchemaBuilder(SchemaType type) { schema_.type = type; }

SchemaBuilder SchemaBuilder::array(SchemaPtr value_schema) {
  SchemaBuilder builder(SchemaType::array);
  builder.schema_.value_schema = std::move(value_schema);
  return builder;
}

SchemaBuilder SchemaBuilder::map(SchemaPtr key_schema, SchemaPtr value_schema) {
  SchemaBuilder builder(SchemaType::map);
  builder.schema_.key_schema = std::move(key_schema);
  builder.schema_.value_schema = std::move(value_schema);
  return builder;
}

SchemaBuilder SchemaBuilder::from(const Schema& schema) {
  SchemaBuilder builder(schema.type);
  builder.schema_ = schema;
  return builder;
}

SchemaBuilder& SchemaBuilder::optional() {
  schema_.optional = true;
  return *this;
}

SchemaBuilder& SchemaBuilder::required() {
  schema_.optional = false;
  return *this;
}

SchemaBuilder& SchemaBuilder::name(std::optional<std::string> name) {
  schema_.name = std::move(name);
  return *this;
}

SchemaBuilder& SchemaBuilder::version(std::optional<int32_t> version) {
  schema_.version = version;
  return *this;
}

SchemaBuilder& SchemaBuilder::doc(std::optional<std::string> doc) {
  schema_.doc = std::move(doc);
  return *this;
}

SchemaBuilder& SchemaBuilder::parameter(std::string key, std::string value) {
  if (!schema_.parameters) schema_.parameters.emplace();
  for (auto& entry : *schema_.parameters) {
    if (entry.first == key) {
      entry.second = std::move(value);
      return *this;
    }
  }
  schema_.parameters->emplace_back(std::move(key), std::move(value));
  return *this;
}

SchemaBuilder& SchemaBuilder::parameters(const Parameters& parameters) {
  if (!schema_.parameters) schema_.parameters.emplace();
  for (const auto& entry : parameters) parameter(entry.first, entry.second);
  return *this;
}

SchemaBuilder& SchemaBuilder::field(std::string field_name, SchemaPtr field_schema) {
  if (schema_.type != SchemaType::structure) {
    if (error_.empty())
      error_ = "Cannot create fields on type " + std::string(schema_type_name(schema_.type));
    return *this;
  }
  if (schema_.field(field_name)) {
    if (error_.empty())
      error_ = "Cannot create field because of field name duplication " + field_name;
    return *this;
  }
  int index = static_cast<int>(schema_.fields.size());
  schema_.fields.push_back(Field{std::move(field_name), index, std::move(field_schema)});
  return *this;
}

SchemaBuilder& SchemaBuilder::default_value(Value value) {
  pending_default_ = std::move(value);
  return *this;
}

SchemaBuilder& SchemaBuilder::copy_basics(const Schema& source) {
  schema_.name = source.name;
  schema_.version = source.version;
  schema_.doc = source.doc;
  if (source.parameters) parameters(*source.parameters);
  return *this;
}

Result<SchemaPtr> SchemaBuilder::build() const {
  if (!error_.empty()) return data_error(error_);
  auto schema = std::make_shared<Schema>(schema_);
  if (pending_default_) {
    // Kafka checks the default against the schema as it is at that point.
    if (!validate_value(*schema, *pending_default_)) return data_error("Invalid default value");
    schema->default_value = std::make_shared<const Value>(*pending_default_);
  }
  return SchemaPtr(std::move(schema));
}

SchemaPtr SchemaBuilder::build_or_die() const {
  Result<SchemaPtr> schema = build();
  SLUICE_ASSERT(schema.is_ok(), schema.status().message().c_str());
  return std::move(schema).value();
}

SchemaPtr primitive_schema(SchemaType type, bool optional) {
  SLUICE_ASSERT(is_primitive(type), "primitive_schema of a complex type");
  // One shared instance per (type, optional): 9 primitive types x 2.
  static const auto table = [] {
    std::map<std::pair<SchemaType, bool>, SchemaPtr> schemas;
    for (const TypeName& entry : type_names) {
      if (!is_primitive(entry.type)) continue;
      for (bool is_optional : {false, true}) {
        auto schema = std::make_shared<Schema>();
        schema->type = entry.type;
        schema->optional = is_optional;
        schemas[{entry.type, is_optional}] = schema;
      }
    }
    return schemas;
  }();
  return table.at({type, optional});
}

// --- logical types ---

SchemaBuilder decimal_schema(int32_t scale) {
  SchemaBuilder builder = SchemaBuilder::bytes();
  builder.name(std::string(decimal_logical_name))
      .parameter(std::string(decimal_scale_parameter), std::to_string(scale))
      .version(1);
  return builder;
}

SchemaBuilder date_schema() {
  SchemaBuilder builder = SchemaBuilder::int32();
  builder.name(std::string(date_logical_name)).version(1);
  return builder;
}

SchemaBuilder time_schema() {
  SchemaBuilder builder = SchemaBuilder::int32();
  builder.name(std::string(time_logical_name)).version(1);
  return builder;
}

SchemaBuilder timestamp_schema() {
  SchemaBuilder builder = SchemaBuilder::int64();
  builder.name(std::string(timestamp_logical_name)).version(1);
  return builder;
}

bool is_logical(const Schema& schema, std::string_view logical_name) {
  return schema.name && *schema.name == logical_name;
}

Result<int32_t> date_to_days(const DateTime& value) {
  if (value.millis % millis_per_day != 0) {
    return data_error(
        "Kafka Connect Date type should not have any time fields set to non-zero values.");
  }
  return static_cast<int32_t>(value.millis / millis_per_day);
}

Result<int32_t> time_to_millis(const DateTime& value) {
  if (value.millis < 0 || value.millis >= millis_per_day) {
    return data_error(
        "Kafka Connect Time type should not have any date fields set to non-zero values.");
  }
  return static_cast<int32_t>(value.millis);
}

DateTime date_from_days(int32_t days) {
  return DateTime{static_cast<int64_t>(days) * millis_per_day};
}

DateTime time_from_millis(int32_t millis) { return DateTime{millis}; }

Result<int32_t> decimal_scale(const Schema& schema) {
  const std::string* scale = schema.parameter(decimal_scale_parameter);
  if (!scale) return data_error("Invalid Decimal schema: scale parameter not found.");
  try {
    return std::stoi(*scale);
  } catch (const std::exception&) {
    return data_error("Invalid scale parameter found in Decimal schema: ");
  }
}

}  // namespace sluice::connect
