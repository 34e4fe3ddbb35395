#include "cluster/partition_table.h"

#include <algorithm>

namespace sluice::cluster {

PartitionTable::PartitionTable() : image_(std::make_shared<const MetadataImage>()) {}

PartitionTable::PartitionTable(MetadataImagePtr image,
                               std::vector<std::shared_ptr<Partition>> partitions)
    : image_(std::move(image)), all_(std::move(partitions)) {
  SLUICE_ASSERT(image_ != nullptr, "a partition table needs an image");
  std::sort(all_.begin(), all_.end(), [](const auto& a, const auto& b) {
    return a->topic_partition() < b->topic_partition();
  });
  for (const auto& partition : all_) {
    const storage::TopicPartition& tp = partition->topic_partition();
    TopicPartitions& of_topic = topics_[tp.topic];
    SLUICE_ASSERT(of_topic.empty() || of_topic.back().first < tp.partition,
                  "a partition table holds each topic partition once");
    of_topic.emplace_back(tp.partition, partition);
  }
}

const std::shared_ptr<Partition>& PartitionTable::find(std::string_view topic,
                                                       int32_t partition) const {
  static const std::shared_ptr<Partition> none;
  auto found = topics_.find(topic);
  if (found == topics_.end() || partition < 0) return none;
  const TopicPartitions& of_topic = found->second;
  auto index = static_cast<size_t>(partition);
  if (index < of_topic.size() && of_topic[index].first == partition) return of_topic[index].second;
  auto at = std::lower_bound(of_topic.begin(), of_topic.end(), partition,
                             [](const auto& entry, int32_t id) { return entry.first < id; });
  return at != of_topic.end() && at->first == partition ? at->second : none;
}

}  // namespace sluice::cluster
