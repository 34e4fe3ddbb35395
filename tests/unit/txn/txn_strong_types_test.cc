// Issue 13, point 6: what crosses from the transaction coordinator to the
// marker sender (the marker's producer id and epoch, the coordinator's
// leader epoch), from the producer id generator to its users (InitProducerId,
// the coordinator), and from the metadata image to the coordinator's
// elections, is base/strong_types.h's ProducerId, ProducerEpoch,
// TransactionalId and LeaderEpoch. Checked at compile time: a raw integer,
// or an id of another kind, does not compile where one of them is expected.
#include <gtest/gtest.h>

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <type_traits>

#include "txn/txn_coordinator.h"
#include "txn/txn_interfaces.h"

namespace sluice::txn {
namespace {

// A field of a strong type takes no raw integer and no other kind of id
// (explicit construction, base/strong_types_test.cc): naming the field's
// type is the whole check.
static_assert(std::is_same_v<decltype(TxnMarker::producer_id), ProducerId>);
static_assert(std::is_same_v<decltype(TxnMarker::producer_epoch), ProducerEpoch>,
              "a producer's epoch, not a leader's");
static_assert(std::is_same_v<decltype(TxnMarker::coordinator_epoch), LeaderEpoch>);
static_assert(std::is_same_v<decltype(TxnMarker::transactional_id), TransactionalId>);

// cancel(partition, epoch): two int32_t before, now a partition index and a
// LeaderEpoch.
template <class EpochArg>
concept CancelAccepts = requires(MarkerSender& sender, EpochArg epoch) {
  sender.cancel(int32_t{0}, epoch);
};
static_assert(CancelAccepts<LeaderEpoch>);
static_assert(!CancelAccepts<int32_t>);

static_assert(std::same_as<decltype(std::declval<ProducerIdGenerator&>().generate_producer_id()),
                           Result<ProducerId>>);

template <class EpochArg>
concept LeadershipAccepts = requires(TxnCoordinator& coordinator, EpochArg epoch) {
  coordinator.on_election(int32_t{0}, epoch);
  coordinator.on_resignation(int32_t{0}, epoch);
};
static_assert(LeadershipAccepts<LeaderEpoch>);
static_assert(!LeadershipAccepts<int32_t>);

// The requests the broker hands over (AddPartitionsToTxn, AddOffsetsToTxn,
// EndTxn): the transactional id, producer id and producer epoch are named
// at the protocol edge, so none of them can take another's place.
template <class IdArg, class ProducerArg, class EpochArg>
concept AddAccepts = requires(TxnCoordinator& coordinator, IdArg id, ProducerArg producer,
                              EpochArg epoch) {
  coordinator.add_partitions(id, producer, epoch, TxnPartitions{}, Reply<ErrorCode>{});
};
static_assert(AddAccepts<TransactionalId, ProducerId, ProducerEpoch>);
static_assert(!AddAccepts<std::string, int64_t, int16_t>, "raw values must be named");
static_assert(!AddAccepts<TransactionalId, ProducerEpoch, ProducerId>, "id and epoch swapped");
static_assert(!AddAccepts<GroupId, ProducerId, ProducerEpoch>,
              "a group id is not a transactional id");

template <class IdArg, class ProducerArg, class EpochArg>
concept EndAccepts = requires(TxnCoordinator& coordinator, IdArg id, ProducerArg producer,
                              EpochArg epoch) {
  coordinator.end_txn(id, producer, epoch, true, int16_t{0}, Reply<TxnProducerResult>{});
};
static_assert(EndAccepts<TransactionalId, ProducerId, ProducerEpoch>);
static_assert(!EndAccepts<std::string, int64_t, int16_t>);
static_assert(!EndAccepts<TransactionalId, ProducerEpoch, ProducerId>);

template <class IdArg>
concept InitAccepts = requires(TxnCoordinator& coordinator, IdArg id) {
  coordinator.init_producer_id(id, int32_t{60000}, std::nullopt, Reply<TxnProducerResult>{});
};
static_assert(InitAccepts<TransactionalId>);
static_assert(!InitAccepts<std::string>);

TEST(TxnStrongTypesTest, IdsAndEpochsCannotBeSwappedAtTheInterface) {
  SUCCEED() << "checked by the static_asserts above, at compile time";
}

}  // namespace
}  // namespace sluice::txn
