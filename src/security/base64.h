#pragma once
// Base64 (RFC 4648, standard alphabet, padded) as SCRAM's messages carry salts,
// proofs and signatures. Decoding is strict, like Kafka's message patterns:
// whole 4-character groups, padding only at the end, no whitespace.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"

namespace sluice::security {

std::string base64_encode(Bytes bytes);
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace sluice::security
