#include "server/storage.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "base/random.h"
#include "broker/broker_config.h"
#include "cluster/ids.h"
#include "cluster/meta_properties.h"
#include "storage/posix_file_system.h"

namespace sluice::server {
namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "%s\n", message.c_str());
  return 1;
}

// The configuration as `serve` would load it (the same checks), or the
// message to print.
Result<broker::BrokerConfig> load_config(const StorageOptions& options) {
  std::string properties;
  if (!options.config_file.empty()) {
    std::ifstream file(options.config_file);
    if (!file)
      return Status(Errc::io_error, "cannot read config file '" + options.config_file + "'");
    std::stringstream text;
    text << file.rdbuf();
    properties = text.str();
  }
  auto config = broker::BrokerConfig::load(properties, options.overrides);
  if (!config)
    return Status(config.status().code(), "invalid configuration: " + config.status().message());
  return config;
}

// Kafka's StorageTool.configToLogDirectories: log dirs and the metadata log
// dir, sorted, each once.
std::vector<std::string> storage_dirs(const broker::BrokerConfig& config) {
  std::set<std::string> dirs(config.log_dirs.begin(), config.log_dirs.end());
  dirs.insert(config.metadata_log_dir);
  return {dirs.begin(), dirs.end()};
}

// A cluster id as Kafka's Uuid.fromString accepts it, and not one of the
// ids Kafka reserves (zero, the metadata topic's).
std::optional<std::string> cluster_id_problem(const std::string& id) {
  auto uuid = cluster::uuid_from_string(id);
  if (!uuid)
    return "Cluster ID string " + id +
           " does not appear to be a valid UUID: expected 22 characters of URL-safe base64 "
           "(`sluice storage random-uuid` prints one)";
  Uuid metadata_topic_id;
  metadata_topic_id.bytes[15] = 1;
  if (uuid->is_zero() || *uuid == metadata_topic_id)
    return "Cluster ID string " + id + " is a reserved UUID; choose another one";
  return std::nullopt;
}

std::string describe(const cluster::MetaProperties& properties) {
  // Kafka's info prints the properties sorted by key, as a Java map.
  return "{cluster.id=" + properties.cluster_id +
         ", directory.id=" + cluster::uuid_to_string(properties.directory_id) +
         ", node.id=" + std::to_string(properties.node_id) + ", version=1}";
}

}  // namespace

int run_storage_random_uuid() {
  std::printf("%s\n", cluster::uuid_to_string(cluster::random_uuid(system_random())).c_str());
  return 0;
}

int run_storage_format(const StorageOptions& options) {
  if (options.cluster_id.empty()) return fail("You must specify the cluster id.");
  if (auto problem = cluster_id_problem(options.cluster_id)) return fail(*problem);
  auto config = load_config(options);
  if (!config) return fail(config.status().message());
  if (auto configured = config->values.text("cluster.id");
      configured && *configured != options.cluster_id)
    return fail("--cluster-id " + options.cluster_id + " disagrees with the cluster.id setting " +
                *configured);
  if (config->quorum.roles_explicit && config->quorum.controller_role &&
      config->quorum.voters.empty() && !options.no_initial_controllers)
    return fail(
        "Because controller.quorum.voters is not set on this controller, you must specify one of "
        "the following: --standalone, --initial-controllers, or --no-initial-controllers. "
        "(Sluice supports --no-initial-controllers: the controller follows the quorum through "
        "controller.quorum.bootstrap.servers until `sluice cluster add-controller` adds it.)");
  storage::PosixFileSystem fs;
  std::vector<std::string> dirs = storage_dirs(*config);
  auto written = cluster::format_meta_properties(fs, dirs, config->node_id, options.cluster_id,
                                                 options.ignore_formatted, system_random());
  if (!written) return fail(written.status().message());
  if (written->empty()) {
    std::printf("All of the log directories are already formatted.\n");
    return 0;
  }
  for (const std::string& dir : *written)
    std::printf("Formatting %s %s with cluster.id %s and node.id %d.\n",
                dir == config->metadata_log_dir ? "metadata directory" : "data directory",
                dir.c_str(), options.cluster_id.c_str(), config->node_id);
  return 0;
}

int run_storage_info(const StorageOptions& options) {
  auto config = load_config(options);
  if (!config) return fail(config.status().message());
  storage::PosixFileSystem fs;
  std::vector<std::string> problems;
  std::vector<std::string> found_dirs;
  std::vector<std::pair<std::string, cluster::MetaProperties>> found;
  for (const std::string& dir : storage_dirs(*config)) {
    std::error_code error;
    if (!std::filesystem::is_directory(dir, error)) {
      problems.push_back(
          dir + (std::filesystem::exists(dir, error) ? " is not a directory" : " does not exist"));
      continue;
    }
    found_dirs.push_back(dir);
    auto properties = cluster::read_meta_properties(fs, dir);
    if (!properties)
      problems.push_back("Error loading " + properties.status().message());
    else if (!*properties)
      problems.push_back(dir + " is not formatted.");
    else
      found.emplace_back(dir, **properties);
  }
  for (size_t i = 1; i < found.size(); ++i) {
    if (found[i].second.cluster_id != found[0].second.cluster_id)
      problems.push_back("Mismatched cluster IDs between storage directories.");
    else if (found[i].second.node_id != found[0].second.node_id)
      problems.push_back("Mismatched node IDs between storage directories.");
  }
  if (!found_dirs.empty()) {
    std::printf("%s\n", found_dirs.size() == 1 ? "Found log directory:" : "Found log directories:");
    for (const std::string& dir : found_dirs) std::printf("  %s\n", dir.c_str());
    std::printf("\n");
  }
  if (!found.empty()) {
    std::printf("Found metadata:\n");
    for (const auto& [dir, properties] : found)
      std::printf("  %s: %s\n", dir.c_str(), describe(properties).c_str());
    std::printf("\n");
  }
  if (problems.empty()) return 0;
  std::printf("%s\n", problems.size() == 1 ? "Found problem:" : "Found problems:");
  for (const std::string& problem : problems) std::printf("  %s\n", problem.c_str());
  std::printf("\n");
  return 1;
}

}  // namespace sluice::server
