// GCC 12 at -O1 with ASan (the _asan twin) reports a false
// maybe-uninitialized inside libstdc++'s <regex> compiler (std::function
// moved within _State), as in security/principal.cc; nothing of this file is
// involved.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "connect/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <regex>

#include "connect/errors.h"

namespace sluice::connect {

namespace {

std::string trim(const std::string& text) {
  // Java's String.trim: every char <= ' ' at either end.
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && static_cast<unsigned char>(text[begin]) <= ' ') ++begin;
  while (end > begin && static_cast<unsigned char>(text[end - 1]) <= ' ') --end;
  return text.substr(begin, end - begin);
}

// Java's Pattern.split("\\s*,\\s*", -1): empty items are kept.
std::vector<std::string> split_on_commas(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    items.push_back(trim(item));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

bool equals_ignore_case(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string join(const std::vector<std::string>& items, const char* separator) {
  std::string text;
  for (size_t i = 0; i < items.size(); ++i) text += (i ? separator : "") + items[i];
  return text;
}

Status check(const ConfigKey& key, const std::string& shown_name, const ConfigValue& value) {
  if (!key.validator) return Status::ok();
  std::optional<ConfigProblem> problem = key.validator(value);
  if (!problem) return Status::ok();
  if (problem->complete) return config_error(problem->message);
  return config_error(shown_name, config_value_text(value), problem->message);
}

}  // namespace

std::string config_value_text(const ConfigValue& value) {
  if (std::holds_alternative<std::monostate>(value)) return "null";
  if (const auto* text = std::get_if<std::string>(&value)) return *text;
  if (const auto* flag = std::get_if<bool>(&value)) return *flag ? "true" : "false";
  if (const auto* number = std::get_if<int32_t>(&value)) return std::to_string(*number);
  return "[" + join(std::get<std::vector<std::string>>(value), ", ") + "]";
}

Result<ConfigValue> parse_config_text(const std::string& name, ConfigType type,
                                      const std::string& text) {
  std::string trimmed = trim(text);
  switch (type) {
    case ConfigType::string:
      return ConfigValue(trimmed);
    case ConfigType::boolean:
      if (equals_ignore_case(trimmed, "true")) return ConfigValue(true);
      if (equals_ignore_case(trimmed, "false")) return ConfigValue(false);
      return config_error(name, text, "Expected value to be either true or false");
    case ConfigType::integer: {
      int32_t number = 0;
      const char* begin = trimmed.data();
      if (!trimmed.empty() && trimmed[0] == '+') ++begin;
      auto [end, error] = std::from_chars(begin, trimmed.data() + trimmed.size(), number);
      if (trimmed.empty() || error != std::errc() || end != trimmed.data() + trimmed.size()) {
        return config_error(name, text, "Not a number of type INT");
      }
      return ConfigValue(number);
    }
    case ConfigType::list:
      if (trimmed.empty()) return ConfigValue(std::vector<std::string>{});
      return ConfigValue(split_on_commas(trimmed));
  }
  return config_error(name, text, "unknown type");
}

Result<SimpleConfig> SimpleConfig::parse(const std::vector<ConfigKey>& keys,
                                         const Properties& properties, const std::string& prefix) {
  SimpleConfig config;
  for (const ConfigKey& key : keys) {
    std::string shown_name = prefix + key.name;
    ConfigValue value;
    auto found = properties.find(key.name);
    if (found != properties.end()) {
      Result<ConfigValue> parsed = parse_config_text(shown_name, key.type, found->second);
      if (!parsed) return parsed.status();
      value = std::move(parsed).value();
    } else if (key.required) {
      return config_error("Missing required configuration \"" + shown_name +
                          "\" which has no default value.");
    } else if (key.default_value) {
      Result<ConfigValue> parsed = parse_config_text(shown_name, key.type, *key.default_value);
      SLUICE_ASSERT(parsed.is_ok(), "a ConfigKey's default must parse");
      value = std::move(parsed).value();
    }
    if (Status status = check(key, shown_name, value); !status) return status;
    config.values_[key.name] = std::move(value);
  }
  return config;
}

const ConfigValue& SimpleConfig::value(const std::string& name) const {
  auto found = values_.find(name);
  SLUICE_ASSERT(found != values_.end(), "a config key the plugin did not define");
  return found->second;
}

std::optional<std::string> SimpleConfig::get_string(const std::string& name) const {
  const ConfigValue& parsed = value(name);
  if (std::holds_alternative<std::monostate>(parsed)) return std::nullopt;
  return std::get<std::string>(parsed);
}

bool SimpleConfig::get_bool(const std::string& name) const { return std::get<bool>(value(name)); }

int32_t SimpleConfig::get_int(const std::string& name) const {
  return std::get<int32_t>(value(name));
}

std::vector<std::string> SimpleConfig::get_list(const std::string& name) const {
  const ConfigValue& parsed = value(name);
  if (std::holds_alternative<std::monostate>(parsed)) return {};
  return std::get<std::vector<std::string>>(parsed);
}

ConfigValidator non_empty_list() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* list = std::get_if<std::vector<std::string>>(&value);
    if (!list || list->empty()) return ConfigProblem{"Empty list"};
    return std::nullopt;
  };
}

ConfigValidator non_empty_string() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    if (text && text->empty()) return ConfigProblem{"String must be non-empty"};
    return std::nullopt;
  };
}

ConfigValidator non_null() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    if (std::holds_alternative<std::monostate>(value))
      return ConfigProblem{"entry must be non null"};
    return std::nullopt;
  };
}

ConfigValidator valid_regex() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    if (!text) return std::nullopt;
    try {
      std::regex compiled(*text, std::regex::ECMAScript);
    } catch (const std::regex_error& error) {
      return ConfigProblem{std::string("Invalid regex: ") + error.what()};
    }
    return std::nullopt;
  };
}

ConfigValidator one_of(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    if (text && std::find(allowed.begin(), allowed.end(), *text) != allowed.end())
      return std::nullopt;
    return ConfigProblem{"String must be one of: " + join(allowed, ", ")};
  };
}

ConfigValidator one_of_case_insensitive(std::vector<std::string> allowed) {
  return [allowed = std::move(allowed)](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    for (const std::string& candidate : allowed) {
      if (text && equals_ignore_case(*text, candidate)) return std::nullopt;
    }
    return ConfigProblem{"String must be one of (case insensitive): " + join(allowed, ", ")};
  };
}

ConfigValidator all_of(std::vector<ConfigValidator> validators) {
  return [validators =
              std::move(validators)](const ConfigValue& value) -> std::optional<ConfigProblem> {
    for (const ConfigValidator& validator : validators) {
      if (std::optional<ConfigProblem> problem = validator(value)) return problem;
    }
    return std::nullopt;
  };
}

}  // namespace sluice::connect
