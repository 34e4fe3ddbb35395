#pragma once
// `sluice storage` (Kafka's kafka-storage.sh): random-uuid, format, info.
// Called by the entry point (cli/main.cc); each returns the exit code.
// Output goes to stdout, failures to stderr as one line; exit 1 on a
// failure (Kafka's tool does the same), 0 otherwise.

#include <map>
#include <string>

namespace sluice::server {

struct StorageOptions {
  std::string config_file;                       // --config server.properties
  std::map<std::string, std::string> overrides;  // --set key=value
  std::string cluster_id;                        // format: --cluster-id
  bool ignore_formatted = false;                 // format: --ignore-formatted
  // format: --no-initial-controllers (Kafka's -N): a controller without
  // controller.quorum.voters joins a quorum that exists (KIP-853: it
  // follows through controller.quorum.bootstrap.servers until added).
  bool no_initial_controllers = false;
};

// Prints a random cluster id (Kafka's Uuid: 22 characters of base64url).
int run_storage_random_uuid();
// Writes meta.properties (node.id, cluster.id, a directory.id) into every
// log dir and the metadata log dir of the configuration, which must pass
// the start-up checks. Refuses an invalid cluster id and, unless
// ignore_formatted, a dir already formatted (writing nothing then), and, as
// Kafka's StorageTool, a controller without controller.quorum.voters unless
// no_initial_controllers (Sluice has no --standalone/--initial-controllers).
int run_storage_format(const StorageOptions& options);
// Shows each dir's meta.properties and the problems found (exit 1 if any).
int run_storage_info(const StorageOptions& options);

}  // namespace sluice::server
