// ACLs, as Kafka's AclControlManager keeps them: CreateAcls adds one
// AccessControlEntryRecord per new binding (an ACL that exists already is a
// success that writes nothing), DeleteAcls removes every ACL a filter
// matches (an ACL matched by two filters is removed once, and reported under
// the first). Each request is committed in one batch.
#include <spdlog/spdlog.h>

#include <set>

#include "cluster/controller.h"
#include "cluster/ids.h"
#include "cluster/image_records.h"
#include "protocol/record_framing.h"

namespace sluice::cluster {
namespace {

namespace md = protocol::metadata;

bool has_binding(const AclBindings& acls, const security::AclBinding& binding) {
  for (const auto& [id, existing] : acls)
    if (existing == binding) return true;
  return false;
}

}  // namespace

std::vector<ApiError> Controller::create_acls(const std::vector<security::AclBinding>& bindings) {
  std::lock_guard lock(mutex_);
  MetadataDelta scratch(image());
  std::vector<std::vector<uint8_t>> records;
  std::vector<ApiError> results;
  for (const security::AclBinding& binding : bindings) {
    if (security::AclError error = security::validate_new_acl(binding); !error.ok()) {
      results.push_back({static_cast<ErrorCode>(error.error_code), error.message});
      continue;
    }
    results.push_back(ApiError::none());
    if (has_binding(scratch.acls(), binding)) continue;
    add_checked_record(
        scratch, md::encode_framed(acl_record(random_uuid(*options_.random), binding), 0), records);
  }
  if (records.empty()) return results;
  const size_t created = records.size();
  ApiError committed = commit_or_error(std::move(records));
  for (ApiError& result : results)  // a failed commit fails every binding it carried
    if (result.ok()) result = committed;
  if (committed.ok()) spdlog::info("metadata: {} ACL(s) created", created);
  return results;
}

std::vector<AclDeletion> Controller::delete_acls(
    const std::vector<security::AclBindingFilter>& filters) {
  std::lock_guard lock(mutex_);
  MetadataImagePtr current = image();
  MetadataDelta scratch(current);
  std::vector<std::vector<uint8_t>> records;
  std::vector<AclDeletion> results;
  std::set<Uuid> removed;
  for (const security::AclBindingFilter& filter : filters) {
    AclDeletion& result = results.emplace_back();
    if (security::AclError error = security::validate_acl_filter(filter); !error.ok()) {
      result.error = {static_cast<ErrorCode>(error.error_code), error.message};
      continue;
    }
    for (const auto& [id, binding] : current->acls) {
      if (!filter.matches(binding) || !removed.insert(id).second) continue;
      result.deleted.push_back(binding);
      add_checked_record(scratch, md::encode_framed(md::RemoveAccessControlEntryRecord{id, {}}, 0),
                         records);
    }
  }
  if (records.empty()) return results;
  const size_t count = records.size();
  ApiError committed = commit_or_error(std::move(records));
  if (!committed.ok()) {
    for (AclDeletion& result : results)
      if (result.error.ok()) {
        result.error = committed;
        result.deleted.clear();
      }
    return results;
  }
  spdlog::info("metadata: {} ACL(s) deleted", count);
  return results;
}

}  // namespace sluice::cluster
