#pragma once
// `sluice connect standalone worker.properties [connector.properties|.json ...]`
// (Kafka's connect-standalone.sh): one worker process, its connectors given
// on the command line or created through the REST API, source offsets in
// `offset.storage.file.filename`. Runs until SIGINT or SIGTERM, then stops
// every task (each commits what was delivered) and exits 0.

#include <string>
#include <vector>

namespace sluice::connect {

struct StandaloneOptions {
  std::string worker_file;
  std::vector<std::string> connector_files;
  std::string version;  // GET /'s "version"
};

int run_standalone(const StandaloneOptions& options);

// `sluice connect distributed worker.properties` (Kafka's
// connect-distributed.sh): a worker of the group `group.id`
// (distributed_herder.h); runs until SIGINT or SIGTERM, then stops its
// tasks, leaves the group and exits 0.
int run_distributed(const std::string& worker_file, const std::string& version);

}  // namespace sluice::connect
