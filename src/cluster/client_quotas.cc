#include "cluster/client_quotas.h"

#include <cstdint>
#include <limits>
#include <map>
#include <set>

namespace sluice::cluster {

std::vector<QuotaKey> quota_keys_for(bool user, bool client_id, bool ip) {
  if (ip) {
    if (user || client_id) return {};
    return {{quota_connection_creation_rate, static_cast<double>(INT32_MAX), true}};
  }
  if (!user && !client_id) return {};
  const double long_max = static_cast<double>(std::numeric_limits<int64_t>::max());
  const double double_max = std::numeric_limits<double>::max();
  return {{quota_producer_byte_rate, long_max, true},
          {quota_consumer_byte_rate, long_max, true},
          {quota_request_percentage, double_max, false},
          {quota_controller_mutation_rate, double_max, false}};
}

namespace {

constexpr int8_t match_exact = 0;
constexpr int8_t match_default = 1;
constexpr int8_t match_specified = 2;

QuotaDescription filter_error(ErrorCode error, std::string message) {
  QuotaDescription out;
  out.error = error;
  out.message = std::move(message);
  return out;
}

bool matches(const ClientQuotaEntity& entity, const ClientQuotaEntity& exact,
             const std::set<std::string>& specified, bool strict) {
  if (strict && entity.size() != exact.size() + specified.size()) return false;
  for (const auto& [type, name] : exact) {
    auto found = entity.find(type);
    if (found == entity.end() || found->second != name) return false;
  }
  for (const std::string& type : specified)
    if (!entity.count(type)) return false;
  return true;
}

}  // namespace

QuotaDescription describe_client_quotas(const ClientQuotas& quotas,
                                        const std::vector<QuotaFilterComponent>& components,
                                        bool strict) {
  ClientQuotaEntity exact;
  std::set<std::string> specified;
  for (const QuotaFilterComponent& component : components) {
    const std::string& type = component.entity_type;
    if (type.empty()) return filter_error(ErrorCode::INVALID_REQUEST, "Invalid empty entity type.");
    if (exact.count(type) || specified.count(type))
      return filter_error(ErrorCode::INVALID_REQUEST,
                          "Entity type " + type + " cannot appear more than once in the filter.");
    if (type != quota_entity_user && type != quota_entity_client_id && type != quota_entity_ip)
      return filter_error(ErrorCode::UNSUPPORTED_VERSION, "Unsupported entity type " + type);
    switch (component.match_type) {
      case match_exact:
        if (!component.match)
          return filter_error(ErrorCode::INVALID_REQUEST,
                              "Request specified MATCH_TYPE_EXACT, but set match string to null.");
        exact[type] = component.match;
        break;
      case match_default:
        if (component.match)
          return filter_error(
              ErrorCode::INVALID_REQUEST,
              "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.");
        exact[type] = std::nullopt;
        break;
      case match_specified:
        if (component.match)
          return filter_error(
              ErrorCode::INVALID_REQUEST,
              "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.");
        specified.insert(type);
        break;
      default:
        return filter_error(ErrorCode::INVALID_REQUEST,
                            "Unknown match type " + std::to_string(component.match_type));
    }
  }
  auto names = [&](const char* type) { return exact.count(type) || specified.count(type); };
  if (names(quota_entity_ip) && (names(quota_entity_user) || names(quota_entity_client_id)))
    return filter_error(ErrorCode::INVALID_REQUEST,
                        "Invalid entity filter component combination. IP filter component "
                        "should not be used with user or clientId filter component.");
  QuotaDescription out;
  for (const auto& [entity, values] : quotas)
    if (matches(entity, exact, specified, strict)) out.entries.emplace_back(entity, values);
  return out;
}

}  // namespace sluice::cluster
