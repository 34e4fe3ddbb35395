// The ACL model against Kafka's rules (StandardAuthorizer, AclBindingFilter,
// AclControlManager, Authorizer.authorizeByResourceType).
#include "security/acl_authorizer.h"

#include <gtest/gtest.h>

#include "base/error_code.h"
#include "base/random.h"
#include "security/acl_types.h"

namespace sluice::security {
namespace {

constexpr auto kAllowed = AuthorizationResult::ALLOWED;
constexpr auto kDenied = AuthorizationResult::DENIED;
constexpr int16_t kInvalidRequest = to_wire(ErrorCode::INVALID_REQUEST);

AclBinding acl(ResourceType type, std::string name, PatternType pattern, std::string principal,
               AclOperation operation, AclPermissionType permission, std::string host = "*") {
  return {type,      std::move(name), pattern, std::move(principal), std::move(host),
          operation, permission};
}

AclBinding allow_topic(std::string name, PatternType pattern, AclOperation operation,
                       std::string principal = "User:alice") {
  return acl(ResourceType::TOPIC, std::move(name), pattern, std::move(principal), operation,
             AclPermissionType::ALLOW);
}

AclBinding deny_topic(std::string name, PatternType pattern, AclOperation operation,
                      std::string principal = "User:alice") {
  return acl(ResourceType::TOPIC, std::move(name), pattern, std::move(principal), operation,
             AclPermissionType::DENY);
}

class AclAuthorizerTest : public ::testing::Test {
 protected:
  void add(const AclBinding& binding) {
    AclCreateResult result = authorizer_.create(binding, random_);
    ASSERT_TRUE(result.error.ok()) << result.error.message << " for " << to_string(binding);
  }

  AuthorizationResult topic(std::string_view name, AclOperation operation,
                            std::string_view principal = "User:alice",
                            std::string_view host = "10.0.0.1") const {
    return authorizer_.authorize({principal, host, operation, ResourceType::TOPIC, name});
  }

  AuthorizationResult by_type(AclOperation operation, ResourceType type = ResourceType::TOPIC,
                              std::string_view principal = "User:alice") const {
    return authorizer_.authorize_by_resource_type(principal, "10.0.0.1", operation, type);
  }

  SeededRandom random_{42};
  AclAuthorizer authorizer_;
};

// --- names and codes ---------------------------------------------------------

TEST(AclTypesTest, WireCodesAreKafkas) {
  EXPECT_EQ(to_code(ResourceType::TOPIC), 2);
  EXPECT_EQ(to_code(ResourceType::USER), 7);
  EXPECT_EQ(to_code(PatternType::PREFIXED), 4);
  EXPECT_EQ(to_code(AclOperation::IDEMPOTENT_WRITE), 12);
  EXPECT_EQ(to_code(AclOperation::DESCRIBE_TOKENS), 14);
  EXPECT_EQ(to_code(AclPermissionType::ALLOW), 3);
  EXPECT_EQ(acl_operation_from_code(9), AclOperation::CLUSTER_ACTION);
  EXPECT_EQ(acl_operation_from_code(15), AclOperation::UNKNOWN);
  EXPECT_EQ(acl_operation_from_code(-1), AclOperation::UNKNOWN);
  EXPECT_EQ(resource_type_from_code(8), ResourceType::UNKNOWN);
  EXPECT_EQ(pattern_type_from_code(2), PatternType::MATCH);
  EXPECT_EQ(acl_permission_type_from_code(2), AclPermissionType::DENY);
}

TEST(AclTypesTest, NamesAndParsing) {
  EXPECT_EQ(to_string(AclOperation::IDEMPOTENT_WRITE), "IDEMPOTENT_WRITE");
  EXPECT_EQ(pascal_name(AclOperation::IDEMPOTENT_WRITE), "IdempotentWrite");
  EXPECT_EQ(pascal_name(ResourceType::TRANSACTIONAL_ID), "TransactionalId");
  EXPECT_EQ(to_string(PatternType::PREFIXED), "PREFIXED");
  EXPECT_EQ(acl_operation_from_string("Read"), AclOperation::READ);
  EXPECT_EQ(acl_operation_from_string("IdempotentWrite"), AclOperation::IDEMPOTENT_WRITE);
  EXPECT_EQ(acl_operation_from_string("idempotent_write"), AclOperation::IDEMPOTENT_WRITE);
  EXPECT_EQ(acl_operation_from_string("IDEMPOTENTWRITE"), AclOperation::IDEMPOTENT_WRITE);
  EXPECT_EQ(acl_operation_from_string("Reed"), AclOperation::UNKNOWN);
  EXPECT_EQ(resource_type_from_string("TOPIC"), ResourceType::TOPIC);
  EXPECT_EQ(resource_type_from_string("transactionalid"), ResourceType::TRANSACTIONAL_ID);
  EXPECT_EQ(pattern_type_from_string("Prefixed"), PatternType::PREFIXED);
  EXPECT_EQ(pattern_type_from_string("literal"), PatternType::LITERAL);
  EXPECT_EQ(acl_permission_type_from_string("Deny"), AclPermissionType::DENY);
  EXPECT_EQ(acl_permission_type_from_string(""), AclPermissionType::UNKNOWN);
}

TEST(AclTypesTest, BindingToStringIsKafkas) {
  EXPECT_EQ(to_string(allow_topic("t", PatternType::LITERAL, AclOperation::READ)),
            "(pattern=ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL), "
            "entry=(principal=User:alice, host=*, operation=READ, permissionType=ALLOW))");
}

// --- validation (CreateAcls, DeleteAcls) ---------------------------------------

TEST(AclValidationTest, AcceptsAConcreteBinding) {
  EXPECT_TRUE(validate_new_acl(allow_topic("t", PatternType::PREFIXED, AclOperation::ALL)).ok());
  EXPECT_TRUE(
      validate_new_acl(acl(ResourceType::CLUSTER, "kafka-cluster", PatternType::LITERAL, "User:*",
                           AclOperation::IDEMPOTENT_WRITE, AclPermissionType::ALLOW, "10.1.2.3"))
          .ok());
}

TEST(AclValidationTest, RefusesWhatKafkaRefuses) {
  const auto error = [](AclBinding binding) { return validate_new_acl(binding); };
  const AclBinding good = allow_topic("t", PatternType::LITERAL, AclOperation::READ);

  AclBinding b = good;
  b.resource_type = ResourceType::CLUSTER;
  EXPECT_EQ(error(b), AclError::invalid_request(
                          "The only valid name for the CLUSTER resource is kafka-cluster"));
  b = good;
  b.resource_name = "";
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid empty resource name"));
  b = good;
  b.resource_type = ResourceType::ANY;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid resourceType ANY"));
  b.resource_type = ResourceType::UNKNOWN;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid resourceType UNKNOWN"));
  b = good;
  b.pattern_type = PatternType::MATCH;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid patternType MATCH"));
  b.pattern_type = PatternType::ANY;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid patternType ANY"));
  b.pattern_type = PatternType::UNKNOWN;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid patternType UNKNOWN"));
  b = good;
  b.operation = AclOperation::ANY;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid operation ANY"));
  b.operation = AclOperation::UNKNOWN;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid operation UNKNOWN"));
  b = good;
  b.permission = AclPermissionType::ANY;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid permissionType ANY"));
  b.permission = AclPermissionType::UNKNOWN;
  EXPECT_EQ(error(b), AclError::invalid_request("Invalid permissionType UNKNOWN"));
  b = good;
  b.principal = "alice";
  EXPECT_EQ(error(b), AclError::invalid_request(
                          "expected a string in format principalType:principalName but got alice"));
  EXPECT_EQ(error(b).error_code, kInvalidRequest);
}

TEST(AclValidationTest, KafkasCheckOrder) {
  // AclApis checks the cluster name before the empty name.
  AclBinding b = acl(ResourceType::CLUSTER, "", PatternType::MATCH, "x", AclOperation::ANY,
                     AclPermissionType::ANY);
  EXPECT_EQ(validate_new_acl(b).message,
            "The only valid name for the CLUSTER resource is kafka-cluster");
  b.resource_type = ResourceType::TOPIC;
  EXPECT_EQ(validate_new_acl(b).message, "Invalid empty resource name");
  b.resource_name = "t";
  EXPECT_EQ(validate_new_acl(b).message, "Invalid patternType MATCH");
}

TEST(AclValidationTest, FilterValidation) {
  AclBindingFilter f = AclBindingFilter::any();
  EXPECT_TRUE(validate_acl_filter(f).ok());
  f.pattern_type = PatternType::UNKNOWN;
  EXPECT_EQ(validate_acl_filter(f), AclError::invalid_request("Unknown patternFilter."));
  f = AclBindingFilter::any();
  f.resource_type = ResourceType::UNKNOWN;
  EXPECT_EQ(validate_acl_filter(f), AclError::invalid_request("Unknown patternFilter."));
  f = AclBindingFilter::any();
  f.permission = AclPermissionType::UNKNOWN;
  EXPECT_EQ(validate_acl_filter(f), AclError::invalid_request("Unknown entryFilter."));
  f = AclBindingFilter::any();
  f.operation = AclOperation::UNKNOWN;
  EXPECT_EQ(validate_acl_filter(f), AclError::invalid_request("Unknown entryFilter."));
}

TEST(AclValidationTest, IndefiniteFields) {
  const AclBinding b = allow_topic("t", PatternType::LITERAL, AclOperation::READ);
  EXPECT_EQ(AclBindingFilter::exactly(b).find_indefinite_field(), std::nullopt);
  EXPECT_EQ(AclBindingFilter::any().find_indefinite_field(), "Resource type is ANY.");
  AclBindingFilter f = AclBindingFilter::exactly(b);
  f.pattern_type = PatternType::MATCH;
  EXPECT_EQ(f.find_indefinite_field(), "Resource pattern type is MATCH.");
  f = AclBindingFilter::exactly(b);
  f.host.reset();
  EXPECT_EQ(f.find_indefinite_field(), "Host is NULL");
}

TEST(AclValidationTest, SuperUsersParsing) {
  auto users = parse_super_users(" User:admin ;User:CN=admin,OU=eng;; ");
  ASSERT_TRUE(users.is_ok());
  EXPECT_EQ(*users, (std::set<std::string, std::less<>>{"User:admin", "User:CN=admin,OU=eng"}));
  EXPECT_TRUE(parse_super_users("")->empty());
  auto bad = parse_super_users("User:admin;bob");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().message(),
            "expected a string in format principalType:principalName but got bob");
}

// --- filters (DescribeAcls, DeleteAcls) ------------------------------------------

TEST(AclFilterTest, AnyMatchesEverything) {
  EXPECT_TRUE(AclBindingFilter::any().matches(acl(ResourceType::GROUP, "g", PatternType::PREFIXED,
                                                  "User:bob", AclOperation::READ,
                                                  AclPermissionType::DENY, "1.2.3.4")));
}

TEST(AclFilterTest, FieldsCompareExactlyUnlessAny) {
  const AclBinding b = acl(ResourceType::TOPIC, "orders", PatternType::LITERAL, "User:alice",
                           AclOperation::READ, AclPermissionType::ALLOW, "1.2.3.4");
  AclBindingFilter f = AclBindingFilter::exactly(b);
  EXPECT_TRUE(f.matches(b));
  f.resource_type = ResourceType::GROUP;
  EXPECT_FALSE(f.matches(b));
  f = AclBindingFilter::exactly(b);
  f.principal = "User:bob";
  EXPECT_FALSE(f.matches(b));
  f.principal = "User:*";  // a filter's principal is not a wildcard
  EXPECT_FALSE(f.matches(b));
  f = AclBindingFilter::exactly(b);
  f.host = "*";  // nor its host
  EXPECT_FALSE(f.matches(b));
  f = AclBindingFilter::exactly(b);
  f.operation = AclOperation::ALL;  // nor ALL: it names the stored operation ALL
  EXPECT_FALSE(f.matches(b));
  f.operation = AclOperation::ANY;
  EXPECT_TRUE(f.matches(b));
  f.permission = AclPermissionType::DENY;
  EXPECT_FALSE(f.matches(b));
}

TEST(AclFilterTest, PatternTypeAnyComparesTheNameExactly) {
  AclBindingFilter f;
  f.resource_type = ResourceType::TOPIC;
  f.resource_name = "orders";
  f.pattern_type = PatternType::ANY;
  EXPECT_TRUE(f.matches(allow_topic("orders", PatternType::LITERAL, AclOperation::READ)));
  EXPECT_TRUE(f.matches(allow_topic("orders", PatternType::PREFIXED, AclOperation::READ)));
  EXPECT_FALSE(f.matches(allow_topic("ord", PatternType::PREFIXED, AclOperation::READ)));
  EXPECT_FALSE(f.matches(allow_topic("*", PatternType::LITERAL, AclOperation::READ)));
}

TEST(AclFilterTest, PatternTypeMatchSelectsWhatApplies) {
  AclBindingFilter f;
  f.resource_type = ResourceType::TOPIC;
  f.resource_name = "orders";
  f.pattern_type = PatternType::MATCH;
  EXPECT_TRUE(f.matches(allow_topic("orders", PatternType::LITERAL, AclOperation::READ)));
  EXPECT_TRUE(f.matches(allow_topic("*", PatternType::LITERAL, AclOperation::READ)));
  EXPECT_TRUE(f.matches(allow_topic("ord", PatternType::PREFIXED, AclOperation::READ)));
  EXPECT_TRUE(f.matches(allow_topic("orders", PatternType::PREFIXED, AclOperation::READ)));
  EXPECT_FALSE(f.matches(allow_topic("ord", PatternType::LITERAL, AclOperation::READ)));
  EXPECT_FALSE(f.matches(allow_topic("orders-x", PatternType::PREFIXED, AclOperation::READ)));
  EXPECT_FALSE(f.matches(allow_topic("*", PatternType::PREFIXED, AclOperation::READ)));
  f.resource_name.reset();  // MATCH without a name: every pattern of the type
  EXPECT_TRUE(f.matches(allow_topic("x", PatternType::PREFIXED, AclOperation::READ)));
}

TEST(AclFilterTest, ConcretePatternTypeComparesTheNameExactly) {
  AclBindingFilter f;
  f.resource_name = "ord";
  f.pattern_type = PatternType::PREFIXED;
  EXPECT_TRUE(f.matches(allow_topic("ord", PatternType::PREFIXED, AclOperation::READ)));
  EXPECT_FALSE(f.matches(allow_topic("ord", PatternType::LITERAL, AclOperation::READ)));
  EXPECT_FALSE(f.matches(allow_topic("or", PatternType::PREFIXED, AclOperation::READ)));
}

// --- the ACL set ---------------------------------------------------------------

TEST_F(AclAuthorizerTest, CreateIsIdempotentAndGivesIds) {
  const AclBinding b = allow_topic("t", PatternType::LITERAL, AclOperation::READ);
  AclCreateResult first = authorizer_.create(b, random_);
  ASSERT_TRUE(first.error.ok());
  ASSERT_TRUE(first.created.has_value());
  EXPECT_FALSE(first.created->id.is_zero());
  EXPECT_EQ(first.created->binding, b);
  AclCreateResult again = authorizer_.create(b, random_);
  EXPECT_TRUE(again.error.ok());
  EXPECT_FALSE(again.created.has_value());  // Kafka: success, no new record
  EXPECT_EQ(authorizer_.size(), 1u);

  AclCreateResult bad =
      authorizer_.create(allow_topic("", PatternType::LITERAL, AclOperation::READ), random_);
  EXPECT_EQ(bad.error.error_code, kInvalidRequest);
  EXPECT_FALSE(bad.created.has_value());
  EXPECT_EQ(authorizer_.size(), 1u);
}

TEST_F(AclAuthorizerTest, ReplayAddAndRemoveById) {
  Uuid id;
  id.bytes[15] = 7;
  const AclBinding b = allow_topic("t", PatternType::LITERAL, AclOperation::READ);
  EXPECT_TRUE(authorizer_.add(id, b).ok());
  EXPECT_EQ(topic("t", AclOperation::READ), kAllowed);
  // An id in use, or the same binding under another id, is refused as Kafka's AclCache does.
  EXPECT_FALSE(
      authorizer_.add(id, allow_topic("u", PatternType::LITERAL, AclOperation::READ)).ok());
  Uuid other = id;
  other.bytes[0] = 1;
  EXPECT_FALSE(authorizer_.add(other, b).ok());
  EXPECT_EQ(authorizer_.find(AclBindingFilter::any()), (std::vector<AclWithId>{{id, b}}));
  EXPECT_TRUE(authorizer_.remove(id));
  EXPECT_FALSE(authorizer_.remove(id));
  EXPECT_EQ(authorizer_.size(), 0u);
  EXPECT_EQ(topic("t", AclOperation::READ), kDenied);
}

TEST_F(AclAuthorizerTest, DescribeInKafkasOrder) {
  add(allow_topic("a", PatternType::LITERAL, AclOperation::READ));
  add(allow_topic("b", PatternType::LITERAL, AclOperation::WRITE));
  add(allow_topic("b", PatternType::LITERAL, AclOperation::READ));
  add(acl(ResourceType::GROUP, "g", PatternType::LITERAL, "User:alice", AclOperation::READ,
          AclPermissionType::ALLOW));
  const std::vector<AclBinding> all = authorizer_.describe(AclBindingFilter::any());
  ASSERT_EQ(all.size(), 4u);
  // Type, then name descending, then operation.
  EXPECT_EQ(all[0], allow_topic("b", PatternType::LITERAL, AclOperation::READ));
  EXPECT_EQ(all[1], allow_topic("b", PatternType::LITERAL, AclOperation::WRITE));
  EXPECT_EQ(all[2], allow_topic("a", PatternType::LITERAL, AclOperation::READ));
  EXPECT_EQ(all[3].resource_type, ResourceType::GROUP);

  AclBindingFilter topics;
  topics.resource_type = ResourceType::TOPIC;
  topics.resource_name = "b";
  topics.pattern_type = PatternType::MATCH;
  EXPECT_EQ(authorizer_.describe(topics).size(), 2u);
}

TEST_F(AclAuthorizerTest, DeleteMatching) {
  add(allow_topic("a", PatternType::LITERAL, AclOperation::READ));
  add(allow_topic("ab", PatternType::PREFIXED, AclOperation::READ));
  add(deny_topic("abc", PatternType::LITERAL, AclOperation::READ, "User:bob"));
  AclBindingFilter f;
  f.principal = "User:alice";
  AclDeleteResult result = authorizer_.delete_matching(f);
  ASSERT_TRUE(result.error.ok());
  ASSERT_EQ(result.deleted.size(), 2u);
  EXPECT_EQ(authorizer_.size(), 1u);
  EXPECT_EQ(authorizer_.describe(AclBindingFilter::any()).front().principal, "User:bob");
  EXPECT_EQ(topic("a", AclOperation::READ), kDenied);

  f = AclBindingFilter::any();
  f.operation = AclOperation::UNKNOWN;
  result = authorizer_.delete_matching(f);
  EXPECT_EQ(result.error, AclError::invalid_request("Unknown entryFilter."));
  EXPECT_TRUE(result.deleted.empty());
  EXPECT_EQ(authorizer_.size(), 1u);

  result = authorizer_.delete_matching(AclBindingFilter::any());
  EXPECT_EQ(result.deleted.size(), 1u);
  EXPECT_EQ(authorizer_.size(), 0u);
  // The removed ACLs leave nothing behind in the index: the default applies again.
  authorizer_.set_config({{}, true});
  EXPECT_EQ(topic("abc", AclOperation::READ), kAllowed);
}

// --- authorize -------------------------------------------------------------------

TEST_F(AclAuthorizerTest, NoAclsDeniesByDefault) {
  EXPECT_EQ(topic("t", AclOperation::READ), kDenied);
}

TEST_F(AclAuthorizerTest, AllowEveryoneIfNoAclFound) {
  authorizer_.set_config({{}, true});
  EXPECT_EQ(topic("t", AclOperation::READ), kAllowed);
  // Any ACL naming the resource, for anyone, takes the default away.
  add(allow_topic("t", PatternType::LITERAL, AclOperation::READ, "User:bob"));
  EXPECT_EQ(topic("t", AclOperation::READ), kDenied);
  EXPECT_EQ(topic("t", AclOperation::WRITE), kDenied);
  EXPECT_EQ(topic("other", AclOperation::READ), kAllowed);
  // So does a prefixed or wildcard ACL covering the name.
  add(deny_topic("oth", PatternType::PREFIXED, AclOperation::WRITE, "User:bob"));
  EXPECT_EQ(topic("other", AclOperation::READ), kDenied);
  EXPECT_EQ(topic("x", AclOperation::READ), kAllowed);
  add(allow_topic("*", PatternType::LITERAL, AclOperation::CREATE, "User:bob"));
  EXPECT_EQ(topic("x", AclOperation::READ), kDenied);
  // Other resource types keep the default.
  EXPECT_EQ(authorizer_.authorize(
                {"User:alice", "1.1.1.1", AclOperation::READ, ResourceType::GROUP, "x"}),
            kAllowed);
}

TEST_F(AclAuthorizerTest, LiteralMatchesOnlyTheExactName) {
  add(allow_topic("orders", PatternType::LITERAL, AclOperation::READ));
  EXPECT_EQ(topic("orders", AclOperation::READ), kAllowed);
  EXPECT_EQ(topic("orders2", AclOperation::READ), kDenied);
  EXPECT_EQ(topic("order", AclOperation::READ), kDenied);
  EXPECT_EQ(topic("Orders", AclOperation::READ), kDenied);
  EXPECT_EQ(authorizer_.authorize(
                {"User:alice", "1.1.1.1", AclOperation::READ, ResourceType::GROUP, "orders"}),
            kDenied);
}

TEST_F(AclAuthorizerTest, WildcardLiteralMatchesEveryName) {
  add(allow_topic("*", PatternType::LITERAL, AclOperation::READ));
  EXPECT_EQ(topic("anything", AclOperation::READ), kAllowed);
  EXPECT_EQ(topic("*", AclOperation::READ), kAllowed);
  EXPECT_EQ(topic("anything", AclOperation::WRITE), kDenied);
}

TEST_F(AclAuthorizerTest, PrefixedMatchesNamesStartingWithIt) {
  add(allow_topic("fin-", PatternType::PREFIXED, AclOperation::WRITE));
  EXPECT_EQ(topic("fin-", AclOperation::WRITE), kAllowed);
  EXPECT_EQ(topic("fin-ledger", AclOperation::WRITE), kAllowed);
  EXPECT_EQ(topic("fin", AclOperation::WRITE), kDenied);
  EXPECT_EQ(topic("xfin-ledger", AclOperation::WRITE), kDenied);
}

TEST_F(AclAuthorizerTest, PrefixedStarIsNotAWildcard) {
  add(allow_topic("*", PatternType::PREFIXED, AclOperation::READ));
  EXPECT_EQ(topic("orders", AclOperation::READ), kDenied);
  EXPECT_EQ(topic("*orders", AclOperation::READ), kAllowed);
}

TEST_F(AclAuthorizerTest, PrincipalExactOrUserWildcard) {
  add(allow_topic("a", PatternType::LITERAL, AclOperation::READ, "User:alice"));
  add(allow_topic("b", PatternType::LITERAL, AclOperation::READ, "User:*"));
  add(allow_topic("c", PatternType::LITERAL, AclOperation::READ, "Group:*"));
  EXPECT_EQ(topic("a", AclOperation::READ, "User:alice"), kAllowed);
  EXPECT_EQ(topic("a", AclOperation::READ, "User:bob"), kDenied);
  EXPECT_EQ(topic("a", AclOperation::READ, "User:Alice"), kDenied);
  EXPECT_EQ(topic("b", AclOperation::READ, "User:bob"), kAllowed);
  EXPECT_EQ(topic("b", AclOperation::READ, "Group:ops"), kAllowed);  // User:* matches any principal
  EXPECT_EQ(topic("c", AclOperation::READ, "Group:ops"), kDenied);   // only User:* is a wildcard
}

TEST_F(AclAuthorizerTest, HostExactOrWildcard) {
  add(acl(ResourceType::TOPIC, "t", PatternType::LITERAL, "User:alice", AclOperation::READ,
          AclPermissionType::ALLOW, "10.0.0.1"));
  EXPECT_EQ(topic("t", AclOperation::READ, "User:alice", "10.0.0.1"), kAllowed);
  EXPECT_EQ(topic("t", AclOperation::READ, "User:alice", "10.0.0.2"), kDenied);
  add(acl(ResourceType::TOPIC, "t", PatternType::LITERAL, "User:alice", AclOperation::READ,
          AclPermissionType::DENY, "10.0.0.1"));
  EXPECT_EQ(topic("t", AclOperation::READ, "User:alice", "10.0.0.1"), kDenied);
  add(allow_topic("t", PatternType::LITERAL, AclOperation::READ));
  EXPECT_EQ(topic("t", AclOperation::READ, "User:alice", "10.0.0.2"), kAllowed);
  EXPECT_EQ(topic("t", AclOperation::READ, "User:alice", "10.0.0.1"), kDenied);
}

TEST_F(AclAuthorizerTest, DenyWinsAcrossPatternKinds) {
  struct Case {
    PatternType allow_pattern;
    std::string allow_name;
    PatternType deny_pattern;
    std::string deny_name;
  };
  const std::vector<Case> cases = {
      {PatternType::LITERAL, "fin-ledger", PatternType::LITERAL, "fin-ledger"},
      {PatternType::LITERAL, "fin-ledger", PatternType::PREFIXED, "fin-"},
      {PatternType::LITERAL, "fin-ledger", PatternType::LITERAL, "*"},
      {PatternType::PREFIXED, "fin-", PatternType::LITERAL, "fin-ledger"},
      {PatternType::PREFIXED, "fin-", PatternType::PREFIXED, "fin"},
      {PatternType::PREFIXED, "f", PatternType::PREFIXED, "fin-ledger"},
      {PatternType::PREFIXED, "fin-", PatternType::LITERAL, "*"},
      {PatternType::LITERAL, "*", PatternType::LITERAL, "fin-ledger"},
      {PatternType::LITERAL, "*", PatternType::PREFIXED, "fin-"},
  };
  for (const Case& c : cases) {
    AclAuthorizer authorizer;
    ASSERT_TRUE(
        authorizer.create(allow_topic(c.allow_name, c.allow_pattern, AclOperation::READ), random_)
            .error.ok());
    const AuthorizationRequest request{"User:alice", "10.0.0.1", AclOperation::READ,
                                       ResourceType::TOPIC, "fin-ledger"};
    ASSERT_EQ(authorizer.authorize(request), kAllowed) << c.allow_name;
    ASSERT_TRUE(
        authorizer.create(deny_topic(c.deny_name, c.deny_pattern, AclOperation::READ), random_)
            .error.ok());
    EXPECT_EQ(authorizer.authorize(request), kDenied)
        << "allow " << to_string(c.allow_pattern) << " " << c.allow_name << ", deny "
        << to_string(c.deny_pattern) << " " << c.deny_name;
  }
}

TEST_F(AclAuthorizerTest, DenyForAnotherPrincipalHostOrOperationDoesNotApply) {
  add(allow_topic("t", PatternType::LITERAL, AclOperation::READ));
  add(deny_topic("t", PatternType::LITERAL, AclOperation::READ, "User:bob"));
  add(deny_topic("t", PatternType::LITERAL, AclOperation::WRITE));
  add(acl(ResourceType::TOPIC, "t", PatternType::LITERAL, "User:alice", AclOperation::READ,
          AclPermissionType::DENY, "10.9.9.9"));
  EXPECT_EQ(topic("t", AclOperation::READ), kAllowed);
  add(deny_topic("t", PatternType::LITERAL, AclOperation::READ, "User:*"));
  EXPECT_EQ(topic("t", AclOperation::READ), kDenied);
}

TEST_F(AclAuthorizerTest, AllImpliesEveryOperation) {
  add(allow_topic("t", PatternType::LITERAL, AclOperation::ALL));
  for (AclOperation op :
       {AclOperation::READ, AclOperation::WRITE, AclOperation::CREATE, AclOperation::DELETE,
        AclOperation::ALTER, AclOperation::DESCRIBE, AclOperation::DESCRIBE_CONFIGS,
        AclOperation::ALTER_CONFIGS, AclOperation::CLUSTER_ACTION, AclOperation::IDEMPOTENT_WRITE})
    EXPECT_EQ(topic("t", op), kAllowed) << to_string(op);
  add(deny_topic("t", PatternType::LITERAL, AclOperation::ALL));
  for (AclOperation op : {AclOperation::READ, AclOperation::DESCRIBE, AclOperation::ALTER_CONFIGS})
    EXPECT_EQ(topic("t", op), kDenied) << to_string(op);
}

TEST_F(AclAuthorizerTest, AllowsImplyDescribe) {
  for (AclOperation op :
       {AclOperation::READ, AclOperation::WRITE, AclOperation::DELETE, AclOperation::ALTER}) {
    AclAuthorizer authorizer;
    ASSERT_TRUE(authorizer.create(allow_topic("t", PatternType::LITERAL, op), random_).error.ok());
    EXPECT_EQ(
        authorizer.authorize({"User:alice", "h", AclOperation::DESCRIBE, ResourceType::TOPIC, "t"}),
        kAllowed)
        << to_string(op);
    EXPECT_EQ(authorizer.authorize(
                  {"User:alice", "h", AclOperation::DESCRIBE_CONFIGS, ResourceType::TOPIC, "t"}),
              kDenied)
        << to_string(op);
  }
  for (AclOperation op : {AclOperation::CREATE, AclOperation::ALTER_CONFIGS,
                          AclOperation::DESCRIBE_CONFIGS, AclOperation::CLUSTER_ACTION}) {
    AclAuthorizer authorizer;
    ASSERT_TRUE(authorizer.create(allow_topic("t", PatternType::LITERAL, op), random_).error.ok());
    EXPECT_EQ(
        authorizer.authorize({"User:alice", "h", AclOperation::DESCRIBE, ResourceType::TOPIC, "t"}),
        kDenied)
        << to_string(op);
  }
}

TEST_F(AclAuthorizerTest, AlterConfigsImpliesDescribeConfigs) {
  add(allow_topic("t", PatternType::LITERAL, AclOperation::ALTER_CONFIGS));
  EXPECT_EQ(topic("t", AclOperation::DESCRIBE_CONFIGS), kAllowed);
  EXPECT_EQ(topic("t", AclOperation::ALTER_CONFIGS), kAllowed);
  EXPECT_EQ(topic("t", AclOperation::ALTER), kDenied);
}

TEST_F(AclAuthorizerTest, ImpliedOperationsOnlyFromAllow) {
  add(allow_topic("t", PatternType::LITERAL, AclOperation::DESCRIBE));
  add(deny_topic("t", PatternType::LITERAL, AclOperation::READ));
  add(deny_topic("t", PatternType::LITERAL, AclOperation::ALTER_CONFIGS));
  // A DENY of READ does not deny DESCRIBE; a DENY of ALTER_CONFIGS not DESCRIBE_CONFIGS.
  EXPECT_EQ(topic("t", AclOperation::DESCRIBE), kAllowed);
  EXPECT_EQ(topic("t", AclOperation::READ), kDenied);
  add(allow_topic("t", PatternType::LITERAL, AclOperation::DESCRIBE_CONFIGS));
  EXPECT_EQ(topic("t", AclOperation::DESCRIBE_CONFIGS), kAllowed);
  // Nor does DESCRIBE imply READ, or WRITE imply IDEMPOTENT_WRITE.
  add(allow_topic("u", PatternType::LITERAL, AclOperation::WRITE));
  EXPECT_EQ(topic("u", AclOperation::READ), kDenied);
  EXPECT_EQ(topic("u", AclOperation::IDEMPOTENT_WRITE), kDenied);
}

TEST_F(AclAuthorizerTest, SuperUsersAreAllowedEverything) {
  auto users = parse_super_users("User:admin;User:CN=admin,O=Sluice");
  ASSERT_TRUE(users.is_ok());
  authorizer_.set_config({*users, false});
  add(deny_topic("*", PatternType::LITERAL, AclOperation::ALL, "User:*"));
  EXPECT_EQ(topic("t", AclOperation::WRITE, "User:admin"), kAllowed);
  EXPECT_EQ(topic("t", AclOperation::DELETE, "User:CN=admin,O=Sluice"), kAllowed);
  EXPECT_EQ(authorizer_.authorize({"User:admin", "h", AclOperation::CLUSTER_ACTION,
                                   ResourceType::CLUSTER, "kafka-cluster"}),
            kAllowed);
  EXPECT_EQ(topic("t", AclOperation::WRITE, "User:alice"), kDenied);
  EXPECT_EQ(topic("t", AclOperation::WRITE, "User:Admin"), kDenied);
  EXPECT_EQ(by_type(AclOperation::WRITE, ResourceType::TOPIC, "User:admin"), kAllowed);
}

// --- authorize_by_resource_type (KIP-679) ----------------------------------------------

TEST_F(AclAuthorizerTest, ByTypeNoAcls) {
  EXPECT_EQ(by_type(AclOperation::WRITE), kDenied);
  authorizer_.set_config({{}, true});  // the "hardcode" probe falls on the default
  EXPECT_EQ(by_type(AclOperation::WRITE), kAllowed);
}

TEST_F(AclAuthorizerTest, ByTypeAnyAllowedResource) {
  add(allow_topic("orders", PatternType::LITERAL, AclOperation::WRITE));
  EXPECT_EQ(by_type(AclOperation::WRITE), kAllowed);
  EXPECT_EQ(by_type(AclOperation::READ), kDenied);
  EXPECT_EQ(by_type(AclOperation::WRITE, ResourceType::GROUP), kDenied);
  EXPECT_EQ(by_type(AclOperation::WRITE, ResourceType::TOPIC, "User:bob"), kDenied);
  // No implied operations here: WRITE does not give DESCRIBE by type (Kafka's loop
  // compares the operation itself or ALL).
  EXPECT_EQ(by_type(AclOperation::DESCRIBE), kDenied);
}

TEST_F(AclAuthorizerTest, ByTypeHonoursHost) {
  add(acl(ResourceType::TOPIC, "orders", PatternType::LITERAL, "User:alice", AclOperation::WRITE,
          AclPermissionType::ALLOW, "10.0.0.9"));
  EXPECT_EQ(by_type(AclOperation::WRITE), kDenied);  // asked from 10.0.0.1
  EXPECT_EQ(authorizer_.authorize_by_resource_type("User:alice", "10.0.0.9", AclOperation::WRITE,
                                                   ResourceType::TOPIC),
            kAllowed);
}

TEST_F(AclAuthorizerTest, ByTypeAllAndUserWildcard) {
  add(allow_topic("orders", PatternType::PREFIXED, AclOperation::ALL, "User:*"));
  EXPECT_EQ(by_type(AclOperation::WRITE), kAllowed);
  EXPECT_EQ(by_type(AclOperation::READ, ResourceType::TOPIC, "User:bob"), kAllowed);
}

TEST_F(AclAuthorizerTest, ByTypeDenyPrefixDominates) {
  add(allow_topic("fin-ledger", PatternType::LITERAL, AclOperation::WRITE));
  add(allow_topic("fin-a", PatternType::PREFIXED, AclOperation::WRITE));
  add(deny_topic("fin", PatternType::PREFIXED, AclOperation::WRITE));
  EXPECT_EQ(by_type(AclOperation::WRITE), kDenied);
  // An allow outside the denied prefix still counts.
  add(allow_topic("hr-", PatternType::PREFIXED, AclOperation::WRITE));
  EXPECT_EQ(by_type(AclOperation::WRITE), kAllowed);
}

TEST_F(AclAuthorizerTest, ByTypeDenyLiteralDominatesOnlyTheSameLiteral) {
  add(allow_topic("orders", PatternType::LITERAL, AclOperation::WRITE));
  add(deny_topic("orders", PatternType::LITERAL, AclOperation::WRITE));
  EXPECT_EQ(by_type(AclOperation::WRITE), kDenied);
  // A literal DENY does not dominate a PREFIXED allow of the same name
  // (that prefix covers other topics).
  add(allow_topic("orders", PatternType::PREFIXED, AclOperation::WRITE));
  EXPECT_EQ(by_type(AclOperation::WRITE), kAllowed);
}

TEST_F(AclAuthorizerTest, ByTypeLongerDenyPrefixDoesNotDominate) {
  add(allow_topic("fin", PatternType::PREFIXED, AclOperation::WRITE));
  add(deny_topic("fin-secret", PatternType::PREFIXED, AclOperation::WRITE));
  EXPECT_EQ(by_type(AclOperation::WRITE), kAllowed);
}

TEST_F(AclAuthorizerTest, ByTypeWildcards) {
  add(allow_topic("*", PatternType::LITERAL, AclOperation::WRITE));
  EXPECT_EQ(by_type(AclOperation::WRITE), kAllowed);
  add(deny_topic("*", PatternType::LITERAL, AclOperation::WRITE, "User:*"));
  EXPECT_EQ(by_type(AclOperation::WRITE), kDenied);
  add(allow_topic("orders", PatternType::LITERAL, AclOperation::WRITE));
  EXPECT_EQ(by_type(AclOperation::WRITE), kDenied);  // a wildcard DENY wins outright
}

TEST_F(AclAuthorizerTest, ByTypeDenyOfAnotherPrincipalIgnored) {
  add(allow_topic("orders", PatternType::LITERAL, AclOperation::WRITE));
  add(deny_topic("o", PatternType::PREFIXED, AclOperation::WRITE, "User:bob"));
  add(deny_topic("o", PatternType::PREFIXED, AclOperation::READ));
  EXPECT_EQ(by_type(AclOperation::WRITE), kAllowed);
}

TEST_F(AclAuthorizerTest, ByTypeHardcodeProbe) {
  // Kafka first authorizes the made-up topic "hardcode", where implied
  // operations count: READ on topics prefixed "hard" thus allows DESCRIBE by
  // type, while READ on "orders" (ByTypeAnyAllowedResource) does not.
  add(allow_topic("hard", PatternType::PREFIXED, AclOperation::READ));
  EXPECT_EQ(by_type(AclOperation::DESCRIBE), kAllowed);
  // The probe also takes the no-ACL default: here "hardcode" has ACLs, so not.
  authorizer_.set_config({{}, true});
  EXPECT_EQ(by_type(AclOperation::WRITE), kDenied);
}

TEST_F(AclAuthorizerTest, IdempotentProducer) {
  EXPECT_FALSE(authorizer_.may_init_idempotent_producer("User:alice", "10.0.0.1"));
  add(acl(ResourceType::CLUSTER, "kafka-cluster", PatternType::LITERAL, "User:alice",
          AclOperation::IDEMPOTENT_WRITE, AclPermissionType::ALLOW));
  EXPECT_TRUE(authorizer_.may_init_idempotent_producer("User:alice", "10.0.0.1"));
  EXPECT_FALSE(authorizer_.may_init_idempotent_producer("User:bob", "10.0.0.1"));
  // KIP-679: WRITE on any topic is enough.
  add(allow_topic("events", PatternType::LITERAL, AclOperation::WRITE, "User:bob"));
  EXPECT_TRUE(authorizer_.may_init_idempotent_producer("User:bob", "10.0.0.1"));
  EXPECT_FALSE(authorizer_.may_init_idempotent_producer("User:carol", "10.0.0.1"));
}

TEST_F(AclAuthorizerTest, ManyAclsStayFast) {
  for (int i = 0; i < 2000; ++i)
    add(allow_topic("t" + std::to_string(i), i % 2 ? PatternType::PREFIXED : PatternType::LITERAL,
                    AclOperation::READ, "User:u" + std::to_string(i % 50)));
  EXPECT_EQ(authorizer_.size(), 2000u);
  EXPECT_EQ(topic("t1999-x", AclOperation::READ, "User:u49"), kAllowed);
  EXPECT_EQ(topic("t1998-x", AclOperation::READ, "User:u48"), kDenied);
  EXPECT_EQ(topic("t1998", AclOperation::READ, "User:u48"), kAllowed);
  AclBindingFilter f;
  f.principal = "User:u0";
  EXPECT_EQ(authorizer_.delete_matching(f).deleted.size(), 40u);
  EXPECT_EQ(authorizer_.size(), 1960u);
}

}  // namespace
}  // namespace sluice::security
