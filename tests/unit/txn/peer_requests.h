#pragma once
// What the txn tests' fake peers (net::MemoryTransport) receive and answer.

#include <cstdint>
#include <vector>

#include "net/memory_transport.h"
#include "protocol/headers.h"

namespace sluice::txn::testing {

// One request a fake peer received, decoded.
template <class Request>
struct ReceivedRequest {
  net::MemoryTransport::Peer peer;
  int32_t correlation_id = 0;
  int16_t version = 0;
  Request request;
};

// A response frame for the request with `correlation_id`.
template <class Message>
std::vector<uint8_t> response_frame(int32_t correlation_id, int16_t version,
                                    const Message& message) {
  WireWriter writer;
  protocol::ResponseHeader header;
  header.correlation_id = correlation_id;
  protocol::encode_response_header(writer, Message::api_key, version, header);
  message.encode(writer, version);
  return writer.to_vector();
}

}  // namespace sluice::txn::testing
