#pragma once
// A partition of a topic: what checkpoints, changelogs and the group
// protocol's assignments name.

#include <compare>
#include <cstdint>
#include <string>

namespace sluice::streams {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
};

}  // namespace sluice::streams
