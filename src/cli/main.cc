// The `sluice` binary: one entry point for the broker and every client tool.

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/bench/bench_command.h"
#include "cli/bench/bench_options.h"
#include "cli/client/commands.h"
#include "cli/version.h"
#include "server/serve.h"

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

  sluice::cli::bench::BenchOptions bench_options;
  std::vector<std::string> bench_settings;
  CLI::App* bench = sluice::cli::bench::add_bench_subcommand(app, bench_options, bench_settings);

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
    for (const std::string& setting : settings) {
      size_t equals = setting.find('=');
      if (equals == std::string::npos) {
        // A value with a space after a comma reaches here as a second
        // argument: `--set` takes every word up to the next flag.
        std::fprintf(stderr,
                     "sluice serve: --set expects key=value, got '%s' (a list value such as listeners is one "
                     "argument: key=a,b with no space after the commas, or quoted)\n",
                     setting.c_str());
        return 2;
      }
      serve_options.overrides[setting.substr(0, equals)] = setting.substr(equals + 1);
    }
    return sluice::server::run_serve(serve_options);
  }
  // No subcommand: nothing was done, so the usage goes where errors go and
  // the exit code says so (a script calling `sluice` alone is a mistake).
  std::fprintf(stderr, "%s", app.help().c_str());
  return 2;
}
