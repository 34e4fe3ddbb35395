// The `sluice` binary: one entry point for the broker and every client tool.

#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/version.h"

int main(int argc, char** argv) {
  CLI::App app{"Sluice: an event-streaming platform that speaks the Apache Kafka protocol",
               "sluice"};
  app.set_version_flag("-V,--version", "sluice " SLUICE_VERSION);
  app.require_subcommand(0, 1);

  CLI::App* serve = app.add_subcommand("serve", "Run a broker");
  (void)serve;

  CLI11_PARSE(app, argc, argv);

  if (app.got_subcommand("serve")) {
    std::fprintf(stderr,
                 "sluice serve: the broker is not built yet (see the open issues); "
                 "this build has the protocol codecs and record batches only\n");
    return 2;
  }
  std::printf("%s", app.help().c_str());
  return 0;
}
