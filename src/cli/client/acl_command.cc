// sluice acl add|remove|list: Kafka's ACLs, with kafka-acls.sh's flags and
// its --list output, through CreateAcls, DeleteAcls and DescribeAcls (the
// project's own codecs, as the other admin commands without a librdkafka
// 2.0 call).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "base/error_code.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "protocol/messages/create_acls_request.h"
#include "protocol/messages/create_acls_response.h"
#include "protocol/messages/delete_acls_request.h"
#include "protocol/messages/delete_acls_response.h"
#include "protocol/messages/describe_acls_request.h"
#include "protocol/messages/describe_acls_response.h"
#include "security/acl_types.h"

namespace sluice::cli::client {
namespace {

namespace sec = security;

struct AclOptions {
  ConnectionOptions connection;
  std::vector<std::string> allow_principals;
  std::vector<std::string> deny_principals;
  std::vector<std::string> allow_hosts;
  std::vector<std::string> deny_hosts;
  std::vector<std::string> operations;
  std::vector<std::string> topics;
  std::vector<std::string> groups;
  std::vector<std::string> transactional_ids;
  bool cluster = false;
  std::string pattern_type = "literal";
  std::string principal;  // list: only this principal's ACLs
};

struct Resource {
  sec::ResourceType type;
  std::string name;
};

std::vector<Resource> resources_of(const AclOptions& options) {
  std::vector<Resource> out;
  for (const auto& topic : options.topics) out.push_back({sec::ResourceType::TOPIC, topic});
  for (const auto& group : options.groups) out.push_back({sec::ResourceType::GROUP, group});
  for (const auto& id : options.transactional_ids)
    out.push_back({sec::ResourceType::TRANSACTIONAL_ID, id});
  if (options.cluster)
    out.push_back({sec::ResourceType::CLUSTER, std::string(sec::kClusterResourceName)});
  return out;
}

// Kafka's AclCommand: the operations each resource type takes.
std::vector<sec::AclOperation> operations_for(sec::ResourceType type) {
  using O = sec::AclOperation;
  switch (type) {
    case sec::ResourceType::TOPIC:
      return {O::READ,   O::WRITE, O::CREATE,           O::DESCRIBE,
              O::DELETE, O::ALTER, O::DESCRIBE_CONFIGS, O::ALTER_CONFIGS,
              O::ALL};
    case sec::ResourceType::GROUP:
      return {O::READ, O::DESCRIBE, O::DELETE, O::ALL};
    case sec::ResourceType::CLUSTER:
      return {O::CREATE,           O::CLUSTER_ACTION, O::DESCRIBE_CONFIGS, O::ALTER_CONFIGS,
              O::IDEMPOTENT_WRITE, O::ALTER,          O::DESCRIBE,         O::ALL};
    case sec::ResourceType::TRANSACTIONAL_ID:
      return {O::DESCRIBE, O::WRITE, O::ALL};
    default:
      return {};
  }
}

std::vector<sec::AclOperation> parse_operations(const AclOptions& options) {
  std::vector<sec::AclOperation> out;
  for (const std::string& name : options.operations) {
    sec::AclOperation operation = sec::acl_operation_from_string(name);
    if (operation == sec::AclOperation::UNKNOWN || operation == sec::AclOperation::ANY)
      throw CommandError("unknown operation " + name);
    out.push_back(operation);
  }
  return out;
}

sec::PatternType parse_pattern(const std::string& text, bool for_filter) {
  sec::PatternType type = sec::pattern_type_from_string(text);
  const bool filter_only = type == sec::PatternType::ANY || type == sec::PatternType::MATCH;
  if (type == sec::PatternType::UNKNOWN || (filter_only && !for_filter))
    throw CommandError("A '--resource-pattern-type' value of '" + text +
                       "' is not valid when adding or removing ACLs");
  return type;
}

// (principal, host, permission) triples the flags name.
struct Entry {
  std::string principal;
  std::string host;
  sec::AclPermissionType permission;
};

std::vector<Entry> entries_of(const AclOptions& options) {
  std::vector<Entry> out;
  auto add = [&](const std::vector<std::string>& principals, const std::vector<std::string>& hosts,
                 sec::AclPermissionType permission) {
    std::vector<std::string> all_hosts = hosts.empty() ? std::vector<std::string>{"*"} : hosts;
    for (const auto& principal : principals)
      for (const auto& host : all_hosts) out.push_back({principal, host, permission});
  };
  add(options.allow_principals, options.allow_hosts, sec::AclPermissionType::ALLOW);
  add(options.deny_principals, options.deny_hosts, sec::AclPermissionType::DENY);
  return out;
}

void check_error(int16_t code, const std::optional<std::string>& message, const std::string& what) {
  if (code == 0) return;
  throw CommandError(what + ": " + error_name(static_cast<ErrorCode>(code)) +
                     (message && !message->empty() ? ": " + *message : std::string()));
}

void add_acls(const AclOptions& options) {
  const std::vector<Resource> resources = resources_of(options);
  const std::vector<Entry> entries = entries_of(options);
  if (entries.empty())
    throw CommandError(
        "You must specify one of: --allow-principal, --deny-principal when trying to add ACLs.");
  if (resources.empty())
    throw CommandError(
        "You must specify one of: --topic, --cluster, --group, --transactional-id when adding "
        "ACLs.");
  const std::vector<sec::AclOperation> operations = parse_operations(options);
  if (operations.empty()) throw CommandError("You must specify --operation when adding ACLs.");
  const sec::PatternType pattern = parse_pattern(options.pattern_type, false);
  protocol::CreateAclsRequest request;
  for (const Resource& resource : resources) {
    const auto valid = operations_for(resource.type);
    for (sec::AclOperation operation : operations) {
      if (std::find(valid.begin(), valid.end(), operation) == valid.end())
        throw CommandError("ResourceType " + std::string(sec::to_string(resource.type)) +
                           " only supports operations " + [&] {
                             std::string list;
                             for (sec::AclOperation op : valid)
                               list += (list.empty() ? "" : ",") + std::string(sec::to_string(op));
                             return list;
                           }());
      for (const Entry& entry : entries)
        request.creations.push_back({sec::to_code(resource.type),
                                     resource.name,
                                     sec::to_code(pattern),
                                     entry.principal,
                                     entry.host,
                                     sec::to_code(operation),
                                     sec::to_code(entry.permission),
                                     {}});
    }
  }
  auto response = WireConnection::open(options.connection)->call(request);
  for (const auto& result : response.results)
    check_error(result.error_code, result.error_message, "adding ACLs");
}

// The filters --remove names: every entry and operation of each resource,
// or all of the resource's ACLs when no principal or operation is given.
void remove_acls(const AclOptions& options) {
  const std::vector<Resource> resources = resources_of(options);
  if (resources.empty())
    throw CommandError(
        "You must specify one of: --topic, --cluster, --group, --transactional-id when removing "
        "ACLs.");
  const sec::PatternType pattern = parse_pattern(options.pattern_type, false);
  std::vector<Entry> entries = entries_of(options);
  std::vector<sec::AclOperation> operations = parse_operations(options);
  protocol::DeleteAclsRequest request;
  for (const Resource& resource : resources) {
    auto add_filter = [&](std::optional<std::string> principal, std::optional<std::string> host,
                          sec::AclOperation operation, sec::AclPermissionType permission) {
      request.filters.push_back({sec::to_code(resource.type),
                                 resource.name,
                                 sec::to_code(pattern),
                                 principal,
                                 host,
                                 sec::to_code(operation),
                                 sec::to_code(permission),
                                 {}});
    };
    if (entries.empty() && operations.empty()) {
      add_filter(std::nullopt, std::nullopt, sec::AclOperation::ANY, sec::AclPermissionType::ANY);
      continue;
    }
    if (operations.empty()) operations.push_back(sec::AclOperation::ANY);
    for (sec::AclOperation operation : operations) {
      if (entries.empty())
        add_filter(std::nullopt, std::nullopt, operation, sec::AclPermissionType::ANY);
      for (const Entry& entry : entries)
        add_filter(entry.principal, entry.host, operation, entry.permission);
    }
  }
  auto response = WireConnection::open(options.connection)->call(request);
  for (const auto& result : response.filter_results)
    check_error(result.error_code, result.error_message, "removing ACLs");
}

void print_acls(const protocol::DescribeAclsResponse& response) {
  for (const auto& resource : response.resources) {
    std::printf(
        "Current ACLs for resource `ResourcePattern(resourceType=%s, name=%s, patternType=%s)`: \n",
        std::string(sec::to_string(sec::resource_type_from_code(resource.resource_type))).c_str(),
        resource.resource_name.c_str(),
        std::string(sec::to_string(sec::pattern_type_from_code(resource.pattern_type))).c_str());
    for (const auto& acl : resource.acls)
      std::printf(
          " \t(principal=%s, host=%s, operation=%s, permissionType=%s)\n", acl.principal.c_str(),
          acl.host.c_str(),
          std::string(sec::to_string(sec::acl_operation_from_code(acl.operation))).c_str(),
          std::string(sec::to_string(sec::acl_permission_type_from_code(acl.permission_type)))
              .c_str());
    std::printf("\n");
  }
}

void list_acls(const AclOptions& options) {
  auto connection = WireConnection::open(options.connection);
  std::vector<Resource> resources = resources_of(options);
  std::vector<protocol::DescribeAclsRequest> requests;
  auto request_for = [&](sec::ResourceType type, std::optional<std::string> name,
                         sec::PatternType pattern) {
    protocol::DescribeAclsRequest request;
    request.resource_type_filter = sec::to_code(type);
    request.resource_name_filter = std::move(name);
    request.pattern_type_filter = sec::to_code(pattern);
    request.principal_filter =
        options.principal.empty() ? std::nullopt : std::optional<std::string>(options.principal);
    request.host_filter = std::nullopt;
    request.operation = sec::to_code(sec::AclOperation::ANY);
    request.permission_type = sec::to_code(sec::AclPermissionType::ANY);
    requests.push_back(std::move(request));
  };
  if (resources.empty()) request_for(sec::ResourceType::ANY, std::nullopt, sec::PatternType::ANY);
  const sec::PatternType pattern = parse_pattern(options.pattern_type, true);
  for (const Resource& resource : resources) request_for(resource.type, resource.name, pattern);
  for (const auto& request : requests) {
    auto response = connection->call(request);
    check_error(response.error_code, response.error_message, "listing ACLs");
    print_acls(response);
  }
}

void add_acl_flags(CLI::App* command, AclOptions& options, bool with_entries) {
  add_connection_options(command, options.connection, /*with_json=*/false);
  command->add_option("--topic", options.topics, "Topic (repeatable; '*' for all)");
  command->add_option("--group", options.groups, "Consumer group (repeatable; '*' for all)");
  command->add_option("--transactional-id", options.transactional_ids,
                      "Transactional id (repeatable)");
  command->add_flag("--cluster", options.cluster, "The cluster resource");
  command->add_option("--resource-pattern-type", options.pattern_type,
                      "literal (default) or prefixed; list also takes any and match");
  if (!with_entries) {
    command->add_option("--principal", options.principal, "Only the ACLs of this principal");
    return;
  }
  command->add_option("--allow-principal", options.allow_principals,
                      "Principal allowed, e.g. User:alice");
  command->add_option("--deny-principal", options.deny_principals, "Principal denied");
  command->add_option("--allow-host", options.allow_hosts,
                      "Host the allowed principals may come from (default *)");
  command->add_option("--deny-host", options.deny_hosts,
                      "Host the denied principals are denied from (default *)");
  command->add_option("--operation", options.operations,
                      "Read, Write, Create, Delete, Alter, Describe, ... (repeatable)");
}

}  // namespace

void add_acl_commands(CLI::App& app, Action& action) {
  CLI::App* acl = app.add_subcommand("acl", "ACLs: who may do what (as kafka-acls.sh)");
  acl->require_subcommand(1);
  auto options = std::make_shared<AclOptions>();
  CLI::App* add = acl->add_subcommand("add", "Add ACLs");
  add_acl_flags(add, *options, true);
  add->callback([&action, options] { action = {"acl add", [options] { add_acls(*options); }}; });
  CLI::App* remove = acl->add_subcommand("remove", "Remove ACLs");
  add_acl_flags(remove, *options, true);
  remove->add_flag("--force")->description("Kafka's flag; sluice never asks");
  remove->callback([&action, options] {
    action = {"acl remove", [options] { remove_acls(*options); }};
  });
  CLI::App* list = acl->add_subcommand("list", "List ACLs (all, or of the resources named)");
  add_acl_flags(list, *options, false);
  list->callback([&action, options] { action = {"acl list", [options] { list_acls(*options); }}; });
}

}  // namespace sluice::cli::client
