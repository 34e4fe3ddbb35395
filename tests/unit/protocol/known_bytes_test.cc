// Encodings checked byte by byte against the Kafka protocol guide's rules.

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "bytes_of.h"
#include "protocol/codec.h"
#include "protocol/headers.h"
#include "protocol/messages.h"

namespace sluice::protocol {
namespace {

using testing::bytes_of;

std::vector<uint8_t> concat(std::vector<uint8_t> a, std::string_view text) {
  a.insert(a.end(), text.begin(), text.end());
  return a;
}

TEST(KnownBytes, ApiVersionsRequestV3UsesCompactStringsAndTaggedSection) {
  ApiVersionsRequest request;
  request.client_software_name = "sluice";
  request.client_software_version = "1.0";
  std::vector<uint8_t> expected = concat(bytes_of({7}), "sluice");  // uvarint length + 1
  expected.push_back(4);
  expected = concat(expected, "1.0");
  expected.push_back(0);  // no tagged fields
  EXPECT_EQ(encode_to_vector(request, 3), expected);
  EXPECT_EQ(request.size(3), expected.size());

  ApiVersionsRequest decoded;
  ASSERT_TRUE(decode_exact(Bytes(expected), 3, decoded).is_ok());
  EXPECT_EQ(decoded.client_software_name, "sluice");
  EXPECT_EQ(decoded.client_software_version, "1.0");
}

TEST(KnownBytes, ApiVersionsRequestV0IsEmpty) {
  ApiVersionsRequest request;
  request.client_software_name = "ignored before v3";
  EXPECT_TRUE(encode_to_vector(request, 0).empty());
}

TEST(KnownBytes, MetadataRequestV1NullTopicsMeansAllTopics) {
  MetadataRequest request;
  request.topics = std::nullopt;
  EXPECT_EQ(encode_to_vector(request, 1), bytes_of({0xff, 0xff, 0xff, 0xff}));

  MetadataRequest decoded;
  ASSERT_TRUE(decode_exact(Bytes(bytes_of({0xff, 0xff, 0xff, 0xff})), 1, decoded).is_ok());
  EXPECT_FALSE(decoded.topics.has_value());
}

TEST(KnownBytes, MetadataRequestV4WithOneTopic) {
  MetadataRequest request;
  request.topics.emplace();
  request.topics->emplace_back();
  request.topics->back().name = "ab";
  request.allow_auto_topic_creation = false;
  std::vector<uint8_t> expected = bytes_of({0, 0, 0, 1, 0, 2, 'a', 'b', 0});
  EXPECT_EQ(encode_to_vector(request, 4), expected);
}

TEST(KnownBytes, DefaultsComeFromTheSchema) {
  MetadataRequest metadata;
  EXPECT_TRUE(metadata.allow_auto_topic_creation);
  ApiVersionsResponse api_versions;
  EXPECT_EQ(api_versions.finalized_features_epoch, -1);
  DescribeGroupsResponse::DescribedGroup group;
  EXPECT_EQ(group.authorized_operations, INT32_MIN);
  DescribeTopicPartitionsRequest describe;
  EXPECT_EQ(describe.response_partition_limit, 2000);
  EXPECT_FALSE(describe.cursor.has_value());  // "default": "null"
}

TEST(KnownBytes, TaggedFieldsMergeKnownAndUnknownInTagOrder) {
  ApiVersionsResponse response;
  response.finalized_features_epoch = 5;  // tag 1
  response.zk_migration_ready = true;     // tag 3; tags 0 and 2 keep their defaults
  response.unknown_tagged_fields.push_back({4, {}});
  response.unknown_tagged_fields.push_back({7, bytes_of({0xaa})});
  std::vector<uint8_t> expected = bytes_of({
      0, 0,          // error_code
      1,             // api_keys: empty compact array
      0, 0, 0, 0,    // throttle_time_ms
      4,             // four tagged fields, ascending
      1, 8, 0, 0, 0, 0, 0, 0, 0, 5,  // tag 1: int64 finalized_features_epoch
      3, 1, 1,       // tag 3: zk_migration_ready
      4, 0,          // unknown tag 4, empty
      7, 1, 0xaa,    // unknown tag 7
  });
  EXPECT_EQ(encode_to_vector(response, 3), expected);
  EXPECT_EQ(response.size(3), expected.size());

  ApiVersionsResponse decoded;
  ASSERT_TRUE(decode_exact(Bytes(expected), 3, decoded).is_ok());
  EXPECT_EQ(decoded.finalized_features_epoch, 5);
  ASSERT_EQ(decoded.unknown_tagged_fields.size(), 2u);
  EXPECT_EQ(decoded.unknown_tagged_fields[1].tag, 7u);
  EXPECT_EQ(decoded.unknown_tagged_fields[1].data, bytes_of({0xaa}));
  EXPECT_EQ(encode_to_vector(decoded, 3), expected);
}

TEST(KnownBytes, NullableStructHasAPresenceByte) {
  DescribeTopicPartitionsRequest request;
  request.response_partition_limit = 1;
  EXPECT_EQ(encode_to_vector(request, 0), bytes_of({1, 0, 0, 0, 1, 0xff, 0}));
  request.cursor.emplace();
  request.cursor->topic_name = "t";
  request.cursor->partition_index = 2;
  std::vector<uint8_t> expected = bytes_of({1, 0, 0, 0, 1, 1, 2, 't', 0, 0, 0, 2, 0, 0});
  EXPECT_EQ(encode_to_vector(request, 0), expected);
  DescribeTopicPartitionsRequest decoded;
  ASSERT_TRUE(decode_exact(Bytes(expected), 0, decoded).is_ok());
  EXPECT_EQ(decoded, request);
}

TEST(KnownBytes, RequestHeaderV2KeepsTheClientIdNonCompact) {
  RequestHeader header;
  header.request_api_key = 18;
  header.request_api_version = 3;
  header.correlation_id = 7;
  header.client_id = "cli";
  WireWriter writer;
  encode_request_header(writer, header);
  std::vector<uint8_t> expected = bytes_of({0, 18, 0, 3, 0, 0, 0, 7, 0, 3, 'c', 'l', 'i', 0});
  EXPECT_EQ(writer.to_vector(), expected);

  expected.push_back(0x42);  // the request body follows the header
  WireReader reader{Bytes(expected)};
  RequestHeader decoded;
  ASSERT_TRUE(decode_request_header(reader, decoded).is_ok());
  EXPECT_EQ(decoded, header);
  EXPECT_EQ(reader.remaining(), 1u);
}

TEST(KnownBytes, RequestHeaderV1AndV0) {
  RequestHeader header;
  header.request_api_key = 3;
  header.request_api_version = 8;  // Metadata v8 is not flexible: header v1
  header.correlation_id = 1;
  header.client_id = std::nullopt;
  WireWriter writer;
  encode_request_header(writer, header);
  EXPECT_EQ(writer.to_vector(), bytes_of({0, 3, 0, 8, 0, 0, 0, 1, 0xff, 0xff}));

  header.request_api_key = 7;  // ControlledShutdown v0: header v0, no client id
  header.request_api_version = 0;
  WireWriter writer_v0;
  encode_request_header(writer_v0, header);
  EXPECT_EQ(writer_v0.to_vector(), bytes_of({0, 7, 0, 0, 0, 0, 0, 1}));
}

TEST(KnownBytes, ResponseHeaders) {
  ResponseHeader header;
  header.correlation_id = 9;
  WireWriter flexible;
  encode_response_header(flexible, 3, 12, header);  // Metadata v12: header v1
  EXPECT_EQ(flexible.to_vector(), bytes_of({0, 0, 0, 9, 0}));
  WireWriter api_versions;
  encode_response_header(api_versions, 18, 3, header);  // ApiVersions: always v0
  EXPECT_EQ(api_versions.to_vector(), bytes_of({0, 0, 0, 9}));
}

TEST(KnownBytes, RecordsAreViewsNotCopies) {
  std::vector<uint8_t> records(1 << 20, 0x5a);
  ProduceRequest request;
  request.acks = -1;
  request.timeout_ms = 1000;
  request.topic_data.emplace_back();
  request.topic_data.back().name = "t";
  request.topic_data.back().partition_data.emplace_back();
  request.topic_data.back().partition_data.back().records = Records{Bytes(records), nullptr};

  WireWriter writer;
  request.encode(writer, 9);
  EXPECT_EQ(writer.size(), request.size(9));
  bool referenced = false;
  for (const WireWriter::Slice& slice : writer.slices())
    referenced |= slice.data == records.data() && slice.size == records.size();
  EXPECT_TRUE(referenced) << "1 MiB of records must be referenced, not copied";

  std::vector<uint8_t> wire = writer.to_vector();
  ProduceRequest decoded;
  ASSERT_TRUE(decode_exact(Bytes(wire), 9, decoded).is_ok());
  const auto& decoded_records = decoded.topic_data[0].partition_data[0].records;
  ASSERT_TRUE(decoded_records.has_value());
  EXPECT_EQ(decoded_records->size(), records.size());
  EXPECT_GE(decoded_records->bytes.data(), wire.data());
  EXPECT_LT(decoded_records->bytes.data(), wire.data() + wire.size());
  EXPECT_EQ(decoded, request);
}

TEST(KnownBytes, FieldsAbsentInAVersionAreNotWritten) {
  MetadataRequest request;
  request.topics = std::vector<MetadataRequest::MetadataRequestTopic>{};
  request.allow_auto_topic_creation = false;  // exists from v4
  EXPECT_EQ(encode_to_vector(request, 3), bytes_of({0, 0, 0, 0}));
  MetadataRequest decoded;
  ASSERT_TRUE(decode_exact(Bytes(bytes_of({0, 0, 0, 0})), 3, decoded).is_ok());
  EXPECT_TRUE(decoded.allow_auto_topic_creation) << "absent fields decode to the default";
}

}  // namespace
}  // namespace sluice::protocol
