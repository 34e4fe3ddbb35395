// sluice config get | set, for one topic (--topic T) or broker (--broker ID).

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

#include "cli/client/admin.h"
#include "cli/client/commands.h"
#include "cli/client/output.h"

namespace sluice::cli::client {
namespace {

struct ConfigOptions {
  ConnectionOptions connection;
  std::string topic;
  std::string broker;
  std::vector<std::string> configs;          // k=v
  std::vector<std::string> deleted_configs;  // k
};

std::pair<ConfigResource, std::string> resource_of(const ConfigOptions& options) {
  if (options.topic.empty() == options.broker.empty()) {
    throw CommandError("give exactly one of --topic T or --broker ID");
  }
  if (!options.topic.empty()) return {ConfigResource::kTopic, options.topic};
  return {ConfigResource::kBroker, options.broker};
}

void get_configs(const ConfigOptions& options) {
  auto [type, name] = resource_of(options);
  KafkaHandle client = make_client(options.connection, Role::kAdmin);
  require_reachable(client.get(), options.connection);
  std::vector<ConfigEntry> entries = describe_configs(client.get(), options.connection, type, name);
  if (options.connection.json) {
    Json list = Json::array();
    for (const ConfigEntry& entry : entries) {
      list.push_back({{"name", entry.name},
                      {"value", entry.value ? Json(*entry.value) : Json(nullptr)},
                      {"source", entry.source},
                      {"read_only", entry.read_only},
                      {"sensitive", entry.sensitive}});
    }
    return print_json(list);
  }
  Table table({"config", "value", "source", "read-only"});
  for (const ConfigEntry& entry : entries) {
    table.add({entry.name, entry.sensitive ? "(sensitive)" : entry.value.value_or("null"), entry.source,
               entry.read_only ? "yes" : "no"});
  }
  table.print();
}

void set_configs(const ConfigOptions& options) {
  auto [type, name] = resource_of(options);
  if (options.configs.empty() && options.deleted_configs.empty()) {
    throw CommandError("nothing to set: give --config k=v or --delete-config k");
  }
  std::map<std::string, std::string> sets = parse_settings(options.configs, "--config");
  alter_configs_incrementally(options.connection, type, name, {sets.begin(), sets.end()},
                              options.deleted_configs);
  std::printf("Altered configs of %s %s.\n", type == ConfigResource::kTopic ? "topic" : "broker",
              name.c_str());
}

CLI::App* add_leaf(CLI::App* parent, Action& action, std::shared_ptr<ConfigOptions> options, const char* name,
                   const char* help, void (*run)(const ConfigOptions&), bool with_json) {
  CLI::App* command = parent->add_subcommand(name, help);
  add_connection_options(command, options->connection, with_json);
  command->add_option("--topic", options->topic, "A topic's configs");
  command->add_option("--broker", options->broker, "A broker's configs (its node id)");
  command->callback([&action, options, name, run] {
    action = {std::string("config ") + name, [options, run] { run(*options); }};
  });
  return command;
}

}  // namespace

void add_config_commands(CLI::App& app, Action& action) {
  CLI::App* config = app.add_subcommand("config", "Read and change topic and broker configs");
  config->require_subcommand(1);
  auto options = std::make_shared<ConfigOptions>();
  add_leaf(config, action, options, "get", "Every config of a topic or broker (DescribeConfigs)", get_configs, true);
  CLI::App* set = add_leaf(config, action, options, "set", "Change configs (IncrementalAlterConfigs)",
                           set_configs, false);
  set->add_option("--config", options->configs, "Set key=value (repeatable)");
  set->add_option("--delete-config", options->deleted_configs, "Back to the default (repeatable)");
}

}  // namespace sluice::cli::client
