// AlterUserScramCredentials and DescribeUserScramCredentials (KIP-554):
// the SCRAM users SASL listeners authenticate against, kept in the metadata
// log. Altering goes to the active controller (forwarded from any node);
// describing reads this node's metadata image, as Kafka's brokers do, and
// never shows more than each mechanism's iteration count.
#include <set>

#include "base/error_code.h"
#include "broker/broker.h"
#include "broker/forwarding.h"
#include "broker/handlers.h"

namespace sluice::broker {

using protocol::AlterUserScramCredentialsRequest;
using protocol::AlterUserScramCredentialsResponse;
using protocol::DescribeUserScramCredentialsRequest;
using protocol::DescribeUserScramCredentialsResponse;

namespace {

std::vector<cluster::ScramDeletion> deletions_of(const AlterUserScramCredentialsRequest& request) {
  std::vector<cluster::ScramDeletion> out;
  for (const auto& deletion : request.deletions) out.push_back({deletion.name, deletion.mechanism});
  return out;
}

std::vector<cluster::ScramUpsertion> upsertions_of(
    const AlterUserScramCredentialsRequest& request) {
  std::vector<cluster::ScramUpsertion> out;
  for (const auto& upsertion : request.upsertions)
    out.push_back({upsertion.name, upsertion.mechanism, upsertion.iterations, upsertion.salt,
                   upsertion.salted_password});
  return out;
}

using DescribeResult = DescribeUserScramCredentialsResponse::DescribeUserScramCredentialsResult;

DescribeResult describe_user(const cluster::ScramCredentials& credentials,
                             const std::string& user) {
  DescribeResult result;
  result.user = user;
  result.error_message = std::nullopt;
  auto found = credentials.find(user);
  if (found == credentials.end()) {
    result.error_code = to_wire(ErrorCode::RESOURCE_NOT_FOUND);
    result.error_message = "Attempt to describe a user credential that does not exist: " + user;
    return result;
  }
  for (const auto& [mechanism, credential] : found->second)
    result.credential_infos.push_back({mechanism, credential.iterations, {}});
  return result;
}

}  // namespace

void handle_alter_user_scram_credentials(Broker& broker, RequestContext context,
                                         AlterUserScramCredentialsRequest request) {
  if (!broker.authorization().allows_cluster(context.connection(), security::AclOperation::ALTER)) {
    AlterUserScramCredentialsResponse refused;  // Kafka: every user, CLUSTER_AUTHORIZATION_FAILED
    for (const auto& deletion : request.deletions)
      refused.results.push_back(
          {deletion.name, to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED), std::nullopt, {}});
    for (const auto& upsertion : request.upsertions)
      refused.results.push_back(
          {upsertion.name, to_wire(ErrorCode::CLUSTER_AUTHORIZATION_FAILED), std::nullopt, {}});
    return context.reply(refused);
  }
  if (forward_to_controller(broker, context, request)) return;
  broker.submit_to_controller(std::move(context), [&broker, request = std::move(request)](
                                                      RequestContext& context) {
    AlterUserScramCredentialsResponse response;
    for (const cluster::UserScramResult& result : broker.controller().alter_user_scram_credentials(
             deletions_of(request), upsertions_of(request))) {
      auto& out = response.results.emplace_back();
      out.user = result.user;
      out.error_code = to_wire(result.error.code);
      out.error_message =
          result.error.ok() ? std::nullopt : std::optional<std::string>(result.error.message);
    }
    context.reply(response);
  });
}

// Kafka: no users named (null or empty) describes every user; a user named
// twice fails with DUPLICATE_RESOURCE, once per name.
void handle_describe_user_scram_credentials(Broker& broker, RequestContext context,
                                            DescribeUserScramCredentialsRequest request) {
  const cluster::MetadataImagePtr image = broker.metadata_image();
  DescribeUserScramCredentialsResponse response;
  response.error_message = std::nullopt;
  if (!request.users || request.users->empty()) {
    for (const auto& [user, mechanisms] : image->scram_credentials)
      response.results.push_back(describe_user(image->scram_credentials, user));
    context.reply(response);
    return;
  }
  std::set<std::string> seen;
  std::set<std::string> duplicated;
  for (const auto& user : *request.users)
    if (!seen.insert(user.name).second) duplicated.insert(user.name);
  for (const std::string& user : seen) {
    if (!duplicated.count(user)) {
      response.results.push_back(describe_user(image->scram_credentials, user));
      continue;
    }
    DescribeResult& result = response.results.emplace_back();
    result.user = user;
    result.error_code = to_wire(ErrorCode::DUPLICATE_RESOURCE);
    result.error_message =
        "Cannot describe SCRAM credentials for the same user twice in a single request: " + user;
  }
  context.reply(response);
}

}  // namespace sluice::broker
