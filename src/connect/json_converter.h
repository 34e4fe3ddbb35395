#pragma once
// org.apache.kafka.connect.json.JsonConverter: Connect data <-> JSON bytes.
// With schemas.enable=true (Kafka's default) every value is written in the
// envelope {"schema":{...},"payload":...} exactly as Kafka writes it (key
// order, type names, "optional", "name", "version", "doc", "parameters",
// "default", struct fields as {...,"field":"name"}, bytes and decimals in
// base64, numbers as Java prints them); with false, the plain payload.
// Reading accepts what Kafka accepts, leniencies included (a non-numeric
// payload for an INT32 schema reads as 0, as Jackson's intValue() does).
//
// Known differences from Kafka: a NUMERIC decimal read back from JSON takes
// its scale from the number's shortest text (Jackson keeps the text's own
// scale: "1.50" is scale 2 there, 1 here); control characters are escaped
// as Jackson does, but characters outside the BMP are written as UTF-8 (so
// does Jackson); numbers beyond 64 bits read as doubles.

#include <string>
#include <unordered_map>

#include "connect/converter.h"

namespace sluice::connect {

enum class DecimalFormat { base64, numeric };

struct JsonConverterConfig {
  bool schemas_enable = true;
  int32_t schemas_cache_size = 1000;  // schemas remembered each way (see JsonConverter)
  DecimalFormat decimal_format = DecimalFormat::base64;
  bool replace_null_with_default = true;
};

class JsonConverter final : public Converter, public HeaderConverter {
 public:
  JsonConverter() = default;
  explicit JsonConverter(JsonConverterConfig config) : config_(config) {}

  Status configure(const Properties& properties, bool is_key) override;
  Status configure(const Properties& properties) override { return configure(properties, false); }
  Result<RecordBytes> from_connect_data(const std::string& topic, const SchemaPtr& schema,
                                        const Value& value) override;
  Result<SchemaAndValue> to_connect_data(const std::string& topic,
                                         const RecordBytes& bytes) override;
  Result<RecordBytes> from_connect_header(const std::string& topic, const std::string& header_key,
                                          const SchemaPtr& schema, const Value& value) override;
  Result<SchemaAndValue> to_connect_header(const std::string& topic, const std::string& header_key,
                                           const RecordBytes& bytes) override;

  // The JSON text of a schema as the envelope's "schema" holds it.
  Result<std::string> schema_to_json(const Schema& schema) const;
  // A schema from the JSON text of an envelope's "schema" (null: no schema).
  Result<SchemaPtr> schema_from_json(const std::string& json) const;

  const JsonConverterConfig& config() const { return config_; }

 private:
  // Kafka's two schema caches (schemas.cache.size each): the envelope text
  // of a schema written (by schema identity: schemas are immutable), and the
  // schema read from an envelope's "schema" text, so records of one schema
  // share one SchemaPtr. A full cache is emptied (Kafka's is LRU).
  struct WrittenSchema {
    SchemaPtr schema;  // keeps the key's schema alive
    std::string text;
  };
  Result<std::string> written_schema_text(const SchemaPtr& schema);

  JsonConverterConfig config_;
  std::unordered_map<const Schema*, WrittenSchema> written_schemas_;
  std::unordered_map<std::string, SchemaPtr> read_schemas_;
};

}  // namespace sluice::connect
