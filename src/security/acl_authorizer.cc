#include "security/acl_authorizer.h"

#include <algorithm>
#include <cstring>

#include "base/assert.h"

namespace sluice::security {
namespace {

std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// An ACL's principal applies to the request's: the same principal, or
// "User:*". Kafka compares KafkaPrincipal(type, name) split at the first
// ':', which for two valid principals is the comparison of the strings.
bool principal_applies(std::string_view acl_principal, std::string_view principal) {
  return acl_principal == principal || acl_principal == kWildcardPrincipal;
}

bool host_applies(std::string_view acl_host, std::string_view host) {
  return acl_host == kWildcard || acl_host == host;
}

// Whether an ACL of `acl_operation` and `permission` speaks about
// `requested` (StandardAuthorizerData.findResult): ALL about everything;
// an ALLOW of READ, WRITE, DELETE or ALTER also about DESCRIBE, an ALLOW of
// ALTER_CONFIGS also about DESCRIBE_CONFIGS. A DENY implies nothing: DENY
// READ does not deny DESCRIBE.
bool operation_applies(AclOperation acl_operation, AclPermissionType permission,
                       AclOperation requested) {
  if (acl_operation == AclOperation::ALL || acl_operation == requested) return true;
  if (permission != AclPermissionType::ALLOW) return false;
  switch (requested) {
    case AclOperation::DESCRIBE:
      return acl_operation == AclOperation::READ || acl_operation == AclOperation::WRITE ||
             acl_operation == AclOperation::DELETE || acl_operation == AclOperation::ALTER;
    case AclOperation::DESCRIBE_CONFIGS:
      return acl_operation == AclOperation::ALTER_CONFIGS;
    default:
      return false;
  }
}

Uuid random_uuid(RandomSource& random) {
  Uuid id;
  for (size_t half = 0; half < 2; ++half) {
    uint64_t bits = random.next();
    std::memcpy(id.bytes.data() + half * 8, &bits, sizeof bits);
  }
  return id;
}

}  // namespace

Result<std::set<std::string, std::less<>>> parse_super_users(std::string_view value) {
  std::set<std::string, std::less<>> users;
  while (true) {
    const size_t end = value.find(';');
    const std::string_view part = trim(value.substr(0, end));
    if (!part.empty()) {
      if (!is_valid_principal(part)) {
        return Status(
            Errc::invalid_value,
            "expected a string in format principalType:principalName but got " + std::string(part));
      }
      users.emplace(part);
    }
    if (end == std::string_view::npos) break;
    value.remove_prefix(end + 1);
  }
  return users;
}

AclAuthorizer::AclAuthorizer(AclAuthorizerConfig config) : config_(std::move(config)) {}

bool AclAuthorizer::is_super_user(std::string_view principal) const {
  return config_.super_users.find(principal) != config_.super_users.end();
}

AclAuthorizer::TypeIndex* AclAuthorizer::index_of(ResourceType type) {
  const auto code = static_cast<size_t>(to_code(type));
  return code < by_type_.size() ? &by_type_[code] : nullptr;
}

const AclAuthorizer::TypeIndex* AclAuthorizer::index_of(ResourceType type) const {
  const auto code = static_cast<size_t>(to_code(type));
  return code < by_type_.size() ? &by_type_[code] : nullptr;
}

void AclAuthorizer::index_add(const AclBinding& binding) {
  TypeIndex* index = index_of(binding.resource_type);
  SLUICE_ASSERT(index != nullptr, "a validated ACL has a concrete resource type");
  NameIndex& names =
      binding.pattern_type == PatternType::PREFIXED ? index->prefixed : index->literal;
  names[binding.resource_name].push_back(
      {binding.principal, binding.host, binding.operation, binding.permission});
}

void AclAuthorizer::index_remove(const AclBinding& binding) {
  TypeIndex* index = index_of(binding.resource_type);
  SLUICE_ASSERT(index != nullptr, "a stored ACL has a concrete resource type");
  NameIndex& names =
      binding.pattern_type == PatternType::PREFIXED ? index->prefixed : index->literal;
  auto it = names.find(binding.resource_name);
  SLUICE_ASSERT(it != names.end(), "a stored ACL is in the index of its resource");
  const Entry entry{binding.principal, binding.host, binding.operation, binding.permission};
  auto& entries = it->second;
  auto found = std::find(entries.begin(), entries.end(), entry);
  SLUICE_ASSERT(found != entries.end(), "a stored ACL's entry is in the index of its resource");
  entries.erase(found);
  if (entries.empty()) names.erase(it);
}

AclCreateResult AclAuthorizer::create(const AclBinding& binding, RandomSource& random) {
  AclError error = validate_new_acl(binding);
  if (!error.ok()) return {std::move(error), std::nullopt};
  if (by_binding_.contains(binding)) return {};  // Kafka: success, no record
  Uuid id;
  do {
    id = random_uuid(random);
  } while (id.is_zero() || by_id_.contains(id));
  error = add(id, binding);
  SLUICE_ASSERT(error.ok(), "a new, valid binding under an unused id is added");
  return {AclError::none(), AclWithId{id, binding}};
}

AclError AclAuthorizer::add(const Uuid& id, const AclBinding& binding) {
  AclError error = validate_new_acl(binding);
  if (!error.ok()) return error;
  if (by_id_.contains(id)) return AclError::invalid_request("An ACL with this ID already exists.");
  if (by_binding_.contains(binding))
    return AclError::invalid_request("The ACL " + to_string(binding) + " already exists.");
  by_id_.emplace(id, binding);
  by_binding_.emplace(binding, id);
  index_add(binding);
  return AclError::none();
}

bool AclAuthorizer::remove(const Uuid& id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  index_remove(it->second);
  by_binding_.erase(it->second);
  by_id_.erase(it);
  return true;
}

std::vector<AclWithId> AclAuthorizer::find(const AclBindingFilter& filter) const {
  std::vector<AclWithId> found;
  for (const auto& [binding, id] : by_binding_) {
    if (filter.matches(binding)) found.push_back({id, binding});
  }
  return found;
}

std::vector<AclBinding> AclAuthorizer::describe(const AclBindingFilter& filter) const {
  std::vector<AclBinding> found;
  for (const auto& [binding, id] : by_binding_) {
    if (filter.matches(binding)) found.push_back(binding);
  }
  return found;
}

AclDeleteResult AclAuthorizer::delete_matching(const AclBindingFilter& filter) {
  AclError error = validate_acl_filter(filter);
  if (!error.ok()) return {std::move(error), {}};
  AclDeleteResult result{AclError::none(), find(filter)};
  for (const AclWithId& acl : result.deleted) remove(acl.id);
  return result;
}

void AclAuthorizer::scan_entries(const std::vector<Entry>& entries,
                                 const AuthorizationRequest& request, Scan& scan) {
  // Any ACL on the resource, whoever it names, takes the decision away from
  // allow.everyone.if.no.acl.found.
  scan.has_resource_acls = scan.has_resource_acls || !entries.empty();
  for (const Entry& entry : entries) {
    if (!principal_applies(entry.principal, request.principal)) continue;
    if (!host_applies(entry.host, request.host)) continue;
    if (!operation_applies(entry.operation, entry.permission, request.operation)) continue;
    if (entry.permission == AclPermissionType::DENY) {
      scan.deny = true;
      return;
    }
    scan.allow = true;
  }
}

AuthorizationResult AclAuthorizer::authorize(const AuthorizationRequest& request) const {
  if (is_super_user(request.principal)) return AuthorizationResult::ALLOWED;
  const TypeIndex* index = index_of(request.resource_type);
  Scan scan;
  if (index != nullptr) {
    const std::string_view name = request.resource_name;
    // Literal ACLs on the exact name, prefixed ACLs on every prefix of it
    // (the whole name included), then the literal wildcard "*".
    if (auto it = index->literal.find(name); it != index->literal.end())
      scan_entries(it->second, request, scan);
    for (size_t length = 1; length <= name.size() && !scan.deny; ++length) {
      if (auto it = index->prefixed.find(name.substr(0, length)); it != index->prefixed.end())
        scan_entries(it->second, request, scan);
    }
    if (name != kWildcard && !scan.deny) {
      if (auto it = index->literal.find(kWildcard); it != index->literal.end())
        scan_entries(it->second, request, scan);
    }
  }
  if (scan.deny) return AuthorizationResult::DENIED;  // DENY wins over any ALLOW
  if (scan.allow) return AuthorizationResult::ALLOWED;
  if (!scan.has_resource_acls && config_.allow_everyone_if_no_acl_found)
    return AuthorizationResult::ALLOWED;
  return AuthorizationResult::DENIED;
}

AuthorizationResult AclAuthorizer::authorize_by_resource_type(std::string_view principal,
                                                              std::string_view host,
                                                              AclOperation operation,
                                                              ResourceType resource_type) const {
  SLUICE_ASSERT(resource_type != ResourceType::ANY && resource_type != ResourceType::UNKNOWN,
                "authorize_by_resource_type needs a concrete resource type");
  SLUICE_ASSERT(operation != AclOperation::ANY && operation != AclOperation::UNKNOWN,
                "authorize_by_resource_type needs a concrete operation");
  // Kafka first authorizes a made-up resource name: super users pass whatever
  // the DENY ACLs, and so does a wildcard ALLOW or the no-ACL default.
  if (authorize({principal, host, operation, resource_type, "hardcode"}) ==
      AuthorizationResult::ALLOWED)
    return AuthorizationResult::ALLOWED;
  const TypeIndex* index = index_of(resource_type);
  if (index == nullptr) return AuthorizationResult::DENIED;

  // Only ACLs of this principal (or User:*), host (or *), and the operation
  // itself or ALL count here: implied operations do not (as in Kafka).
  const auto applies = [&](const Entry& entry) {
    return host_applies(entry.host, host) && principal_applies(entry.principal, principal) &&
           (entry.operation == operation || entry.operation == AclOperation::ALL);
  };
  const auto has = [&](const NameIndex& names, const std::string& name, AclPermissionType want) {
    auto it = names.find(name);
    if (it == names.end()) return false;
    return std::any_of(it->second.begin(), it->second.end(), [&](const Entry& entry) {
      return entry.permission == want && applies(entry);
    });
  };
  const auto has_wildcard = [&](AclPermissionType want) {
    return has(index->literal, std::string(kWildcard), want);
  };
  if (has_wildcard(AclPermissionType::DENY)) return AuthorizationResult::DENIED;
  if (has_wildcard(AclPermissionType::ALLOW)) return AuthorizationResult::ALLOWED;

  // An ALLOW counts unless a DENY dominates it: a literal DENY of the same
  // name (for a literal ALLOW), or a prefixed DENY of any prefix of its name.
  const auto dominated = [&](const std::string& name, bool literal) {
    if (literal && has(index->literal, name, AclPermissionType::DENY)) return true;
    for (size_t length = 1; length <= name.size(); ++length) {
      if (has(index->prefixed, name.substr(0, length), AclPermissionType::DENY)) return true;
    }
    return false;
  };
  for (const bool literal : {true, false}) {
    for (const auto& [name, entries] : literal ? index->literal : index->prefixed) {
      if (literal && name == kWildcard) continue;
      if (!has(literal ? index->literal : index->prefixed, name, AclPermissionType::ALLOW))
        continue;
      if (!dominated(name, literal)) return AuthorizationResult::ALLOWED;
    }
  }
  return AuthorizationResult::DENIED;
}

bool AclAuthorizer::may_init_idempotent_producer(std::string_view principal,
                                                 std::string_view host) const {
  const AuthorizationRequest cluster{principal, host, AclOperation::IDEMPOTENT_WRITE,
                                     ResourceType::CLUSTER, kClusterResourceName};
  return authorize(cluster) == AuthorizationResult::ALLOWED ||
         authorize_by_resource_type(principal, host, AclOperation::WRITE, ResourceType::TOPIC) ==
             AuthorizationResult::ALLOWED;
}

}  // namespace sluice::security
