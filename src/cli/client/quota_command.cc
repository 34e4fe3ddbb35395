// sluice quota set|list: client quotas (KIP-546), as `kafka-configs.sh
// --entity-type users|clients|ips --alter --add-config
// 'producer_byte_rate=1048576' --delete-config request_percentage` and
// `--describe` manage them, with AlterClientQuotas and DescribeClientQuotas
// through the project's own codecs (librdkafka 2.0 has no call for them).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "protocol/messages/alter_client_quotas_request.h"
#include "protocol/messages/alter_client_quotas_response.h"
#include "protocol/messages/describe_client_quotas_request.h"
#include "protocol/messages/describe_client_quotas_response.h"

namespace sluice::cli::client {
namespace {

// One entity type as the options name it: a name, the default entity, or
// not at all.
struct EntityOption {
  std::string name;
  bool is_default = false;
  bool given() const { return is_default || !name.empty(); }
};

struct QuotaOptions {
  ConnectionOptions connection;
  EntityOption user;
  EntityOption client_id;
  EntityOption ip;
  std::vector<std::string> values;   // set: KEY=VALUE
  std::vector<std::string> deletes;  // set: KEY
  bool validate_only = false;
  bool strict = false;  // list: only entities with exactly the types given
};

// (entity type, option) in Kafka's order.
std::vector<std::pair<std::string, const EntityOption*>> entity_options(
    const QuotaOptions& options) {
  std::vector<std::pair<std::string, const EntityOption*>> out;
  if (options.user.given()) out.emplace_back("user", &options.user);
  if (options.client_id.given()) out.emplace_back("client-id", &options.client_id);
  if (options.ip.given()) out.emplace_back("ip", &options.ip);
  return out;
}

std::pair<std::string, double> parse_value(const std::string& text) {
  const size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0)
    throw CommandError("quota value '" + text + "' is not KEY=VALUE");
  const std::string value = text.substr(equals + 1);
  try {
    size_t used = 0;
    double number = std::stod(value, &used);
    if (used != value.size()) throw std::invalid_argument(value);
    return {text.substr(0, equals), number};
  } catch (const std::exception&) {
    throw CommandError("quota value '" + value + "' of " + text.substr(0, equals) +
                       " is not a number");
  }
}

void set_quotas(const QuotaOptions& options) {
  auto entity = entity_options(options);
  if (entity.empty())
    throw CommandError("name the entity: --user, --client-id, --ip or their --default-* forms");
  if (options.values.empty() && options.deletes.empty())
    throw CommandError("nothing to change: give KEY=VALUE pairs or --delete KEY");
  protocol::AlterClientQuotasRequest request;
  request.validate_only = options.validate_only;
  auto& entry = request.entries.emplace_back();
  for (const auto& [type, option] : entity)
    entry.entity.push_back(
        {type, option->is_default ? std::nullopt : std::optional(option->name), {}});
  for (const std::string& text : options.values) {
    auto [key, value] = parse_value(text);
    entry.ops.push_back({key, value, false, {}});
  }
  for (const std::string& key : options.deletes) entry.ops.push_back({key, 0.0, true, {}});
  auto response = WireConnection::open(options.connection)->call(request);
  for (const auto& result : response.entries)
    if (result.error_code != 0)
      throw CommandError(error_name(static_cast<ErrorCode>(result.error_code)) +
                         (result.error_message ? ": " + *result.error_message : std::string()));
  std::printf("%s the client quotas of %zu value(s)\n",
              options.validate_only ? "Validated" : "Changed", entry.ops.size());
}

std::string entity_text(const std::string& type, const std::optional<std::string>& name) {
  const char* label = type == "user" ? "user-principal" : type == "ip" ? "ip" : "client-id";
  return std::string(label) + " '" + name.value_or("<default>") + "'";
}

// kafka-configs.sh names the user before the client id.
int type_rank(const std::string& type) { return type == "user" ? 0 : type == "client-id" ? 1 : 2; }

std::string number_text(double value) {
  char text[64];
  std::snprintf(text, sizeof text, "%.1f", value);
  if (value != static_cast<double>(static_cast<int64_t>(value)))
    std::snprintf(text, sizeof text, "%g", value);
  return text;
}

// One line per entity, as kafka-configs.sh --describe prints them.
void list_quotas(const QuotaOptions& options) {
  protocol::DescribeClientQuotasRequest request;
  request.strict = options.strict;
  for (const auto& [type, option] : entity_options(options)) {
    auto& component = request.components.emplace_back();
    component.entity_type = type;
    component.match_type = option->is_default ? 1 : 0;
    component.match = option->is_default ? std::nullopt : std::optional(option->name);
  }
  auto response = WireConnection::open(options.connection)->call(request);
  if (response.error_code != 0)
    throw CommandError(error_name(static_cast<ErrorCode>(response.error_code)) +
                       (response.error_message ? ": " + *response.error_message : std::string()));
  if (!response.entries) return;
  for (const auto& entry : *response.entries) {
    std::string line = "Quota configs for ";
    auto entity = entry.entity;
    std::stable_sort(entity.begin(), entity.end(), [](const auto& a, const auto& b) {
      return type_rank(a.entity_type) < type_rank(b.entity_type);
    });
    for (size_t i = 0; i < entity.size(); ++i)
      line += (i ? ", " : "") + entity_text(entity[i].entity_type, entity[i].entity_name);
    line += " are ";
    for (size_t i = 0; i < entry.values.size(); ++i)
      line += (i ? ", " : "") + entry.values[i].key + "=" + number_text(entry.values[i].value);
    std::printf("%s\n", line.c_str());
  }
}

void add_entity_options(CLI::App* command, QuotaOptions& options) {
  command->add_option("--user", options.user.name, "A user (principal name)");
  command->add_flag("--default-user", options.user.is_default, "The default user");
  command->add_option("--client-id", options.client_id.name, "A client id");
  command->add_flag("--default-client-id", options.client_id.is_default, "The default client id");
  command->add_option("--ip", options.ip.name, "A client address (connection_creation_rate)");
  command->add_flag("--default-ip", options.ip.is_default, "The default ip");
}

}  // namespace

void add_quota_commands(CLI::App& app, Action& action) {
  CLI::App* quota =
      app.add_subcommand("quota", "Client quotas: byte rates, request time, mutations");
  quota->require_subcommand(1);
  auto options = std::make_shared<QuotaOptions>();

  CLI::App* set = quota->add_subcommand(
      "set", "Set or delete quota values of a user, client id, both, or their defaults");
  add_connection_options(set, options->connection, /*with_json=*/false);
  add_entity_options(set, *options);
  set->add_option("values", options->values,
                  "KEY=VALUE: producer_byte_rate, consumer_byte_rate, request_percentage, "
                  "controller_mutation_rate (ip: connection_creation_rate)");
  set->add_option("--delete", options->deletes, "A key to remove (repeatable)");
  set->add_flag("--validate-only", options->validate_only, "Check, change nothing");
  set->callback([&action, options] {
    action = {"quota set", [options] { set_quotas(*options); }};
  });

  CLI::App* list = quota->add_subcommand(
      "list", "List quotas (all, or the entities matching the --user/--client-id/--ip given)");
  add_connection_options(list, options->connection, /*with_json=*/false);
  add_entity_options(list, *options);
  list->add_flag("--strict", options->strict, "Only entities of exactly the types given");
  list->callback([&action, options] {
    action = {"quota list", [options] { list_quotas(*options); }};
  });
}

}  // namespace sluice::cli::client
