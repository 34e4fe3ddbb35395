#pragma once
// meta.properties in every log dir, as Kafka writes it (KRaft, version=1):
// the node id, the cluster id and the dir's own directory id. The first
// start generates the cluster id (unless cluster.id is configured) and
// writes the file into every dir; later starts check that every dir agrees,
// so a dir from another cluster or node is refused instead of mixed in.

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

// Reads or creates meta.properties in each of `dirs` (created if missing)
// and returns the cluster id. Fails, naming the file, if a dir belongs to
// another node or cluster, or if `configured_cluster_id` disagrees.
// New cluster and directory ids come from `random`.
Result<std::string> ensure_meta_properties(storage::FileSystem& fs,
                                           const std::vector<std::string>& dirs, int32_t node_id,
                                           const std::optional<std::string>& configured_cluster_id,
                                           RandomSource& random);

}  // namespace sluice::cluster
