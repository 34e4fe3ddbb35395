#pragma once
// Single Message Transforms and predicates with Kafka's class names,
// settings and messages (org.apache.kafka.connect.transforms.*):
//   InsertField, ReplaceField, MaskField, ExtractField, HoistField, Cast,
//   TimestampConverter, Flatten, HeaderFrom (each $Key and $Value),
//   ValueToKey, RegexRouter, TimestampRouter, InsertHeader, DropHeaders,
//   Filter; predicates TopicNameMatches, HasHeaderKey, RecordIsTombstone.
// A class is named in full ("org.apache.kafka.connect.transforms.Cast$Value")
// or by its simple name ("Cast$Value"), as Connect's plugin aliases allow.
//
// Both record shapes work as in Kafka: schemaless (Map keys/values) and with
// schemas (Struct). A transform is configured once, then applied by the task
// that owns it: not thread-safe (it caches the schemas it derives, as Kafka's
// LRU caches do). apply() returns nullopt when the record is dropped (Filter).
// Nested field paths (KIP-821's field.syntax.version=V2) are still to come:
// field names are top-level names (V1, Kafka's default).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "connect/config.h"
#include "connect/record.h"

namespace sluice::connect {

class Transformation {
 public:
  virtual ~Transformation() = default;
  virtual Result<std::optional<ConnectRecord>> apply(ConnectRecord record) = 0;
};

class Predicate {
 public:
  virtual ~Predicate() = default;
  virtual bool test(const ConnectRecord& record) const = 0;
};

// A configured transform or predicate. `properties` holds the plugin's own
// settings (without `transforms.<alias>.`); `prefix` is how messages name
// them (Kafka names `transforms.<alias>.<setting>` when it validates a
// connector's configuration). Unknown class: Kafka's "Class x could not be
// found." for `<prefix>type`.
Result<std::unique_ptr<Transformation>> make_transformation(const std::string& class_name,
                                                            const Properties& properties,
                                                            const std::string& prefix = "");
Result<std::unique_ptr<Predicate>> make_predicate(const std::string& class_name,
                                                  const Properties& properties,
                                                  const std::string& prefix = "");

// The class names this build knows, full form (for /connector-plugins later).
std::vector<std::string> transformation_class_names();
std::vector<std::string> predicate_class_names();

}  // namespace sluice::connect
