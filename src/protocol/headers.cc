#include "protocol/headers.h"

#include <string>

namespace sluice::protocol {

Status decode_request_header(WireReader& reader, RequestHeader& header) {
  WireReader peek = reader;  // a copy: api_key and api_version are read again by decode
  int16_t api_key = peek.read_int16();
  int16_t api_version = peek.read_int16();
  if (!peek.ok()) {
    reader.fail(Errc::truncated, "request shorter than its api key and version");
    return reader.status();
  }
  int16_t header_version = request_header_version(api_key, api_version);
  if (header_version < 0) {
    Status status = header.decode(reader, 1);
    if (!status) return status;
    return Status(Errc::unknown_api_key, "unknown api key " + std::to_string(api_key));
  }
  return header.decode(reader, header_version);
}

void encode_request_header(WireWriter& writer, const RequestHeader& header) {
  int16_t header_version = request_header_version(header.request_api_key, header.request_api_version);
  SLUICE_ASSERT(header_version >= 0, "encoding a request header for an unknown api key");
  header.encode(writer, header_version);
}

Status decode_response_header(WireReader& reader, int16_t api_key, int16_t api_version,
                              ResponseHeader& header) {
  int16_t header_version = response_header_version(api_key, api_version);
  if (header_version < 0)
    return Status(Errc::unknown_api_key, "unknown api key " + std::to_string(api_key));
  return header.decode(reader, header_version);
}

void encode_response_header(WireWriter& writer, int16_t api_key, int16_t api_version,
                            const ResponseHeader& header) {
  int16_t header_version = response_header_version(api_key, api_version);
  SLUICE_ASSERT(header_version >= 0, "encoding a response header for an unknown api key");
  header.encode(writer, header_version);
}

}  // namespace sluice::protocol
