// SCRAM credentials (KIP-554), as Kafka's ScramControlManager keeps them:
// AlterUserScramCredentials upserts and deletes UserScramCredentialRecords,
// one result per user, committed together. The request carries the salted
// password (the client ran PBKDF2); the controller keeps only the stored
// and server keys derived from it.
#include <spdlog/spdlog.h>

#include <map>

#include "cluster/controller.h"
#include "protocol/record_framing.h"
#include "security/scram.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

ApiError scram_error(ErrorCode code, std::string message) { return {code, std::move(message)}; }

ApiError check_name_and_mechanism(const std::string& user, int8_t mechanism) {
  if (user.empty())
    return scram_error(ErrorCode::UNACCEPTABLE_CREDENTIAL, "Username must not be empty");
  if (!security::scram_mechanism_from_id(mechanism))
    return scram_error(ErrorCode::UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism");
  return ApiError::none();
}

ApiError check_upsertion(const ScramUpsertion& upsertion) {
  if (ApiError error = check_name_and_mechanism(upsertion.name, upsertion.mechanism); !error.ok())
    return error;
  if (upsertion.iterations < security::scram_iterations_min)
    return scram_error(ErrorCode::UNACCEPTABLE_CREDENTIAL, "Too few iterations");
  if (upsertion.iterations > security::scram_iterations_max)
    return scram_error(ErrorCode::UNACCEPTABLE_CREDENTIAL, "Too many iterations");
  return ApiError::none();
}

bool has_credential(const MetadataImage& image, const std::string& user, int8_t mechanism) {
  auto found = image.scram_credentials.find(user);
  return found != image.scram_credentials.end() && found->second.count(mechanism) != 0;
}

md::UserScramCredentialRecord credential_record(const ScramUpsertion& upsertion) {
  const security::ScramMechanism mechanism =
      *security::scram_mechanism_from_id(upsertion.mechanism);
  security::ScramCredential credential = security::scram_credential_from_salted_password(
      mechanism, upsertion.salted_password, upsertion.salt, upsertion.iterations);
  md::UserScramCredentialRecord record;
  record.name = upsertion.name;
  record.mechanism = upsertion.mechanism;
  record.salt = std::move(credential.salt);
  record.stored_key = std::move(credential.stored_key);
  record.server_key = std::move(credential.server_key);
  record.iterations = credential.iterations;
  return record;
}

}  // namespace

std::vector<UserScramResult> Controller::alter_user_scram_credentials(
    const std::vector<ScramDeletion>& deletions, const std::vector<ScramUpsertion>& upsertions) {
  std::lock_guard lock(mutex_);
  MetadataImagePtr current = image();
  const ApiError duplicate =
      scram_error(ErrorCode::DUPLICATE_RESOURCE,
                  "A user credential cannot be altered twice in the same request");
  // Kafka's order: a user named twice (across both lists) fails alone.
  std::map<std::string, ApiError> failed;
  std::map<std::string, const ScramDeletion*> to_delete;
  std::map<std::string, const ScramUpsertion*> to_upsert;
  for (const ScramDeletion& deletion : deletions) {
    if (failed.count(deletion.name)) continue;
    if (to_delete.erase(deletion.name)) {
      failed[deletion.name] = duplicate;
      continue;
    }
    ApiError error = check_name_and_mechanism(deletion.name, deletion.mechanism);
    if (error.ok() && !has_credential(*current, deletion.name, deletion.mechanism))
      error = scram_error(ErrorCode::RESOURCE_NOT_FOUND,
                          "Attempt to delete a user credential that does not exist");
    if (error.ok())
      to_delete[deletion.name] = &deletion;
    else
      failed[deletion.name] = error;
  }
  for (const ScramUpsertion& upsertion : upsertions) {
    if (failed.count(upsertion.name)) continue;
    if (to_delete.erase(upsertion.name) + to_upsert.erase(upsertion.name) != 0) {
      failed[upsertion.name] = duplicate;
      continue;
    }
    if (ApiError error = check_upsertion(upsertion); !error.ok())
      failed[upsertion.name] = error;
    else
      to_upsert[upsertion.name] = &upsertion;
  }
  MetadataDelta scratch(current);
  std::vector<std::vector<uint8_t>> records;
  std::vector<UserScramResult> results;
  for (const auto& [user, deletion] : to_delete) {
    md::RemoveUserScramCredentialRecord record;
    record.name = user;
    record.mechanism = deletion->mechanism;
    add_checked_record(scratch, md::encode_framed(record, 0), records);
    results.push_back({user, ApiError::none()});
  }
  for (const auto& [user, upsertion] : to_upsert) {
    add_checked_record(scratch, md::encode_framed(credential_record(*upsertion), 0), records);
    results.push_back({user, ApiError::none()});
  }
  if (!records.empty()) {
    ApiError committed = commit_or_error(std::move(records));
    for (UserScramResult& result : results) result.error = committed;
    if (committed.ok())
      spdlog::info("metadata: SCRAM credentials changed for {} user(s), {} removed",
                   to_upsert.size(), to_delete.size());
  }
  for (const auto& [user, error] : failed) results.push_back({user, error});
  return results;
}

}  // namespace sluice::cluster
