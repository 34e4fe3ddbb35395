#pragma once
// Converters between Connect data and the bytes of Kafka records, with
// Kafka's class names and settings (key.converter, value.converter,
// header.converter and their `*.converter.<setting>` properties):
//   org.apache.kafka.connect.storage.StringConverter      (converter.encoding)
//   org.apache.kafka.connect.converters.ByteArrayConverter
//   org.apache.kafka.connect.json.JsonConverter           (schemas.enable,
//       schemas.cache.size, decimal.format, replace.null.with.default)
//   org.apache.kafka.connect.storage.SimpleHeaderConverter (headers only)
// A converter is configured once, then used by one task: not thread-safe.
// Bytes are std::optional<std::string>: nullopt is a null (tombstone) value.

#include <memory>
#include <optional>
#include <string>

#include "base/result.h"
#include "connect/config.h"
#include "connect/data.h"

namespace sluice::connect {

using RecordBytes = std::optional<std::string>;

struct SchemaAndValue {
  SchemaPtr schema;
  Value value;
};

class Converter {
 public:
  virtual ~Converter() = default;
  // Kafka's configure(configs, isKey): the converter's own properties (the
  // worker strips the `key.converter.` prefix).
  virtual Status configure(const Properties& properties, bool is_key) = 0;
  virtual Result<RecordBytes> from_connect_data(const std::string& topic, const SchemaPtr& schema,
                                                const Value& value) = 0;
  virtual Result<SchemaAndValue> to_connect_data(const std::string& topic,
                                                 const RecordBytes& bytes) = 0;
};

class HeaderConverter {
 public:
  virtual ~HeaderConverter() = default;
  virtual Status configure(const Properties& properties) = 0;
  virtual Result<RecordBytes> from_connect_header(const std::string& topic,
                                                  const std::string& header_key,
                                                  const SchemaPtr& schema, const Value& value) = 0;
  virtual Result<SchemaAndValue> to_connect_header(const std::string& topic,
                                                   const std::string& header_key,
                                                   const RecordBytes& bytes) = 0;
};

// A configured converter by Kafka's class name (or its simple name, as
// Connect's plugin aliases allow: "JsonConverter"). An unknown name is
// Kafka's "Class x could not be found." for `config_name`.
Result<std::unique_ptr<Converter>> make_converter(const std::string& class_name,
                                                  const Properties& properties, bool is_key,
                                                  const std::string& config_name = "converter");
Result<std::unique_ptr<HeaderConverter>> make_header_converter(
    const std::string& class_name, const Properties& properties,
    const std::string& config_name = "header.converter");

}  // namespace sluice::connect
