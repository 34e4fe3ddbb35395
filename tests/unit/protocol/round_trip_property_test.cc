// For every generated message and every version in its validVersions, with
// random field values (nulls where the version allows them, unknown tagged
// fields in flexible versions):
//   decode(encode(x)) == x, size(v) == encoded bytes, encode(decode(b)) == b,
//   and every truncated prefix of an encoding fails to decode.

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <string>
#include <vector>

#include "protocol/codec.h"
#include "protocol/dispatch.h"
#include "protocol_testing/fill.h"

namespace sluice::protocol {
namespace {

template <class M>
void check_truncated_prefixes(const std::vector<uint8_t>& bytes, int16_t version) {
  // Every prefix for small messages, an even sample of them for large ones.
  size_t step = bytes.size() / 256 + 1;
  for (size_t length = 0; length < bytes.size(); length += step) {
    M partial;
    WireReader reader(Bytes(bytes.data(), length));
    Status status = partial.decode(reader, version);
    RC_ASSERT(!status.is_ok());
  }
}

template <class M>
void check_version(int16_t version) {
  M message;
  testing::fill(message, version);

  WireWriter writer;
  message.encode(writer, version);
  std::vector<uint8_t> bytes = writer.to_vector();
  RC_ASSERT(message.size(version) == bytes.size());

  M decoded;
  Status status = decode_exact(Bytes(bytes), version, decoded);
  RC_ASSERT(status.is_ok());
  RC_ASSERT(decoded == message);
  RC_ASSERT(encode_to_vector(decoded, version) == bytes);

  check_truncated_prefixes<M>(bytes, version);
}

template <class M>
void check_all_versions() {
  for (int version = M::min_version; version <= M::max_version; ++version) {
    std::string name = std::string(M::message_name) + " v" + std::to_string(version);
    bool passed = rc::check(name, [version] { check_version<M>(static_cast<int16_t>(version)); });
    EXPECT_TRUE(passed) << name;
  }
}

TEST(RoundTripProperty, EveryRequestEveryVersion) {
  for_each_type(RequestTypes{}, []<class M>(std::type_identity<M>) { check_all_versions<M>(); });
}

TEST(RoundTripProperty, EveryResponseEveryVersion) {
  for_each_type(ResponseTypes{}, []<class M>(std::type_identity<M>) { check_all_versions<M>(); });
}

TEST(RoundTripProperty, HeadersAndDataTypesEveryVersion) {
  for_each_type(DataTypes{}, []<class M>(std::type_identity<M>) { check_all_versions<M>(); });
}

// Guards the generator of random values: a fill that always produced empty
// messages would make the round trips above pass vacuously.
TEST(RoundTripProperty, RandomMessagesCoverNullsRecordsAndUnknownTags) {
  int with_records = 0, with_null_records = 0, with_unknown_tags = 0, with_null_id = 0;
  bool passed = rc::check("ProduceRequest v9 fill", [&] {
    ProduceRequest request;
    testing::fill(request, 9);
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
}  // namespace sluice::protocol
