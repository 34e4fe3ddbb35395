#pragma once
// Typed configuration definitions, Kafka style: each key has a type, a
// default, a validator and a doc line. Parsing a set of string values checks
// every key and value and names the offending one; lookups are typed.
// Used for broker configs (server.properties) and topic configs.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"

namespace sluice {

enum class ConfigType { boolean, int32, int64, float64, string, list, password };

const char* config_type_name(ConfigType type);

using ConfigValue = std::variant<bool, int64_t, double, std::string>;

struct ConfigDef {
  std::string name;
  ConfigType type = ConfigType::string;
  std::optional<std::string> default_value;  // nullopt: no default (null)
  std::string doc;
  // Checks a parsed value; returns an explanation when it is not allowed.
  std::function<std::optional<std::string>(const ConfigValue&)> validator;
  bool read_only = true;  // false: may change at run time (AlterConfigs)
  // Dynamic for one broker id only, not as the cluster-wide default (Kafka's
  // "per-broker" update mode: listener and SSL settings).
  bool per_broker_only = false;
  // Kafka's setting, accepted and described as Kafka does, that Sluice does
  // not act on: not at all (`inert`), or not when changed at run time
  // (`dynamic_inert`: Kafka changes it dynamically, Sluice reads it at start).
  bool inert = false;
  bool dynamic_inert = false;
};

// Validators.
std::function<std::optional<std::string>(const ConfigValue&)> at_least(int64_t minimum);
std::function<std::optional<std::string>(const ConfigValue&)> in_range(int64_t minimum,
                                                                      int64_t maximum);
std::function<std::optional<std::string>(const ConfigValue&)> one_of(
    std::vector<std::string> allowed);
// For lists: every element must be one of `allowed`.
std::function<std::optional<std::string>(const ConfigValue&)> each_one_of(
    std::vector<std::string> allowed);

// Parses `text` as a value of `def`'s type and validates it.
Result<ConfigValue> parse_config_value(const ConfigDef& def, const std::string& text);

class ConfigDefs {
 public:
  ConfigDefs() = default;
  explicit ConfigDefs(std::vector<ConfigDef> defs);

  const ConfigDef* find(const std::string& name) const;
  const std::vector<ConfigDef>& all() const { return defs_; }

 private:
  std::vector<ConfigDef> defs_;
  std::map<std::string, size_t> by_name_;
};

// A set of values checked against definitions: explicit values win over
// defaults. `source` of a value tells where it came from.
class Config {
 public:
  // Fails on the first unknown key or invalid value, naming it.
  static Result<Config> parse(const ConfigDefs& defs, const std::map<std::string, std::string>& values);

  bool is_set(const std::string& name) const { return explicit_.count(name) != 0; }
  // The value as text (explicit or default), nullopt if null.
  std::optional<std::string> text(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::string get_string(const std::string& name) const;
  std::vector<std::string> get_list(const std::string& name) const;
  const std::map<std::string, std::string>& explicit_values() const { return explicit_; }
  const ConfigDefs& defs() const { return *defs_; }

 private:
  const ConfigValue* value(const std::string& name) const;

  const ConfigDefs* defs_ = nullptr;
  std::map<std::string, std::string> explicit_;
  std::map<std::string, ConfigValue> values_;  // explicit and defaults, parsed
};

// Reads a Java-style .properties file: `key=value` or `key: value` lines,
// `#`/`!` comments, blank lines. (Line continuations are not supported.)
Result<std::map<std::string, std::string>> parse_properties(const std::string& text);

// Splits a comma-separated list, trimming blanks and dropping empty items.
std::vector<std::string> split_list(const std::string& text);

}  // namespace sluice
