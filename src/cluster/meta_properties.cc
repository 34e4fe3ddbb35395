#include "cluster/meta_properties.h"

#include <set>

#include "base/config_def.h"
#include "cluster/ids.h"

namespace sluice::cluster {

std::string encode_meta_properties(const MetaProperties& properties) {
  return "#\n# Written by Sluice; do not edit.\n"
         "cluster.id=" + properties.cluster_id + "\n" +
         "directory.id=" + uuid_to_string(properties.directory_id) + "\n" +
         "node.id=" + std::to_string(properties.node_id) + "\n" + "version=1\n";
}

Result<MetaProperties> decode_meta_properties(const std::string& text) {
  auto values = parse_properties(text);
  if (!values) return values.status();
  auto get = [&](const char* key) -> std::optional<std::string> {
    auto found = values->find(key);
    if (found == values->end()) return std::nullopt;
    return found->second;
  };
  if (get("version") != "1")
    return Status(Errc::invalid_value, "version is not 1 (only KRaft meta.properties are read)");
  MetaProperties out;
  auto cluster_id = get("cluster.id");
  auto node_id = get("node.id");
  if (!cluster_id || cluster_id->empty()) return Status(Errc::invalid_value, "cluster.id missing");
  if (!node_id) return Status(Errc::invalid_value, "node.id missing");
  out.cluster_id = *cluster_id;
  char* end = nullptr;
  long id = std::strtol(node_id->c_str(), &end, 10);
  if (node_id->empty() || *end != '\0' || id < 0 || id > INT32_MAX)
    return Status(Errc::invalid_value, "invalid node.id '" + *node_id + "'");
  out.node_id = static_cast<int32_t>(id);
  if (auto directory_id = get("directory.id")) {
    auto parsed = uuid_from_string(*directory_id);
    if (!parsed) return Status(Errc::invalid_value, "invalid directory.id '" + *directory_id + "'");
    out.directory_id = *parsed;
  }
  return out;
}

namespace {

// Reads the file: nullopt if there is none.
Result<std::optional<MetaProperties>> read_file(storage::FileSystem& fs, const std::string& path) {
  auto exists = fs.exists(path);
  if (!exists) return exists.status();
  if (!*exists) return std::optional<MetaProperties>{};
  auto bytes = read_whole_file(fs, path);
  if (!bytes) return bytes.status();
  auto parsed = decode_meta_properties(std::string(bytes->begin(), bytes->end()));
  if (!parsed) return Status(Errc::invalid_value, path + ": " + parsed.status().message());
  return std::optional<MetaProperties>(std::move(parsed.value()));
}

Status write_meta_properties(storage::FileSystem& fs, const std::string& path,
                             const MetaProperties& properties) {
  std::string text = encode_meta_properties(properties);
  Bytes contents(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  return storage::write_file_atomically(fs, path, contents);
}

std::string unformatted_message(const std::vector<std::string>& dirs) {
  std::string names;
  for (const std::string& dir : dirs) names += (names.empty() ? "" : ", ") + dir;
  return (dirs.size() == 1 ? "log directory " : "log directories ") + names +
         (dirs.size() == 1 ? " is" : " are") +
         " not formatted (no meta.properties); run `sluice storage format --cluster-id <id> "
         "--config <server.properties>` first (a node with process.roles set never formats "
         "itself)";
}

}  // namespace

Result<std::optional<MetaProperties>> read_meta_properties(storage::FileSystem& fs,
                                                           const std::string& dir) {
  return read_file(fs, storage::join_path(dir, meta_properties_file));
}

Result<std::string> ensure_meta_properties(storage::FileSystem& fs,
                                           const std::vector<std::string>& dirs, int32_t node_id,
                                           const std::optional<std::string>& configured_cluster_id,
                                           RandomSource& random, UnformattedDirs unformatted) {
  std::optional<std::string> cluster_id = configured_cluster_id;
  std::string cluster_id_from;  // where cluster_id came from, for messages
  if (cluster_id) cluster_id_from = "the cluster.id setting";
  std::vector<std::string> missing;
  std::vector<std::string> missing_dirs;
  std::set<std::string> seen;
  for (const std::string& dir : dirs) {
    if (!seen.insert(dir).second) continue;
    if (unformatted == UnformattedDirs::create)
      if (Status s = fs.make_dirs(dir); !s) return s;
    std::string path = storage::join_path(dir, meta_properties_file);
    auto existing = read_file(fs, path);
    if (!existing) return existing.status();
    if (!*existing) {
      missing.push_back(path);
      missing_dirs.push_back(dir);
      continue;
    }
    const MetaProperties& found = **existing;
    if (found.node_id != node_id)
      return Status(Errc::invalid_value, path + " belongs to node " +
                                             std::to_string(found.node_id) + ", but node.id is " +
                                             std::to_string(node_id));
    if (cluster_id && *cluster_id != found.cluster_id)
      return Status(Errc::invalid_value, path + " has cluster.id " + found.cluster_id + ", but " +
                                             cluster_id_from + " says " + *cluster_id);
    cluster_id = found.cluster_id;
    cluster_id_from = path;
  }
  if (!missing_dirs.empty() && unformatted == UnformattedDirs::refuse)
    return Status(Errc::invalid_value, unformatted_message(missing_dirs));
  if (!cluster_id) cluster_id = uuid_to_string(random_uuid(random));
  for (const std::string& path : missing)
    if (Status s = write_meta_properties(fs, path, {node_id, *cluster_id, random_uuid(random)}); !s)
      return s;
  return *cluster_id;
}

Result<std::vector<std::string>> format_meta_properties(
    storage::FileSystem& fs, const std::vector<std::string>& dirs, int32_t node_id,
    const std::string& cluster_id, bool ignore_formatted, RandomSource& random) {
  std::vector<std::string> empty;
  std::optional<std::string> first_formatted;
  std::set<std::string> seen;
  for (const std::string& dir : dirs) {
    if (!seen.insert(dir).second) continue;
    std::string path = storage::join_path(dir, meta_properties_file);
    auto existing = read_file(fs, path);
    if (!existing) return existing.status();
    if (!*existing) {
      empty.push_back(dir);
      continue;
    }
    // Kafka's MetaPropertiesEnsemble.verify, before anything is written.
    const MetaProperties& found = **existing;
    if (found.cluster_id != cluster_id)
      return Status(Errc::invalid_value, "Invalid cluster.id in: " + path + ". Expected " +
                                             cluster_id + ", but read " + found.cluster_id);
    if (found.node_id != node_id)
      return Status(Errc::invalid_value,
                    "Stored node id " + std::to_string(found.node_id) +
                        " doesn't match previous node id " + std::to_string(node_id) + " in " +
                        path +
                        ". If you moved your data, make sure your configured node id matches. If "
                        "you intend to create a new node, you should remove all data in your data "
                        "directories.");
    if (!first_formatted) first_formatted = dir;
  }
  if (first_formatted && !ignore_formatted)
    return Status(Errc::invalid_value,
                  "Log directory " + *first_formatted +
                      " is already formatted. Use --ignore-formatted to ignore this directory and "
                      "format the others.");
  for (const std::string& dir : empty) {
    if (Status s = fs.make_dirs(dir); !s) return s;
    std::string path = storage::join_path(dir, meta_properties_file);
    if (Status s = write_meta_properties(fs, path, {node_id, cluster_id, random_uuid(random)}); !s)
      return s;
  }
  return empty;
}

}  // namespace sluice::cluster
