#pragma once
// meta.properties in every log dir, as Kafka writes it (KRaft, version=1):
// the node id, the cluster id and the dir's own directory id. Written by
// `sluice storage format` (format_meta_properties), or, on the lone default
// node (process.roles unset), by its first start, which generates the
// cluster id unless cluster.id is configured. Every start checks that every
// dir agrees, so a dir from another cluster or node is refused instead of
// mixed in.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/random.h"
#include "base/result.h"
#include "base/uuid.h"
#include "storage/file_system.h"

namespace sluice::cluster {

inline constexpr char meta_properties_file[] = "meta.properties";

struct MetaProperties {
  int32_t node_id = -1;
  std::string cluster_id;
  Uuid directory_id;
};

std::string encode_meta_properties(const MetaProperties& properties);
Result<MetaProperties> decode_meta_properties(const std::string& text);

// The dir's meta.properties: nullopt if it has none (or the dir does not
// exist); an error naming the file if it does not parse.
Result<std::optional<MetaProperties>> read_meta_properties(storage::FileSystem& fs,
                                                           const std::string& dir);

// What a start does with a dir that has no meta.properties: the lone default
// node formats it (`create`); a node with process.roles set refuses to start
// (`refuse`), as it must be formatted with the cluster's id first.
enum class UnformattedDirs { create, refuse };

// Reads or creates meta.properties in each of `dirs` (created if missing)
// and returns the cluster id. Fails, naming the file, if a dir belongs to
// another node or cluster, or if `configured_cluster_id` disagrees; with
// `refuse`, also if a dir is not formatted, naming it (and writes nothing).
// New cluster and directory ids come from `random`.
Result<std::string> ensure_meta_properties(storage::FileSystem& fs,
                                           const std::vector<std::string>& dirs, int32_t node_id,
                                           const std::optional<std::string>& configured_cluster_id,
                                           RandomSource& random,
                                           UnformattedDirs unformatted = UnformattedDirs::create);

// `sluice storage format` (Kafka's Formatter): writes meta.properties with
// `cluster_id` and `node_id` (and a new directory id) into each of `dirs`
// that has none, creating the dir. Fails with Kafka's messages if a dir
// belongs to another cluster or node, or, unless `ignore_formatted`, if a dir
// is already formatted (then nothing is written). Returns the dirs written,
// in the order given (empty: all were formatted already).
Result<std::vector<std::string>> format_meta_properties(
    storage::FileSystem& fs, const std::vector<std::string>& dirs, int32_t node_id,
    const std::string& cluster_id, bool ignore_formatted, RandomSource& random);

}  // namespace sluice::cluster
