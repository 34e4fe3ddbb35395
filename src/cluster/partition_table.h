#pragma once
// The partitions this broker hosts, as one immutable value: the metadata
// image they follow and a lookup by (topic, partition) that copies no string
// and takes no lock. The ReplicaManager builds a new table for each image and
// swaps it in atomically (`std::atomic<std::shared_ptr>`); a handler reads
// whichever table was current when it looked, and the Partition objects it
// got stay valid as long as it holds them, even if a newer table dropped them.
//
// Threads: a table never changes after construction, so any thread may read
// it without synchronisation.

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cluster/metadata_image.h"
#include "cluster/partition.h"

namespace sluice::cluster {

class PartitionTable {
 public:
  // An empty table over an empty image.
  PartitionTable();
  // `image` must not be null; `partitions` must not hold two Partitions of
  // the same topic partition (SLUICE_ASSERT).
  PartitionTable(MetadataImagePtr image, std::vector<std::shared_ptr<Partition>> partitions);

  const MetadataImagePtr& image() const { return image_; }
  // Null when the partition is not hosted here.
  const std::shared_ptr<Partition>& find(std::string_view topic, int32_t partition) const;
  // Every hosted partition, ordered by topic name then partition id.
  const std::vector<std::shared_ptr<Partition>>& partitions() const { return all_; }
  size_t size() const { return all_.size(); }

 private:
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view name) const { return std::hash<std::string_view>{}(name); }
  };
  // A topic's hosted partitions sorted by id. Usually every id from 0 is
  // hosted, so the id is the position; otherwise a binary search.
  using TopicPartitions = std::vector<std::pair<int32_t, std::shared_ptr<Partition>>>;

  MetadataImagePtr image_;
  std::vector<std::shared_ptr<Partition>> all_;
  std::unordered_map<std::string, TopicPartitions, NameHash, std::equal_to<>> topics_;
};

using PartitionTablePtr = std::shared_ptr<const PartitionTable>;

}  // namespace sluice::cluster
