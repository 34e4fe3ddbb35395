// The transform and predicate registry by Kafka's class names, and Kafka's
// Requirements checks the transforms share.

#include "connect/transform.h"

#include "connect/transform_support.h"

namespace sluice::connect {

namespace {

constexpr std::string_view package = "org.apache.kafka.connect.transforms.";

// "InsertField$Value" and "predicates.HasHeaderKey" name the classes
// org.apache.kafka.connect.transforms.<simple name>; their aliases drop the
// package (Connect's PluginUtils aliases).
bool names_class(const std::string& name, const std::string& simple_name) {
  std::string alias = simple_name.substr(
      simple_name.rfind('.') == std::string::npos ? 0 : simple_name.rfind('.') + 1);
  return name == std::string(package) + simple_name || name == alias;
}

const std::vector<detail::TransformEntry>& transform_table() {
  static const std::vector<detail::TransformEntry> table = [] {
    std::vector<detail::TransformEntry> entries;
    for (auto family :
         {detail::field_transforms(), detail::type_transforms(), detail::routing_transforms()}) {
      entries.insert(entries.end(), family.begin(), family.end());
    }
    return entries;
  }();
  return table;
}

const std::vector<detail::PredicateEntry>& predicate_table() {
  static const std::vector<detail::PredicateEntry> table = detail::predicates();
  return table;
}

}  // namespace

Result<std::unique_ptr<Transformation>> make_transformation(const std::string& class_name,
                                                            const Properties& properties,
                                                            const std::string& prefix) {
  for (const detail::TransformEntry& entry : transform_table()) {
    if (names_class(class_name, entry.simple_name)) return entry.factory(properties, prefix);
  }
  return class_not_found(prefix + "type", class_name);
}

Result<std::unique_ptr<Predicate>> make_predicate(const std::string& class_name,
                                                  const Properties& properties,
                                                  const std::string& prefix) {
  for (const detail::PredicateEntry& entry : predicate_table()) {
    if (names_class(class_name, entry.simple_name)) return entry.factory(properties, prefix);
  }
  return class_not_found(prefix + "type", class_name);
}

std::vector<std::string> transformation_class_names() {
  std::vector<std::string> names;
  for (const detail::TransformEntry& entry : transform_table())
    names.push_back(std::string(package) + entry.simple_name);
  return names;
}

std::vector<std::string> predicate_class_names() {
  std::vector<std::string> names;
  for (const detail::PredicateEntry& entry : predicate_table())
    names.push_back(std::string(package) + entry.simple_name);
  return names;
}

namespace detail {

Result<const Map*> require_map(const Value& value, const std::string& purpose) {
  if (!value.is<Map>()) {
    return data_error("Only Map objects supported in absence of schema for [" + purpose +
                      "], found: " + java_class_name(value));
  }
  return &value.as<Map>();
}

Result<const Struct*> require_struct(const Value& value, const std::string& purpose) {
  if (!value.is<Struct>()) {
    return data_error("Only Struct objects supported for [" + purpose +
                      "], found: " + java_class_name(value));
  }
  return &value.as<Struct>();
}

Status require_sink_record(const ConnectRecord& record, const std::string& purpose) {
  if (!record.is_sink_record()) {
    return data_error("Only SinkRecord supported for [" + purpose +
                      "], found: " + record.java_class_name());
  }
  return Status::ok();
}

Status require_schema(const SchemaPtr& schema, const std::string& purpose) {
  if (!schema) return data_error("Schema required for [" + purpose + "]");
  return Status::ok();
}

}  // namespace detail

}  // namespace sluice::connect
