#pragma once
// Kafka's identifiers as text and random: topic ids, cluster ids and
// directory ids are UUIDs printed as 22 characters of URL-safe base64
// without padding (Kafka's Uuid.toString).

#include <optional>
#include <string>
#include <string_view>

#include "base/random.h"
#include "base/uuid.h"

namespace sluice::cluster {

// A random version-4 UUID from `random` that is neither zero nor Kafka's
// reserved metadata-topic id (1), and whose text does not start with '-'
// (Kafka's rule, so the id never looks like a command-line option).
Uuid random_uuid(RandomSource& random);

std::string uuid_to_string(const Uuid& id);
// The inverse; nullopt unless `text` is 22 base64url characters.
std::optional<Uuid> uuid_from_string(std::string_view text);

}  // namespace sluice::cluster
