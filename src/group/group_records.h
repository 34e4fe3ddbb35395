#pragma once
// The records of __consumer_offsets (Kafka's coordinator record format,
// src/protocol/schema/coordinator_records.json): keys and values are int16
// version + body. Written versions: OffsetCommitKey v1, OffsetCommitValue
// v3, GroupMetadataKey v2, GroupMetadataValue v3; every version is read.

#include <set>
#include <string>
#include <vector>

#include "group/group_coordinator.h"
#include "group/group_state.h"

namespace sluice::group {

CoordinatorRecord offset_record(const std::string& group, const std::string& topic, int32_t partition,
                                const CommittedOffset& committed);
CoordinatorRecord offset_tombstone(const std::string& group, const std::string& topic, int32_t partition);
CoordinatorRecord group_tombstone(const std::string& group);

// The topics of a ConsumerProtocolSubscription (int16 version + body);
// empty if it does not parse.
std::vector<std::string> consumer_subscription_topics(const std::vector<uint8_t>& subscription);

}  // namespace sluice::group
