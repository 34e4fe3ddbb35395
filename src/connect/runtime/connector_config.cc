#include "connect/runtime/connector_config.h"

#include <charconv>
#include <regex>

#include "base/config_def.h"
#include "connect/errors.h"

namespace sluice::connect {
namespace {

struct KeyDoc {
  ConfigKey key;
  std::string group;
  std::string documentation;
  const char* shown_type = nullptr;  // the type validation names, when not the key's
};

// Kafka's LONG keys, held as text here: ConfigDef's parse and its message.
std::optional<int64_t> parse_long(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return std::nullopt;
  const std::string trimmed = text.substr(first, text.find_last_not_of(" \t") - first + 1);
  int64_t number = 0;
  const char* end = trimmed.data() + trimmed.size();
  auto [stop, error] = std::from_chars(trimmed.data(), end, number);
  if (error != std::errc() || stop != end) return std::nullopt;
  return number;
}

ConfigValidator a_long() {
  return [](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* text = std::get_if<std::string>(&value);
    if (text && !parse_long(*text)) return ConfigProblem{"Not a number of type LONG", false};
    return std::nullopt;
  };
}

const char* type_name(ConfigType type) {
  switch (type) {
    case ConfigType::string:
      return "STRING";
    case ConfigType::boolean:
      return "BOOLEAN";
    case ConfigType::integer:
      return "INT";
    case ConfigType::list:
      return "LIST";
  }
  return "STRING";
}

ConfigValidator at_least(int32_t minimum) {
  return [minimum](const ConfigValue& value) -> std::optional<ConfigProblem> {
    const auto* number = std::get_if<int32_t>(&value);
    if (number && *number < minimum) {
      return ConfigProblem{"Value must be at least " + std::to_string(minimum), false};
    }
    return std::nullopt;
  };
}

std::vector<KeyDoc> common_keys(ConnectorType type) {
  std::vector<KeyDoc> keys = {
      {{"name", ConfigType::string, true, std::nullopt, non_empty_string()},
       "Common",
       "Globally unique name to use for this connector."},
      {{"connector.class", ConfigType::string, true, std::nullopt, {}},
       "Common",
       "Name or alias of the class for this connector."},
      {{"tasks.max", ConfigType::integer, false, "1", at_least(1)},
       "Common",
       "Maximum number of tasks to use for this connector."},
      {{"key.converter", ConfigType::string, false, std::nullopt, {}},
       "Common",
       "Converter class for record keys; the worker's when unset."},
      {{"value.converter", ConfigType::string, false, std::nullopt, {}},
       "Common",
       "Converter class for record values; the worker's when unset."},
      {{"header.converter", ConfigType::string, false, std::nullopt, {}},
       "Common",
       "HeaderConverter class for record headers; the worker's when unset."},
      {{"transforms", ConfigType::list, false, "", {}},
       "Transforms",
       "Aliases for the transformations to be applied to records."},
      {{"predicates", ConfigType::list, false, "", {}},
       "Predicates",
       "Aliases for the predicates used by transformations."},
      {{"errors.retry.timeout", ConfigType::string, false, "0", a_long()},
       "Error Handling",
       "The maximum duration in milliseconds that a failed operation will be reattempted. The "
       "default is 0, which means no retries will be attempted. Use -1 for infinite retries.",
       "LONG"},
      {{"errors.retry.delay.max.ms", ConfigType::string, false, "60000", a_long()},
       "Error Handling",
       "The maximum duration in milliseconds between consecutive retry attempts.",
       "LONG"},
      {{"errors.tolerance", ConfigType::string, false, "none", one_of({"none", "all"})},
       "Error Handling",
       "Behavior for tolerating errors during connector operation."},
      {{"errors.log.enable", ConfigType::boolean, false, "false", {}},
       "Error Handling",
       "Whether to log each error and the failed operation."},
      {{"errors.log.include.messages", ConfigType::boolean, false, "false", {}},
       "Error Handling",
       "Whether to include in the log the record that caused a failure."},
  };
  if (type == ConnectorType::sink) {
    keys.push_back({{"topics", ConfigType::list, false, "", {}},
                    "Common",
                    "List of topics to consume, separated by commas."});
    keys.push_back({{"topics.regex", ConfigType::string, false, "", {}},
                    "Common",
                    "Regular expression giving topics to consume."});
    keys.push_back({{"errors.deadletterqueue.topic.name", ConfigType::string, false, "", {}},
                    "Error Handling",
                    "The name of the topic to be used as the dead letter queue (DLQ)."});
    keys.push_back(
        {{"errors.deadletterqueue.topic.replication.factor", ConfigType::integer, false, "3", {}},
         "Error Handling",
         "Replication factor used to create the dead letter queue topic."});
    keys.push_back(
        {{"errors.deadletterqueue.context.headers.enable", ConfigType::boolean, false, "false", {}},
         "Error Handling",
         "Whether to add headers with the error context to DLQ records."});
  }
  return keys;
}

std::optional<std::string> value_of(const Properties& config, const std::string& name) {
  auto it = config.find(name);
  if (it == config.end()) return std::nullopt;
  return it->second;
}

// One key checked on its own: Kafka reports every failing key, not the first.
ConfigValueInfo check_key(const KeyDoc& doc, const Properties& config) {
  ConfigValueInfo info;
  info.name = doc.key.name;
  info.type = doc.shown_type != nullptr ? doc.shown_type : type_name(doc.key.type);
  info.required = doc.key.required;
  info.default_value = doc.key.default_value;
  info.documentation = doc.documentation;
  info.group = doc.group;
  info.value = value_of(config, doc.key.name);
  if (!info.value && doc.key.default_value) info.value = doc.key.default_value;
  auto parsed = SimpleConfig::parse({doc.key}, config);
  if (!parsed.is_ok()) info.errors.push_back(parsed.status().message());
  return info;
}

void add_error(ConfigInfos& infos, const std::string& name, std::string message) {
  for (ConfigValueInfo& info : infos.configs) {
    if (info.name == name) {
      info.errors.push_back(std::move(message));
      return;
    }
  }
  ConfigValueInfo info;
  info.name = name;
  info.value = std::nullopt;
  info.errors.push_back(std::move(message));
  infos.configs.push_back(std::move(info));
}

void check_sink_topics(const Properties& config, ConfigInfos& infos) {
  const std::string topics = value_of(config, "topics").value_or("");
  const std::string regex = value_of(config, "topics.regex").value_or("");
  const bool has_topics = !split_list(topics).empty();
  const bool has_regex = !regex.empty();
  if (has_topics && has_regex) {
    add_error(infos, "topics",
              "topics and topics.regex are mutually exclusive options, but both are set.");
    add_error(infos, "topics.regex",
              "topics and topics.regex are mutually exclusive options, but both are set.");
  } else if (!has_topics && !has_regex) {
    add_error(infos, "topics", "Must configure one of topics or topics.regex");
    add_error(infos, "topics.regex", "Must configure one of topics or topics.regex");
  }
  if (has_regex) {
    try {
      std::regex compiled(regex);
    } catch (const std::regex_error&) {
      add_error(infos, "topics.regex", "Invalid regex: " + regex);
    }
  }
  const std::string dlq = value_of(config, "errors.deadletterqueue.topic.name").value_or("");
  if (!dlq.empty()) {
    for (const std::string& topic : split_list(topics)) {
      if (topic == dlq) {
        add_error(infos, "errors.deadletterqueue.topic.name",
                  "The DLQ topic '" + dlq +
                      "' may not be included in the list of topics ('topics=" + topics +
                      "') consumed by the connector");
      }
    }
  }
}

}  // namespace

ConfigInfos validate_connector_config(const ConnectorPlugin& plugin, const Properties& config) {
  ConfigInfos infos;
  infos.name = plugin.class_name;
  for (const KeyDoc& doc : common_keys(plugin.type)) {
    infos.configs.push_back(check_key(doc, config));
    if (std::find(infos.groups.begin(), infos.groups.end(), doc.group) == infos.groups.end()) {
      infos.groups.push_back(doc.group);
    }
  }
  if (plugin.type == ConnectorType::sink) check_sink_topics(config, infos);
  if (auto chain = TransformationChain::from_config(config); !chain.is_ok()) {
    add_error(infos, "transforms", chain.status().message());
  }
  for (const char* converter : {"key.converter", "value.converter"}) {
    auto name = value_of(config, converter);
    if (!name) continue;
    Properties own;
    const std::string prefix = std::string(converter) + ".";
    for (const auto& [key, value] : config) {
      if (key.starts_with(prefix)) own[key.substr(prefix.size())] = value;
    }
    auto made = make_converter(*name, own, std::string(converter) == "key.converter", converter);
    if (!made.is_ok()) add_error(infos, converter, made.status().message());
  }
  if (auto name = value_of(config, "header.converter")) {
    Properties own;
    for (const auto& [key, value] : config) {
      if (key.starts_with("header.converter.")) own[key.substr(17)] = value;
    }
    auto made = make_header_converter(*name, own);
    if (!made.is_ok()) add_error(infos, "header.converter", made.status().message());
  }
  std::unique_ptr<Connector> connector = plugin.make();
  for (const ConfigKey& key : connector->config_keys()) {
    infos.configs.push_back(check_key(KeyDoc{key, "", ""}, config));
  }
  for (const ConfigValueInfo& info : infos.configs)
    infos.error_count += static_cast<int>(info.errors.size());
  return infos;
}

std::string invalid_config_message(const ConfigInfos& infos) {
  std::string message = "Connector configuration is invalid and contains the following " +
                        std::to_string(infos.error_count) + " error(s):";
  for (const ConfigValueInfo& info : infos.configs) {
    for (const std::string& error : info.errors) message += "\n" + error;
  }
  message +=
      "\nYou can also find the above list of errors at the endpoint "
      "`/connector-plugins/{connectorType}/config/validate`";
  return message;
}

TaskSettings task_settings(const std::string& connector, int task,
                           const Properties& connector_config, const Properties& task_config) {
  TaskSettings settings;
  settings.connector = connector;
  settings.task = task;
  settings.connector_config = connector_config;
  settings.task_config = task_config;
  auto text = [&](const char* name, const char* fallback) {
    return value_of(connector_config, name).value_or(fallback);
  };
  settings.tolerate_all_errors = text("errors.tolerance", "none") == "all";
  settings.log_errors = text("errors.log.enable", "false") == "true";
  settings.log_error_messages = text("errors.log.include.messages", "false") == "true";
  settings.dead_letter_topic = text("errors.deadletterqueue.topic.name", "");
  settings.dead_letter_context_headers =
      text("errors.deadletterqueue.context.headers.enable", "false") == "true";
  settings.dead_letter_replication_factor =
      std::atoi(text("errors.deadletterqueue.topic.replication.factor", "3").c_str());
  settings.retry_timeout_ms = parse_long(text("errors.retry.timeout", "0")).value_or(0);
  settings.retry_max_delay_ms =
      parse_long(text("errors.retry.delay.max.ms", "60000")).value_or(60000);
  settings.topics = split_list(text("topics", ""));
  settings.topics_regex = text("topics.regex", "");
  return settings;
}

Result<TaskConverters> make_task_converters(const Properties& connector_config,
                                            const ConverterDefaults& defaults) {
  // The converter's settings come from where the class was named: the
  // connector's `key.converter.*` with its own class, the worker's otherwise.
  auto settings_of = [&](const std::string& name) -> std::pair<std::string, Properties> {
    const Properties* source = &defaults.worker;
    std::string class_name;
    if (auto own = value_of(connector_config, name)) {
      source = &connector_config;
      class_name = *own;
    } else if (auto worker = value_of(defaults.worker, name)) {
      class_name = *worker;
    } else {
      class_name = name == "key.converter"     ? defaults.key_converter
                   : name == "value.converter" ? defaults.value_converter
                                               : defaults.header_converter;
    }
    Properties own;
    const std::string prefix = name + ".";
    for (const auto& [key, value] : *source) {
      if (key.starts_with(prefix)) own[key.substr(prefix.size())] = value;
    }
    return {class_name, own};
  };
  TaskConverters converters;
  auto [key_class, key_settings] = settings_of("key.converter");
  auto key = make_converter(key_class, key_settings, true, "key.converter");
  if (!key.is_ok()) return key.status();
  converters.key = std::move(*key);
  converters.key_class = key_class;
  auto [value_class, value_settings] = settings_of("value.converter");
  auto value = make_converter(value_class, value_settings, false, "value.converter");
  if (!value.is_ok()) return value.status();
  converters.value = std::move(*value);
  converters.value_class = value_class;
  auto [header_class, header_settings] = settings_of("header.converter");
  auto header = make_header_converter(header_class, header_settings, "header.converter");
  if (!header.is_ok()) return header.status();
  converters.header = std::move(*header);
  converters.header_class = header_class;
  return converters;
}

}  // namespace sluice::connect
