// sluice user create|delete|list: SCRAM users (KIP-554), as
// `kafka-configs.sh --entity-type users --alter --add-config
// 'SCRAM-SHA-256=[iterations=4096,password=...]'` manages them. The password
// never leaves this process: it is salted and stretched here (PBKDF2) and
// AlterUserScramCredentials carries the salted password, as Kafka's admin
// client sends it. Through the project's own codecs: librdkafka 2.0 has no
// call for these APIs.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "base/error_code.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "protocol/messages/alter_user_scram_credentials_request.h"
#include "protocol/messages/alter_user_scram_credentials_response.h"
#include "protocol/messages/describe_user_scram_credentials_request.h"
#include "protocol/messages/describe_user_scram_credentials_response.h"
#include "security/scram.h"

namespace sluice::cli::client {
namespace {

struct UserOptions {
  ConnectionOptions connection;
  std::string name;
  std::string password;
  std::string mechanism;  // create: SCRAM-SHA-256 by default; delete: all when empty
  int32_t iterations = security::scram_iterations_min;
};

security::ScramMechanism mechanism_named(const std::string& name) {
  auto mechanism = security::scram_mechanism_from_name(name);
  if (!mechanism)
    throw CommandError("unknown SCRAM mechanism " + name + " (SCRAM-SHA-256 or SCRAM-SHA-512)");
  return *mechanism;
}

void check_results(const protocol::AlterUserScramCredentialsResponse& response) {
  for (const auto& result : response.results)
    if (result.error_code != 0)
      throw CommandError("user " + result.user + ": " +
                         error_name(static_cast<ErrorCode>(result.error_code)) +
                         (result.error_message ? ": " + *result.error_message : std::string()));
}

std::vector<protocol::DescribeUserScramCredentialsResponse::DescribeUserScramCredentialsResult>
describe(WireConnection& connection, const std::vector<std::string>& users) {
  protocol::DescribeUserScramCredentialsRequest request;
  if (users.empty()) {
    request.users = std::nullopt;
  } else {
    request.users.emplace();
    for (const std::string& user : users) request.users->push_back({user, {}});
  }
  auto response = connection.call(request);
  if (response.error_code != 0)
    throw CommandError(error_name(static_cast<ErrorCode>(response.error_code)) +
                       (response.error_message ? ": " + *response.error_message : std::string()));
  return response.results;
}

void create_user(const UserOptions& options) {
  const security::ScramMechanism mechanism = mechanism_named(options.mechanism);
  std::vector<uint8_t> salt = security::random_scram_salt();
  protocol::AlterUserScramCredentialsRequest request;
  auto& upsertion = request.upsertions.emplace_back();
  upsertion.name = options.name;
  upsertion.mechanism = static_cast<int8_t>(mechanism);
  upsertion.iterations = options.iterations;
  upsertion.salted_password =
      security::scram_salted_password(mechanism, options.password, salt, options.iterations);
  upsertion.salt = std::move(salt);
  check_results(WireConnection::open(options.connection)->call(request));
  std::printf("Created %s credentials for user %s\n", options.mechanism.c_str(),
              options.name.c_str());
}

void delete_user(const UserOptions& options) {
  auto connection = WireConnection::open(options.connection);
  std::vector<int8_t> mechanisms;
  if (!options.mechanism.empty()) {
    mechanisms.push_back(static_cast<int8_t>(mechanism_named(options.mechanism)));
  } else {
    for (const auto& result : describe(*connection, {options.name})) {
      if (result.error_code != 0)
        throw CommandError("user " + result.user + ": " +
                           error_name(static_cast<ErrorCode>(result.error_code)));
      for (const auto& info : result.credential_infos) mechanisms.push_back(info.mechanism);
    }
  }
  // One request per mechanism: Kafka refuses a user named twice in one.
  for (int8_t mechanism : mechanisms) {
    protocol::AlterUserScramCredentialsRequest request;
    request.deletions.push_back({options.name, mechanism, {}});
    check_results(connection->call(request));
  }
  std::printf("Deleted the credentials of user %s\n", options.name.c_str());
}

// One line per user, as kafka-configs.sh --describe --entity-type users
// prints it.
void list_users(const UserOptions& options) {
  auto connection = WireConnection::open(options.connection);
  for (const auto& result : describe(*connection, {})) {
    std::string line = "SCRAM credential configs for user-principal '" + result.user + "' are ";
    for (size_t i = 0; i < result.credential_infos.size(); ++i) {
      const auto& info = result.credential_infos[i];
      auto mechanism = security::scram_mechanism_from_id(info.mechanism);
      line += (i ? ", " : "") +
              std::string(mechanism ? security::scram_mechanism_name(*mechanism) : "UNKNOWN") +
              "=iterations=" + std::to_string(info.iterations);
    }
    std::printf("%s\n", line.c_str());
  }
}

}  // namespace

void add_user_commands(CLI::App& app, Action& action) {
  CLI::App* user = app.add_subcommand("user", "SCRAM users of SASL listeners (KIP-554)");
  user->require_subcommand(1);
  auto options = std::make_shared<UserOptions>();

  CLI::App* create = user->add_subcommand("create", "Create or replace a user's SCRAM credential");
  add_connection_options(create, options->connection, /*with_json=*/false);
  create->add_option("name", options->name, "User name")->required();
  create->add_option("--password", options->password, "The password (never sent: salted here)")
      ->required();
  create->add_option("--mechanism", options->mechanism, "SCRAM-SHA-256 (default) or SCRAM-SHA-512")
      ->default_val("SCRAM-SHA-256");
  create->add_option("--iterations", options->iterations, "PBKDF2 iterations (4096..16384)")
      ->default_val(security::scram_iterations_min);
  create->callback([&action, options] {
    action = {"user create", [options] { create_user(*options); }};
  });

  CLI::App* remove = user->add_subcommand("delete", "Delete a user's SCRAM credentials");
  add_connection_options(remove, options->connection, /*with_json=*/false);
  remove->add_option("name", options->name, "User name")->required();
  remove->add_option("--mechanism", options->mechanism,
                     "Only this mechanism's credential (default: all)");
  remove->callback([&action, options] {
    action = {"user delete", [options] { delete_user(*options); }};
  });

  CLI::App* list = user->add_subcommand("list", "List the SCRAM users and their mechanisms");
  add_connection_options(list, options->connection, /*with_json=*/false);
  list->callback([&action, options] {
    action = {"user list", [options] { list_users(*options); }};
  });
}

}  // namespace sluice::cli::client
