// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topic and
// broker resources. Values, sources and synonyms come from
// cluster/topic_config.h; changes are committed by the controller as
// ConfigRecords, on its thread (a commit fsyncs). Broker resources are ""
// (the cluster-wide dynamic default) or this node's id.
#include <spdlog/spdlog.h>

#include <set>

#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/forwarding.h"
#include "broker/handlers.h"
#include "cluster/controller.h"
#include "cluster/topic_config.h"

namespace sluice::broker {
namespace {

using protocol::AlterConfigsRequest;
using protocol::AlterConfigsResponse;
using protocol::DescribeConfigsRequest;
using protocol::DescribeConfigsResponse;
using protocol::IncrementalAlterConfigsRequest;
using protocol::IncrementalAlterConfigsResponse;

constexpr int8_t resource_topic = cluster::config_resource_topic;
constexpr int8_t resource_broker = cluster::config_resource_broker;

enum class Operation : int8_t { set = 0, remove = 1, append = 2, subtract = 3 };

cluster::ApiError check_resource(const Broker& broker, int8_t type, const std::string& name) {
  if (type == resource_topic) {
    if (cluster::ApiError error = cluster::validate_topic_name(name); !error.ok()) return error;
    if (broker.controller().image()->topic(name) == nullptr)
      return {ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, "Topic '" + name + "' does not exist."};
    return {};
  }
  if (type == resource_broker) {
    if (!name.empty() && name != std::to_string(broker.config().node_id))
      return {ErrorCode::INVALID_REQUEST, "Unexpected broker id, expected " +
                                              std::to_string(broker.config().node_id) +
                                              " or empty string, but received " + name};
    return {};
  }
  return {ErrorCode::INVALID_REQUEST, "Unsupported config resource type " + std::to_string(type)};
}

// Kafka: DESCRIBE_CONFIGS (or ALTER_CONFIGS) on the topic, or on the
// cluster for broker configs; refused resources answer
// TOPIC_AUTHORIZATION_FAILED or CLUSTER_AUTHORIZATION_FAILED.
std::optional<ErrorCode> config_refusal(const Broker& broker, const RequestContext& context,
                                        int8_t type, const std::string& name,
                                        security::AclOperation operation) {
  const Authorization& authorization = broker.authorization();
  if (type == resource_topic && !authorization.allows_topic(context.connection(), operation, name))
    return ErrorCode::TOPIC_AUTHORIZATION_FAILED;
  if (type == resource_broker && !authorization.allows_cluster(context.connection(), operation))
    return ErrorCode::CLUSTER_AUTHORIZATION_FAILED;
  return std::nullopt;
}

// Alter requests: refused resources leave the request (the controller never
// sees them) and are added to its answer.
template <class Request, class Response>
std::function<void(Response&)> take_refused_resources(const Broker& broker,
                                                      const RequestContext& context,
                                                      Request& request) {
  Response refused;
  std::erase_if(request.resources, [&](const auto& resource) {
    auto error = config_refusal(broker, context, resource.resource_type, resource.resource_name,
                                security::AclOperation::ALTER_CONFIGS);
    if (!error) return false;
    auto& out = refused.responses.emplace_back();
    out.error_code = to_wire(*error);
    out.error_message = std::nullopt;
    out.resource_type = resource.resource_type;
    out.resource_name = resource.resource_name;
    return true;
  });
  if (refused.responses.empty()) return {};
  return [refused](Response& response) {
    response.responses.insert(response.responses.end(), refused.responses.begin(),
                              refused.responses.end());
  };
}

// --- DescribeConfigs ---

std::vector<cluster::ResolvedConfig> resolved_configs(const Broker& broker,
                                                      const cluster::MetadataImage& image,
                                                      int8_t type, const std::string& name) {
  const int32_t node_id = broker.config().node_id;
  if (type == resource_topic)
    return cluster::resolve_topic_configs(image.topic(name)->configs, image, broker.config().values,
                                          node_id);
  std::vector<cluster::ResolvedConfig> all =
      cluster::resolve_broker_configs(image, broker.config().values, node_id);
  if (!name.empty()) return all;
  // The cluster-wide resource shows only the dynamic defaults set on it.
  std::vector<cluster::ResolvedConfig> defaults;
  for (cluster::ResolvedConfig& config : all)
    if (config.source == cluster::ConfigSource::dynamic_default_broker)
      defaults.push_back(std::move(config));
  return defaults;
}

DescribeConfigsResponse::DescribeConfigsResourceResult describe_one(
    const cluster::ResolvedConfig& config, int8_t type, const DescribeConfigsRequest& request) {
  DescribeConfigsResponse::DescribeConfigsResourceResult out;
  out.name = config.name;
  out.value = config.value;
  out.read_only = type == resource_broker && config.def->read_only;
  out.is_default = config.source == cluster::ConfigSource::default_config;
  out.config_source = static_cast<int8_t>(config.source);
  out.is_sensitive = config.sensitive;
  out.config_type = cluster::describe_config_type(config.def->type);
  out.documentation =
      request.include_documentation ? std::optional<std::string>(config.def->doc) : std::nullopt;
  if (request.include_synonyms)
    for (const cluster::ConfigSynonym& synonym : config.synonyms)
      out.synonyms.push_back(
          {synonym.name, synonym.value, static_cast<int8_t>(synonym.source), {}});
  return out;
}

}  // namespace

void handle_describe_configs(Broker& broker, RequestContext context,
                             DescribeConfigsRequest request) {
  cluster::MetadataImagePtr image = broker.controller().image();
  DescribeConfigsResponse response;
  for (const auto& resource : request.resources) {
    DescribeConfigsResponse::DescribeConfigsResult result;
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    result.error_message = std::nullopt;
    cluster::ApiError error =
        check_resource(broker, resource.resource_type, resource.resource_name);
    if (auto refused =
            config_refusal(broker, context, resource.resource_type, resource.resource_name,
                           security::AclOperation::DESCRIBE_CONFIGS))
      error = {*refused, ""};
    if (!error.ok()) {
      result.error_code = to_wire(error.code);
      result.error_message = error.message;
      response.results.push_back(std::move(result));
      continue;
    }
    std::set<std::string> keys;
    if (resource.configuration_keys)
      keys.insert(resource.configuration_keys->begin(), resource.configuration_keys->end());
    for (const cluster::ResolvedConfig& config :
         resolved_configs(broker, *image, resource.resource_type, resource.resource_name)) {
      if (resource.configuration_keys && !keys.count(config.name)) continue;
      result.configs.push_back(describe_one(config, resource.resource_type, request));
    }
    response.results.push_back(std::move(result));
  }
  context.reply(response);
}

namespace {

// --- AlterConfigs / IncrementalAlterConfigs ---

// The current overrides of a resource (topic configs, or the dynamic broker
// configs of "" / the node id).
std::map<std::string, std::string> current_overrides(const cluster::MetadataImage& image,
                                                     int8_t type, const std::string& name) {
  if (type == resource_topic) {
    const cluster::TopicImage* topic = image.topic(name);
    return topic ? topic->configs : std::map<std::string, std::string>{};
  }
  auto found = image.broker_configs.find(name);
  return found == image.broker_configs.end() ? std::map<std::string, std::string>{} : found->second;
}

cluster::ApiError replace(Broker& broker, int8_t type, const std::string& name,
                          const std::map<std::string, std::string>& configs, bool validate_only) {
  if (type == resource_topic)
    return broker.controller().replace_topic_configs(name, configs, validate_only);
  return broker.controller().replace_broker_configs(name, configs, validate_only);
}

template <class Resources>
std::set<std::pair<int8_t, std::string>> duplicate_resources(const Resources& resources) {
  std::set<std::pair<int8_t, std::string>> seen, duplicates;
  for (const auto& resource : resources) {
    auto key = std::make_pair(resource.resource_type, resource.resource_name);
    if (!seen.insert(key).second) duplicates.insert(key);
  }
  return duplicates;
}

cluster::ApiError alter_one(Broker& broker,
                            const AlterConfigsRequest::AlterConfigsResource& resource,
                            bool validate_only) {
  std::map<std::string, std::string> configs;
  for (const auto& config : resource.configs) {
    if (!config.value)
      return {ErrorCode::INVALID_REQUEST, "Null value not supported for: " + config.name};
    configs[config.name] = *config.value;
  }
  return replace(broker, resource.resource_type, resource.resource_name, configs, validate_only);
}

// The value `name` has now (override or default), as a list, for
// APPEND/SUBTRACT.
std::vector<std::string> current_list(const Broker& broker, const cluster::MetadataImage& image,
                                      int8_t type, const std::string& resource,
                                      const std::map<std::string, std::string>& overrides,
                                      const std::string& name) {
  if (auto found = overrides.find(name); found != overrides.end()) return split_list(found->second);
  if (type == resource_topic) {
    auto resolved = cluster::resolve_topic_config(name, {}, image, broker.config().values,
                                                  broker.config().node_id);
    return resolved && resolved->value ? split_list(*resolved->value) : std::vector<std::string>{};
  }
  (void)resource;
  auto text = broker.config().values.text(name);
  return text ? split_list(*text) : std::vector<std::string>{};
}

const ConfigDef* config_def(const Broker& broker, int8_t type, const std::string& name) {
  return type == resource_topic ? cluster::topic_config_defs().find(name)
                                : broker.config().values.defs().find(name);
}

cluster::ApiError incremental_alter_one(
    Broker& broker, const IncrementalAlterConfigsRequest::AlterConfigsResource& resource,
    bool validate_only) {
  const int8_t type = resource.resource_type;
  cluster::MetadataImagePtr image = broker.controller().image();
  std::map<std::string, std::string> configs =
      current_overrides(*image, type, resource.resource_name);
  std::set<std::string> seen;
  for (const auto& change : resource.configs) {
    if (!seen.insert(change.name).second)
      return {ErrorCode::INVALID_REQUEST, "Error due to duplicate config keys"};
    const auto operation = static_cast<Operation>(change.config_operation);
    const ConfigDef* def = config_def(broker, type, change.name);
    switch (operation) {
      case Operation::set:
        if (!change.value)
          return {ErrorCode::INVALID_REQUEST, "Null value not supported for: " + change.name};
        configs[change.name] = *change.value;
        break;
      case Operation::remove:
        configs.erase(change.name);
        break;
      case Operation::append:
      case Operation::subtract: {
        // SET and DELETE of an unknown name are judged with the whole
        // resource (replace()); a list operation needs the type first.
        if (def == nullptr)
          return {ErrorCode::INVALID_CONFIG, "Unknown config name: " + change.name};
        if (def->type != ConfigType::list)
          return {ErrorCode::INVALID_CONFIG,
                  std::string("Config value ") +
                      (operation == Operation::append ? "append" : "subtract") +
                      " is not allowed for config key: " + change.name};
        std::vector<std::string> items =
            current_list(broker, *image, type, resource.resource_name, configs, change.name);
        for (const std::string& item : split_list(change.value.value_or(""))) {
          auto at = std::find(items.begin(), items.end(), item);
          if (operation == Operation::append && at == items.end()) items.push_back(item);
          if (operation == Operation::subtract && at != items.end()) items.erase(at);
        }
        std::string joined;
        for (const std::string& item : items) joined += (joined.empty() ? "" : ",") + item;
        configs[change.name] = joined;
        break;
      }
      default:
        return {ErrorCode::INVALID_REQUEST,
                "Unknown config operation " + std::to_string(change.config_operation)};
    }
  }
  return replace(broker, type, resource.resource_name, configs, validate_only);
}

// Kafka stores broker settings it does not act on, or does not know; say so
// where an operator looks, since the call itself succeeds.
template <class Configs>
void warn_about_unused_broker_configs(const Broker& broker, int8_t type, const Configs& configs) {
  if (type != resource_broker) return;
  for (const auto& config : configs) {
    const ConfigDef* def = broker.config().values.defs().find(config.name);
    if (def == nullptr)
      spdlog::warn("broker config {} stored, but neither Kafka nor Sluice knows it", config.name);
    else if (def->inert || def->dynamic_inert)
      spdlog::warn("broker config {} stored; Sluice does not act on it when changed at run time",
                   config.name);
  }
}

template <class Response, class Request, class AlterOne>
void alter_all(Broker& broker, RequestContext& context, const Request& request, AlterOne alter,
               const std::function<void(Response&)>& adjust) {
  const auto duplicates = duplicate_resources(request.resources);
  Response response;
  for (const auto& resource : request.resources) {
    cluster::ApiError error;
    if (duplicates.count({resource.resource_type, resource.resource_name}))
      error = {ErrorCode::INVALID_REQUEST, "Duplicate resource in request"};
    else
      error = check_resource(broker, resource.resource_type, resource.resource_name);
    if (error.ok()) error = alter(broker, resource, request.validate_only);
    if (error.ok() && !request.validate_only)
      warn_about_unused_broker_configs(broker, resource.resource_type, resource.configs);
    typename decltype(response.responses)::value_type out;
    out.error_code = to_wire(error.code);
    out.error_message = error.message_or_null();
    out.resource_type = resource.resource_type;
    out.resource_name = resource.resource_name;
    response.responses.push_back(std::move(out));
  }
  if (adjust) adjust(response);
  context.reply(response);
}

}  // namespace

void handle_alter_configs(Broker& broker, RequestContext context, AlterConfigsRequest request) {
  auto adjust =
      take_refused_resources<AlterConfigsRequest, AlterConfigsResponse>(broker, context, request);
  if (forward_to_controller(broker, context, request, adjust)) return;
  broker.submit_to_controller(
      std::move(context),
      [&broker, request = std::move(request), adjust = std::move(adjust)](RequestContext& context) {
        alter_all<AlterConfigsResponse>(broker, context, request, alter_one, adjust);
      });
}

void handle_incremental_alter_configs(Broker& broker, RequestContext context,
                                      IncrementalAlterConfigsRequest request) {
  auto adjust =
      take_refused_resources<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>(
          broker, context, request);
  if (forward_to_controller(broker, context, request, adjust)) return;
  broker.submit_to_controller(
      std::move(context),
      [&broker, request = std::move(request), adjust = std::move(adjust)](RequestContext& context) {
        alter_all<IncrementalAlterConfigsResponse>(broker, context, request, incremental_alter_one,
                                                   adjust);
      });
}

}  // namespace sluice::broker
