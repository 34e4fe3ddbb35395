// Transforms that add, drop, rename, mask or move fields: InsertField,
// ReplaceField, MaskField, ValueToKey, ExtractField, HoistField (Kafka's
// settings, behaviour and messages; see transform.h).

#include <algorithm>

#include "connect/java_text.h"
#include "connect/transform_support.h"
#include "connect/values.h"

namespace sluice::connect::detail {

namespace {

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// --- InsertField ---

// "name" optional, "name?" optional, "name!" required (InsertionSpec).
struct InsertionSpec {
  std::string name;
  bool optional = true;

  static std::optional<InsertionSpec> parse(const std::optional<std::string>& spec) {
    if (!spec) return std::nullopt;
    if (!spec->empty() && (spec->back() == '?' || spec->back() == '!')) {
      return InsertionSpec{spec->substr(0, spec->size() - 1), spec->back() == '?'};
    }
    return InsertionSpec{*spec, true};
  }
};

class InsertField final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"topic.field", ConfigType::string, false, std::nullopt, {}},
        {"partition.field", ConfigType::string, false, std::nullopt, {}},
        {"offset.field", ConfigType::string, false, std::nullopt, {}},
        {"timestamp.field", ConfigType::string, false, std::nullopt, {}},
        {"static.field", ConfigType::string, false, std::nullopt, {}},
        {"static.value", ConfigType::string, false, std::nullopt, {}},
        replace_null_with_default_key(),
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<InsertField>(side);
    transform->topic_ = InsertionSpec::parse(config->get_string("topic.field"));
    transform->partition_ = InsertionSpec::parse(config->get_string("partition.field"));
    transform->offset_ = InsertionSpec::parse(config->get_string("offset.field"));
    transform->timestamp_ = InsertionSpec::parse(config->get_string("timestamp.field"));
    transform->static_field_ = InsertionSpec::parse(config->get_string("static.field"));
    transform->static_value_ = config->get_string("static.value");
    transform->replace_null_with_default_ = config->get_bool("replace.null.with.default");
    if (!transform->topic_ && !transform->partition_ && !transform->offset_ &&
        !transform->timestamp_ && !transform->static_field_) {
      return config_error("No field insertion configured");
    }
    if (transform->static_field_ && !transform->static_value_) {
      return config_error(prefix + "static.value", "null",
                          "No value specified for static field: " + transform->static_field_->name);
    }
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit InsertField(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    if (operating_value(record, side_).is_null()) return std::optional(std::move(record));
    if (!operating_schema(record, side_)) return apply_schemaless(std::move(record));
    return apply_with_schema(std::move(record));
  }

 private:
  static constexpr const char* purpose = "field insertion";

  Result<std::optional<ConnectRecord>> apply_schemaless(ConnectRecord record) {
    Result<const Map*> value = require_map(operating_value(record, side_), purpose);
    if (!value) return value.status();
    Map updated = **value;
    if (topic_) map_put(updated, topic_->name, record.topic);
    if (partition_ && record.kafka_partition)
      map_put(updated, partition_->name, *record.kafka_partition);
    if (offset_) {
      SLUICE_CONNECT_TRY(require_sink_record(record, purpose));
      map_put(updated, offset_->name, std::get<SinkOrigin>(record.origin).kafka_offset);
    }
    if (timestamp_ && record.timestamp) map_put(updated, timestamp_->name, *record.timestamp);
    if (static_field_ && static_value_) map_put(updated, static_field_->name, *static_value_);
    return std::optional(
        with_operating(std::move(record), side_, nullptr, Value(std::move(updated))));
  }

  Result<std::optional<ConnectRecord>> apply_with_schema(ConnectRecord record) {
    Result<const Struct*> value = require_struct(operating_value(record, side_), purpose);
    if (!value) return value.status();
    const Struct& original = **value;
    SchemaPtr schema = cache_.find(original.schema());
    if (!schema) {
      Result<SchemaPtr> built = updated_schema(*original.schema());
      if (!built) return built.status();
      schema = *built;
      cache_.put(original.schema(), schema);
    }
    Struct updated(schema);
    for (const Field& field : original.schema()->fields) {
      SLUICE_CONNECT_TRY(
          updated.put(field.name, field_value(original, field, replace_null_with_default_)));
    }
    if (topic_) SLUICE_CONNECT_TRY(updated.put(topic_->name, record.topic));
    if (partition_ && record.kafka_partition)
      SLUICE_CONNECT_TRY(updated.put(partition_->name, *record.kafka_partition));
    if (offset_) {
      SLUICE_CONNECT_TRY(require_sink_record(record, purpose));
      SLUICE_CONNECT_TRY(
          updated.put(offset_->name, std::get<SinkOrigin>(record.origin).kafka_offset));
    }
    if (timestamp_ && record.timestamp)
      SLUICE_CONNECT_TRY(updated.put(timestamp_->name, DateTime{*record.timestamp}));
    if (static_field_ && static_value_)
      SLUICE_CONNECT_TRY(updated.put(static_field_->name, *static_value_));
    return std::optional(
        with_operating(std::move(record), side_, schema, Value(std::move(updated))));
  }

  Result<SchemaPtr> updated_schema(const Schema& schema) const {
    SchemaBuilder builder = SchemaBuilder::structure();
    builder.copy_basics(schema);
    for (const Field& field : schema.fields) builder.field(field.name, field.schema);
    auto add = [&builder](const std::optional<InsertionSpec>& spec, SchemaPtr optional,
                          SchemaPtr required) {
      if (spec)
        builder.field(spec->name, spec->optional ? std::move(optional) : std::move(required));
    };
    add(topic_, primitive_schema(SchemaType::string, true), primitive_schema(SchemaType::string));
    add(partition_, primitive_schema(SchemaType::int32, true), primitive_schema(SchemaType::int32));
    add(offset_, primitive_schema(SchemaType::int64, true), primitive_schema(SchemaType::int64));
    add(timestamp_, timestamp_schema().optional().build_or_die(),
        timestamp_schema().build_or_die());
    add(static_field_, primitive_schema(SchemaType::string, true),
        primitive_schema(SchemaType::string));
    return builder.build();
  }

  Side side_;
  std::optional<InsertionSpec> topic_, partition_, offset_, timestamp_, static_field_;
  std::optional<std::string> static_value_;
  bool replace_null_with_default_ = true;
  SchemaCache cache_;
};

// --- ReplaceField ---

class ReplaceField final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"exclude", ConfigType::list, false, "", {}},
        {"include", ConfigType::list, false, "", {}},
        {"renames", ConfigType::list, false, "", rename_validator()},
        replace_null_with_default_key(),
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<ReplaceField>(side);
    transform->exclude_ = config->get_list("exclude");
    transform->include_ = config->get_list("include");
    for (const std::string& mapping : config->get_list("renames")) {
      std::vector<std::string> parts = split_colon(mapping);
      transform->renames_.emplace_back(parts[0], parts[1]);
    }
    transform->replace_null_with_default_ = config->get_bool("replace.null.with.default");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit ReplaceField(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    const Value& value = operating_value(record, side_);
    if (value.is_null()) return std::optional(std::move(record));
    if (!operating_schema(record, side_)) {
      Result<const Map*> map = require_map(value, purpose);
      if (!map) return map.status();
      Map updated;
      for (const MapEntry& entry : **map) {
        std::string name =
            entry.key.is<std::string>() ? entry.key.as<std::string>() : entry.key.to_string();
        if (keep(name)) map_put(updated, renamed(name), entry.value);
      }
      return std::optional(
          with_operating(std::move(record), side_, nullptr, Value(std::move(updated))));
    }
    Result<const Struct*> structure = require_struct(value, purpose);
    if (!structure) return structure.status();
    const Struct& original = **structure;
    SchemaPtr schema = cache_.find(original.schema());
    if (!schema) {
      Result<SchemaPtr> built = updated_schema(*original.schema());
      if (!built) return built.status();
      schema = *built;
      cache_.put(original.schema(), schema);
    }
    Struct updated(schema);
    for (const Field& field : schema->fields) {
      const Field* source = original.schema()->field(reverse_renamed(field.name));
      SLUICE_CONNECT_TRY(
          updated.put(field, field_value(original, *source, replace_null_with_default_)));
    }
    return std::optional(
        with_operating(std::move(record), side_, schema, Value(std::move(updated))));
  }

 private:
  static constexpr const char* purpose = "field replacement";

  // The validator throws ConfigException("renames", mappings, ...): Kafka
  // names the key without the connector's prefix here.
  static ConfigValidator rename_validator() {
    return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
      const auto* mappings = std::get_if<std::vector<std::string>>(&value);
      if (!mappings) return std::nullopt;
      for (const std::string& mapping : *mappings) {
        if (split_colon(mapping).size() != 2) {
          return ConfigProblem{"Invalid value " + config_value_text(value) +
                                   " for configuration renames: Invalid rename mapping: " + mapping,
                               true};
        }
      }
      return std::nullopt;
    };
  }

  bool keep(const std::string& name) const {
    return !contains(exclude_, name) && (include_.empty() || contains(include_, name));
  }
  std::string renamed(const std::string& name) const {
    for (const auto& [from, to] : renames_) {
      if (from == name) return to;
    }
    return name;
  }
  std::string reverse_renamed(const std::string& name) const {
    for (const auto& [from, to] : renames_) {
      if (to == name) return from;
    }
    return name;
  }

  Result<SchemaPtr> updated_schema(const Schema& schema) const {
    SchemaBuilder builder = SchemaBuilder::structure();
    builder.copy_basics(schema);
    for (const Field& field : schema.fields) {
      if (keep(field.name)) builder.field(renamed(field.name), field.schema);
    }
    return builder.build();
  }

  Side side_;
  std::vector<std::string> exclude_;
  std::vector<std::string> include_;
  std::vector<std::pair<std::string, std::string>> renames_;
  bool replace_null_with_default_ = true;
  SchemaCache cache_;
};

// --- MaskField ---

class MaskField final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"fields", ConfigType::list, true, std::nullopt, non_empty_list()},
        {"replacement", ConfigType::string, false, std::nullopt, non_empty_string()},
        replace_null_with_default_key(),
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<MaskField>(side);
    transform->fields_ = config->get_list("fields");
    transform->replacement_ = config->get_string("replacement");
    transform->replace_null_with_default_ = config->get_bool("replace.null.with.default");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit MaskField(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    const Value& value = operating_value(record, side_);
    if (!operating_schema(record, side_)) {
      Result<const Map*> map = require_map(value, purpose);
      if (!map) return map.status();
      Map updated = **map;
      for (const std::string& field : fields_) {
        const Value* current = map_find(**map, field);
        Result<Value> masked_value = masked(current ? *current : Value());
        if (!masked_value) return masked_value.status();
        map_put(updated, field, std::move(masked_value).value());
      }
      return std::optional(
          with_operating(std::move(record), side_, nullptr, Value(std::move(updated))));
    }
    Result<const Struct*> structure = require_struct(value, purpose);
    if (!structure) return structure.status();
    Struct updated((*structure)->schema());
    for (const Field& field : updated.schema()->fields) {
      Value original = field_value(**structure, field, replace_null_with_default_);
      if (contains(fields_, field.name)) {
        Result<Value> masked_value = masked(original);
        if (!masked_value) return masked_value.status();
        original = std::move(masked_value).value();
      }
      SLUICE_CONNECT_TRY(updated.put(field, std::move(original)));
    }
    SchemaPtr schema = updated.schema();
    return std::optional(
        with_operating(std::move(record), side_, schema, Value(std::move(updated))));
  }

 private:
  static constexpr const char* purpose = "mask fields";

  Result<Value> masked(const Value& value) const {
    if (value.is_null()) return Value();
    return replacement_ ? with_replacement(value) : with_null_value(value);
  }

  // Kafka's PRIMITIVE_VALUE_MAPPING: the type's "zero".
  static Result<Value> with_null_value(const Value& value) {
    if (value.is<bool>()) return Value(false);
    if (value.is<int8_t>()) return Value(int8_t{0});
    if (value.is<int16_t>()) return Value(int16_t{0});
    if (value.is<int32_t>()) return Value(int32_t{0});
    if (value.is<int64_t>()) return Value(int64_t{0});
    if (value.is<float>()) return Value(0.0f);
    if (value.is<double>()) return Value(0.0);
    if (value.is<Decimal>()) return Value(Decimal{std::string(1, '\0'), 0});
    if (value.is<DateTime>()) return Value(DateTime{0});
    if (value.is<std::string>()) return Value(std::string());
    if (value.is<List>()) return Value(List{});
    if (value.is<Map>()) return Value(Map{});
    return data_error("Cannot mask value of type: class " + java_class_name(value));
  }

  // Kafka's REPLACEMENT_MAPPING_FUNC: the replacement converted to the
  // value's own type.
  Result<Value> with_replacement(const Value& value) const {
    const std::string& text = *replacement_;
    if (value.is<std::string>()) return Value(text);
    if (value.is<Decimal>()) {
      std::optional<Decimal> decimal = decimal_from_text(text);
      if (!decimal)
        return data_error("Unable to convert " + text + " (class java.lang.String) to number");
      return Value(std::move(*decimal));
    }
    if (value.is<float>() || value.is<double>()) {
      Result<double> number = value_as_double(Value(text));
      if (!number) return number.status();
      return value.is<float>() ? Value(static_cast<float>(*number)) : Value(*number);
    }
    if (value.is<int8_t>() || value.is<int16_t>() || value.is<int32_t>() || value.is<int64_t>()) {
      Result<int64_t> number = value_as_long(Value(text));
      if (!number) return number.status();
      if (value.is<int8_t>()) return Value(static_cast<int8_t>(*number));
      if (value.is<int16_t>()) return Value(static_cast<int16_t>(*number));
      if (value.is<int32_t>()) return Value(static_cast<int32_t>(*number));
      return Value(*number);
    }
    return data_error("Cannot mask value of type class " + java_class_name(value) +
                      " with custom replacement.");
  }

  Side side_;
  std::vector<std::string> fields_;
  std::optional<std::string> replacement_;
  bool replace_null_with_default_ = true;
};

// --- ValueToKey ---

class ValueToKey final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"fields", ConfigType::list, true, std::nullopt, non_empty_list()},
        replace_null_with_default_key(),
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<ValueToKey>();
    transform->fields_ = config->get_list("fields");
    transform->replace_null_with_default_ = config->get_bool("replace.null.with.default");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    if (!record.value_schema) {
      Result<const Map*> value = require_map(record.value, purpose);
      if (!value) return value.status();
      Map key;
      for (const std::string& field : fields_) {
        const Value* found = map_find(**value, field);
        map_put(key, field, found ? *found : Value());
      }
      return std::optional(
          with_operating(std::move(record), Side::key, nullptr, Value(std::move(key))));
    }
    Result<const Struct*> value = require_struct(record.value, purpose);
    if (!value) return value.status();
    const Struct& original = **value;
    SchemaPtr key_schema = cache_.find(original.schema());
    if (!key_schema) {
      SchemaBuilder builder = SchemaBuilder::structure();
      for (const std::string& name : fields_) {
        const Field* field = original.schema()->field(name);
        if (!field) return data_error("Field does not exist: " + name);
        builder.field(name, field->schema);
      }
      Result<SchemaPtr> built = builder.build();
      if (!built) return built.status();
      key_schema = *built;
      cache_.put(original.schema(), key_schema);
    }
    Struct key(key_schema);
    for (const std::string& name : fields_) {
      SLUICE_CONNECT_TRY(key.put(name, field_value(original, *original.schema()->field(name),
                                                   replace_null_with_default_)));
    }
    return std::optional(
        with_operating(std::move(record), Side::key, key_schema, Value(std::move(key))));
  }

 private:
  static constexpr const char* purpose = "copying fields from value to key";

  std::vector<std::string> fields_;
  bool replace_null_with_default_ = true;
  SchemaCache cache_;
};

// --- ExtractField ---

class ExtractField final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"field", ConfigType::string, true, std::nullopt, {}},
        replace_null_with_default_key(),
        {"field.syntax.version", ConfigType::string, false, "V1",
         one_of_case_insensitive({"V1", "V2"})},
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    std::string syntax = *config->get_string("field.syntax.version");
    if (syntax != "V1" && syntax != "v1") {
      return config_error(prefix + "field.syntax.version", syntax,
                          "nested field paths (V2) are not supported yet");
    }
    auto transform = std::make_unique<ExtractField>(side);
    transform->field_ = *config->get_string("field");
    transform->replace_null_with_default_ = config->get_bool("replace.null.with.default");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit ExtractField(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    const SchemaPtr& schema = operating_schema(record, side_);
    const Value& value = operating_value(record, side_);
    if (!schema) {
      if (value.is_null())
        return std::optional(with_operating(std::move(record), side_, nullptr, Value()));
      Result<const Map*> map = require_map(value, purpose);
      if (!map) return map.status();
      const Value* found = map_find(**map, field_);
      Value extracted = found ? *found : Value();
      return std::optional(with_operating(std::move(record), side_, nullptr, std::move(extracted)));
    }
    if (!value.is_null()) {
      Result<const Struct*> structure = require_struct(value, purpose);
      if (!structure) return structure.status();
    }
    if (schema->type != SchemaType::structure)
      return data_error("Cannot look up fields on non-struct type");
    const Field* field = schema->field(field_);
    if (!field) return data_error("Unknown field: " + field_);
    Value extracted = value.is_null()
                          ? Value()
                          : field_value(value.as<Struct>(), *field, replace_null_with_default_);
    SchemaPtr field_schema = field->schema;
    return std::optional(
        with_operating(std::move(record), side_, std::move(field_schema), std::move(extracted)));
  }

 private:
  static constexpr const char* purpose = "field extraction";

  Side side_;
  std::string field_;
  bool replace_null_with_default_ = true;
};

// --- HoistField ---

class HoistField final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"field", ConfigType::string, true, std::nullopt, {}}};
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<HoistField>(side);
    transform->field_ = *config->get_string("field");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit HoistField(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    const SchemaPtr& schema = operating_schema(record, side_);
    Value value = operating_value(record, side_);
    if (!schema) {
      Map hoisted{MapEntry{Value(field_), std::move(value)}};
      return std::optional(
          with_operating(std::move(record), side_, nullptr, Value(std::move(hoisted))));
    }
    SchemaPtr updated_schema = cache_.find(schema);
    if (!updated_schema) {
      Result<SchemaPtr> built = SchemaBuilder::structure().field(field_, schema).build();
      if (!built) return built.status();
      updated_schema = *built;
      cache_.put(schema, updated_schema);
    }
    Struct hoisted(updated_schema);
    SLUICE_CONNECT_TRY(hoisted.put(field_, std::move(value)));
    return std::optional(
        with_operating(std::move(record), side_, updated_schema, Value(std::move(hoisted))));
  }

 private:
  Side side_;
  std::string field_;
  SchemaCache cache_;
};

}  // namespace

std::vector<TransformEntry> field_transforms() {
  std::vector<TransformEntry> entries;
  for (auto family :
       {key_and_value<InsertField>("InsertField"), key_and_value<ReplaceField>("ReplaceField"),
        key_and_value<MaskField>("MaskField"), key_and_value<ExtractField>("ExtractField"),
        key_and_value<HoistField>("HoistField")}) {
    entries.insert(entries.end(), family.begin(), family.end());
  }
  entries.push_back(TransformEntry{"ValueToKey", &ValueToKey::create});
  return entries;
}

}  // namespace sluice::connect::detail
