// The `sluice` binary: one entry point for the broker and every client tool.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cli/bench/bench_command.h"
#include "cli/bench/bench_options.h"
#include "cli/client/commands.h"
#include "cli/version.h"
#include "connect/runtime/standalone.h"
#include "server/serve.h"
#include "server/storage.h"

namespace {

// `--set key=value` arguments into `out`; false (after one line on stderr)
// if one has no '='.
bool parse_settings(const char* command, const std::vector<std::string>& settings,
                    std::map<std::string, std::string>& out) {
  for (const std::string& setting : settings) {
    size_t equals = setting.find('=');
    if (equals == std::string::npos) {
      // A value with a space after a comma reaches here as a second
      // argument: `--set` takes every word up to the next flag.
      std::fprintf(stderr,
                   "sluice %s: --set expects key=value, got '%s' (a list value such as listeners "
                   "is one argument: key=a,b with no space after the commas, or quoted)\n",
                   command, setting.c_str());
      return false;
    }
    out[setting.substr(0, equals)] = setting.substr(equals + 1);
  }
  return true;
}

struct StorageCommands {
  sluice::server::StorageOptions options;
  std::vector<std::string> settings;
  CLI::App* random_uuid = nullptr;
  CLI::App* format = nullptr;
  CLI::App* info = nullptr;
};

// `sluice storage` (Kafka's kafka-storage.sh): the commands run in
// src/server/storage.h, which links the broker's configuration.
CLI::App* add_storage_commands(CLI::App& app, StorageCommands& commands) {
  CLI::App* storage =
      app.add_subcommand("storage", "Format and inspect log dirs (kafka-storage.sh)");
  storage->require_subcommand(1);
  commands.random_uuid = storage->add_subcommand("random-uuid", "Print a random cluster id");
  commands.format = storage->add_subcommand(
      "format", "Write meta.properties (cluster.id, node.id) into every log dir");
  commands.format->add_option("-t,--cluster-id", commands.options.cluster_id, "The cluster id")
      ->required();
  commands.format->add_flag("-g,--ignore-formatted", commands.options.ignore_formatted,
                            "Skip dirs already formatted instead of failing");
  commands.format->add_flag("-N,--no-initial-controllers", commands.options.no_initial_controllers,
                            "A controller without controller.quorum.voters: it joins the quorum "
                            "found through controller.quorum.bootstrap.servers (KIP-853)");
  commands.info = storage->add_subcommand("info", "Show each log dir's meta.properties");
  for (CLI::App* command : {commands.format, commands.info}) {
    command->add_option("-c,--config", commands.options.config_file, "A server.properties file")
        ->required()
        ->check(CLI::ExistingFile);
    command->add_option("--set", commands.settings, "Override a config: key=value (repeatable)");
  }
  return storage;
}

int run_storage(StorageCommands& commands) {
  if (commands.random_uuid->parsed()) return sluice::server::run_storage_random_uuid();
  if (!parse_settings("storage", commands.settings, commands.options.overrides)) return 2;
  if (commands.format->parsed()) return sluice::server::run_storage_format(commands.options);
  return sluice::server::run_storage_info(commands.options);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Sluice: an event-streaming platform that speaks the Apache Kafka protocol",
               "sluice"};
  app.set_version_flag("-V,--version", "sluice " SLUICE_VERSION);
  app.require_subcommand(0, 1);

  sluice::server::ServeOptions serve_options;
  std::vector<std::string> settings;
  CLI::App* serve = app.add_subcommand("serve", "Run a broker");
  serve->add_option("-c,--config", serve_options.config_file, "A server.properties file")
      ->check(CLI::ExistingFile);
  serve->add_option("--set", settings, "Override a config: key=value (repeatable)");

  StorageCommands storage_commands;
  CLI::App* storage = add_storage_commands(app, storage_commands);

  sluice::cli::bench::BenchOptions bench_options;
  std::vector<std::string> bench_settings;
  CLI::App* bench = sluice::cli::bench::add_bench_subcommand(app, bench_options, bench_settings);

  // `sluice connect standalone worker.properties [connector files...]`.
  sluice::connect::StandaloneOptions standalone_options;
  standalone_options.version = SLUICE_VERSION;
  CLI::App* connect =
      app.add_subcommand("connect", "Run a Kafka Connect worker (connect-standalone.sh)");
  connect->require_subcommand(1);
  CLI::App* standalone =
      connect->add_subcommand("standalone", "One worker; connectors from files or the REST API");
  standalone->add_option("worker", standalone_options.worker_file, "The worker's .properties file")
      ->required()
      ->check(CLI::ExistingFile);
  standalone
      ->add_option("connectors", standalone_options.connector_files,
                   "Connector configurations (.properties or .json)")
      ->check(CLI::ExistingFile);
  // `sluice connect distributed worker.properties` (connect-distributed.sh).
  std::string distributed_worker_file;
  CLI::App* distributed = connect->add_subcommand(
      "distributed", "A worker of a group: connectors shared through the broker");
  distributed->add_option("worker", distributed_worker_file, "The worker's .properties file")
      ->required()
      ->check(CLI::ExistingFile);

  sluice::cli::client::Action client_action;
  sluice::cli::client::add_client_commands(app, client_action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error);
    // One line, like every other failure of the client commands.
    std::fprintf(stderr, "sluice: %s (see --help)\n", error.what());
    return 2;
  }

  if (client_action) return sluice::cli::client::run_action(client_action);

  if (app.got_subcommand(bench)) {
    std::string problem = sluice::cli::bench::finish_options(bench_options, bench_settings);
    if (!problem.empty()) {
      std::fprintf(stderr, "sluice bench: %s\n", problem.c_str());
      return 2;
    }
    return sluice::cli::bench::run_bench(bench_options);
  }

  if (app.got_subcommand(serve)) {
    if (!parse_settings("serve", settings, serve_options.overrides)) return 2;
    return sluice::server::run_serve(serve_options);
  }

  if (app.got_subcommand(storage)) return run_storage(storage_commands);
  if (standalone->parsed()) return sluice::connect::run_standalone(standalone_options);
  if (distributed->parsed()) {
    return sluice::connect::run_distributed(distributed_worker_file, SLUICE_VERSION);
  }
  // No subcommand: nothing was done, so the usage goes where errors go and
  // the exit code says so (a script calling `sluice` alone is a mistake).
  std::fprintf(stderr, "%s", app.help().c_str());
  return 2;
}
