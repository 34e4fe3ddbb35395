// Issue 13, point 6: the producer ids, leader epochs and group ids that
// cross the group coordinator's interface (from the broker's WriteTxnMarkers
// and GroupService, the coordinator runtime's loads, the metadata image's
// elections) are base/strong_types.h's ProducerId, LeaderEpoch and GroupId.
// Checked at compile time: the calls as written compile; a raw integer or
// string, or an id of another kind, does not. (Before, each was an int64_t,
// an int32_t or a std::string, and every one of these compiled: an epoch
// passed as a producer id, or a partition index as an epoch, went unseen.)
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "base/bytes.h"
#include "coordinator/coordinator_topic.h"
#include "group/group_coordinator.h"
#include "group/group_service.h"

namespace sluice::group {
namespace {

template <class ProducerArg>
concept CompleteTransactionAccepts = requires(GroupCoordinator& coordinator, ProducerArg producer) {
  coordinator.complete_transaction(producer, int32_t{0}, true);
};
static_assert(CompleteTransactionAccepts<ProducerId>);
static_assert(!CompleteTransactionAccepts<int64_t>, "raw producer ids must be named");
static_assert(!CompleteTransactionAccepts<ProducerEpoch>, "an epoch is not a producer id");
static_assert(!CompleteTransactionAccepts<Offset>);

template <class ProducerArg>
concept ReplayAccepts = requires(GroupCoordinator& coordinator, Bytes key, ProducerArg producer) {
  coordinator.replay(key, std::nullopt, producer);
};
static_assert(ReplayAccepts<ProducerId>);
static_assert(!ReplayAccepts<int64_t>);
static_assert(!ReplayAccepts<Offset>, "a record's offset is not its producer");

template <class ProducerArg>
concept ReplayControlAccepts = requires(GroupCoordinator& coordinator, Bytes key,
                                        ProducerArg producer) {
  coordinator.replay_control(int32_t{0}, producer, key);
};
static_assert(ReplayControlAccepts<ProducerId>);
static_assert(!ReplayControlAccepts<int64_t>);

template <class EpochArg>
concept LeadershipAccepts = requires(GroupCoordinator& coordinator, EpochArg epoch) {
  coordinator.on_election(int32_t{0}, epoch);
  coordinator.on_resignation(int32_t{0}, epoch);
};
static_assert(LeadershipAccepts<LeaderEpoch>);
static_assert(!LeadershipAccepts<int32_t>, "partition index and epoch cannot be swapped");
static_assert(!LeadershipAccepts<ProducerEpoch>);

template <class GroupArg>
concept GroupQueriesAccept = requires(GroupCoordinator& coordinator, GroupArg group) {
  coordinator.state_of(group);
  coordinator.generation_of(group);
};
static_assert(GroupQueriesAccept<GroupId>);
static_assert(!GroupQueriesAccept<std::string>, "group ids must be named");
static_assert(!GroupQueriesAccept<const char*>);
static_assert(!GroupQueriesAccept<TransactionalId>, "a transactional id is not a group id");

// The image's elections answer a LeaderEpoch: a function answering a raw
// int32_t (which could be a broker id) is refused.
template <class Elected>
concept FollowElectionsAccepts = requires(GroupCoordinator& coordinator, Elected elected) {
  coordinator.follow_image_elections(elected);
};
static_assert(FollowElectionsAccepts<LeaderEpoch (*)(int32_t)>);
static_assert(!FollowElectionsAccepts<int32_t (*)(int32_t)>);
static_assert(!FollowElectionsAccepts<BrokerId (*)(int32_t)>);

// WriteTxnMarkers tells the groups with the marker's producer id.
template <class ProducerArg>
concept TxnCompletionAccepts = requires(GroupService& service, ProducerArg producer) {
  service.handle_txn_completion(producer, std::vector<int32_t>{}, true);
};
static_assert(TxnCompletionAccepts<ProducerId>);
static_assert(!TxnCompletionAccepts<int64_t>);

// The coordinator topics call their coordinators' elections with the
// image's leader epoch.
static_assert(std::is_constructible_v<coordinator::CoordinatorTopic::LeadershipChange,
                                      void (*)(int32_t, LeaderEpoch)>);
static_assert(!std::is_constructible_v<coordinator::CoordinatorTopic::LeadershipChange,
                                       void (*)(int32_t, ProducerEpoch)>);

// A committed offset (what the records carry and OffsetFetch answers): its
// offset and leader epoch, once two integers side by side in an aggregate
// (`CommittedOffset{42, 7, ...}`), cannot be given in each other's place.
template <class OffsetArg, class EpochArg>
concept CommittedOffsetAccepts = requires(OffsetArg offset, EpochArg epoch) {
  CommittedOffset{offset, epoch};
};
static_assert(CommittedOffsetAccepts<Offset, LeaderEpoch>);
static_assert(!CommittedOffsetAccepts<LeaderEpoch, Offset>, "offset and epoch swapped");
static_assert(!CommittedOffsetAccepts<int64_t, int32_t>, "raw integers must be named");

// The broker the service coordinates for is a BrokerId (compared with the
// leaders the image names), as is the coordinator topic's.
static_assert(std::is_same_v<decltype(GroupServiceOptions::node_id), BrokerId>);
static_assert(std::is_constructible_v<coordinator::CoordinatorTopic, cluster::Controller&,
                                      cluster::ReplicaManager&, coordinator::CoordinatorTopicSpec,
                                      BrokerId, coordinator::CoordinatorTopic::LeadershipChange,
                                      coordinator::CoordinatorTopic::LeadershipChange>);
static_assert(!std::is_constructible_v<coordinator::CoordinatorTopic, cluster::Controller&,
                                       cluster::ReplicaManager&, coordinator::CoordinatorTopicSpec,
                                       int32_t, coordinator::CoordinatorTopic::LeadershipChange,
                                       coordinator::CoordinatorTopic::LeadershipChange>);

// A transactional write's producer (TxnOffsetCommit -> the runtime -> the
// __consumer_offsets append) and a loaded batch's: producer id and epoch
// cannot trade places.
template <class ProducerArg, class EpochArg>
concept TransactionalProducerAccepts = requires(ProducerArg producer, EpochArg epoch) {
  TransactionalProducer{producer, epoch};
};
static_assert(TransactionalProducerAccepts<ProducerId, ProducerEpoch>);
static_assert(!TransactionalProducerAccepts<ProducerEpoch, ProducerId>);
static_assert(!TransactionalProducerAccepts<int64_t, int16_t>);

TEST(GroupStrongTypesTest, IdsAndEpochsCannotBeSwappedAtTheInterface) {
  SUCCEED() << "checked by the static_asserts above, at compile time";
}

}  // namespace
}  // namespace sluice::group
