// Strong types: swapping two ids, an offset and an epoch, or a topic and a
// group does not compile; the wrappers cost nothing and hash and format as
// their values.
#include "base/strong_types.h"

#include <gtest/gtest.h>

#include <type_traits>
#include <unordered_set>

namespace sluice {
namespace {

// The compile-time half: what must not convert.
static_assert(!std::is_convertible_v<int64_t, Offset>, "a raw number is not an offset");
static_assert(!std::is_convertible_v<Offset, int64_t>, "an offset is not a raw number");
static_assert(!std::is_convertible_v<LeaderEpoch, Offset>);
static_assert(!std::is_convertible_v<Offset, LeaderEpoch>);
static_assert(!std::is_convertible_v<ProducerId, Offset>);
static_assert(!std::is_convertible_v<BrokerId, LeaderEpoch>);
static_assert(!std::is_convertible_v<int32_t, BrokerId>);
static_assert(!std::is_convertible_v<TopicName, GroupId>);
static_assert(!std::is_convertible_v<std::string, TopicName>);
static_assert(!std::is_constructible_v<Offset, LeaderEpoch>);
static_assert(std::is_constructible_v<Offset, int64_t>, "explicit construction works");
// Zero cost: the size and triviality of the underlying type.
static_assert(sizeof(Offset) == sizeof(int64_t));
static_assert(sizeof(BrokerId) == sizeof(int32_t));
static_assert(std::is_trivially_copyable_v<Offset>);

// A function with two neighbouring integer parameters of different kinds:
// only the right order is callable.
int64_t distance(Offset from, LeaderEpoch epoch) { return from.value() + epoch.value(); }
template <class A, class B>
constexpr bool callable = requires(A a, B b) {
  distance(a, b);
};
static_assert(callable<Offset, LeaderEpoch>);
static_assert(!callable<LeaderEpoch, Offset>, "swapped arguments do not compile");
static_assert(!callable<int64_t, int32_t>, "raw numbers do not compile");

TEST(StrongTypes, CompareHashAndFormatAsTheirValues) {
  EXPECT_LT(Offset{3}, Offset{5});
  EXPECT_EQ(TopicName{"t"}, TopicName{"t"});
  EXPECT_EQ(distance(Offset{10}, LeaderEpoch{2}), 12);
  std::unordered_set<BrokerId> brokers{BrokerId{1}, BrokerId{2}, BrokerId{1}};
  EXPECT_EQ(brokers.size(), 2u);
  EXPECT_EQ(fmt::format("{} {} {}", Offset{42}, GroupId{"g"}, BrokerId{7}), "42 g 7");
  EXPECT_EQ(Offset{}.value(), 0);
}

}  // namespace
}  // namespace sluice
