#include "protocol/record_framing.h"

namespace sluice::protocol {
namespace metadata {

Status read_frame(WireReader& reader, RecordFrame& frame) {
  uint32_t frame_version = reader.read_uvarint();
  uint32_t type = reader.read_uvarint();
  uint32_t version = reader.read_uvarint();
  if (!reader.ok()) return reader.status();
  if (frame_version > record_frame_version)
    return Status(Errc::unsupported_version,
                  "metadata record frame version " + std::to_string(frame_version));
  if (type > 0x7fff || version > 0x7fff)
    return Status(Errc::invalid_value, "metadata record type or version out of range");
  frame.type = static_cast<int16_t>(type);
  frame.version = static_cast<int16_t>(version);
  return Status::ok();
}

}  // namespace metadata

namespace coordinator {

Status read_version(WireReader& reader, int16_t& version) {
  version = reader.read_int16();
  if (!reader.ok()) return reader.status();
  if (version < 0) return Status(Errc::invalid_value, "negative coordinator record version");
  return Status::ok();
}

}  // namespace coordinator
}  // namespace sluice::protocol
