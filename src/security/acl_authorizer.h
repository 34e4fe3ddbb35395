#pragma once
// The ACL authorizer's model: the set of ACLs (each with the Uuid of its
// AccessControlEntryRecord) and Kafka's StandardAuthorizer decisions over
// it. Pure logic: no I/O, no threads, no locks. The owner serializes calls
// (or publishes immutable copies to readers); every const member is safe to
// call concurrently with other const members. README.md, "## ACLs (acl_*.h)".

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/random.h"
#include "base/result.h"
#include "base/uuid.h"
#include "security/acl_types.h"

namespace sluice::security {

enum class AuthorizationResult { ALLOWED, DENIED };

// One action to decide: who asks, from where, to do what, on which resource.
// The resource is always a LITERAL name (Kafka authorizes only those).
struct AuthorizationRequest {
  std::string_view principal;  // "<type>:<name>", e.g. "User:alice"
  std::string_view host;       // the client's IP as text, e.g. "10.0.0.7"
  AclOperation operation = AclOperation::UNKNOWN;
  ResourceType resource_type = ResourceType::UNKNOWN;
  std::string_view resource_name;
};

struct AclAuthorizerConfig {
  // `super.users`: principals allowed everything, compared as whole strings.
  std::set<std::string, std::less<>> super_users;
  // `allow.everyone.if.no.acl.found`: the answer when no ACL at all names
  // the resource (Kafka's default: false, i.e. DENIED).
  bool allow_everyone_if_no_acl_found = false;
};

// `super.users` as Kafka reads it: split at ';', each part trimmed, empty
// parts skipped; a part without ':' is an error (Errc::invalid_value) with
// Kafka's message "expected a string in format principalType:principalName but got <part>".
Result<std::set<std::string, std::less<>>> parse_super_users(std::string_view value);

struct AclWithId {
  Uuid id;
  AclBinding binding;
  friend bool operator==(const AclWithId&, const AclWithId&) = default;
};

// The answer to one binding of CreateAcls: `error` as Kafka's
// AclCreationResult carries it; `created` holds the new ACL (its id for the
// AccessControlEntryRecord) unless the binding failed or already existed
// (Kafka answers success and writes no record then).
struct AclCreateResult {
  AclError error;
  std::optional<AclWithId> created;
};

// The answer to one filter of DeleteAcls: the removed ACLs (ids for the
// RemoveAccessControlEntryRecords), or an error and nothing removed.
struct AclDeleteResult {
  AclError error;
  std::vector<AclWithId> deleted;
};

class AclAuthorizer {
 public:
  explicit AclAuthorizer(AclAuthorizerConfig config = {});

  const AclAuthorizerConfig& config() const { return config_; }
  void set_config(AclAuthorizerConfig config) { config_ = std::move(config); }

  // CreateAcls for one binding (controller side): validate_new_acl, then
  // add it under a fresh id drawn from `random` (never zero, never in use)
  // unless an equal binding exists.
  AclCreateResult create(const AclBinding& binding, RandomSource& random);

  // Replays an AccessControlEntryRecord. Fails (INVALID_REQUEST) for an
  // invalid binding, an id in use or a binding stored under another id —
  // the cases Kafka's AclCache refuses.
  AclError add(const Uuid& id, const AclBinding& binding);
  // Replays a RemoveAccessControlEntryRecord; false when no ACL has `id`.
  bool remove(const Uuid& id);

  // DescribeAcls: the bindings `filter` matches, in Kafka's StandardAcl order.
  std::vector<AclBinding> describe(const AclBindingFilter& filter) const;
  // The same with their ids.
  std::vector<AclWithId> find(const AclBindingFilter& filter) const;
  // DeleteAcls for one filter: validate_acl_filter, then remove and return
  // every ACL it matches.
  AclDeleteResult delete_matching(const AclBindingFilter& filter);

  // Kafka's StandardAuthorizer decision (README.md lists the rules).
  AuthorizationResult authorize(const AuthorizationRequest& request) const;

  // KIP-679: whether `principal` may do `operation` on at least one resource
  // of `resource_type` (Kafka's Authorizer.authorizeByResourceType, which
  // StandardAuthorizer inherits). ANY/UNKNOWN arguments are programmer errors.
  AuthorizationResult authorize_by_resource_type(std::string_view principal, std::string_view host,
                                                 AclOperation operation,
                                                 ResourceType resource_type) const;

  // InitProducerId without a transactional id (KafkaApis): IDEMPOTENT_WRITE
  // on the cluster, or WRITE on at least one topic (authorize_by_resource_type).
  bool may_init_idempotent_producer(std::string_view principal, std::string_view host) const;

  size_t size() const { return by_id_.size(); }
  bool is_super_user(std::string_view principal) const;

 private:
  // The entry part of one stored ACL, in the index of its resource.
  struct Entry {
    std::string principal;
    std::string host;
    AclOperation operation;
    AclPermissionType permission;
    friend bool operator==(const Entry&, const Entry&) = default;
  };
  using NameIndex = std::map<std::string, std::vector<Entry>, std::less<>>;
  // The ACLs of one resource type, by pattern type then resource name.
  struct TypeIndex {
    NameIndex literal;
    NameIndex prefixed;
  };
  struct KafkaOrder {
    bool operator()(const AclBinding& a, const AclBinding& b) const {
      return kafka_acl_order_less(a, b);
    }
  };
  // What one scan of a resource's ACLs found (StandardAuthorizerData's MatchingRuleBuilder).
  struct Scan {
    bool has_resource_acls = false;
    bool allow = false;
    bool deny = false;
  };

  TypeIndex* index_of(ResourceType type);
  const TypeIndex* index_of(ResourceType type) const;
  static void scan_entries(const std::vector<Entry>& entries, const AuthorizationRequest& request,
                           Scan& scan);
  void index_add(const AclBinding& binding);
  void index_remove(const AclBinding& binding);

  AclAuthorizerConfig config_;
  std::map<Uuid, AclBinding> by_id_;
  std::map<AclBinding, Uuid, KafkaOrder> by_binding_;
  // Indexed by ResourceType code; only concrete types (TOPIC..USER) hold ACLs.
  std::array<TypeIndex, 8> by_type_;
};

}  // namespace sluice::security
