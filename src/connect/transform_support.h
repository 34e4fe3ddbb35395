#pragma once
// What the transforms share (internal to src/connect/): which side of the
// record a $Key/$Value variant works on, Kafka's Requirements checks and
// messages, the schema cache, and each family's factory table.

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "connect/errors.h"
#include "connect/transform.h"

// Returns the Status of `expression` from the enclosing function when it is
// not ok (the function returns Status or a Result): the transforms check
// every Struct::put, and this keeps each check one line.
#define SLUICE_CONNECT_TRY(expression)                                                 \
  do {                                                                                 \
    if (::sluice::Status try_status_ = (expression); !try_status_) return try_status_; \
  } while (0)

namespace sluice::connect::detail {

enum class Side { key, value };

inline const SchemaPtr& operating_schema(const ConnectRecord& record, Side side) {
  return side == Side::key ? record.key_schema : record.value_schema;
}

inline const Value& operating_value(const ConnectRecord& record, Side side) {
  return side == Side::key ? record.key : record.value;
}

// Kafka's newRecord of the $Key or $Value variant: the other side, topic,
// partition, timestamp, headers and origin unchanged.
inline ConnectRecord with_operating(ConnectRecord record, Side side, SchemaPtr schema,
                                    Value value) {
  (side == Side::key ? record.key_schema : record.value_schema) = std::move(schema);
  (side == Side::key ? record.key : record.value) = std::move(value);
  return record;
}

// Kafka's Requirements: "Only Map objects supported in absence of schema for
// [purpose], found: java.lang.String" and friends.
Result<const Map*> require_map(const Value& value, const std::string& purpose);
Result<const Struct*> require_struct(const Value& value, const std::string& purpose);
Status require_sink_record(const ConnectRecord& record, const std::string& purpose);
Status require_schema(const SchemaPtr& schema, const std::string& purpose);

// A field's value as Kafka's transforms read it: with the field's default
// (replace.null.with.default=true, Kafka's default) or without.
inline Value field_value(const Struct& structure, const Field& field,
                         bool replace_null_with_default) {
  return replace_null_with_default ? structure.get(field) : structure.get_without_default(field);
}

// The replace.null.with.default setting most transforms have.
// Java's String.split(":") (trailing empty strings dropped; "" stays [""]):
// ReplaceField's renames and Cast's spec.
inline std::vector<std::string> split_colon(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t colon = text.find(':', start);
    parts.push_back(
        text.substr(start, colon == std::string::npos ? std::string::npos : colon - start));
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 1) {
    while (!parts.empty() && parts.back().empty()) parts.pop_back();
  }
  return parts;
}

inline ConfigKey replace_null_with_default_key() {
  return ConfigKey{"replace.null.with.default", ConfigType::boolean, false, "true", {}};
}

// Derived schemas by source schema (by identity: schemas are immutable), at
// most 16 as Kafka's LRUCache(16); the oldest goes first.
class SchemaCache {
 public:
  SchemaPtr find(const SchemaPtr& source) const {
    for (const auto& [key, derived] : entries_) {
      if (key == source) return derived;
    }
    return nullptr;
  }
  void put(SchemaPtr source, SchemaPtr derived) {
    if (entries_.size() == 16) entries_.erase(entries_.begin());
    entries_.emplace_back(std::move(source), std::move(derived));
  }

 private:
  std::vector<std::pair<SchemaPtr, SchemaPtr>> entries_;
};

using TransformFactory = std::function<Result<std::unique_ptr<Transformation>>(
    const Properties&, const std::string& prefix)>;
using PredicateFactory =
    std::function<Result<std::unique_ptr<Predicate>>(const Properties&, const std::string& prefix)>;

struct TransformEntry {
  std::string simple_name;  // "InsertField$Value"
  TransformFactory factory;
};

struct PredicateEntry {
  std::string simple_name;
  PredicateFactory factory;
};

// Each family's table (transforms_fields.cc, transforms_types.cc,
// transforms_routing.cc).
std::vector<TransformEntry> field_transforms();
std::vector<TransformEntry> type_transforms();
std::vector<TransformEntry> routing_transforms();
std::vector<PredicateEntry> predicates();

// A factory for a $Key/$Value pair: T(Side, SimpleConfig).
template <class T>
std::vector<TransformEntry> key_and_value(const std::string& base_name) {
  auto make = [](Side side) {
    return [side](const Properties& properties,
                  const std::string& prefix) -> Result<std::unique_ptr<Transformation>> {
      return T::create(side, properties, prefix);
    };
  };
  return {TransformEntry{base_name + "$Key", make(Side::key)},
          TransformEntry{base_name + "$Value", make(Side::value)}};
}

}  // namespace sluice::connect::detail
