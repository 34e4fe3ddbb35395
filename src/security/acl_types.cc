#include "security/acl_types.h"

#include <array>
#include <cctype>
#include <tuple>

#include "base/error_code.h"

namespace sluice::security {
namespace {

// One enum's names, indexed by wire code (codes are dense from 0).
struct EnumName {
  std::string_view upper;   // Kafka's enum name
  std::string_view pascal;  // SecurityUtils' Pascal-case name
};

constexpr std::array<EnumName, 8> kResourceTypeNames{{
    {"UNKNOWN", "Unknown"},
    {"ANY", "Any"},
    {"TOPIC", "Topic"},
    {"GROUP", "Group"},
    {"CLUSTER", "Cluster"},
    {"TRANSACTIONAL_ID", "TransactionalId"},
    {"DELEGATION_TOKEN", "DelegationToken"},
    {"USER", "User"},
}};

constexpr std::array<EnumName, 5> kPatternTypeNames{{
    {"UNKNOWN", "Unknown"},
    {"ANY", "Any"},
    {"MATCH", "Match"},
    {"LITERAL", "Literal"},
    {"PREFIXED", "Prefixed"},
}};

constexpr std::array<EnumName, 15> kOperationNames{{
    {"UNKNOWN", "Unknown"},
    {"ANY", "Any"},
    {"ALL", "All"},
    {"READ", "Read"},
    {"WRITE", "Write"},
    {"CREATE", "Create"},
    {"DELETE", "Delete"},
    {"ALTER", "Alter"},
    {"DESCRIBE", "Describe"},
    {"CLUSTER_ACTION", "ClusterAction"},
    {"DESCRIBE_CONFIGS", "DescribeConfigs"},
    {"ALTER_CONFIGS", "AlterConfigs"},
    {"IDEMPOTENT_WRITE", "IdempotentWrite"},
    {"CREATE_TOKENS", "CreateTokens"},
    {"DESCRIBE_TOKENS", "DescribeTokens"},
}};

constexpr std::array<EnumName, 4> kPermissionNames{{
    {"UNKNOWN", "Unknown"},
    {"ANY", "Any"},
    {"DENY", "Deny"},
    {"ALLOW", "Allow"},
}};

template <size_t N>
const EnumName& name_of(const std::array<EnumName, N>& names, int8_t code) {
  if (code < 0 || static_cast<size_t>(code) >= N) return names[0];
  return names[static_cast<size_t>(code)];
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// The code whose enum name or Pascal-case name equals `text` ignoring case;
// 0 (UNKNOWN) for none. Kafka accepts both forms: the enum's fromString takes
// "IDEMPOTENT_WRITE", SecurityUtils (the CLI) takes "IdempotentWrite".
template <size_t N>
int8_t code_from_string(const std::array<EnumName, N>& names, std::string_view text) {
  for (size_t code = 0; code < N; ++code) {
    if (iequals(text, names[code].upper) || iequals(text, names[code].pascal))
      return static_cast<int8_t>(code);
  }
  return 0;
}

template <size_t N>
int8_t known_code(int8_t code) {
  return code >= 0 && static_cast<size_t>(code) < N ? code : 0;
}

bool optional_equals(const std::optional<std::string>& wanted, const std::string& actual) {
  return !wanted || *wanted == actual;
}

// Kafka's ResourcePatternFilter.matches.
bool pattern_matches(const AclBindingFilter& filter, const AclBinding& binding) {
  if (filter.resource_type != ResourceType::ANY && filter.resource_type != binding.resource_type)
    return false;
  const bool any_or_match =
      filter.pattern_type == PatternType::ANY || filter.pattern_type == PatternType::MATCH;
  if (!any_or_match && filter.pattern_type != binding.pattern_type) return false;
  if (!filter.resource_name) return true;
  const std::string& name = *filter.resource_name;
  // ANY, or the filter's own (concrete) pattern type: the name compares exactly.
  if (filter.pattern_type != PatternType::MATCH || binding.pattern_type == PatternType::MATCH)
    return name == binding.resource_name;
  switch (binding.pattern_type) {
    case PatternType::LITERAL:
      return name == binding.resource_name || binding.resource_name == kWildcard;
    case PatternType::PREFIXED:
      return std::string_view(name).starts_with(binding.resource_name);
    default:
      return false;  // Kafka throws: a stored binding is LITERAL or PREFIXED
  }
}

// Kafka's AccessControlEntryFilter.matches.
bool entry_matches(const AclBindingFilter& filter, const AclBinding& binding) {
  if (!optional_equals(filter.principal, binding.principal)) return false;
  if (!optional_equals(filter.host, binding.host)) return false;
  if (filter.operation != AclOperation::ANY && filter.operation != binding.operation) return false;
  return filter.permission == AclPermissionType::ANY || filter.permission == binding.permission;
}

}  // namespace

std::string_view to_string(ResourceType v) { return name_of(kResourceTypeNames, to_code(v)).upper; }
std::string_view to_string(PatternType v) { return name_of(kPatternTypeNames, to_code(v)).upper; }
std::string_view to_string(AclOperation v) { return name_of(kOperationNames, to_code(v)).upper; }
std::string_view to_string(AclPermissionType v) {
  return name_of(kPermissionNames, to_code(v)).upper;
}

std::string_view pascal_name(ResourceType v) {
  return name_of(kResourceTypeNames, to_code(v)).pascal;
}
std::string_view pascal_name(AclOperation v) { return name_of(kOperationNames, to_code(v)).pascal; }
std::string_view pascal_name(AclPermissionType v) {
  return name_of(kPermissionNames, to_code(v)).pascal;
}

ResourceType resource_type_from_string(std::string_view text) {
  return static_cast<ResourceType>(code_from_string(kResourceTypeNames, text));
}
PatternType pattern_type_from_string(std::string_view text) {
  return static_cast<PatternType>(code_from_string(kPatternTypeNames, text));
}
AclOperation acl_operation_from_string(std::string_view text) {
  return static_cast<AclOperation>(code_from_string(kOperationNames, text));
}
AclPermissionType acl_permission_type_from_string(std::string_view text) {
  return static_cast<AclPermissionType>(code_from_string(kPermissionNames, text));
}

ResourceType resource_type_from_code(int8_t code) {
  return static_cast<ResourceType>(known_code<kResourceTypeNames.size()>(code));
}
PatternType pattern_type_from_code(int8_t code) {
  return static_cast<PatternType>(known_code<kPatternTypeNames.size()>(code));
}
AclOperation acl_operation_from_code(int8_t code) {
  return static_cast<AclOperation>(known_code<kOperationNames.size()>(code));
}
AclPermissionType acl_permission_type_from_code(int8_t code) {
  return static_cast<AclPermissionType>(known_code<kPermissionNames.size()>(code));
}

bool kafka_acl_order_less(const AclBinding& a, const AclBinding& b) {
  // Names descending (b before a), the rest ascending: StandardAcl.compareTo.
  return std::tie(a.resource_type, b.resource_name, a.pattern_type, a.operation, a.principal,
                  a.host, a.permission) < std::tie(b.resource_type, a.resource_name, b.pattern_type,
                                                   b.operation, b.principal, b.host, b.permission);
}

std::string to_string(const AclBinding& binding) {
  std::string out = "(pattern=ResourcePattern(resourceType=";
  out.append(to_string(binding.resource_type));
  out.append(", name=").append(binding.resource_name);
  out.append(", patternType=").append(to_string(binding.pattern_type));
  out.append("), entry=(principal=").append(binding.principal);
  out.append(", host=").append(binding.host);
  out.append(", operation=").append(to_string(binding.operation));
  out.append(", permissionType=").append(to_string(binding.permission));
  out.append("))");
  return out;
}

AclBindingFilter AclBindingFilter::exactly(const AclBinding& binding) {
  return {binding.resource_type, binding.resource_name, binding.pattern_type, binding.principal,
          binding.host,          binding.operation,     binding.permission};
}

bool AclBindingFilter::matches(const AclBinding& binding) const {
  return pattern_matches(*this, binding) && entry_matches(*this, binding);
}

bool AclBindingFilter::pattern_is_unknown() const {
  return resource_type == ResourceType::UNKNOWN || pattern_type == PatternType::UNKNOWN;
}

bool AclBindingFilter::entry_is_unknown() const {
  return operation == AclOperation::UNKNOWN || permission == AclPermissionType::UNKNOWN;
}

std::optional<std::string> AclBindingFilter::find_indefinite_field() const {
  if (resource_type == ResourceType::ANY) return "Resource type is ANY.";
  if (resource_type == ResourceType::UNKNOWN) return "Resource type is UNKNOWN.";
  if (!resource_name) return "Resource name is NULL.";
  if (pattern_type == PatternType::MATCH) return "Resource pattern type is MATCH.";
  if (pattern_type == PatternType::UNKNOWN) return "Resource pattern type is UNKNOWN.";
  if (!principal) return "Principal is NULL";
  if (!host) return "Host is NULL";
  if (operation == AclOperation::ANY) return "Operation is ANY";
  if (operation == AclOperation::UNKNOWN) return "Operation is UNKNOWN";
  if (permission == AclPermissionType::ANY) return "Permission type is ANY";
  if (permission == AclPermissionType::UNKNOWN) return "Permission type is UNKNOWN";
  return std::nullopt;
}

AclError AclError::invalid_request(std::string message) {
  return {to_wire(ErrorCode::INVALID_REQUEST), std::move(message)};
}

bool is_valid_principal(std::string_view principal) {
  return principal.find(':') != std::string_view::npos;
}

AclError validate_new_acl(const AclBinding& binding) {
  if (binding.resource_type == ResourceType::CLUSTER &&
      binding.resource_name != kClusterResourceName) {
    return AclError::invalid_request("The only valid name for the CLUSTER resource is " +
                                     std::string(kClusterResourceName));
  }
  if (binding.resource_name.empty())
    return AclError::invalid_request("Invalid empty resource name");
  if (binding.resource_type == ResourceType::UNKNOWN || binding.resource_type == ResourceType::ANY)
    return AclError::invalid_request("Invalid resourceType " +
                                     std::string(to_string(binding.resource_type)));
  if (binding.pattern_type != PatternType::LITERAL && binding.pattern_type != PatternType::PREFIXED)
    return AclError::invalid_request("Invalid patternType " +
                                     std::string(to_string(binding.pattern_type)));
  if (binding.operation == AclOperation::UNKNOWN || binding.operation == AclOperation::ANY)
    return AclError::invalid_request("Invalid operation " +
                                     std::string(to_string(binding.operation)));
  if (binding.permission != AclPermissionType::DENY &&
      binding.permission != AclPermissionType::ALLOW)
    return AclError::invalid_request("Invalid permissionType " +
                                     std::string(to_string(binding.permission)));
  if (!is_valid_principal(binding.principal))
    return AclError::invalid_request(
        "expected a string in format principalType:principalName but got " + binding.principal);
  return AclError::none();
}

AclError validate_acl_filter(const AclBindingFilter& filter) {
  if (filter.pattern_is_unknown()) return AclError::invalid_request("Unknown patternFilter.");
  if (filter.entry_is_unknown()) return AclError::invalid_request("Unknown entryFilter.");
  return AclError::none();
}

}  // namespace sluice::security
