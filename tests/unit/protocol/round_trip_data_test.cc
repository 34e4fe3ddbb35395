// Round trips of every header and data type and version; see round_trip_check.h.

#include "round_trip_check.h"

namespace sluice::protocol::testing {
namespace {

TEST(RoundTripProperty, HeadersAndDataTypesEveryVersion) {
  for_each_type(DataTypes{}, []<class M>(std::type_identity<M>) { check_all_versions<M>(); });
}

// Guards the generator of random values: a fill that always produced empty
// messages would make the round trips above pass vacuously.
TEST(RoundTripProperty, RandomMessagesCoverNullsRecordsAndUnknownTags) {
  int with_records = 0, with_null_records = 0, with_unknown_tags = 0, with_null_id = 0;
  bool passed = rc::check("ProduceRequest v9 fill", [&] {
    ProduceRequest request;
    fill(request, 9);
    if (!request.transactional_id) ++with_null_id;
    if (!request.unknown_tagged_fields.empty()) ++with_unknown_tags;
    for (const auto& topic : request.topic_data)
      for (const auto& partition : topic.partition_data)
        ++(partition.records ? with_records : with_null_records);
  });
  EXPECT_TRUE(passed);
  EXPECT_GT(with_records, 0);
  EXPECT_GT(with_null_records, 0);
  EXPECT_GT(with_unknown_tags, 0);
  EXPECT_GT(with_null_id, 0);
}


}  // namespace
}  // namespace sluice::protocol::testing
