#include "connect/json_converter.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "connect/errors.h"
#include "connect/java_text.h"

namespace sluice::connect {

namespace {

// Insertion-ordered, as Jackson's ObjectNode: the key order is part of the
// bytes Kafka writes.
using Json = nlohmann::ordered_json;

// A Json binary node with this subtype holds the text of a number to write
// as is (a NUMERIC decimal, whose digits no double can carry); any other
// binary node is BYTES, written in base64 as Jackson writes a BinaryNode.
constexpr std::uint64_t raw_number_subtype = 1;

Json binary_node(const std::string& bytes) {
  return Json::binary(std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
}

Json raw_number_node(const std::string& text) {
  return Json::binary(std::vector<std::uint8_t>(text.begin(), text.end()), raw_number_subtype);
}

// Jackson's string escaping: the two mandatory escapes, the short forms of
// \b \t \n \f \r, "\u00XX" (upper-case hex) for other control characters.
void write_string(const std::string& text, std::string& out) {
  static const char hex[] = "0123456789ABCDEF";
  out += '"';
  for (char c : text) {
    unsigned char byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (byte < 0x20) {
          out += "\\u00";
          out += hex[byte >> 4];
          out += hex[byte & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

// Compact JSON as Jackson's ObjectMapper writes it (no blanks).
void write_json(const Json& node, std::string& out) {
  switch (node.type()) {
    case Json::value_t::null:
      out += "null";
      break;
    case Json::value_t::boolean:
      out += node.get<bool>() ? "true" : "false";
      break;
    case Json::value_t::number_integer:
      out += std::to_string(node.get<std::int64_t>());
      break;
    case Json::value_t::number_unsigned:
      out += std::to_string(node.get<std::uint64_t>());
      break;
    case Json::value_t::number_float: {
      double number = node.get<double>();
      // Jackson quotes NaN and infinities (QUOTE_NON_NUMERIC_NUMBERS).
      if (std::isfinite(number)) {
        out += java_double_text(number);
      } else {
        write_string(java_double_text(number), out);
      }
      break;
    }
    case Json::value_t::string:
      write_string(node.get_ref<const std::string&>(), out);
      break;
    case Json::value_t::binary: {
      const auto& binary = node.get_binary();
      std::string bytes(binary.begin(), binary.end());
      if (binary.has_subtype() && binary.subtype() == raw_number_subtype) {
        out += bytes;
      } else {
        write_string(base64_encode(bytes), out);
      }
      break;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const Json& element : node) {
        if (!first) out += ',';
        first = false;
        write_json(element, out);
      }
      out += ']';
      break;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, element] : node.items()) {
        if (!first) out += ',';
        first = false;
        write_string(key, out);
        out += ':';
        write_json(element, out);
      }
      out += '}';
      break;
    }
    case Json::value_t::discarded:
      break;
  }
}

// Jackson's JsonNodeType names, as Kafka's messages print them.
const char* node_type_name(const Json* node) {
  if (!node) return "MISSING";
  switch (node->type()) {
    case Json::value_t::null:
      return "NULL";
    case Json::value_t::boolean:
      return "BOOLEAN";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "NUMBER";
    case Json::value_t::string:
      return "STRING";
    case Json::value_t::binary:
      return "BINARY";
    case Json::value_t::array:
      return "ARRAY";
    case Json::value_t::object:
      return "OBJECT";
    case Json::value_t::discarded:
      return "MISSING";
  }
  return "MISSING";
}

const char* json_type_name(SchemaType type) {
  switch (type) {
    case SchemaType::boolean:
      return "boolean";
    case SchemaType::int8:
      return "int8";
    case SchemaType::int16:
      return "int16";
    case SchemaType::int32:
      return "int32";
    case SchemaType::int64:
      return "int64";
    case SchemaType::float32:
      return "float";
    case SchemaType::float64:
      return "double";
    case SchemaType::bytes:
      return "bytes";
    case SchemaType::string:
      return "string";
    case SchemaType::array:
      return "array";
    case SchemaType::map:
      return "map";
    case SchemaType::structure:
      return "struct";
  }
  return "?";
}

std::optional<SchemaType> type_from_json_name(const std::string& name) {
  for (SchemaType type :
       {SchemaType::boolean, SchemaType::int8, SchemaType::int16, SchemaType::int32,
        SchemaType::int64, SchemaType::float32, SchemaType::float64, SchemaType::bytes,
        SchemaType::string, SchemaType::array, SchemaType::map, SchemaType::structure}) {
    if (name == json_type_name(type)) return type;
  }
  return std::nullopt;
}

// Jackson's numeric accessors (intValue, longValue, doubleValue): a cast of
// the number, 0 for a node that is not a number.
int64_t long_value(const Json& node) {
  if (node.is_number_integer() || node.is_number_unsigned()) return node.get<std::int64_t>();
  if (node.is_number_float()) {
    double number = node.get<double>();
    if (std::isnan(number)) return 0;
    if (number >= 9.2233720368547758e18) return std::numeric_limits<int64_t>::max();
    if (number <= -9.2233720368547758e18) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(number);
  }
  return 0;
}

double double_value(const Json& node) { return node.is_number() ? node.get<double>() : 0.0; }

bool is_int_node(const Json& node) {  // Jackson's isInt(): an integer that fits 32 bits
  if (!node.is_number_integer() && !node.is_number_unsigned()) return false;
  if (node.is_number_unsigned())
    return node.get<std::uint64_t>() <= std::numeric_limits<int32_t>::max();
  int64_t number = node.get<std::int64_t>();
  return number >= std::numeric_limits<int32_t>::min() &&
         number <= std::numeric_limits<int32_t>::max();
}

// Kafka's "class java.lang.String" in messages.
std::string class_of(const Value& value) { return "class " + java_class_name(value); }

// Schemaless writing infers the type from the value; Decimal and DateTime
// have none (ConnectSchema.schemaType).
Result<SchemaType> type_to_write(const Schema* schema, const Value& value) {
  if (schema) return schema->type;
  std::optional<SchemaType> inferred = inferred_schema_type(value);
  if (!inferred)
    return data_error("Java class " + class_of(value) +
                      " does not have corresponding schema type.");
  return *inferred;
}

class JsonWriter {
 public:
  explicit JsonWriter(const JsonConverterConfig& config) : config_(config) {}

  Result<Json> schema_json(const Schema& schema) const {
    Json node = Json::object();
    node["type"] = json_type_name(schema.type);
    if (Status status = add_children_schemas(schema, node); !status) return status;
    node["optional"] = schema.optional;
    if (schema.name) node["name"] = *schema.name;
    if (schema.version) node["version"] = *schema.version;
    if (schema.doc) node["doc"] = *schema.doc;
    if (schema.parameters) {
      Json parameters = Json::object();
      for (const auto& [key, value] : *schema.parameters) parameters[key] = value;
      node["parameters"] = std::move(parameters);
    }
    if (schema.default_value) {
      Result<Json> default_json = value_json(&schema, *schema.default_value);
      if (!default_json) return default_json.status();
      node["default"] = std::move(default_json).value();
    }
    return node;
  }

  Result<Json> value_json(const Schema* schema, const Value& value) const {
    if (value.is_null()) return null_json(schema);
    if (schema && schema->name) {
      if (std::optional<Result<Json>> logical = logical_json(*schema, value))
        return std::move(*logical);
    }
    Result<SchemaType> type = type_to_write(schema, value);
    if (!type) return type.status();
    return typed_json(schema, *type, value);
  }

 private:
  Status add_children_schemas(const Schema& schema, Json& node) const {
    auto child = [this](const SchemaPtr& child_schema) -> Result<Json> {
      if (!child_schema) return Json(nullptr);
      return schema_json(*child_schema);
    };
    if (schema.type == SchemaType::array) {
      Result<Json> items = child(schema.value_schema);
      if (!items) return items.status();
      node["items"] = std::move(items).value();
    } else if (schema.type == SchemaType::map) {
      Result<Json> keys = child(schema.key_schema);
      if (!keys) return keys.status();
      Result<Json> values = child(schema.value_schema);
      if (!values) return values.status();
      node["keys"] = std::move(keys).value();
      node["values"] = std::move(values).value();
    } else if (schema.type == SchemaType::structure) {
      Json fields = Json::array();
      for (const Field& field : schema.fields) {
        Result<Json> field_json = schema_json(*field.schema);
        if (!field_json) return field_json.status();
        field_json->operator[]("field") = field.name;
        fields.push_back(std::move(field_json).value());
      }
      node["fields"] = std::move(fields);
    }
    return Status::ok();
  }

  Result<Json> null_json(const Schema* schema) const {
    if (!schema) return Json(nullptr);
    if (schema->default_value && config_.replace_null_with_default)
      return value_json(schema, *schema->default_value);
    if (schema->optional) return Json(nullptr);
    return data_error(
        "Conversion error: null value for field that is required and has no default value");
  }

  // Kafka's LOGICAL_CONVERTERS (toJson); nullopt for a name that is not a
  // logical type.
  std::optional<Result<Json>> logical_json(const Schema& schema, const Value& value) const {
    const std::string& name = *schema.name;
    if (name == decimal_logical_name) {
      if (!value.is<Decimal>()) {
        return data_error("Invalid type for Decimal, expected BigDecimal but was " +
                          class_of(value));
      }
      const Decimal& decimal = value.as<Decimal>();
      if (config_.decimal_format == DecimalFormat::numeric)
        return raw_number_node(decimal_to_text(decimal));
      Result<int32_t> scale = decimal_scale(schema);
      if (!scale) return scale.status();
      if (*scale != decimal.scale) {
        return data_error(
            "Decimal value has mismatching scale for given Decimal schema. Schema has scale " +
            std::to_string(*scale) + ", value has scale " + std::to_string(decimal.scale) + ".");
      }
      return binary_node(decimal.unscaled);
    }
    const char* label = name == date_logical_name        ? "Date"
                        : name == time_logical_name      ? "Time"
                        : name == timestamp_logical_name ? "Timestamp"
                                                         : nullptr;
    if (!label) return std::nullopt;
    if (!value.is<DateTime>()) {
      return data_error(std::string("Invalid type for ") + label + ", expected Date but was " +
                        class_of(value));
    }
    const DateTime& time = value.as<DateTime>();
    if (name == timestamp_logical_name) return Json(time.millis);
    Result<int32_t> number = name == date_logical_name ? date_to_days(time) : time_to_millis(time);
    if (!number) return number.status();
    return Json(*number);
  }

  Result<Json> typed_json(const Schema* schema, SchemaType type, const Value& value) const {
    auto mismatch = [&]() -> Result<Json> {
      return data_error(std::string("Invalid type for ") +
                        (schema ? schema_type_name(schema->type) : "unknown schema") + ": " +
                        class_of(value));
    };
    switch (type) {
      case SchemaType::int8:
        return value.is<int8_t>() ? Result<Json>(Json(value.as<int8_t>())) : mismatch();
      case SchemaType::int16:
        return value.is<int16_t>() ? Result<Json>(Json(value.as<int16_t>())) : mismatch();
      case SchemaType::int32:
        return value.is<int32_t>() ? Result<Json>(Json(value.as<int32_t>())) : mismatch();
      case SchemaType::int64:
        return value.is<int64_t>() ? Result<Json>(Json(value.as<int64_t>())) : mismatch();
      case SchemaType::float32:
        // Float.toString's digits, carried by the double they denote.
        if (!value.is<float>()) return mismatch();
        return Json(std::strtod(java_float_text(value.as<float>()).c_str(), nullptr));
      case SchemaType::float64:
        return value.is<double>() ? Result<Json>(Json(value.as<double>())) : mismatch();
      case SchemaType::boolean:
        return value.is<bool>() ? Result<Json>(Json(value.as<bool>())) : mismatch();
      case SchemaType::string:
        return value.is<std::string>() ? Result<Json>(Json(value.as<std::string>())) : mismatch();
      case SchemaType::bytes:
        if (!value.is<Bytes>())
          return data_error("Invalid type for bytes type: " + class_of(value));
        return binary_node(value.as<Bytes>().data);
      case SchemaType::array:
        return value.is<List>() ? array_json(schema, value.as<List>()) : mismatch();
      case SchemaType::map:
        return value.is<Map>() ? map_json(schema, value.as<Map>()) : mismatch();
      case SchemaType::structure:
        return value.is<Struct>() ? struct_json(*schema, value.as<Struct>()) : mismatch();
    }
    return mismatch();
  }

  Result<Json> array_json(const Schema* schema, const List& list) const {
    Json node = Json::array();
    const Schema* element_schema = schema ? schema->value_schema.get() : nullptr;
    for (const Value& element : list) {
      Result<Json> element_json = value_json(element_schema, element);
      if (!element_json) return element_json.status();
      node.push_back(std::move(element_json).value());
    }
    return node;
  }

  // String keys make a JSON object; any other key type a list of [key, value]
  // pairs (schemaless: an object when every key is a string).
  Result<Json> map_json(const Schema* schema, const Map& map) const {
    const Schema* key_schema = schema ? schema->key_schema.get() : nullptr;
    const Schema* value_schema = schema ? schema->value_schema.get() : nullptr;
    bool object_mode = true;
    if (schema) {
      object_mode = key_schema && key_schema->type == SchemaType::string;
    } else {
      for (const MapEntry& entry : map) object_mode = object_mode && entry.key.is<std::string>();
    }
    Json node = object_mode ? Json::object() : Json::array();
    for (const MapEntry& entry : map) {
      Result<Json> key = value_json(key_schema, entry.key);
      if (!key) return key.status();
      Result<Json> value = value_json(value_schema, entry.value);
      if (!value) return value.status();
      if (object_mode) {
        node[key->is_string() ? key->get<std::string>() : key->dump()] = std::move(value).value();
      } else {
        node.push_back(Json::array({std::move(key).value(), std::move(value).value()}));
      }
    }
    return node;
  }

  Result<Json> struct_json(const Schema& schema, const Struct& structure) const {
    if (!schema_equals(*structure.schema(), schema)) return data_error("Mismatching schema.");
    Json node = Json::object();
    for (const Field& field : schema.fields) {
      Result<Json> field_json =
          value_json(field.schema.get(), structure.get_without_default(field));
      if (!field_json) return field_json.status();
      node[field.name] = std::move(field_json).value();
    }
    return node;
  }

  const JsonConverterConfig& config_;
};

class JsonReader {
 public:
  explicit JsonReader(const JsonConverterConfig& config) : config_(config) {}

  Result<SchemaPtr> schema(const Json& node) const {
    if (node.is_null()) return SchemaPtr();
    const Json* type_node = member(node, "type");
    if (!type_node || !type_node->is_string())
      return data_error("Schema must contain 'type' field");
    std::string type_name = type_node->get<std::string>();
    std::optional<SchemaType> type = type_from_json_name(type_name);
    if (!type) return data_error("Unknown schema type: " + type_name);
    Result<SchemaBuilder> builder = builder_for(*type, node);
    if (!builder) return builder.status();
    if (Status status = read_basics(node, *builder); !status) return status;
    return read_default(node, *builder);
  }

  // Kafka's convertToConnect: `node` null means the member was missing.
  Result<Value> value(const SchemaPtr& schema, const Json* node) const {
    bool is_null = !node || node->is_null();
    if (schema && is_null) {
      if (schema->default_value && config_.replace_null_with_default) return *schema->default_value;
      if (schema->optional) return Value();
      return data_error(std::string("Invalid null value for required ") +
                        schema_type_name(schema->type) + " field");
    }
    if (!schema) return schemaless_value(node);
    if (schema->name) {
      if (std::optional<Result<Value>> logical = logical_value(*schema, *node))
        return std::move(*logical);
    }
    return typed_value(schema, *node);
  }

 private:
  static const Json* member(const Json& node, const char* name) {
    if (!node.is_object()) return nullptr;
    auto found = node.find(name);
    return found == node.end() ? nullptr : &*found;
  }

  Result<SchemaBuilder> builder_for(SchemaType type, const Json& node) const {
    if (type == SchemaType::array) {
      const Json* items = member(node, "items");
      if (!items || items->is_null())
        return data_error("Array schema did not specify the element type");
      Result<SchemaPtr> element = schema(*items);
      if (!element) return element.status();
      return SchemaBuilder::array(*element);
    }
    if (type == SchemaType::map) {
      const Json* keys = member(node, "keys");
      if (!keys) return data_error("Map schema did not specify the key type");
      const Json* values = member(node, "values");
      if (!values) return data_error("Map schema did not specify the value type");
      Result<SchemaPtr> key_schema = schema(*keys);
      if (!key_schema) return key_schema.status();
      Result<SchemaPtr> value_schema = schema(*values);
      if (!value_schema) return value_schema.status();
      return SchemaBuilder::map(*key_schema, *value_schema);
    }
    SchemaBuilder builder(type);
    if (type == SchemaType::structure) {
      const Json* fields = member(node, "fields");
      if (!fields || !fields->is_array())
        return data_error("Struct schema's \"fields\" argument is not an array.");
      for (const Json& field : *fields) {
        const Json* field_name = member(field, "field");
        if (!field_name || !field_name->is_string()) {
          return data_error("Struct schema's field name not specified properly");
        }
        Result<SchemaPtr> field_schema = schema(field);
        if (!field_schema) return field_schema.status();
        builder.field(field_name->get<std::string>(), *field_schema);
      }
    }
    return builder;
  }

  static Status read_basics(const Json& node, SchemaBuilder& builder) {
    const Json* optional = member(node, "optional");
    if (optional && optional->is_boolean() && optional->get<bool>()) {
      builder.optional();
    } else {
      builder.required();
    }
    if (const Json* name = member(node, "name"); name && name->is_string())
      builder.name(name->get<std::string>());
    if (const Json* version = member(node, "version"); version && version->is_number_integer()) {
      builder.version(static_cast<int32_t>(version->get<std::int64_t>()));
    }
    if (const Json* doc = member(node, "doc"); doc && doc->is_string())
      builder.doc(doc->get<std::string>());
    if (const Json* parameters = member(node, "parameters");
        parameters && parameters->is_object()) {
      for (const auto& [key, value] : parameters->items()) {
        if (!value.is_string()) return data_error("Schema parameters must have string values.");
        builder.parameter(key, value.get<std::string>());
      }
    }
    return Status::ok();
  }

  Result<SchemaPtr> read_default(const Json& node, SchemaBuilder& builder) const {
    const Json* default_node = member(node, "default");
    if (!default_node) return builder.build();
    // Kafka converts the default with the schema as built so far.
    Result<SchemaPtr> so_far = builder.build();
    if (!so_far) return so_far.status();
    Result<Value> default_value = value(*so_far, default_node);
    if (!default_value) return default_value.status();
    builder.default_value(std::move(default_value).value());
    return builder.build();
  }

  Result<Value> schemaless_value(const Json* node) const {
    if (!node || node->is_null()) return Value();
    if (node->is_boolean()) return Value(node->get<bool>());
    if (node->is_number_integer() || node->is_number_unsigned()) return Value(long_value(*node));
    if (node->is_number_float()) return Value(node->get<double>());
    if (node->is_string()) return Value(node->get<std::string>());
    if (node->is_array()) {
      List list;
      for (const Json& element : *node) {
        Result<Value> converted = value(SchemaPtr(), &element);
        if (!converted) return converted.status();
        list.push_back(std::move(converted).value());
      }
      return Value(std::move(list));
    }
    if (node->is_object()) {
      Map map;
      for (const auto& [key, element] : node->items()) {
        Result<Value> converted = value(SchemaPtr(), &element);
        if (!converted) return converted.status();
        map.push_back(MapEntry{Value(key), std::move(converted).value()});
      }
      return Value(std::move(map));
    }
    return data_error("Unknown schema type: null");
  }

  // Kafka's LOGICAL_CONVERTERS (toConnect); nullopt for other names.
  std::optional<Result<Value>> logical_value(const Schema& schema, const Json& node) const {
    const std::string& name = *schema.name;
    if (name == decimal_logical_name) return decimal_value(schema, node);
    if (name == date_logical_name || name == time_logical_name) {
      const char* label = name == date_logical_name ? "Date" : "Time";
      if (!is_int_node(node)) {
        return data_error(std::string("Invalid type for ") + label +
                          ", underlying representation should be integer but was " +
                          node_type_name(&node));
      }
      int32_t number = static_cast<int32_t>(node.get<std::int64_t>());
      if (name == date_logical_name) return Value(date_from_days(number));
      if (number < 0 || number > 86'400'000) {
        return data_error(
            "Time values must use number of milliseconds greater than 0 and less than 86400000");
      }
      return Value(time_from_millis(number));
    }
    if (name == timestamp_logical_name) {
      if (!node.is_number_integer() && !node.is_number_unsigned()) {
        return data_error(
            "Invalid type for Timestamp, underlying representation should be integral but was " +
            std::string(node_type_name(&node)));
      }
      return Value(DateTime{long_value(node)});
    }
    return std::nullopt;
  }

  Result<Value> decimal_value(const Schema& schema, const Json& node) const {
    if (node.is_number()) {
      std::string text =
          node.is_number_float() ? java_double_text(node.get<double>()) : node.dump();
      std::optional<Decimal> decimal = decimal_from_text(text);
      if (!decimal) return data_error("Invalid bytes for Decimal field");
      return Value(std::move(*decimal));
    }
    if (node.is_string()) {
      std::optional<std::string> bytes = base64_decode(node.get<std::string>());
      Result<int32_t> scale = decimal_scale(schema);
      if (!bytes || !scale) return data_error("Invalid bytes for Decimal field");
      return Value(Decimal{std::move(*bytes), *scale});
    }
    return data_error(
        "Invalid type for Decimal, underlying representation should be numeric or bytes but was " +
        std::string(node_type_name(&node)));
  }

  Result<Value> typed_value(const SchemaPtr& schema, const Json& node) const {
    switch (schema->type) {
      case SchemaType::boolean:
        return Value(node.is_boolean() && node.get<bool>());
      case SchemaType::int8:
        return Value(static_cast<int8_t>(static_cast<int32_t>(long_value(node))));
      case SchemaType::int16:
        return Value(static_cast<int16_t>(static_cast<int32_t>(long_value(node))));
      case SchemaType::int32:
        return Value(static_cast<int32_t>(long_value(node)));
      case SchemaType::int64:
        return Value(long_value(node));
      case SchemaType::float32:
        return Value(static_cast<float>(double_value(node)));
      case SchemaType::float64:
        return Value(double_value(node));
      case SchemaType::bytes: {
        if (!node.is_string()) return Value();  // Jackson's binaryValue() of a non-text node: null
        std::optional<std::string> bytes = base64_decode(node.get<std::string>());
        if (!bytes) return data_error("Invalid bytes field");
        return Value(Bytes{std::move(*bytes)});
      }
      case SchemaType::string:
        return node.is_string() ? Value(node.get<std::string>()) : Value();
      case SchemaType::array:
        return array_value(*schema, node);
      case SchemaType::map:
        return map_value(*schema, node);
      case SchemaType::structure:
        return struct_value(schema, node);
    }
    return data_error("Unknown schema type: null");
  }

  Result<Value> array_value(const Schema& schema, const Json& node) const {
    List list;
    if (!node.is_array()) return Value(std::move(list));  // Jackson iterates a value node as empty
    for (const Json& element : node) {
      Result<Value> converted = value(schema.value_schema, &element);
      if (!converted) return converted.status();
      list.push_back(std::move(converted).value());
    }
    return Value(std::move(list));
  }

  Result<Value> map_value(const Schema& schema, const Json& node) const {
    Map map;
    const SchemaPtr& key_schema = schema.key_schema;
    const SchemaPtr& value_schema = schema.value_schema;
    if (!key_schema || key_schema->type == SchemaType::string) {
      if (!node.is_object()) {
        return data_error(
            std::string("Maps with string fields should be encoded as JSON objects, but found ") +
            node_type_name(&node));
      }
      for (const auto& [key, element] : node.items()) {
        Result<Value> converted = value(value_schema, &element);
        if (!converted) return converted.status();
        map_put(map, Value(key), std::move(converted).value());
      }
      return Value(std::move(map));
    }
    if (!node.is_array()) {
      return data_error(
          std::string(
              "Maps with non-string fields should be encoded as JSON array of tuples, but found ") +
          node_type_name(&node));
    }
    for (const Json& entry : node) {
      if (!entry.is_array()) {
        return data_error(std::string("Found invalid map entry instead of array tuple: ") +
                          node_type_name(&entry));
      }
      if (entry.size() != 2) {
        return data_error("Found invalid map entry, expected length 2 but found :" +
                          std::to_string(entry.size()));
      }
      Result<Value> key = value(key_schema, &entry[0]);
      if (!key) return key.status();
      Result<Value> converted = value(value_schema, &entry[1]);
      if (!converted) return converted.status();
      map_put(map, std::move(key).value(), std::move(converted).value());
    }
    return Value(std::move(map));
  }

  Result<Value> struct_value(const SchemaPtr& schema, const Json& node) const {
    if (!node.is_object()) {
      return data_error(std::string("Structs should be encoded as JSON objects, but found ") +
                        node_type_name(&node));
    }
    Struct result(schema);
    for (const Field& field : schema->fields) {
      Result<Value> converted = value(field.schema, member(node, field.name.c_str()));
      if (!converted) return converted.status();
      if (Status status = result.put(field, std::move(converted).value()); !status) return status;
    }
    return Value(std::move(result));
  }

  const JsonConverterConfig& config_;
};

std::string to_text(const Json& node) {
  std::string text;
  write_json(node, text);
  return text;
}

}  // namespace

Status JsonConverter::configure(const Properties& properties, bool /*is_key*/) {
  static const std::vector<ConfigKey> keys = {
      {"schemas.enable", ConfigType::boolean, false, "true", {}},
      {"schemas.cache.size", ConfigType::integer, false, "1000", {}},
      {"decimal.format", ConfigType::string, false, "BASE64",
       one_of_case_insensitive({"BASE64", "NUMERIC"})},
      {"replace.null.with.default", ConfigType::boolean, false, "true", {}},
  };
  Result<SimpleConfig> parsed = SimpleConfig::parse(keys, properties);
  if (!parsed) return parsed.status();
  config_.schemas_enable = parsed->get_bool("schemas.enable");
  config_.schemas_cache_size = parsed->get_int("schemas.cache.size");
  std::string format = *parsed->get_string("decimal.format");
  for (char& c : format) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  config_.decimal_format = format == "NUMERIC" ? DecimalFormat::numeric : DecimalFormat::base64;
  config_.replace_null_with_default = parsed->get_bool("replace.null.with.default");
  written_schemas_.clear();  // their text depends on the settings
  read_schemas_.clear();
  return Status::ok();
}

Result<RecordBytes> JsonConverter::from_connect_data(const std::string& /*topic*/,
                                                     const SchemaPtr& schema, const Value& value) {
  if (!schema && value.is_null()) return RecordBytes();
  Result<Json> payload = JsonWriter(config_).value_json(schema.get(), value);
  if (!payload) return payload.status();
  if (!config_.schemas_enable) return RecordBytes(to_text(*payload));
  std::string envelope = "{\"schema\":";
  if (schema) {
    Result<std::string> schema_text = written_schema_text(schema);
    if (!schema_text) return schema_text.status();
    envelope += *schema_text;
  } else {
    envelope += "null";
  }
  envelope += ",\"payload\":";
  write_json(*payload, envelope);
  envelope += '}';
  return RecordBytes(std::move(envelope));
}

Result<std::string> JsonConverter::written_schema_text(const SchemaPtr& schema) {
  auto found = written_schemas_.find(schema.get());
  if (found != written_schemas_.end()) return found->second.text;
  Result<std::string> text = schema_to_json(*schema);
  if (!text) return text;
  if (written_schemas_.size() >= static_cast<size_t>(std::max(config_.schemas_cache_size, 0))) {
    written_schemas_.clear();
  }
  if (config_.schemas_cache_size > 0) written_schemas_[schema.get()] = WrittenSchema{schema, *text};
  return text;
}

Result<SchemaAndValue> JsonConverter::to_connect_data(const std::string& /*topic*/,
                                                      const RecordBytes& bytes) {
  if (!bytes) return SchemaAndValue{};  // a tombstone
  Json document;
  bool empty = bytes->find_first_not_of(" \t\r\n") == std::string::npos;
  if (!empty) {
    document = Json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) {
      return data_error(
          "Converting byte[] to Kafka Connect data failed due to serialization error: ");
    }
  }
  JsonReader reader(config_);
  if (!config_.schemas_enable) {
    Result<Value> value = reader.value(SchemaPtr(), empty ? nullptr : &document);
    if (!value) return value.status();
    return SchemaAndValue{nullptr, std::move(value).value()};
  }
  if (empty || !document.is_object() || document.size() != 2 || !document.contains("schema") ||
      !document.contains("payload")) {
    return data_error(
        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not "
        "contain additional fields. If you are trying to deserialize plain JSON data, set "
        "schemas.enable=false in your converter configuration.");
  }
  const Json& schema_node = document["schema"];
  std::string schema_key = schema_node.dump();
  SchemaPtr schema;
  if (auto found = read_schemas_.find(schema_key); found != read_schemas_.end()) {
    schema = found->second;
  } else {
    Result<SchemaPtr> read = reader.schema(schema_node);
    if (!read) return read.status();
    schema = std::move(read).value();
    if (read_schemas_.size() >= static_cast<size_t>(std::max(config_.schemas_cache_size, 0))) {
      read_schemas_.clear();
    }
    if (config_.schemas_cache_size > 0) read_schemas_[std::move(schema_key)] = schema;
  }
  Result<Value> value = reader.value(schema, &document["payload"]);
  if (!value) return value.status();
  return SchemaAndValue{std::move(schema), std::move(value).value()};
}

Result<RecordBytes> JsonConverter::from_connect_header(const std::string& topic,
                                                       const std::string& /*header_key*/,
                                                       const SchemaPtr& schema,
                                                       const Value& value) {
  return from_connect_data(topic, schema, value);
}

Result<SchemaAndValue> JsonConverter::to_connect_header(const std::string& topic,
                                                        const std::string& /*header_key*/,
                                                        const RecordBytes& bytes) {
  return to_connect_data(topic, bytes);
}

Result<std::string> JsonConverter::schema_to_json(const Schema& schema) const {
  Result<Json> node = JsonWriter(config_).schema_json(schema);
  if (!node) return node.status();
  return to_text(*node);
}

Result<SchemaPtr> JsonConverter::schema_from_json(const std::string& json) const {
  Json document = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded())
    return data_error(
        "Converting byte[] to Kafka Connect data failed due to serialization error: ");
  return JsonReader(config_).schema(document);
}

}  // namespace sluice::connect
