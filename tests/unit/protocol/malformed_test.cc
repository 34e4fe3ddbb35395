// Hostile input: every case must be an error value, never a crash, a huge
// allocation or a read past the input (the ASan twin checks the latter).

#include <gtest/gtest.h>

#include <vector>

#include "bytes_of.h"
#include "protocol/codec.h"
#include "protocol/headers.h"
#include "protocol/messages.h"

namespace sluice::protocol {
namespace {

using testing::bytes_of;

template <class M>
Errc decode_error(std::vector<uint8_t> input, int16_t version) {
  M message;
  return decode_exact(Bytes(input), version, message).code();
}

TEST(Malformed, NegativeStringLengthOtherThanNull) {
  // FindCoordinator v0: key is a non-nullable int16-length string.
  EXPECT_EQ(decode_error<FindCoordinatorRequest>(bytes_of({0xff, 0xfe}), 0), Errc::invalid_length);
}

TEST(Malformed, NullWhereTheVersionIsNotNullable) {
  EXPECT_EQ(decode_error<FindCoordinatorRequest>(bytes_of({0xff, 0xff}), 0), Errc::invalid_value);
  // Metadata topics are nullable from v1 only.
  EXPECT_EQ(decode_error<MetadataRequest>(bytes_of({0xff, 0xff, 0xff, 0xff}), 0),
            Errc::invalid_value);
  // Compact null (0) for a non-nullable compact string.
  EXPECT_EQ(decode_error<ApiVersionsRequest>(bytes_of({0, 0, 0}), 3), Errc::invalid_value);
}

TEST(Malformed, StringLongerThanTheInput) {
  EXPECT_EQ(decode_error<FindCoordinatorRequest>(bytes_of({0x7f, 0xff, 'a'}), 0),
            Errc::invalid_length);
}

TEST(Malformed, HugeArrayCountIsRejectedBeforeAllocating) {
  // Metadata v1: int32 topic count 0x7fffffff with 3 bytes left.
  EXPECT_EQ(decode_error<MetadataRequest>(bytes_of({0x7f, 0xff, 0xff, 0xff, 0, 1, 'a'}), 1),
            Errc::invalid_length);
  EXPECT_EQ(decode_error<MetadataRequest>(bytes_of({0x80, 0, 0, 0}), 1), Errc::invalid_length);
  // Compact count 2^32-2 in a flexible version.
  EXPECT_EQ(decode_error<MetadataRequest>(bytes_of({0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0}), 9),
            Errc::invalid_length);
}

TEST(Malformed, VarintOverflow) {
  EXPECT_EQ(decode_error<ApiVersionsRequest>(bytes_of({0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), 3),
            Errc::varint_overflow);
  EXPECT_EQ(decode_error<ApiVersionsRequest>(bytes_of({0xff, 0xff, 0xff, 0xff, 0x7f}), 3),
            Errc::varint_overflow);
}

TEST(Malformed, VersionOutsideValidVersions) {
  EXPECT_EQ(decode_error<ApiVersionsRequest>({}, 99), Errc::unsupported_version);
  EXPECT_EQ(decode_error<ApiVersionsRequest>({}, -1), Errc::unsupported_version);
}

TEST(Malformed, TruncatedFixedWidthField) {
  EXPECT_EQ(decode_error<FindCoordinatorRequest>(bytes_of({0, 1, 'k'}), 1), Errc::truncated);
}

TEST(Malformed, TrailingBytesAfterTheMessage) {
  EXPECT_EQ(decode_error<ApiVersionsRequest>(bytes_of({1}), 0), Errc::invalid_length);
}

TEST(Malformed, TaggedFieldsOutOfOrderOrDuplicated) {
  // ApiVersionsRequest v3: two empty strings, then tagged fields 5 and 5.
  EXPECT_EQ(decode_error<ApiVersionsRequest>(bytes_of({1, 1, 2, 5, 0, 5, 0}), 3),
            Errc::invalid_value);
  EXPECT_EQ(decode_error<ApiVersionsRequest>(bytes_of({1, 1, 2, 6, 0, 5, 0}), 3),
            Errc::invalid_value);
}

TEST(Malformed, TaggedFieldSizeBeyondTheInput) {
  EXPECT_EQ(decode_error<ApiVersionsRequest>(bytes_of({1, 1, 1, 5, 9, 0}), 3),
            Errc::invalid_length);
  // A count of tagged fields that cannot fit.
  EXPECT_EQ(decode_error<ApiVersionsRequest>(bytes_of({1, 1, 0x7f}), 3), Errc::invalid_length);
}

TEST(Malformed, KnownTaggedFieldMustFillItsSize) {
  // ApiVersionsResponse v3 tag 1 (int64) declared with 9 bytes.
  EXPECT_EQ(decode_error<ApiVersionsResponse>(
                bytes_of({0, 0, 1, 0, 0, 0, 0, 1, 1, 9, 0, 0, 0, 0, 0, 0, 0, 5, 0}), 3),
            Errc::invalid_length);
  // ... or with 7 bytes: the int64 read runs out of its sub-range.
  EXPECT_EQ(decode_error<ApiVersionsResponse>(
                bytes_of({0, 0, 1, 0, 0, 0, 0, 1, 1, 7, 0, 0, 0, 0, 0, 0, 0}), 3),
            Errc::truncated);
}

TEST(Malformed, RequestHeaderTooShortOrUnknownKey) {
  RequestHeader header;
  std::vector<uint8_t> too_short = bytes_of({0, 1, 0});
  WireReader short_reader{Bytes(too_short)};
  EXPECT_EQ(decode_request_header(short_reader, header).code(), Errc::truncated);

  // Unknown key: decoded as header v1 so the correlation id can be logged.
  std::vector<uint8_t> frame = bytes_of({0x7f, 0x00, 0, 0, 0, 0, 0, 42, 0xff, 0xff});
  WireReader reader{Bytes(frame)};
  EXPECT_EQ(decode_request_header(reader, header).code(), Errc::unknown_api_key);
  EXPECT_EQ(header.correlation_id, 42);
}

TEST(Malformed, UnsupportedVersionStillYieldsTheHeader) {
  // ApiVersions v99 from a newer client: flexible header v2, parsed fine.
  std::vector<uint8_t> frame = bytes_of({0, 18, 0, 99, 0, 0, 0, 5, 0, 1, 'c', 0});
  WireReader reader{Bytes(frame)};
  RequestHeader header;
  ASSERT_TRUE(decode_request_header(reader, header).is_ok());
  EXPECT_EQ(header.request_api_version, 99);
  EXPECT_EQ(header.correlation_id, 5);
  EXPECT_EQ(header.client_id, "c");
}

}  // namespace
}  // namespace sluice::protocol
