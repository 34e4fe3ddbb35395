#pragma once
// `sluice serve`: runs a broker until SIGINT or SIGTERM. Called by the entry
// point (cli/main.cc) on the main thread; returns when the broker has stopped.

#include <map>
#include <string>

namespace sluice::server {

struct ServeOptions {
  std::string config_file;                       // --config server.properties
  std::map<std::string, std::string> overrides;  // --set key=value
};

// Returns the process exit code.
int run_serve(const ServeOptions& options);

}  // namespace sluice::server
