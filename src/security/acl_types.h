#pragma once
// The vocabulary of Kafka's ACLs: resource types, pattern types, operations
// and permission types with their wire codes (the int8 fields of
// CreateAcls/DescribeAcls/DeleteAcls and of AccessControlEntryRecord), the
// binding one ACL is (AclBinding), the filter DescribeAcls and DeleteAcls
// select bindings with (AclBindingFilter), and the validation CreateAcls
// applies. Pure values: no I/O, no state. README.md, "## ACLs (acl_*.h)".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::security {

// Enumerators keep Kafka's upper-case names, as error_code.h does, so they
// grep like Kafka's enums. Codes are Kafka's and never change.
enum class ResourceType : int8_t {
  UNKNOWN = 0,
  ANY = 1,  // filters only
  TOPIC = 2,
  GROUP = 3,
  CLUSTER = 4,
  TRANSACTIONAL_ID = 5,
  DELEGATION_TOKEN = 6,
  USER = 7,
};

enum class PatternType : int8_t {
  UNKNOWN = 0,
  ANY = 1,    // filters only: any pattern type, the name compared exactly
  MATCH = 2,  // filters only: every pattern that would match the name
  LITERAL = 3,
  PREFIXED = 4,
};

enum class AclOperation : int8_t {
  UNKNOWN = 0,
  ANY = 1,  // filters only
  ALL = 2,
  READ = 3,
  WRITE = 4,
  CREATE = 5,
  DELETE = 6,
  ALTER = 7,
  DESCRIBE = 8,
  CLUSTER_ACTION = 9,
  DESCRIBE_CONFIGS = 10,
  ALTER_CONFIGS = 11,
  IDEMPOTENT_WRITE = 12,
  CREATE_TOKENS = 13,
  DESCRIBE_TOKENS = 14,
};

enum class AclPermissionType : int8_t {
  UNKNOWN = 0,
  ANY = 1,  // filters only
  DENY = 2,
  ALLOW = 3,
};

// The one name a CLUSTER resource may have (Kafka's Resource.CLUSTER_NAME).
inline constexpr std::string_view kClusterResourceName = "kafka-cluster";
// A LITERAL resource name matching every name, and the host matching every host.
inline constexpr std::string_view kWildcard = "*";
// The principal matching every principal (Kafka matches only this one, not "Group:*").
inline constexpr std::string_view kWildcardPrincipal = "User:*";

// Kafka's enum names ("TOPIC", "IDEMPOTENT_WRITE"): what kafka-acls.sh
// prints in its listings and what Kafka's toString of a binding shows.
std::string_view to_string(ResourceType type);
std::string_view to_string(PatternType type);
std::string_view to_string(AclOperation operation);
std::string_view to_string(AclPermissionType permission);

// Kafka's Pascal-case names ("Topic", "TransactionalId", "IdempotentWrite"):
// the form of kafka-acls.sh's options and of Kafka's audit log.
std::string_view pascal_name(ResourceType type);
std::string_view pascal_name(AclOperation operation);
std::string_view pascal_name(AclPermissionType permission);

// Case-insensitive, with or without the underscores: "Read", "READ",
// "IdempotentWrite", "idempotent_write", "Prefixed". UNKNOWN for any other
// text, as Kafka's fromString/SecurityUtils do.
ResourceType resource_type_from_string(std::string_view text);
PatternType pattern_type_from_string(std::string_view text);
AclOperation acl_operation_from_string(std::string_view text);
AclPermissionType acl_permission_type_from_string(std::string_view text);

// From a wire code; UNKNOWN for a code Kafka does not define (Kafka's fromCode).
ResourceType resource_type_from_code(int8_t code);
PatternType pattern_type_from_code(int8_t code);
AclOperation acl_operation_from_code(int8_t code);
AclPermissionType acl_permission_type_from_code(int8_t code);

constexpr int8_t to_code(ResourceType v) { return static_cast<int8_t>(v); }
constexpr int8_t to_code(PatternType v) { return static_cast<int8_t>(v); }
constexpr int8_t to_code(AclOperation v) { return static_cast<int8_t>(v); }
constexpr int8_t to_code(AclPermissionType v) { return static_cast<int8_t>(v); }

// One ACL: a resource pattern and an access control entry. A binding that
// passed validate_new_acl has concrete values only (no ANY, MATCH, UNKNOWN).
struct AclBinding {
  ResourceType resource_type = ResourceType::UNKNOWN;
  std::string resource_name;
  PatternType pattern_type = PatternType::LITERAL;
  std::string principal;   // "<type>:<name>", e.g. "User:alice" or "User:*"
  std::string host = "*";  // "*" or a client IP as the broker prints it
  AclOperation operation = AclOperation::UNKNOWN;
  AclPermissionType permission = AclPermissionType::UNKNOWN;

  friend bool operator==(const AclBinding&, const AclBinding&) = default;
};

// Kafka's StandardAcl order: resource type, then resource name REVERSED
// (descending), pattern type, operation, principal, host, permission. The
// order of describe()'s answers.
bool kafka_acl_order_less(const AclBinding& a, const AclBinding& b);

// "(pattern=ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL),
// entry=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))",
// Kafka's toString of an AclBinding: for logs and test failures.
std::string to_string(const AclBinding& binding);

// What DescribeAcls and DeleteAcls select with. A missing name, principal or
// host matches any; ANY for an enum matches any value. PatternType MATCH
// selects every stored pattern that would apply to the named resource
// (literal of that name, the literal wildcard "*", prefixes of it).
struct AclBindingFilter {
  ResourceType resource_type = ResourceType::ANY;
  std::optional<std::string> resource_name;
  PatternType pattern_type = PatternType::ANY;
  std::optional<std::string> principal;
  std::optional<std::string> host;
  AclOperation operation = AclOperation::ANY;
  AclPermissionType permission = AclPermissionType::ANY;

  // The filter matching every binding (Kafka's AclBindingFilter.ANY).
  static AclBindingFilter any() { return {}; }
  // The filter matching exactly `binding` (Kafka's AclBinding.toFilter).
  static AclBindingFilter exactly(const AclBinding& binding);

  // Kafka's AclBindingFilter.matches.
  bool matches(const AclBinding& binding) const;
  // Whether the resource part (Kafka's ResourcePatternFilter) is UNKNOWN in
  // its resource type or pattern type; the entry part, in its operation or
  // permission type.
  bool pattern_is_unknown() const;
  bool entry_is_unknown() const;
  // Kafka's findIndefiniteField: the first field that lets the filter
  // match more than one binding ("Resource type is ANY.", "Principal is
  // NULL", ...), or nullopt when it matches at most one.
  std::optional<std::string> find_indefinite_field() const;
};

// The outcome of a validation or mutation: a Kafka wire error code (0: NONE)
// and the message Kafka sends with it (empty when Kafka sends none).
struct AclError {
  int16_t error_code = 0;
  std::string message;

  bool ok() const { return error_code == 0; }
  static AclError none() { return {}; }
  static AclError invalid_request(std::string message);
  friend bool operator==(const AclError&, const AclError&) = default;
};

// CreateAcls' checks of one binding, in the order Kafka makes them (the
// broker's AclApis, then the controller's AclControlManager.validateNewAcl),
// each INVALID_REQUEST (42):
//   CLUSTER named other than "kafka-cluster": "The only valid name for the CLUSTER resource is
//   kafka-cluster" empty name:                          "Invalid empty resource name" resource type
//   UNKNOWN/ANY:           "Invalid resourceType ANY" pattern type not LITERAL/PREFIXED:   "Invalid
//   patternType MATCH" operation UNKNOWN/ANY:               "Invalid operation ANY" permission not
//   DENY/ALLOW:           "Invalid permissionType UNKNOWN"
// plus Sluice's own: a principal without the ':' of "<type>:<name>" gets
// "expected a string in format principalType:principalName but got <p>"
// (Kafka's parser message; Kafka's controller stores such an ACL and its
// authorizer fails on it later — README.md).
AclError validate_new_acl(const AclBinding& binding);

// DeleteAcls' check of one filter (AclControlManager.validateFilter):
// INVALID_REQUEST "Unknown patternFilter." / "Unknown entryFilter.".
AclError validate_acl_filter(const AclBindingFilter& filter);

// Whether `principal` has Kafka's "<type>:<name>" form (a ':' present;
// either part may be empty, as in Kafka's SecurityUtils.parseKafkaPrincipal).
bool is_valid_principal(std::string_view principal);

}  // namespace sluice::security
