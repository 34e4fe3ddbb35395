#pragma once
// Request and response headers, with the header version chosen from the API
// key and version as Kafka does (see request_header_version in api.h).
//
// A request frame's body (after the 4-byte size) starts with int16 api_key and
// int16 api_version in every header version, so decode_request_header peeks
// them, picks the header version and decodes the header; the reader is left
// at the first byte of the request body.

#include <cstdint>

#include "base/bytes.h"
#include "base/result.h"
#include "protocol/api.h"
#include "protocol/messages/request_header.h"
#include "protocol/messages/response_header.h"

namespace sluice::protocol {

// Errc::unknown_api_key for a key no schema defines: the header is then still
// decoded as v1 (api key, version, correlation id, client id) so the caller
// can log it before closing the connection. A version outside the API's range
// is NOT an error here: the broker must answer it (UNSUPPORTED_VERSION), so
// it needs the correlation id.
Status decode_request_header(WireReader& reader, RequestHeader& header);

// Writes `header` in the header version its api key and version call for.
void encode_request_header(WireWriter& writer, const RequestHeader& header);

// Response headers do not carry the API: the caller passes the request's.
Status decode_response_header(WireReader& reader, int16_t api_key, int16_t api_version,
                              ResponseHeader& header);
void encode_response_header(WireWriter& writer, int16_t api_key, int16_t api_version,
                            const ResponseHeader& header);

}  // namespace sluice::protocol
