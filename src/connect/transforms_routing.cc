// GCC 12 at -O1 with ASan (the _asan twin) reports a false
// maybe-uninitialized inside libstdc++'s <regex> compiler (std::function
// moved within _State), as in security/principal.cc; nothing of this file is
// involved.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Transforms that route records or work on headers, the Filter, and the
// predicates: RegexRouter, TimestampRouter, InsertHeader, DropHeaders,
// HeaderFrom, Filter, TopicNameMatches, HasHeaderKey, RecordIsTombstone
// (Kafka's settings, behaviour and messages; see transform.h).

#include <algorithm>
#include <regex>

#include "connect/date_format.h"
#include "connect/transform_support.h"
#include "connect/values.h"

namespace sluice::connect::detail {

namespace {

// Java's Matcher replacement syntax ($1, \$ for a literal) in std::regex's
// ECMAScript format ($1, $$ for a literal dollar).
std::string ecmascript_replacement(const std::string& java) {
  std::string out;
  for (size_t i = 0; i < java.size(); ++i) {
    if (java[i] == '\\' && i + 1 < java.size()) {
      char literal = java[++i];
      out += literal == '$' ? "$$" : std::string(1, literal);
    } else {
      out += java[i];
    }
  }
  return out;
}

// Kafka's ConnectRecord.toString, for TimestampRouter's message.
std::string record_text(const ConnectRecord& record) {
  auto schema_text = [](const SchemaPtr& schema) {
    return schema ? schema->to_string() : std::string("null");
  };
  return "ConnectRecord{topic='" + record.topic + "', kafkaPartition=" +
         (record.kafka_partition ? std::to_string(*record.kafka_partition) : "null") +
         ", key=" + record.key.to_string() + ", keySchema=" + schema_text(record.key_schema) +
         ", value=" + record.value.to_string() +
         ", valueSchema=" + schema_text(record.value_schema) +
         ", timestamp=" + (record.timestamp ? std::to_string(*record.timestamp) : "null") + "}";
}

class RegexRouter final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"regex", ConfigType::string, true, std::nullopt, valid_regex()},
        {"replacement", ConfigType::string, true, std::nullopt, {}},
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<RegexRouter>();
    transform->regex_ = std::regex(*config->get_string("regex"), std::regex::ECMAScript);
    transform->replacement_ = ecmascript_replacement(*config->get_string("replacement"));
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    if (std::regex_match(record.topic, regex_)) {
      record.topic = std::regex_replace(record.topic, regex_, replacement_,
                                        std::regex_constants::format_first_only);
    }
    return std::optional(std::move(record));
  }

 private:
  std::regex regex_;
  std::string replacement_;
};

class TimestampRouter final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"topic.format", ConfigType::string, false, "${topic}-${timestamp}", {}},
        {"timestamp.format", ConfigType::string, false, "yyyyMMdd", {}},
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    std::string pattern = *config->get_string("timestamp.format");
    Result<DateFormat> format = DateFormat::compile(pattern);
    if (!format)
      return config_error(prefix + "timestamp.format", pattern, format.status().message());
    auto transform = std::make_unique<TimestampRouter>(std::move(format).value());
    transform->topic_format_ = *config->get_string("topic.format");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit TimestampRouter(DateFormat format) : format_(std::move(format)) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    if (!record.timestamp) return data_error("Timestamp missing on record: " + record_text(record));
    std::string topic = replace_all(topic_format_, "${topic}", record.topic);
    record.topic = replace_all(topic, "${timestamp}", format_.format(*record.timestamp));
    return std::optional(std::move(record));
  }

 private:
  static std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
      text.replace(at, from.size(), to);
    }
    return text;
  }

  DateFormat format_;
  std::string topic_format_;
};

class InsertHeader final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"header", ConfigType::string, true, std::nullopt, non_null()},
        {"value.literal", ConfigType::string, true, std::nullopt, non_null()},
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<InsertHeader>();
    transform->header_ = *config->get_string("header");
    transform->literal_ = parse_string(*config->get_string("value.literal"));
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    record.headers.push_back(Header{header_, literal_.schema, literal_.value});
    return std::optional(std::move(record));
  }

 private:
  std::string header_;
  SchemaAndValue literal_;
};

class DropHeaders final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"headers", ConfigType::list, true, std::nullopt, non_empty_list()}};
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<DropHeaders>();
    transform->headers_ = config->get_list("headers");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    std::erase_if(record.headers, [this](const Header& header) {
      return std::find(headers_.begin(), headers_.end(), header.key) != headers_.end();
    });
    return std::optional(std::move(record));
  }

 private:
  std::vector<std::string> headers_;
};

class HeaderFrom final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(Side side, const Properties& properties,
                                                        const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"fields", ConfigType::list, true, std::nullopt, non_empty_list()},
        {"headers", ConfigType::list, true, std::nullopt, non_empty_list()},
        {"operation", ConfigType::string, true, std::nullopt, one_of({"move", "copy"})},
        replace_null_with_default_key(),
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto transform = std::make_unique<HeaderFrom>(side);
    transform->fields_ = config->get_list("fields");
    transform->headers_ = config->get_list("headers");
    if (transform->fields_.size() != transform->headers_.size()) {
      return config_error(
          "'fields' config must have the same number of elements as 'headers' config.");
    }
    transform->move_ = *config->get_string("operation") == "move";
    transform->replace_null_with_default_ = config->get_bool("replace.null.with.default");
    return std::unique_ptr<Transformation>(std::move(transform));
  }

  explicit HeaderFrom(Side side) : side_(side) {}

  Result<std::optional<ConnectRecord>> apply(ConnectRecord record) override {
    std::string purpose = std::string("header ") + (move_ ? "move" : "copy");
    const SchemaPtr& schema = operating_schema(record, side_);
    const Value& value = operating_value(record, side_);
    if (!schema) {
      Result<const Map*> map = require_map(value, purpose);
      if (!map) return map.status();
      Map updated = **map;
      for (size_t i = 0; i < fields_.size(); ++i) {
        const Value* field = map_find(**map, fields_[i]);
        record.headers.push_back(Header{headers_[i], nullptr, field ? *field : Value()});
        if (move_) map_remove(updated, fields_[i]);
      }
      return std::optional(
          with_operating(std::move(record), side_, nullptr, Value(std::move(updated))));
    }
    Result<const Struct*> structure = require_struct(value, purpose);
    if (!structure) return structure.status();
    const Struct& original = **structure;
    for (size_t i = 0; i < fields_.size(); ++i) {
      const Field* field = schema->field(fields_[i]);
      if (!field) return data_error(fields_[i] + " is not a valid field name");
      const Field* value_field = original.schema()->field(fields_[i]);
      Value field_now =
          value_field ? field_value(original, *value_field, replace_null_with_default_) : Value();
      record.headers.push_back(Header{headers_[i], field->schema, std::move(field_now)});
    }
    if (!move_) return std::optional(std::move(record));
    Result<SchemaPtr> moved_schema = schema_without_fields(schema);
    if (!moved_schema) return moved_schema.status();
    Struct updated(*moved_schema);
    for (const Field& field : (*moved_schema)->fields) {
      const Field* source = original.schema()->field(field.name);
      SLUICE_CONNECT_TRY(
          updated.put(field, field_value(original, *source, replace_null_with_default_)));
    }
    return std::optional(
        with_operating(std::move(record), side_, *moved_schema, Value(std::move(updated))));
  }

 private:
  Result<SchemaPtr> schema_without_fields(const SchemaPtr& schema) {
    if (SchemaPtr cached = cache_.find(schema)) return cached;
    SchemaBuilder builder = SchemaBuilder::structure();
    builder.copy_basics(*schema);
    for (const Field& field : schema->fields) {
      if (std::find(fields_.begin(), fields_.end(), field.name) == fields_.end())
        builder.field(field.name, field.schema);
    }
    Result<SchemaPtr> built = builder.build();
    if (built) cache_.put(schema, *built);
    return built;
  }

  Side side_;
  std::vector<std::string> fields_;
  std::vector<std::string> headers_;
  bool move_ = false;
  bool replace_null_with_default_ = true;
  SchemaCache cache_;
};

// Drops every record; used with a predicate (Kafka's Filter).
class Filter final : public Transformation {
 public:
  static Result<std::unique_ptr<Transformation>> create(const Properties&, const std::string&) {
    return std::unique_ptr<Transformation>(std::make_unique<Filter>());
  }
  Result<std::optional<ConnectRecord>> apply(ConnectRecord) override {
    return std::optional<ConnectRecord>();
  }
};

class TopicNameMatches final : public Predicate {
 public:
  static Result<std::unique_ptr<Predicate>> create(const Properties& properties,
                                                   const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"pattern", ConfigType::string, true, std::nullopt,
         all_of({non_empty_string(), valid_regex()})},
    };
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto predicate = std::make_unique<TopicNameMatches>();
    predicate->pattern_ = std::regex(*config->get_string("pattern"), std::regex::ECMAScript);
    return std::unique_ptr<Predicate>(std::move(predicate));
  }

  bool test(const ConnectRecord& record) const override {
    return std::regex_match(record.topic, pattern_);
  }

 private:
  std::regex pattern_;
};

class HasHeaderKey final : public Predicate {
 public:
  static Result<std::unique_ptr<Predicate>> create(const Properties& properties,
                                                   const std::string& prefix) {
    static const std::vector<ConfigKey> keys = {
        {"name", ConfigType::string, true, std::nullopt, non_empty_string()}};
    Result<SimpleConfig> config = SimpleConfig::parse(keys, properties, prefix);
    if (!config) return config.status();
    auto predicate = std::make_unique<HasHeaderKey>();
    predicate->name_ = *config->get_string("name");
    return std::unique_ptr<Predicate>(std::move(predicate));
  }

  bool test(const ConnectRecord& record) const override {
    return has_header(record.headers, name_);
  }

 private:
  std::string name_;
};

class RecordIsTombstone final : public Predicate {
 public:
  static Result<std::unique_ptr<Predicate>> create(const Properties&, const std::string&) {
    return std::unique_ptr<Predicate>(std::make_unique<RecordIsTombstone>());
  }
  bool test(const ConnectRecord& record) const override { return record.value.is_null(); }
};

}  // namespace

std::vector<TransformEntry> routing_transforms() {
  std::vector<TransformEntry> entries = key_and_value<HeaderFrom>("HeaderFrom");
  entries.push_back(TransformEntry{"RegexRouter", &RegexRouter::create});
  entries.push_back(TransformEntry{"TimestampRouter", &TimestampRouter::create});
  entries.push_back(TransformEntry{"InsertHeader", &InsertHeader::create});
  entries.push_back(TransformEntry{"DropHeaders", &DropHeaders::create});
  entries.push_back(TransformEntry{"Filter", &Filter::create});
  return entries;
}

std::vector<PredicateEntry> predicates() {
  return {
      PredicateEntry{"predicates.TopicNameMatches", &TopicNameMatches::create},
      PredicateEntry{"predicates.HasHeaderKey", &HasHeaderKey::create},
      PredicateEntry{"predicates.RecordIsTombstone", &RecordIsTombstone::create},
  };
}

}  // namespace sluice::connect::detail
