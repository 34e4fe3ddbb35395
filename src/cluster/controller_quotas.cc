// Client quotas (AlterClientQuotas), as Kafka's ClientQuotaControlManager
// keeps them: each alteration is checked alone and answered alone; the
// valid ones are committed together as ClientQuotaRecords, one per key
// that changes (setting a value it already has writes nothing).
#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <set>

#include "cluster/client_quotas.h"
#include "cluster/controller.h"
#include "cluster/image_records.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

ApiError invalid(std::string message) { return {ErrorCode::INVALID_REQUEST, std::move(message)}; }

std::string entity_text(const ClientQuotaAlteration& alteration) {
  std::string out = "ClientQuotaEntity(entries={";
  for (size_t i = 0; i < alteration.entity.size(); ++i) {
    if (i > 0) out += ", ";
    const auto& [type, name] = alteration.entity[i];
    out += type + "=" + name.value_or("null");
  }
  return out + "})";
}

// An ip entity names an address (Kafka also resolves host names; the
// controller does not wait on DNS).
bool valid_ip(const std::optional<std::string>& ip) {
  if (!ip) return true;
  in6_addr address{};
  return inet_pton(AF_INET, ip->c_str(), &address) == 1 ||
         inet_pton(AF_INET6, ip->c_str(), &address) == 1;
}

// Kafka's validateEntity and configKeysForEntityType.
ApiError check_entity(const ClientQuotaAlteration& alteration, ClientQuotaEntity& entity,
                      std::vector<QuotaKey>& keys) {
  if (alteration.entity.empty()) return invalid("Invalid empty client quota entity");
  for (const auto& [type, name] : alteration.entity) {
    if (entity.count(type))
      return invalid("Invalid client quota entity, duplicate entity entry " + type);
    if (type != quota_entity_user && type != quota_entity_client_id && type != quota_entity_ip)
      return invalid("Unhandled client quota entity type: " + type);
    if (name && name->empty()) return invalid("Empty " + type + " not supported");
    entity[type] = name;
  }
  const bool ip = entity.count(quota_entity_ip) != 0;
  if (ip && entity.size() > 1)
    return invalid(
        "Invalid quota entity combination, IP entity should not be combined with User or "
        "ClientId");
  if (ip && !valid_ip(entity[quota_entity_ip]))
    return invalid(*entity[quota_entity_ip] + " is not a valid IP or resolvable host.");
  keys = quota_keys_for(entity.count(quota_entity_user) != 0,
                        entity.count(quota_entity_client_id) != 0, ip);
  return ApiError::none();
}

// Kafka's validateQuotaKeyValue.
ApiError check_value(const std::vector<QuotaKey>& keys, const std::string& key, double value) {
  const QuotaKey* found = nullptr;
  for (const QuotaKey& candidate : keys)
    if (key == candidate.name) found = &candidate;
  if (found == nullptr) return invalid("Invalid configuration key " + key);
  if (!(value > 0.0)) return invalid("Quota " + key + " must be greater than 0");
  if (!found->integral) return ApiError::none();
  if (value > found->max) return invalid("Proposed value for " + key + " is too large.");
  if (std::fabs(std::fmod(value, 1.0)) > 1e-6)
    return invalid(key + " cannot be a fractional value.");
  return ApiError::none();
}

// The records of one alteration, or why it is refused.
ApiError alteration_records(const ClientQuotaAlteration& alteration, const ClientQuotas& current,
                            std::vector<md::ClientQuotaRecord>& out) {
  ClientQuotaEntity entity;
  std::vector<QuotaKey> keys;
  if (ApiError error = check_entity(alteration, entity, keys); !error.ok()) return error;
  std::set<std::string> seen;
  for (const auto& [key, value] : alteration.ops)
    if (!seen.insert(key).second)
      return invalid("Duplicate quota key " + key + " not updating quota for this entity " +
                     entity_text(alteration));
  auto found = current.find(entity);
  const std::map<std::string, double> none;
  const std::map<std::string, double>& values = found == current.end() ? none : found->second;
  std::vector<md::ClientQuotaRecord> records;
  for (const auto& [key, value] : alteration.ops) {
    auto existing = values.find(key);
    if (!value) {
      if (existing != values.end()) records.push_back(client_quota_record(entity, key, 0, true));
      continue;
    }
    if (ApiError error = check_value(keys, key, *value); !error.ok()) return error;
    if (existing == values.end() || existing->second != *value)
      records.push_back(client_quota_record(entity, key, *value));
  }
  for (auto& record : records) out.push_back(std::move(record));
  return ApiError::none();
}

}  // namespace

std::vector<ApiError> Controller::alter_client_quotas(
    const std::vector<ClientQuotaAlteration>& alterations, bool validate_only) {
  std::lock_guard lock(mutex_);
  MetadataImagePtr current = image();
  MetadataDelta scratch(current);
  std::vector<std::vector<uint8_t>> records;
  std::vector<ApiError> results;
  std::vector<size_t> committing;  // results that become the commit's outcome
  std::set<ClientQuotaEntity> altered;
  for (const ClientQuotaAlteration& alteration : alterations) {
    ClientQuotaEntity entity;
    for (const auto& [type, name] : alteration.entity) entity.emplace(type, name);
    if (!altered.insert(entity).second) {
      results.push_back(invalid("Ignoring duplicate entity " + entity_text(alteration)));
      continue;
    }
    std::vector<md::ClientQuotaRecord> changes;
    ApiError error = alteration_records(alteration, scratch.client_quotas(), changes);
    if (error.ok() && !validate_only) {
      for (const auto& change : changes)
        add_checked_record(scratch, md::encode_framed(change, 0), records);
      committing.push_back(results.size());
    }
    results.push_back(error);
  }
  if (records.empty()) return results;
  const size_t count = records.size();
  ApiError committed = commit_or_error(std::move(records));
  for (size_t index : committing) results[index] = committed;
  if (committed.ok()) spdlog::info("metadata: {} client quota value(s) changed", count);
  return results;
}

}  // namespace sluice::cluster
