// Round trips of every response and version; see round_trip_check.h.

#include "round_trip_check.h"

namespace sluice::protocol::testing {
namespace {

TEST(RoundTripProperty, EveryResponseEveryVersion) {
  for_each_type(ResponseTypes{}, []<class M>(std::type_identity<M>) { check_all_versions<M>(); });
}

}  // namespace
}  // namespace sluice::protocol::testing
