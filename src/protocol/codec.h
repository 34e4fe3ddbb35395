#pragma once
// Whole-message helpers over the generated encode/size/decode members.

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "protocol/wire.h"

namespace sluice::protocol {

// The message's bytes in one buffer (records copied in too: for tests and
// small messages; the network path writes slices of a WireWriter instead).
template <wire::Struct M>
std::vector<uint8_t> encode_to_vector(const M& message, int16_t version) {
  WireWriter writer;
  writer.reserve(message.size(version));
  message.encode(writer, version);
  return writer.to_vector();
}

// Decodes a message that must fill `input` exactly: trailing bytes are
// Errc::invalid_length. Records fields point into `input`.
template <wire::Struct M>
Status decode_exact(Bytes input, int16_t version, M& message) {
  WireReader reader(input);
  Status status = message.decode(reader, version);
  if (!status) return status;
  if (!reader.at_end())
    return Status(Errc::invalid_length, std::string(M::message_name) + ": " +
                                            std::to_string(reader.remaining()) +
                                            " bytes left after the message");
  return Status::ok();
}

}  // namespace sluice::protocol
