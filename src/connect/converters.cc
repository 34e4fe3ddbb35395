// StringConverter, ByteArrayConverter, SimpleHeaderConverter and the
// factories that pick a converter by Kafka's class name.

#include <algorithm>
#include <cctype>

#include "connect/converter.h"
#include "connect/errors.h"
#include "connect/json_converter.h"
#include "connect/values.h"

namespace sluice::connect {

namespace {

constexpr const char* string_converter_class = "org.apache.kafka.connect.storage.StringConverter";
constexpr const char* byte_array_converter_class =
    "org.apache.kafka.connect.converters.ByteArrayConverter";
constexpr const char* json_converter_class = "org.apache.kafka.connect.json.JsonConverter";
constexpr const char* simple_header_converter_class =
    "org.apache.kafka.connect.storage.SimpleHeaderConverter";

// Connect's plugin aliases: the class's simple name names it too.
bool names_class(const std::string& name, const char* class_name) {
  std::string_view full(class_name);
  return name == full || name == full.substr(full.rfind('.') + 1);
}

// org.apache.kafka.connect.storage.StringConverter. Java charsets other than
// UTF-8 are not supported (yet): a configuration naming one is refused.
class StringConverter final : public Converter, public HeaderConverter {
 public:
  Status configure(const Properties& properties, bool /*is_key*/) override {
    static const std::vector<ConfigKey> keys = {
        {"converter.encoding", ConfigType::string, false, "UTF-8", {}}};
    Result<SimpleConfig> parsed = SimpleConfig::parse(keys, properties);
    if (!parsed) return parsed.status();
    std::string encoding = *parsed->get_string("converter.encoding");
    std::transform(encoding.begin(), encoding.end(), encoding.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (encoding != "UTF-8" && encoding != "UTF8") {
      return config_error("converter.encoding", encoding,
                          "Sluice supports the UTF-8 encoding only");
    }
    return Status::ok();
  }
  Status configure(const Properties& properties) override { return configure(properties, false); }

  Result<RecordBytes> from_connect_data(const std::string&, const SchemaPtr&,
                                        const Value& value) override {
    if (value.is_null()) return RecordBytes();
    return RecordBytes(value.to_string());  // Kafka serializes value.toString()
  }

  Result<SchemaAndValue> to_connect_data(const std::string&, const RecordBytes& bytes) override {
    SchemaAndValue result{primitive_schema(SchemaType::string, true), Value()};
    if (bytes) result.value = Value(*bytes);
    return result;
  }

  Result<RecordBytes> from_connect_header(const std::string& topic, const std::string&,
                                          const SchemaPtr& schema, const Value& value) override {
    return from_connect_data(topic, schema, value);
  }
  Result<SchemaAndValue> to_connect_header(const std::string& topic, const std::string&,
                                           const RecordBytes& bytes) override {
    return to_connect_data(topic, bytes);
  }
};

// org.apache.kafka.connect.converters.ByteArrayConverter: BYTES through.
class ByteArrayConverter final : public Converter, public HeaderConverter {
 public:
  Status configure(const Properties&, bool) override { return Status::ok(); }
  Status configure(const Properties&) override { return Status::ok(); }

  Result<RecordBytes> from_connect_data(const std::string&, const SchemaPtr& schema,
                                        const Value& value) override {
    if (schema && schema->type != SchemaType::bytes) {
      return data_error(std::string("Invalid schema type for ByteArrayConverter: ") +
                        schema_type_name(schema->type));
    }
    if (value.is_null()) return RecordBytes();
    if (!value.is<Bytes>()) {
      return data_error("ByteArrayConverter is not compatible with objects of type class " +
                        java_class_name(value));
    }
    return RecordBytes(value.as<Bytes>().data);
  }

  Result<SchemaAndValue> to_connect_data(const std::string&, const RecordBytes& bytes) override {
    SchemaAndValue result{primitive_schema(SchemaType::bytes, true), Value()};
    if (bytes) result.value = Value(Bytes{*bytes});
    return result;
  }

  Result<RecordBytes> from_connect_header(const std::string& topic, const std::string&,
                                          const SchemaPtr& schema, const Value& value) override {
    return from_connect_data(topic, schema, value);
  }
  Result<SchemaAndValue> to_connect_header(const std::string& topic, const std::string&,
                                           const RecordBytes& bytes) override {
    return to_connect_data(topic, bytes);
  }
};

// org.apache.kafka.connect.storage.SimpleHeaderConverter: a value's string
// form (Values.convertToString) out, Values.parseString in.
class SimpleHeaderConverter final : public HeaderConverter {
 public:
  Status configure(const Properties&) override { return Status::ok(); }

  Result<RecordBytes> from_connect_header(const std::string&, const std::string&, const SchemaPtr&,
                                          const Value& value) override {
    return value_to_string(value);
  }

  Result<SchemaAndValue> to_connect_header(const std::string&, const std::string&,
                                           const RecordBytes& bytes) override {
    if (!bytes) return SchemaAndValue{};
    return parse_string(*bytes);
  }
};

}  // namespace

Result<std::unique_ptr<Converter>> make_converter(const std::string& class_name,
                                                  const Properties& properties, bool is_key,
                                                  const std::string& config_name) {
  std::unique_ptr<Converter> converter;
  if (names_class(class_name, string_converter_class)) {
    converter = std::make_unique<StringConverter>();
  } else if (names_class(class_name, byte_array_converter_class)) {
    converter = std::make_unique<ByteArrayConverter>();
  } else if (names_class(class_name, json_converter_class)) {
    converter = std::make_unique<JsonConverter>();
  } else {
    return class_not_found(config_name, class_name);
  }
  if (Status status = converter->configure(properties, is_key); !status) return status;
  return converter;
}

Result<std::unique_ptr<HeaderConverter>> make_header_converter(const std::string& class_name,
                                                               const Properties& properties,
                                                               const std::string& config_name) {
  std::unique_ptr<HeaderConverter> converter;
  if (names_class(class_name, simple_header_converter_class)) {
    converter = std::make_unique<SimpleHeaderConverter>();
  } else if (names_class(class_name, string_converter_class)) {
    converter = std::make_unique<StringConverter>();
  } else if (names_class(class_name, byte_array_converter_class)) {
    converter = std::make_unique<ByteArrayConverter>();
  } else if (names_class(class_name, json_converter_class)) {
    converter = std::make_unique<JsonConverter>();
  } else {
    return class_not_found(config_name, class_name);
  }
  if (Status status = converter->configure(properties); !status) return status;
  return converter;
}

}  // namespace sluice::connect
