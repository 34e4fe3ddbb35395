// Round trips of every request and version; see round_trip_check.h.

#include "round_trip_check.h"

namespace sluice::protocol::testing {
namespace {

TEST(RoundTripProperty, EveryRequestEveryVersion) {
  for_each_type(RequestTypes{}, []<class M>(std::type_identity<M>) { check_all_versions<M>(); });
}

}  // namespace
}  // namespace sluice::protocol::testing
