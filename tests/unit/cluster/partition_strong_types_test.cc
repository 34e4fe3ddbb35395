// Issue 13, point 6: offsets and leader epochs cross cluster::Partition's
// interface as base/strong_types.h's Offset and LeaderEpoch. Checked at
// compile time: the calls as written compile; an epoch in an offset's
// place, an offset in an epoch's, or a raw integer does not. (Before, every
// one of them was an int64_t or int32_t and all of these compiled.)
#include <gtest/gtest.h>

#include <cstdint>
#include <type_traits>
#include <utility>

#include "cluster/partition.h"
#include "cluster/replica_manager.h"

namespace sluice::cluster {
namespace {

template <class OffsetArg, class EpochArg>
concept ReadAccepts = requires(const Partition& partition, OffsetArg offset, EpochArg epoch) {
  partition.read(offset, epoch, uint64_t{1}, true);
};
static_assert(ReadAccepts<Offset, LeaderEpoch>);
static_assert(!ReadAccepts<LeaderEpoch, Offset>, "offset and epoch swapped");
static_assert(!ReadAccepts<int64_t, int32_t>, "raw integers must be named");

template <class OffsetArg>
concept DeleteAccepts = requires(Partition& partition, OffsetArg offset) {
  partition.delete_records_before(offset);
};
static_assert(DeleteAccepts<Offset>);
static_assert(!DeleteAccepts<LeaderEpoch>);
static_assert(!DeleteAccepts<int64_t>);

template <class EpochArg>
concept CheckLeaderAccepts = requires(const Partition& partition, EpochArg epoch) {
  partition.check_leader(epoch);
};
static_assert(CheckLeaderAccepts<LeaderEpoch>);
static_assert(!CheckLeaderAccepts<Offset>);
static_assert(!CheckLeaderAccepts<int32_t>);

template <class EpochArg>
concept ListOffsetAccepts = requires(const Partition& partition, EpochArg epoch) {
  partition.list_offset(int64_t{0}, epoch);
};
static_assert(ListOffsetAccepts<LeaderEpoch>);
static_assert(!ListOffsetAccepts<Offset>);
static_assert(!ListOffsetAccepts<int32_t>);

template <class EpochArg>
concept EpochEndAccepts = requires(const Partition& partition, EpochArg epoch) {
  partition.end_offset_for_epoch(epoch, epoch);
};
static_assert(EpochEndAccepts<LeaderEpoch>);
static_assert(!EpochEndAccepts<Offset>);
static_assert(!EpochEndAccepts<int32_t>);

// The ReplicaManager's node id is a BrokerId (compared with the leaders the
// coordinators' logs see), not one more int32_t beside partition indexes
// and epochs.
static_assert(std::is_same_v<decltype(ReplicaManagerOptions::node_id), BrokerId>);
static_assert(std::is_same_v<decltype(std::declval<const ReplicaManager&>().node_id()), BrokerId>);

TEST(PartitionStrongTypesTest, OffsetsAndEpochsCannotBeSwappedAtTheInterface) {
  SUCCEED() << "checked by the static_asserts above, at compile time";
}

}  // namespace
}  // namespace sluice::cluster
