#pragma once
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

namespace sluice::protocol::testing {

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
  fill(message, version);

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

}  // namespace sluice::protocol::testing
