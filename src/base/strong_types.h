#pragma once
// Strong types for the ids, offsets and epochs that cross layers (the
// `entityType`s of Kafka's schemas: brokerId, producerId, topicName,
// groupId, ...; plus offsets and leader epochs), so two int64_t or two
// string arguments cannot be swapped silently: `append(Offset, LeaderEpoch)`
// called as `append(epoch, offset)` does not compile.
//
// Zero cost: one member of the underlying type, every operation inline.
// Construction is explicit (`Offset{5}`), reading is `.value()`; values of
// one type compare and hash, never mix with another's or with raw numbers.
// Arithmetic is left out on purpose: an offset plus a count is spelled
// `Offset{o.value() + n}` where it happens, so the unit stays visible.

#include <fmt/format.h>

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace sluice {

template <class Tag, class Rep>
class StrongType {
 public:
  using rep_type = Rep;

  constexpr StrongType() = default;
  constexpr explicit StrongType(Rep value) : value_(std::move(value)) {}

  constexpr const Rep& value() const { return value_; }

  friend constexpr bool operator==(const StrongType&, const StrongType&) = default;
  friend constexpr auto operator<=>(const StrongType&, const StrongType&) = default;

 private:
  Rep value_{};
};

struct BrokerIdTag {};
struct ProducerIdTag {};
struct ProducerEpochTag {};
struct LeaderEpochTag {};
struct OffsetTag {};
struct TopicNameTag {};
struct GroupIdTag {};
struct TransactionalIdTag {};

using BrokerId = StrongType<BrokerIdTag, int32_t>;      // brokerId (also node ids)
using ProducerId = StrongType<ProducerIdTag, int64_t>;  // producerId
using ProducerEpoch = StrongType<ProducerEpochTag, int16_t>;
using LeaderEpoch = StrongType<LeaderEpochTag, int32_t>;  // a partition's leader epoch
using Offset = StrongType<OffsetTag, int64_t>;            // a record's offset in a partition
using TopicName = StrongType<TopicNameTag, std::string>;  // topicName
using GroupId = StrongType<GroupIdTag, std::string>;      // groupId
using TransactionalId = StrongType<TransactionalIdTag, std::string>;  // transactionalId

}  // namespace sluice

template <class Tag, class Rep>
struct std::hash<sluice::StrongType<Tag, Rep>> {
  size_t operator()(const sluice::StrongType<Tag, Rep>& value) const noexcept {
    return std::hash<Rep>{}(value.value());
  }
};

// Formats as the underlying value (log lines and messages stay as they were).
template <class Tag, class Rep>
struct fmt::formatter<sluice::StrongType<Tag, Rep>> : fmt::formatter<Rep> {
  template <class FormatContext>
  auto format(const sluice::StrongType<Tag, Rep>& value, FormatContext& context) const {
    return fmt::formatter<Rep>::format(value.value(), context);
  }
};
