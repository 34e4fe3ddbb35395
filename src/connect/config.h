#pragma once
// The configuration of converters, transforms and predicates: Kafka's
// ConfigDef and SimpleConfig as Connect plugins use them. Each plugin
// declares its keys (type, default or none, validator); parse() checks a
// properties map against them with Kafka's ConfigException messages
// ("Missing required configuration \"field\" which has no default value.",
// "Invalid value x for configuration y: ..."). Unknown keys are ignored, as
// Kafka's AbstractConfig does (a transform's map also holds the runtime's own
// keys). `prefix` names keys as the connector configuration spells them
// (`transforms.a.field`), which is how Kafka reports them when it validates a
// connector's config (ConnectorConfig.enrich embeds the plugin's ConfigDef).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"

namespace sluice::connect {

using Properties = std::map<std::string, std::string>;

enum class ConfigType { string, boolean, integer, list };

// A parsed value: absent (null), a string, a boolean, an int, or a list.
using ConfigValue =
    std::variant<std::monostate, std::string, bool, int32_t, std::vector<std::string>>;

// Checks a parsed value; returns Kafka's message tail (after "Invalid value
// v for configuration k: ") when it is not allowed, or a complete message
// when `complete` is set (validators that throw ConfigException(message)).
struct ConfigProblem {
  std::string message;
  bool complete = false;
};
using ConfigValidator = std::function<std::optional<ConfigProblem>(const ConfigValue&)>;

struct ConfigKey {
  std::string name;
  ConfigType type = ConfigType::string;
  bool required = false;                     // Kafka's NO_DEFAULT_VALUE
  std::optional<std::string> default_value;  // nullopt with !required: null
  ConfigValidator validator;
};

// Kafka's validators and their messages.
ConfigValidator non_empty_list();                          // NonEmptyListValidator: "Empty list"
ConfigValidator non_empty_string();                        // "String must be non-empty"
ConfigValidator non_null();                                // "entry must be non null"
ConfigValidator valid_regex();                             // RegexValidator: "Invalid regex: ..."
ConfigValidator one_of(std::vector<std::string> allowed);  // "String must be one of: a, b"
ConfigValidator one_of_case_insensitive(std::vector<std::string> allowed);
ConfigValidator all_of(std::vector<ConfigValidator> validators);

// Java's toString of a parsed value, as Kafka's messages print it.
std::string config_value_text(const ConfigValue& value);

class SimpleConfig {
 public:
  static Result<SimpleConfig> parse(const std::vector<ConfigKey>& keys,
                                    const Properties& properties, const std::string& prefix = "");

  std::optional<std::string> get_string(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  int32_t get_int(const std::string& name) const;
  std::vector<std::string> get_list(const std::string& name) const;

 private:
  const ConfigValue& value(const std::string& name) const;
  std::map<std::string, ConfigValue> values_;
};

// Kafka's ConfigDef.parseType of one text value (trimmed, lists split on
// commas with surrounding blanks), with its messages; `name` is for them.
Result<ConfigValue> parse_config_text(const std::string& name, ConfigType type,
                                      const std::string& text);

}  // namespace sluice::connect
