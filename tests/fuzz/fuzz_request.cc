// Fuzz target: the input is one request frame body (what follows the 4-byte
// size on the wire), as the broker will see it from an untrusted client.
//
// Beyond "no crash, no out-of-bounds read" (ASan+UBSan), it checks a property
// whenever the input decodes: the decoded value encodes to exactly size()
// bytes, those bytes decode again (exactly, nothing left over), and the second
// value is equal to the first and encodes to the same bytes. The input itself
// need not come back byte for byte: a decoder accepts non-minimal varints and
// any non-zero bool, which encode in their canonical form.

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "base/assert.h"
#include "protocol/protocol.h"

namespace {

using namespace sluice;
using namespace sluice::protocol;

// The header decodes again from its own encoding to the same value.
void check_header_round_trip(const RequestHeader& header) {
  WireWriter writer;
  encode_request_header(writer, header);
  std::vector<uint8_t> bytes = writer.to_vector();
  WireReader reader(bytes);
  RequestHeader again;
  Status status = decode_request_header(reader, again);
  SLUICE_ASSERT(status.is_ok(), "a re-encoded request header must decode");
  SLUICE_ASSERT(reader.at_end(), "a re-encoded request header must be read whole");
  SLUICE_ASSERT(again == header, "a request header must survive encode/decode");
}

template <class Request>
std::vector<uint8_t> encode_checked(const Request& request, int16_t version) {
  WireWriter writer;
  request.encode(writer, version);
  SLUICE_ASSERT(writer.size() == request.size(version), "size() must match the bytes encode writes");
  return writer.to_vector();
}

template <class Request>
void check_body_round_trip(WireReader& reader, int16_t version) {
  Request first;
  if (!first.decode(reader, version)) return;  // malformed input: an error value is the answer

  std::vector<uint8_t> bytes = encode_checked(first, version);
  Request second;
  Status status = decode_exact(Bytes(bytes), version, second);
  SLUICE_ASSERT(status.is_ok(), "a re-encoded request must decode exactly");
  SLUICE_ASSERT(encode_checked(second, version) == bytes, "encoding must be stable after one round");
  // AlterClientQuotas carries float64 values: a NaN is never equal to itself,
  // so for it the byte comparison above is the whole check.
  if constexpr (!std::is_same_v<Request, AlterClientQuotasRequest>) {
    SLUICE_ASSERT(second == first, "a request must survive encode/decode");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  WireReader reader(Bytes(data, size));
  RequestHeader header;
  if (!decode_request_header(reader, header)) return 0;
  check_header_round_trip(header);
  const int16_t version = header.request_api_version;
  visit_request_type(header.request_api_key, [&]<class Request>(std::type_identity<Request>) {
    check_body_round_trip<Request>(reader, version);
  });
  return 0;
}
