#include "cli/client/commands.h"

#include <cstdio>

#include "cli/client/common.h"

namespace sluice::cli::client {

int run_action(const Action& action) {
  try {
    action.run();
    return 0;
  } catch (const CommandError& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "sluice %s: %s\n", action.name.c_str(), error.what());
    return 1;
  }
}

}  // namespace sluice::cli::client
