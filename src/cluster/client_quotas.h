#pragma once
// Client quotas as Kafka's metadata keeps them (ClientQuotaRecord): the
// entity types and quota keys Kafka accepts, and the filter of
// DescribeClientQuotas over the image (Kafka's ClientQuotasImage.describe).
// The controller checks alterations with these (controller_quotas.cc); the
// broker enforces the values (broker/quotas.h).

#include <optional>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "cluster/metadata_image.h"

namespace sluice::cluster {

inline constexpr const char* quota_entity_user = "user";
inline constexpr const char* quota_entity_client_id = "client-id";
inline constexpr const char* quota_entity_ip = "ip";

inline constexpr const char* quota_producer_byte_rate = "producer_byte_rate";
inline constexpr const char* quota_consumer_byte_rate = "consumer_byte_rate";
inline constexpr const char* quota_request_percentage = "request_percentage";
inline constexpr const char* quota_controller_mutation_rate = "controller_mutation_rate";
inline constexpr const char* quota_connection_creation_rate = "connection_creation_rate";

// A quota key and the type Kafka's QuotaConfig gives it: an integral type
// refuses fractions and values past its maximum.
struct QuotaKey {
  const char* name;
  double max;  // the type's maximum (a double for DOUBLE keys)
  bool integral;
};

// The keys an entity of these types may set: user and/or client-id get the
// four client quotas, ip alone connection_creation_rate. Empty for a
// combination Kafka refuses.
std::vector<QuotaKey> quota_keys_for(bool user, bool client_id, bool ip);

// One component of a DescribeClientQuotas filter (match_type 0: exactly
// `match`, 1: the default entity, 2: any entity of the type).
struct QuotaFilterComponent {
  std::string entity_type;
  int8_t match_type = 0;
  std::optional<std::string> match;
};

struct QuotaDescription {
  ErrorCode error = ErrorCode::NONE;
  std::string message;
  std::vector<std::pair<ClientQuotaEntity, std::map<std::string, double>>> entries;
};

// Kafka's filter: each component restricts its entity type; `strict`
// also requires the entity to have no other type. A malformed filter is
// INVALID_REQUEST (an unknown entity type UNSUPPORTED_VERSION), with
// Kafka's messages.
QuotaDescription describe_client_quotas(const ClientQuotas& quotas,
                                        const std::vector<QuotaFilterComponent>& components,
                                        bool strict);

}  // namespace sluice::cluster
