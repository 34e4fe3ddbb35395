#include "base/config_def.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "base/assert.h"

namespace sluice {
namespace {

std::string trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t\r");
  return text.substr(begin, end - begin + 1);
}

std::optional<int64_t> parse_integer(const std::string& text) {
  if (text.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long value = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return std::nullopt;
  return static_cast<int64_t>(value);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

}  // namespace

const char* config_type_name(ConfigType type) {
  switch (type) {
    case ConfigType::boolean: return "boolean";
    case ConfigType::int32: return "int";
    case ConfigType::int64: return "long";
    case ConfigType::float64: return "double";
    case ConfigType::string: return "string";
    case ConfigType::list: return "list";
    case ConfigType::password: return "password";
  }
  return "unknown";
}

std::function<std::optional<std::string>(const ConfigValue&)> at_least(int64_t minimum) {
  return [minimum](const ConfigValue& value) -> std::optional<std::string> {
    if (std::get<int64_t>(value) < minimum)
      return "must be at least " + std::to_string(minimum);
    return std::nullopt;
  };
}

std::function<std::optional<std::string>(const ConfigValue&)> in_range(int64_t minimum,
                                                                      int64_t maximum) {
  return [minimum, maximum](const ConfigValue& value) -> std::optional<std::string> {
    int64_t number = std::get<int64_t>(value);
    if (number < minimum || number > maximum)
      return "must be in [" + std::to_string(minimum) + ", " + std::to_string(maximum) + "]";
    return std::nullopt;
  };
}

std::function<std::optional<std::string>(const ConfigValue&)> one_of(
    std::vector<std::string> allowed) {
  return [allowed](const ConfigValue& value) -> std::optional<std::string> {
    const std::string& text = std::get<std::string>(value);
    if (std::find(allowed.begin(), allowed.end(), text) == allowed.end())
      return "must be one of: " + join(allowed);
    return std::nullopt;
  };
}

std::function<std::optional<std::string>(const ConfigValue&)> each_one_of(
    std::vector<std::string> allowed) {
  return [allowed](const ConfigValue& value) -> std::optional<std::string> {
    for (const std::string& item : split_list(std::get<std::string>(value)))
      if (std::find(allowed.begin(), allowed.end(), item) == allowed.end())
        return "'" + item + "' is not one of: " + join(allowed);
    return std::nullopt;
  };
}

Result<ConfigValue> parse_config_value(const ConfigDef& def, const std::string& raw) {
  std::string text = trim(raw);
  auto invalid = [&](const std::string& why) {
    return Status(Errc::invalid_value,
                  "invalid value '" + raw + "' for configuration " + def.name + ": " + why);
  };
  ConfigValue value;
  switch (def.type) {
    case ConfigType::boolean: {
      std::string lower = text;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (lower != "true" && lower != "false") return invalid("expected true or false");
      value = lower == "true";
      break;
    }
    case ConfigType::int32:
    case ConfigType::int64: {
      auto number = parse_integer(text);
      if (!number) return invalid(std::string("expected a ") + config_type_name(def.type));
      if (def.type == ConfigType::int32 &&
          (*number < INT32_MIN || *number > INT32_MAX))
        return invalid("out of range for an int");
      value = *number;
      break;
    }
    case ConfigType::float64: {
      char* end = nullptr;
      double number = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size()) return invalid("expected a number");
      value = number;
      break;
    }
    case ConfigType::string:
    case ConfigType::list:
    case ConfigType::password:
      value = text;
      break;
  }
  if (def.validator) {
    if (auto why = def.validator(value)) return invalid(*why);
  }
  return value;
}

ConfigDefs::ConfigDefs(std::vector<ConfigDef> defs) : defs_(std::move(defs)) {
  for (size_t i = 0; i < defs_.size(); ++i) {
    bool inserted = by_name_.emplace(defs_[i].name, i).second;
    SLUICE_ASSERT(inserted, "a configuration key defined twice");
  }
}

const ConfigDef* ConfigDefs::find(const std::string& name) const {
  auto found = by_name_.find(name);
  return found == by_name_.end() ? nullptr : &defs_[found->second];
}

Result<Config> Config::parse(const ConfigDefs& defs,
                             const std::map<std::string, std::string>& values) {
  Config config;
  config.defs_ = &defs;
  for (const auto& [name, text] : values) {
    const ConfigDef* def = defs.find(name);
    if (def == nullptr) return Status(Errc::invalid_value, "unknown configuration '" + name + "'");
    auto parsed = parse_config_value(*def, text);
    if (!parsed) return parsed.status();
    config.explicit_[name] = text;
    config.values_[name] = std::move(parsed.value());
  }
  for (const ConfigDef& def : defs.all()) {
    if (config.values_.count(def.name) || !def.default_value) continue;
    auto parsed = parse_config_value(def, *def.default_value);
    SLUICE_ASSERT(parsed.is_ok(), "a configuration default fails its own validation");
    config.values_[def.name] = std::move(parsed.value());
  }
  return config;
}

const ConfigValue* Config::value(const std::string& name) const {
  SLUICE_ASSERT(defs_ && defs_->find(name), "lookup of an undefined configuration key");
  auto found = values_.find(name);
  return found == values_.end() ? nullptr : &found->second;
}

std::optional<std::string> Config::text(const std::string& name) const {
  auto found = explicit_.find(name);
  if (found != explicit_.end()) return found->second;
  return defs_->find(name)->default_value;
}

bool Config::get_bool(const std::string& name) const { return std::get<bool>(*value(name)); }
int64_t Config::get_int(const std::string& name) const { return std::get<int64_t>(*value(name)); }
double Config::get_double(const std::string& name) const { return std::get<double>(*value(name)); }
std::string Config::get_string(const std::string& name) const {
  const ConfigValue* found = value(name);
  return found ? std::get<std::string>(*found) : std::string();
}
std::vector<std::string> Config::get_list(const std::string& name) const {
  return split_list(get_string(name));
}

Result<std::map<std::string, std::string>> parse_properties(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t line_number = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = trim(text.substr(start, end - start));
    ++line_number;
    start = end + 1;
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    size_t separator = line.find_first_of("=:");
    if (separator == std::string::npos)
      return Status(Errc::invalid_value, "line " + std::to_string(line_number) +
                                             ": expected key=value, got '" + line + "'");
    out[trim(line.substr(0, separator))] = trim(line.substr(separator + 1));
  }
  return out;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = trim(text.substr(start, end - start));
    if (!item.empty()) items.push_back(item);
    start = end + 1;
  }
  return items;
}

}  // namespace sluice
