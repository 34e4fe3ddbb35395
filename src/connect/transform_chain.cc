#include "connect/transform_chain.h"

#include <map>
#include <set>

#include "connect/errors.h"

namespace sluice::connect {

namespace {

// The `transforms` or `predicates` list, with ConnectorConfig's alias check.
Result<std::vector<std::string>> aliases(const Properties& config, const std::string& key) {
  auto found = config.find(key);
  if (found == config.end()) return std::vector<std::string>{};
  Result<ConfigValue> parsed = parse_config_text(key, ConfigType::list, found->second);
  if (!parsed) return parsed.status();
  std::vector<std::string> names = std::get<std::vector<std::string>>(*parsed);
  if (std::set<std::string>(names.begin(), names.end()).size() != names.size()) {
    return config_error(key, config_value_text(*parsed), "Duplicate alias provided.");
  }
  return names;
}

// The keys under `prefix`, without it (AbstractConfig.originalsWithPrefix).
Properties with_prefix(const Properties& config, const std::string& prefix) {
  Properties properties;
  for (auto it = config.lower_bound(prefix); it != config.end() && it->first.starts_with(prefix);
       ++it) {
    properties.emplace(it->first.substr(prefix.size()), it->second);
  }
  return properties;
}

Result<std::string> required_type(const Properties& config, const std::string& prefix) {
  auto found = config.find(prefix + "type");
  if (found == config.end()) {
    return config_error("Missing required configuration \"" + prefix +
                        "type\" which has no default value.");
  }
  Result<ConfigValue> parsed =
      parse_config_text(prefix + "type", ConfigType::string, found->second);
  if (!parsed) return parsed.status();
  return std::get<std::string>(*parsed);
}

}  // namespace

Result<TransformationChain> TransformationChain::from_config(const Properties& config) {
  Result<std::vector<std::string>> transform_aliases = aliases(config, "transforms");
  if (!transform_aliases) return transform_aliases.status();
  Result<std::vector<std::string>> predicate_aliases = aliases(config, "predicates");
  if (!predicate_aliases) return predicate_aliases.status();

  std::map<std::string, std::shared_ptr<Predicate>> predicates;
  for (const std::string& alias : *predicate_aliases) {
    std::string prefix = "predicates." + alias + ".";
    Result<std::string> type = required_type(config, prefix);
    if (!type) return type.status();
    Properties properties = with_prefix(config, prefix);
    properties.erase("type");
    Result<std::unique_ptr<Predicate>> predicate = make_predicate(*type, properties, prefix);
    if (!predicate) return predicate.status();
    predicates[alias] = std::move(predicate).value();
  }

  TransformationChain chain;
  for (const std::string& alias : *transform_aliases) {
    std::string prefix = "transforms." + alias + ".";
    Result<std::string> type = required_type(config, prefix);
    if (!type) return type.status();
    Properties properties = with_prefix(config, prefix);
    properties.erase("type");
    std::optional<std::string> predicate_alias;
    if (auto found = properties.find("predicate"); found != properties.end())
      predicate_alias = found->second;
    std::optional<std::string> negate_text;
    if (auto found = properties.find("negate"); found != properties.end())
      negate_text = found->second;
    properties.erase("predicate");
    properties.erase("negate");
    if (negate_text && !predicate_alias) {
      return config_error("Config '" + prefix + "negate' was provided but there is no config '" +
                          prefix + "predicate' defining a predicate to be negated.");
    }
    Stage stage;
    if (negate_text) {
      Result<ConfigValue> negate =
          parse_config_text(prefix + "negate", ConfigType::boolean, *negate_text);
      if (!negate) return negate.status();
      stage.negate = std::get<bool>(*negate);
    }
    if (predicate_alias) {
      auto found = predicates.find(*predicate_alias);
      if (found == predicates.end()) {
        return config_error("Missing required configuration \"predicates." + *predicate_alias +
                            ".type\" which has no default value.");
      }
      stage.predicate = found->second;
    }
    Result<std::unique_ptr<Transformation>> transformation =
        make_transformation(*type, properties, prefix);
    if (!transformation) return transformation.status();
    stage.transformation = std::move(transformation).value();
    stage.class_name = *type;
    chain.stages_.push_back(std::move(stage));
  }
  return chain;
}

Result<std::optional<ConnectRecord>> TransformationChain::apply(ConnectRecord record) {
  std::optional<ConnectRecord> current(std::move(record));
  for (Stage& stage : stages_) {
    // TransformationStage: apply when there is no predicate, or when
    // negate XOR test holds.
    if (stage.predicate && stage.negate == stage.predicate->test(*current)) continue;
    Result<std::optional<ConnectRecord>> next = stage.transformation->apply(std::move(*current));
    if (!next) {
      failed_class_ = stage.class_name;
      return next.status();
    }
    current = std::move(next).value();
    if (!current) break;
  }
  return current;
}

}  // namespace sluice::connect
