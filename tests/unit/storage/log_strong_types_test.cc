// Issue 13, point 6: offsets, leader epochs and producer ids/epochs cross
// storage::Log's interface as base/strong_types.h's Offset, LeaderEpoch,
// ProducerId and ProducerEpoch. Checked at compile time: the calls as
// written compile; an epoch in an offset's place, an offset in an epoch's,
// a producer epoch in a producer id's or a raw integer does not. (Before,
// each was an int64_t, int32_t or int16_t and all of these compiled.)
#include <gtest/gtest.h>

#include <cstdint>
#include <span>

#include "base/strong_types.h"
#include "storage/log.h"
#include "storage/log_manager.h"

namespace sluice::storage {
namespace {

template <class EpochArg>
concept AppendAsLeaderAccepts = requires(Log& log, std::span<uint8_t> records, EpochArg epoch) {
  log.append_as_leader(records, epoch);
};
static_assert(AppendAsLeaderAccepts<LeaderEpoch>);
static_assert(!AppendAsLeaderAccepts<Offset>, "an offset in the epoch's place");
static_assert(!AppendAsLeaderAccepts<int32_t>, "raw integers must be named");

template <class OffsetArg, class MaxOffsetArg>
concept ReadAccepts = requires(Log& log, OffsetArg offset, MaxOffsetArg max_offset) {
  log.read(offset, uint64_t{1}, max_offset);
};
static_assert(ReadAccepts<Offset, Offset>);
static_assert(!ReadAccepts<LeaderEpoch, Offset>, "an epoch in the offset's place");
static_assert(!ReadAccepts<Offset, LeaderEpoch>, "an epoch in the max offset's place");
static_assert(!ReadAccepts<int64_t, int64_t>, "raw integers must be named");

// set_log_start_offset, truncate_to, truncate_fully and apply_retention each
// take one offset.
template <class OffsetArg>
concept OffsetMutatorsAccept = requires(Log& log, OffsetArg offset) {
  log.set_log_start_offset(offset);
  log.truncate_to(offset);
  log.truncate_fully(offset);
  log.apply_retention(offset);
};
static_assert(OffsetMutatorsAccept<Offset>);
template <class OffsetArg>
concept SomeOffsetMutatorAccepts = requires(Log& log, OffsetArg offset) {
  log.set_log_start_offset(offset);
}
|| requires(Log& log, OffsetArg offset) { log.truncate_to(offset); }
|| requires(Log& log, OffsetArg offset) { log.truncate_fully(offset); }
|| requires(Log& log, OffsetArg offset) { log.apply_retention(offset); };
static_assert(!SomeOffsetMutatorAccepts<LeaderEpoch>);
static_assert(!SomeOffsetMutatorAccepts<ProducerId>);
static_assert(!SomeOffsetMutatorAccepts<int64_t>);

template <class EpochArg>
concept EpochQueriesAccept = requires(Log& log, EpochArg epoch) {
  log.end_offset_for_epoch(epoch);
  log.assign_epoch_start(epoch);
};
static_assert(EpochQueriesAccept<LeaderEpoch>);
template <class EpochArg>
concept SomeEpochQueryAccepts = requires(Log& log, EpochArg epoch) {
  log.end_offset_for_epoch(epoch);
}
|| requires(Log& log, EpochArg epoch) { log.assign_epoch_start(epoch); };
static_assert(!SomeEpochQueryAccepts<Offset>);
static_assert(!SomeEpochQueryAccepts<ProducerEpoch>);
static_assert(!SomeEpochQueryAccepts<int32_t>);

template <class FromArg, class ToArg>
concept CollectAbortedAccepts = requires(const Log& log, FromArg from, ToArg to) {
  log.collect_aborted_txns(from, to);
};
static_assert(CollectAbortedAccepts<Offset, Offset>);
static_assert(!CollectAbortedAccepts<LeaderEpoch, Offset>);
static_assert(!CollectAbortedAccepts<Offset, int64_t>);
static_assert(!CollectAbortedAccepts<int64_t, int64_t>);

template <class IdArg, class EpochArg>
concept StartVerificationAccepts = requires(Log& log, IdArg producer_id, EpochArg epoch) {
  log.start_txn_verification(producer_id, int32_t{0}, epoch, int64_t{0});
};
static_assert(StartVerificationAccepts<ProducerId, ProducerEpoch>);
static_assert(!StartVerificationAccepts<ProducerEpoch, ProducerId>, "id and epoch swapped");
static_assert(!StartVerificationAccepts<Offset, ProducerEpoch>, "an offset as the producer id");
static_assert(!StartVerificationAccepts<ProducerId, LeaderEpoch>,
              "a leader epoch as the producer's");
static_assert(!StartVerificationAccepts<int64_t, int16_t>, "raw integers must be named");

// LogManager's follower truncations pass the offset through to the Log.
template <class OffsetArg>
concept ManagerTruncationsAccept = requires(LogManager& manager, ManagedLog& managed,
                                            OffsetArg offset) {
  manager.truncate_to(managed, offset);
  manager.truncate_fully(managed, offset);
};
static_assert(ManagerTruncationsAccept<Offset>);
template <class OffsetArg>
concept SomeManagerTruncationAccepts = requires(LogManager& manager, ManagedLog& managed,
                                                OffsetArg offset) {
  manager.truncate_to(managed, offset);
}
|| requires(LogManager& manager, ManagedLog& managed, OffsetArg offset) {
  manager.truncate_fully(managed, offset);
};
static_assert(!SomeManagerTruncationAccepts<LeaderEpoch>);
static_assert(!SomeManagerTruncationAccepts<int64_t>);

TEST(LogStrongTypesTest, OffsetsEpochsAndProducerIdsCannotBeSwappedAtTheInterface) {
  SUCCEED() << "checked by the static_asserts above, at compile time";
}

}  // namespace
}  // namespace sluice::storage
