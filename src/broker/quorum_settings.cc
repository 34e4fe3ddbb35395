// KRaft's roles and quorum settings: parsed and checked once at load, with
// the checks and messages of Kafka's KafkaConfig.validateValues and
// QuorumConfig (facts from Kafka 3.9), so a Kafka operator's mistake reads
// as it would with Kafka. Sluice's additions (a lone default node, a
// controller listener as inter-broker listener, advertised controller
// listeners on a broker-only node) say what to change in the same style.
#include "broker/quorum_settings.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <set>

#include "broker/broker_config.h"

namespace sluice::broker {
namespace {

const char kafka_mode_hint[] = "(i.e. when running in KRaft mode)";

Status config_error(std::string message) { return Status(Errc::invalid_value, std::move(message)); }

bool valid_host(const std::string& host) {
  if (host.empty()) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
           c == '%' || c == ':';
  });
}

// Kafka's Utils.getHost / getPort: "host:port" or "[ipv6]:port".
std::optional<HostPort> split_host_port(const std::string& text, bool* host_ok) {
  *host_ok = false;
  size_t colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  *host_ok = valid_host(host);
  if (!*host_ok) return std::nullopt;
  std::string port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  long number = std::stol(port);
  if (number > 65535) return std::nullopt;
  return HostPort{host, static_cast<uint16_t>(number)};
}

// Kafka prints a Scala Set of ids: "Set(1, 2)".
std::string id_set(const std::map<int32_t, HostPort>& voters) {
  std::string out = "Set(";
  for (auto it = voters.begin(); it != voters.end(); ++it)
    out += (it == voters.begin() ? "" : ", ") + std::to_string(it->first);
  return out + ")";
}

std::string join_names(const std::set<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ",") + name;
  return out;
}

struct Roles {
  bool broker = false;
  bool controller = false;
};

Result<Roles> parse_roles(const std::vector<std::string>& items) {
  Roles roles;
  for (const std::string& item : items) {
    bool& role = item == "broker" ? roles.broker : roles.controller;
    if (item != "broker" && item != "controller")
      return config_error("Unknown process role '" + item +
                          "' (only 'broker' and 'controller' are allowed roles)");
    if (role) {
      std::string listed;
      for (const std::string& name : items) listed += (listed.empty() ? "" : ", ") + name;
      return config_error("Duplicate role names found in `process.roles`: [" + listed + "]");
    }
    role = true;
  }
  if (!roles.broker && !roles.controller)
    return config_error(
        "process.roles is set but empty: give broker, controller or both (Sluice has no "
        "ZooKeeper mode; leave process.roles unset for a single combined node)");
  return roles;
}

std::set<std::string> listener_names(const std::vector<ListenerAddress>& listeners) {
  std::set<std::string> out;
  for (const ListenerAddress& address : listeners) out.insert(address.name);
  return out;
}

std::set<std::string> advertised_broker_listener_names(const BrokerConfig& config) {
  std::set<std::string> out;
  for (const ListenerAddress& address : config.advertised_listeners)
    if (!config.is_controller_listener(address.name)) out.insert(address.name);
  return out;
}

// inter.broker.listener.name, or the listener named after
// security.inter.broker.protocol (KafkaConfig's interBrokerListenerName).
Result<std::string> resolve_inter_broker_listener(const BrokerConfig& config) {
  const Config& values = config.values;
  if (auto name = values.text("inter.broker.listener.name")) {
    if (values.is_set("security.inter.broker.protocol"))
      return config_error(
          "Only one of inter.broker.listener.name and security.inter.broker.protocol should be "
          "set.");
    if (effective_protocol_map(config).count(*name) == 0)
      return config_error("Listener with name " + *name +
                          " defined in inter.broker.listener.name not found in "
                          "listener.security.protocol.map.");
    return *name;
  }
  std::string protocol = values.get_string("security.inter.broker.protocol");
  static const std::set<std::string> protocols{"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
  if (protocols.count(protocol) == 0)
    return config_error("Invalid security protocol `" + protocol +
                        "` defined in security.inter.broker.protocol");
  return protocol;
}

// The checks every broker (broker-only or combined) passes in Kafka.
Status check_broker_listeners(const BrokerConfig& config, const std::string& inter_broker) {
  std::set<std::string> advertised = advertised_broker_listener_names(config);
  if (advertised.empty())
    return config_error(
        "There must be at least one broker advertised listener. Perhaps all listeners appear in "
        "controller.listener.names?");
  if (config.is_controller_listener(inter_broker))
    return config_error(
        "inter.broker.listener.name must not be a controller listener: " + inter_broker +
        " is named in controller.listener.names (brokers replicate over a "
        "broker listener)");
  if (advertised.count(inter_broker) == 0)
    return config_error(
        "inter.broker.listener.name must be a listener name defined in advertised.listeners. "
        "The valid options based on currently configured listeners are " +
        join_names(advertised));
  std::set<std::string> defined = listener_names(config.listeners);
  if (!std::includes(defined.begin(), defined.end(), advertised.begin(), advertised.end()))
    return config_error(
        "advertised.listeners listener names must be equal to or a subset of the ones defined in "
        "listeners. Found " +
        join_names(advertised) + ". The valid options based on the current configuration are " +
        join_names(defined));
  return Status::ok();
}

Status check_broker_only(const BrokerConfig& config, const QuorumSettings& quorum) {
  if (quorum.voters.count(config.node_id) != 0)
    return config_error("If process.roles contains just the 'broker' role, the node id " +
                        std::to_string(config.node_id) +
                        " must not be included in the set of voters controller.quorum.voters=" +
                        id_set(quorum.voters));
  if (config.controller_listener_names.empty())
    return config_error(
        "controller.listener.names must contain at least one value when running KRaft with just "
        "the broker role");
  if (!config.controller_listeners().empty())
    return config_error(
        "controller.listener.names must not contain a value appearing in the 'listeners' "
        "configuration when running KRaft with just the broker role");
  for (const ListenerAddress& address : config.advertised_listeners)
    if (config.is_controller_listener(address.name))
      return config_error("advertised.listeners must not contain the controller listener " +
                          address.name +
                          " (named in controller.listener.names) when running KRaft with just "
                          "the broker role");
  const auto protocols = effective_protocol_map(config);
  for (const std::string& name : config.controller_listener_names)
    if (protocols.count(name) == 0)
      return config_error(
          "Controller listener with name " + name +
          " defined in controller.listener.names not found in listener.security.protocol.map  "
          "(an explicit security mapping for each controller listener is required if "
          "listener.security.protocol.map is non-empty, or if there are security protocols other "
          "than PLAINTEXT in use)");
  return Status::ok();
}

Status check_controller(const BrokerConfig& config, const QuorumSettings& quorum) {
  if (!quorum.broker_role && config.controller_listeners().size() != config.listeners.size())
    return config_error(
        "The listeners config must only contain KRaft controller listeners from "
        "controller.listener.names when process.roles=controller");
  if (!quorum.voters.empty() && quorum.voters.count(config.node_id) == 0)
    return config_error(
        "If process.roles contains the 'controller' role, the node id " +
        std::to_string(config.node_id) +
        " must be included in the set of voters controller.quorum.voters=" + id_set(quorum.voters));
  if (config.controller_listeners().empty())
    return config_error(
        "controller.listener.names must contain at least one value appearing in the 'listeners' "
        "configuration when running the KRaft controller role");
  std::set<std::string> defined = listener_names(config.listeners);
  for (const std::string& name : config.controller_listener_names)
    if (defined.count(name) == 0)
      return config_error(
          "controller.listener.names must only contain values appearing in the 'listeners' "
          "configuration when running the KRaft controller role");
  return Status::ok();
}

// Kafka refuses to advertise 0.0.0.0 (to clients or to the quorum). Sluice
// rewrites it to 127.0.0.1 when advertised.listeners is unset, which is
// right for a lone node only: a cluster node must say where it is.
Status check_routable_advertised(const BrokerConfig& config) {
  const bool explicit_advertised = config.values.text("advertised.listeners").has_value() &&
                                   !config.values.get_string("advertised.listeners").empty();
  const std::string key = explicit_advertised ? "advertised.listeners" : "listeners";
  for (const std::string& item : split_list(config.values.get_string(key)))
    if (item.find("://0.0.0.0:") != std::string::npos)
      return config_error(
          "advertised.listeners cannot use the nonroutable meta-address 0.0.0.0. Use a routable "
          "IP address." +
          std::string(explicit_advertised
                          ? ""
                          : " (advertised.listeners is unset, so the listeners are advertised: "
                            "set advertised.listeners)"));
  return Status::ok();
}

// Kafka's KRaft checks, for a node whose process.roles is set.
Status check_kraft(const BrokerConfig& config, const QuorumSettings& quorum) {
  // broker.id may stand in for node.id, and allows -1 (Kafka's "generate
  // one", which KRaft does not do).
  if ((!config.values.is_set("node.id") && !config.values.is_set("broker.id")) ||
      config.node_id < 0)
    return config_error(
        "Missing configuration `node.id` which is required when `process.roles` is defined " +
        std::string(kafka_mode_hint) + ".");
  if (quorum.voters.empty() && quorum.bootstrap_servers.empty())
    return config_error(
        "If using process.roles, either controller.quorum.bootstrap.servers must contain the set "
        "of bootstrap controllers or controller.quorum.voters must contain a parseable set of "
        "controllers.");
  if (Status s = check_routable_advertised(config); !s) return s;
  if (!quorum.controller_role) return check_broker_only(config, quorum);
  return check_controller(config, quorum);
}

int32_t get_int32(const Config& values, const char* name) {
  return static_cast<int32_t>(values.get_int(name));
}

}  // namespace

Result<std::map<int32_t, HostPort>> parse_quorum_voters(const std::vector<std::string>& entries) {
  std::map<int32_t, HostPort> voters;
  const std::string form = ". Each entry should be in the form `{id}@{host}:{port}`.";
  for (const std::string& entry : entries) {
    size_t at = entry.find('@');
    if (at == std::string::npos || entry.find('@', at + 1) != std::string::npos)
      return config_error("Invalid configuration value for controller.quorum.voters" + form);
    std::string id = entry.substr(0, at);
    char* end = nullptr;
    errno = 0;
    long number = std::strtol(id.c_str(), &end, 10);
    if (id.empty() || *end != '\0' || errno != 0 || number < INT32_MIN || number > INT32_MAX)
      return config_error("Failed to parse voter ID as an integer from " + id);
    bool host_ok = false;
    auto address = split_host_port(entry.substr(at + 1), &host_ok);
    if (!host_ok)
      return config_error("Failed to parse host name from entry " + entry +
                          " for the configuration controller.quorum.voters" + form);
    if (!address)
      return config_error("Failed to parse host port from entry " + entry +
                          " for the configuration controller.quorum.voters" + form);
    voters[static_cast<int32_t>(number)] = *address;
  }
  return voters;
}

Result<std::vector<HostPort>> parse_quorum_bootstrap_servers(
    const std::vector<std::string>& entries) {
  std::vector<HostPort> servers;
  const std::string form =
      " for the configuration controller.quorum.bootstrap.servers. Each entry should be in the "
      "form \"{host}:{port}\"";
  for (const std::string& entry : entries) {
    bool host_ok = false;
    auto address = split_host_port(entry, &host_ok);
    if (!host_ok) return config_error("Failed to parse host name from " + entry + form);
    if (!address) return config_error("Failed to parse host port from " + entry + form);
    servers.push_back(*address);
  }
  return servers;
}

Result<QuorumSettings> resolve_quorum_settings(const BrokerConfig& config) {
  const Config& values = config.values;
  QuorumSettings quorum;
  if (values.is_set("node.id") && values.is_set("broker.id") &&
      values.get_int("node.id") != values.get_int("broker.id"))
    return config_error("You must set `node.id` to the same value as `broker.id`.");
  quorum.roles_explicit = values.is_set("process.roles");
  if (quorum.roles_explicit) {
    auto roles = parse_roles(values.get_list("process.roles"));
    if (!roles) return roles.status();
    quorum.broker_role = roles->broker;
    quorum.controller_role = roles->controller;
  }
  auto voters = parse_quorum_voters(values.get_list("controller.quorum.voters"));
  if (!voters) return voters.status();
  auto bootstrap =
      parse_quorum_bootstrap_servers(values.get_list("controller.quorum.bootstrap.servers"));
  if (!bootstrap) return bootstrap.status();
  quorum.voters = std::move(voters.value());
  quorum.bootstrap_servers = std::move(bootstrap.value());

  auto inter_broker = resolve_inter_broker_listener(config);
  if (!inter_broker) return inter_broker.status();
  quorum.inter_broker_listener_name = *inter_broker;

  if (quorum.roles_explicit) {
    if (Status s = check_kraft(config, quorum); !s) return s;
    if (quorum.broker_role)
      if (Status s = check_broker_listeners(config, quorum.inter_broker_listener_name); !s)
        return s;
  } else {
    // The lone default node keeps today's behaviour: it is its own quorum
    // whatever the voter settings say (serve logs that they are ignored);
    // only an inter-broker listener named explicitly must exist.
    if (values.is_set("inter.broker.listener.name"))
      if (Status s = check_broker_listeners(config, quorum.inter_broker_listener_name); !s)
        return s;
    auto self = config.controller_endpoint();
    const ListenerAddress& address = self ? *self : config.advertised_listeners.front();
    quorum.voters = {{config.node_id, HostPort{address.host, address.port}}};
    quorum.bootstrap_servers.clear();
  }

  quorum.broker_rack = values.text("broker.rack");
  quorum.election_timeout_ms = get_int32(values, "controller.quorum.election.timeout.ms");
  quorum.fetch_timeout_ms = get_int32(values, "controller.quorum.fetch.timeout.ms");
  quorum.election_backoff_max_ms = get_int32(values, "controller.quorum.election.backoff.max.ms");
  quorum.request_timeout_ms = get_int32(values, "controller.quorum.request.timeout.ms");
  quorum.retry_backoff_ms = get_int32(values, "controller.quorum.retry.backoff.ms");
  quorum.broker_heartbeat_interval_ms = get_int32(values, "broker.heartbeat.interval.ms");
  quorum.broker_session_timeout_ms = get_int32(values, "broker.session.timeout.ms");
  quorum.snapshot_record_bytes_max =
      values.get_int("metadata.log.max.record.bytes.between.snapshots");
  quorum.snapshot_interval_ms = values.get_int("metadata.log.max.snapshot.interval.ms");
  return quorum;
}

std::vector<std::string> BrokerConfig::ignored_quorum_settings() const {
  std::vector<std::string> out;
  if (quorum.roles_explicit) return out;
  for (const char* name : {"controller.quorum.voters", "controller.quorum.bootstrap.servers"})
    if (values.is_set(name) && !values.get_list(name).empty()) out.push_back(name);
  return out;
}

std::vector<ListenerAddress> BrokerConfig::controller_listeners() const {
  std::vector<ListenerAddress> out;
  for (const ListenerAddress& address : listeners)
    if (is_controller_listener(address.name)) out.push_back(address);
  return out;
}

std::optional<ListenerAddress> BrokerConfig::controller_endpoint() const {
  for (const std::string& name : controller_listener_names) {
    for (const ListenerAddress& address : advertised_listeners)
      if (address.name == name) return address;
    for (const ListenerAddress& address : listeners)
      if (address.name == name) return address;
  }
  return std::nullopt;
}

}  // namespace sluice::broker
