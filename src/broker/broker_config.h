#pragma once
// The broker's configuration: Kafka's server.properties keys with Kafka's
// defaults (Sluice's own: log.dirs=./data, listeners on 127.0.0.1:9092,
// admin.listener), read from a properties file plus `--set key=value`
// overrides. An unknown key or an invalid value is an error naming it; every
// key Kafka 3.9 knows is accepted (kafka_broker_configs.h), even where Sluice
// does not act on it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/config_def.h"
#include "base/result.h"
#include "broker/listener_security.h"
#include "net/server.h"

namespace sluice::broker {

// Every broker key Sluice knows, with type, default and validation.
const ConfigDefs& broker_config_defs();

struct ListenerAddress {
  std::string name;  // PLAINTEXT, ...
  std::string host;
  uint16_t port = 0;
};

// "NAME://host:port,..." as in `listeners` and `advertised.listeners`.
Result<std::vector<ListenerAddress>> parse_listeners(const std::string& text);

struct HostPort {
  std::string host;
  uint16_t port = 0;
  bool operator==(const HostPort&) const = default;
};

// KRaft's roles and quorum settings (Kafka's names and defaults: KafkaConfig,
// QuorumConfig), resolved and checked once at load (BrokerConfig::load fails
// with Kafka's message, naming the setting, on a misconfiguration).
// process.roles unset is Sluice's lone default node: broker and controller
// at once, a quorum of one whose only voter is itself (`roles_explicit`
// false); a node with the roles set must have formatted storage
// (`sluice storage format`) and a voter set or bootstrap servers.
struct QuorumSettings {
  bool roles_explicit = false;  // process.roles was set
  bool broker_role = true;
  bool controller_role = true;
  // controller.quorum.voters: id -> host:port. For the lone default node,
  // just this node at its controller endpoint (or first listener).
  std::map<int32_t, HostPort> voters;
  std::vector<HostPort> bootstrap_servers;  // controller.quorum.bootstrap.servers
  // inter.broker.listener.name, or the listener named after
  // security.inter.broker.protocol when unset (Kafka's rule).
  std::string inter_broker_listener_name;
  std::optional<std::string> broker_rack;        // broker.rack
  int32_t election_timeout_ms = 1000;            // controller.quorum.election.timeout.ms
  int32_t fetch_timeout_ms = 2000;               // controller.quorum.fetch.timeout.ms
  int32_t election_backoff_max_ms = 1000;        // controller.quorum.election.backoff.max.ms
  int32_t request_timeout_ms = 2000;             // controller.quorum.request.timeout.ms
  int32_t retry_backoff_ms = 20;                 // controller.quorum.retry.backoff.ms
  int32_t broker_heartbeat_interval_ms = 2000;   // broker.heartbeat.interval.ms
  int32_t broker_session_timeout_ms = 9000;      // broker.session.timeout.ms
  int64_t snapshot_record_bytes_max = 20971520;  // metadata.log.max.record.bytes.between.snapshots
  int64_t snapshot_interval_ms = 3600000;        // metadata.log.max.snapshot.interval.ms

  bool combined() const { return broker_role && controller_role; }
};

// controller.quorum.voters entries (`id@host:port`), Kafka's messages on a
// malformed one.
Result<std::map<int32_t, HostPort>> parse_quorum_voters(const std::vector<std::string>& entries);
// controller.quorum.bootstrap.servers entries (`host:port`).
Result<std::vector<HostPort>> parse_quorum_bootstrap_servers(
    const std::vector<std::string>& entries);

struct BrokerConfig {
  Config values;  // every key, typed; the fields below are derived from it

  int32_t node_id = 1;
  std::vector<ListenerAddress> listeners;
  std::vector<ListenerAddress> advertised_listeners;
  std::vector<std::string> log_dirs;
  std::string metadata_log_dir;                        // metadata.log.dir, or the first log dir
  std::vector<std::string> controller_listener_names;  // controller.listener.names
  // Keys read on every request, resolved once at load (the static config
  // never changes while the broker runs) so a handler reads a field instead
  // of looking a name up in a map per request or per partition.
  bool produce_fsync = true;    // sluice.produce.fsync
  int64_t fetch_max_bytes = 0;  // fetch.max.bytes
  // num.io.threads: the threads Produce's appends run on (broker/produce.cc),
  // Kafka's request-handler threads that do its appends.
  int32_t append_threads = 8;
  bool auto_create_topics = false;  // auto.create.topics.enable
  // transaction.partition.verification.enable (KIP-890: produce.cc asks the
  // transaction coordinator before a transaction opens on a partition).
  // Kafka may change it at run time; here the value at start holds.
  bool transaction_partition_verification = true;
  // replica.selector.class is Kafka's RackAwareReplicaSelector (KIP-392):
  // the leader names a consumer's in-rack in-sync follower
  // (PreferredReadReplica). False (unset): consumers read from the leader.
  bool rack_aware_replica_selector = false;
  QuorumSettings quorum;
  // listener.name.<listener>.<key> settings (listener_security.h).
  ListenerOverrides listener_overrides;
  // By listener name: protocol, TLS context, SASL mechanisms and users.
  std::map<std::string, ListenerSecurity> listener_security;

  // Reads `properties_text` (may be empty) then applies `overrides`.
  static Result<BrokerConfig> load(const std::string& properties_text,
                                   const std::map<std::string, std::string>& overrides);

  net::ServerConfig server_config() const;
  // Keys set explicitly that Sluice accepts for Kafka's sake but ignores.
  std::vector<std::string> inert_settings() const;
  // Quorum keys set on the lone default node (process.roles unset), which
  // is its own quorum whatever they say.
  std::vector<std::string> ignored_quorum_settings() const;
  // A listener named in controller.listener.names serves the controller's
  // APIs only (handlers.h, ListenerRole).
  bool is_controller_listener(const std::string& listener_name) const {
    for (const std::string& name : controller_listener_names)
      if (name == listener_name) return true;
    return false;
  }
  // The listeners named in controller.listener.names, in `listeners` order.
  std::vector<ListenerAddress> controller_listeners() const;
  // Where other nodes reach this node's controller: the advertised listener
  // of the first controller listener name, else that listener (Kafka's
  // effectiveAdvertisedControllerListeners); nullopt without one.
  std::optional<ListenerAddress> controller_endpoint() const;
  // This node votes in the metadata quorum: a controller among the voters.
  bool is_voter() const { return quorum.controller_role && quorum.voters.count(node_id) != 0; }
  int64_t get_int(const std::string& name) const { return values.get_int(name); }
  bool get_bool(const std::string& name) const { return values.get_bool(name); }
  std::string get_string(const std::string& name) const { return values.get_string(name); }
};

}  // namespace sluice::broker
