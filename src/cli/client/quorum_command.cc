// sluice cluster add-controller / remove-controller: KIP-853's voter changes,
// Kafka's `kafka-metadata-quorum.sh --bootstrap-controller HOST:PORT
// add-controller --command-config controller.properties` and
// `remove-controller --controller-id N --controller-directory-id UUID`.
//
// The request goes to the quorum's leader: the controller named first is
// asked with DescribeQuorum, which names the leader and its endpoint (a
// controller that does not lead names it in its answer's Nodes).

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/error_code.h"
#include "cli/client/commands.h"
#include "cli/client/kafka_wire.h"
#include "cli/client/output.h"
#include "protocol/messages/add_raft_voter_request.h"
#include "protocol/messages/add_raft_voter_response.h"
#include "protocol/messages/describe_quorum_request.h"
#include "protocol/messages/describe_quorum_response.h"
#include "protocol/messages/remove_raft_voter_request.h"
#include "protocol/messages/remove_raft_voter_response.h"

namespace sluice::cli::client {
namespace {

struct ControllerChangeOptions {
  ConnectionOptions connection;
  std::string bootstrap_controller;
  std::string command_config;
  int32_t controller_id = -1;
  std::string controller_directory_id;
};

using Properties = std::map<std::string, std::string>;

std::string trim(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// A Java-style properties file: key=value (or key:value) lines, # and ! comments.
Properties read_properties(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw CommandError("cannot read " + path);
  Properties properties;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == '!') continue;
    const size_t separator = line.find_first_of("=:");
    if (separator == std::string::npos) continue;
    properties[trim(line.substr(0, separator))] = trim(line.substr(separator + 1));
  }
  return properties;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string::npos) end = text.size();
    std::string item = trim(text.substr(start, end - start));
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

std::optional<Uuid> uuid_from_base64url(const std::string& text) {
  if (text.size() != 22) return std::nullopt;
  Uuid uuid;
  uint32_t bits = 0;
  int bit_count = 0;
  size_t at = 0;
  for (char c : text) {
    int value = c >= 'A' && c <= 'Z'   ? c - 'A'
                : c >= 'a' && c <= 'z' ? c - 'a' + 26
                : c >= '0' && c <= '9' ? c - '0' + 52
                : c == '-'             ? 62
                : c == '_'             ? 63
                                       : -1;
    if (value < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8 && at < 16) {
      bit_count -= 8;
      uuid.bytes[at++] = static_cast<uint8_t>(bits >> bit_count);
    }
  }
  if (at != 16) return std::nullopt;
  return uuid;
}

// Kafka's getControllerId: node.id of a controller's configuration.
int32_t controller_id_of(const Properties& properties) {
  auto node_id = properties.find("node.id");
  if (node_id == properties.end())
    throw CommandError(
        "node.id not found in configuration file. Is this a valid controller configuration file?");
  int32_t id = -1;
  try {
    id = std::stoi(node_id->second);
  } catch (const std::logic_error&) {
    throw CommandError("node.id is not a number in configuration file");
  }
  if (id < 0)
    throw CommandError(
        "node.id was negative in configuration file. Is this a valid controller configuration "
        "file?");
  auto roles = properties.find("process.roles");
  if (roles == properties.end() || roles->second.find("controller") == std::string::npos)
    throw CommandError(
        "process.roles did not contain 'controller' in configuration file. Is this a valid "
        "controller configuration file?");
  return id;
}

// Kafka's getMetadataDirectory and getMetadataDirectoryId.
Uuid directory_id_of(const Properties& properties) {
  std::string dir;
  if (auto found = properties.find("metadata.log.dir"); found != properties.end()) {
    dir = found->second;
  } else if (auto dirs = properties.find("log.dirs"); dirs != properties.end()) {
    auto list = split(dirs->second, ',');
    if (!list.empty()) dir = list.front();
  } else if (auto one = properties.find("log.dir"); one != properties.end()) {
    dir = one->second;
  }
  if (dir.empty())
    throw CommandError(
        "Neither metadata.log.dir nor log.dirs were found. Is this a valid controller "
        "configuration file?");
  Properties meta;
  try {
    meta = read_properties(dir + "/meta.properties");
  } catch (const CommandError&) {
    throw CommandError("Unable to read meta.properties from " + dir);
  }
  auto text = meta.find("directory.id");
  if (text == meta.end()) throw CommandError("No directory id found in " + dir);
  auto id = uuid_from_base64url(text->second);
  if (!id) throw CommandError("No directory id found in " + dir);
  return *id;
}

// Kafka's getControllerAdvertisedListeners: each controller listener's
// endpoint, advertised.listeners over listeners.
std::vector<protocol::AddRaftVoterRequest::Listener> controller_listeners_of(
    const Properties& properties) {
  std::map<std::string, protocol::AddRaftVoterRequest::Listener> by_name;
  for (const char* key : {"listeners", "advertised.listeners"}) {
    auto list = properties.find(key);
    if (list == properties.end()) continue;
    for (const std::string& item : split(list->second, ',')) {
      const size_t scheme = item.find("://");
      const size_t colon = item.rfind(':');
      if (scheme == std::string::npos || colon == std::string::npos || colon < scheme + 3)
        throw CommandError("cannot parse the listener " + item);
      protocol::AddRaftVoterRequest::Listener listener;
      listener.name = item.substr(0, scheme);
      listener.host = item.substr(scheme + 3, colon - scheme - 3);
      if (listener.host.empty()) listener.host = "localhost";
      try {
        listener.port = static_cast<uint16_t>(std::stoi(item.substr(colon + 1)));
      } catch (const std::logic_error&) {
        throw CommandError("cannot parse the listener " + item);
      }
      by_name[listener.name] = listener;
    }
  }
  auto names = properties.find("controller.listener.names");
  if (names == properties.end())
    throw CommandError(
        "controller.listener.names was not found. Is this a valid controller configuration file?");
  std::vector<protocol::AddRaftVoterRequest::Listener> out;
  for (const std::string& name : split(names->second, ',')) {
    auto listener = by_name.find(name);
    if (listener == by_name.end())
      throw CommandError("Cannot find information about controller listener name: " + name);
    out.push_back(listener->second);
  }
  return out;
}

std::string servers_of(const ControllerChangeOptions& options) {
  return options.bootstrap_controller.empty() ? options.connection.bootstrap_servers
                                              : options.bootstrap_controller;
}

int timeout_ms_of(const ControllerChangeOptions& options) {
  return static_cast<int>(options.connection.timeout_sec * 1000);
}

// A connection to the quorum's leader: the first reachable controller says
// who leads and where (DescribeQuorum).
std::unique_ptr<WireConnection> connect_to_leader(const ControllerChangeOptions& options) {
  const int timeout_ms = timeout_ms_of(options) + 5000;  // the server waits up to the timeout
  auto connection = std::make_unique<WireConnection>(servers_of(options), timeout_ms);
  protocol::DescribeQuorumRequest request;
  auto& topic = request.topics.emplace_back();
  topic.topic_name = "__cluster_metadata";
  topic.partitions.emplace_back().partition_index = 0;
  protocol::DescribeQuorumResponse response = connection->call(request);
  if (response.topics.empty() || response.topics[0].partitions.empty()) return connection;
  const auto& partition = response.topics[0].partitions[0];
  if (partition.error_code == 0 || partition.leader_id < 0) return connection;
  for (const auto& node : response.nodes) {
    if (node.node_id != partition.leader_id || node.listeners.empty()) continue;
    const auto& listener = node.listeners.front();
    return std::make_unique<WireConnection>(listener.host + ":" + std::to_string(listener.port),
                                            timeout_ms);
  }
  return connection;  // the leader's endpoint is not known: its answer says so
}

void check_answer(const char* what, int16_t error, const std::optional<std::string>& message) {
  if (error == 0) return;
  std::string text = std::string(what) + ": " + error_name(static_cast<ErrorCode>(error));
  if (message && !message->empty()) text += ": " + *message;
  throw CommandError(text);
}

void add_controller(const ControllerChangeOptions& options) {
  if (options.command_config.empty())
    throw CommandError(
        "You must supply the configuration file of the controller you are adding when using "
        "add-controller.");
  const Properties properties = read_properties(options.command_config);
  protocol::AddRaftVoterRequest request;
  request.cluster_id = std::nullopt;
  request.voter_id = controller_id_of(properties);
  request.voter_directory_id = directory_id_of(properties);
  request.listeners = controller_listeners_of(properties);
  request.timeout_ms = timeout_ms_of(options);
  auto connection = connect_to_leader(options);
  protocol::AddRaftVoterResponse response = connection->call(request);
  check_answer("add controller", response.error_code, response.error_message);
  std::string endpoints;
  for (const auto& listener : request.listeners)
    endpoints += (endpoints.empty() ? "" : ", ") + listener.name + "://" + listener.host + ":" +
                 std::to_string(listener.port);
  std::printf("Added controller %d with directory id %s and endpoints: %s\n", request.voter_id,
              uuid_to_base64url(request.voter_directory_id).c_str(), endpoints.c_str());
}

void remove_controller(const ControllerChangeOptions& options) {
  if (options.controller_id < 0)
    throw CommandError("Invalid negative --controller-id: " +
                       std::to_string(options.controller_id));
  auto directory_id = uuid_from_base64url(options.controller_directory_id);
  if (!directory_id)
    throw CommandError("Failed to parse --controller-directory-id: " +
                       options.controller_directory_id);
  protocol::RemoveRaftVoterRequest request;
  request.cluster_id = std::nullopt;
  request.voter_id = options.controller_id;
  request.voter_directory_id = *directory_id;
  auto connection = connect_to_leader(options);
  protocol::RemoveRaftVoterResponse response = connection->call(request);
  check_answer("remove controller", response.error_code, response.error_message);
  std::printf("Removed KRaft controller %d with directory id %s\n", options.controller_id,
              options.controller_directory_id.c_str());
}

void add_change_options(CLI::App* command, ControllerChangeOptions& options) {
  command
      ->add_option("--bootstrap-controller", options.bootstrap_controller,
                   "Controller(s) to connect to, host:port[,host:port] (their CONTROLLER listener)")
      ->required();
  command
      ->add_option("--timeout", options.connection.timeout_sec,
                   "Seconds the change may take (the new voter catching up, the commit)")
      ->capture_default_str();
}

}  // namespace

void add_quorum_commands(CLI::App& cluster, Action& action) {
  auto options = std::make_shared<ControllerChangeOptions>();
  options->connection.timeout_sec = 30;
  CLI::App* add = cluster.add_subcommand("add-controller",
                                         "Add a controller to the KRaft quorum (AddRaftVoter), as "
                                         "kafka-metadata-quorum.sh add-controller");
  add_change_options(add, *options);
  add->add_option("--command-config", options->command_config,
                  "The configuration file of the controller to add (its node.id, controller "
                  "listeners and metadata log dir)")
      ->required();
  add->callback([&action, options] {
    action = {"cluster add-controller", [options] { add_controller(*options); }};
  });
  CLI::App* remove = cluster.add_subcommand(
      "remove-controller", "Remove a controller from the KRaft quorum (RemoveRaftVoter)");
  add_change_options(remove, *options);
  remove->add_option("-i,--controller-id", options->controller_id, "The id of the controller")
      ->required();
  remove
      ->add_option("-d,--controller-directory-id", options->controller_directory_id,
                   "The directory id of the controller (sluice cluster info shows it)")
      ->required();
  remove->callback([&action, options] {
    action = {"cluster remove-controller", [options] { remove_controller(*options); }};
  });
}

}  // namespace sluice::cli::client
