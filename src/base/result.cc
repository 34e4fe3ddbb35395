#include "base/result.h"

namespace sluice {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::ok:
      return "ok";
    case Errc::truncated:
      return "truncated";
    case Errc::invalid_length:
      return "invalid_length";
    case Errc::varint_overflow:
      return "varint_overflow";
    case Errc::unknown_api_key:
      return "unknown_api_key";
    case Errc::unsupported_version:
      return "unsupported_version";
    case Errc::invalid_value:
      return "invalid_value";
    case Errc::corrupt_crc:
      return "corrupt_crc";
    case Errc::unsupported_compression:
      return "unsupported_compression";
    case Errc::compression_error:
      return "compression_error";
    case Errc::io_error:
      return "io_error";
    case Errc::no_space:
      return "no_space";
    case Errc::offset_out_of_range:
      return "offset_out_of_range";
    case Errc::record_too_large:
      return "record_too_large";
    case Errc::too_many_open_files:
      return "too_many_open_files";
    case Errc::would_block:
      return "would_block";
    case Errc::not_leader:
      return "not_leader";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (is_ok()) return "ok";
  return std::string(errc_name(code_)) + ": " + message_;
}

}  // namespace sluice
