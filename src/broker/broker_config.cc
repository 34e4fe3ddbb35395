#include "broker/broker_config.h"

#include <set>
#include <thread>

#include "broker/kafka_broker_configs.h"
#include "broker/quorum_settings.h"

namespace sluice::broker {
namespace {

using T = ConfigType;

ConfigDef def(std::string name, ConfigType type, std::optional<std::string> default_value,
              std::string doc,
              std::function<std::optional<std::string>(const ConfigValue&)> validator = {},
              bool read_only = true) {
  return ConfigDef{std::move(name),      type,     std::move(default_value), std::move(doc),
                   std::move(validator), read_only};
}

std::vector<ConfigDef> make_defs() {
  const std::string cores = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  return {
      // identity and roles
      def("node.id", T::int32, "1", "This node's id in the cluster.", at_least(0)),
      def("broker.id", T::int32, "-1", "Alias of node.id kept for old configs.", at_least(-1)),
      def("process.roles", T::list, "broker,controller", "Roles of this node.",
          each_one_of({"broker", "controller"})),
      def("cluster.id", T::string, std::nullopt, "Cluster id; generated at first start if unset."),
      def("controller.quorum.voters", T::list, "", "id@host:port of the controller voters."),
      def("controller.quorum.bootstrap.servers", T::list, "", "Controller bootstrap servers."),
      def("controller.listener.names", T::list, "CONTROLLER", "Listeners used by controllers."),
      def("broker.rack", T::string, std::nullopt, "Rack of this broker."),
      def("replica.selector.class", T::string, std::nullopt,
          "KIP-392: unset, the leader serves consumers; "
          "org.apache.kafka.common.replica.RackAwareReplicaSelector: the leader sends a consumer "
          "(client.rack) to an in-sync replica in its rack."),
      // network
      def("listeners", T::list, "PLAINTEXT://127.0.0.1:9092", "Listeners: NAME://host:port,..."),
      def("advertised.listeners", T::list, std::nullopt,
          "Addresses given to clients; defaults to listeners."),
      def("listener.security.protocol.map", T::list,
          "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,"
          "SASL_SSL:SASL_SSL",
          "Listener name to security protocol."),
      def("inter.broker.listener.name", T::string, std::nullopt, "Listener between brokers."),
      def("num.network.threads", T::int32, cores, "Reactor threads (one per core by default).",
          at_least(1)),
      def("num.io.threads", T::int32, "8",
          "Threads that append Produce's batches (a partition always on the same one); "
          "other handlers run on reactors.",
          at_least(1)),
      def("socket.request.max.bytes", T::int32, "104857600", "Largest request frame accepted.",
          at_least(1)),
      def("socket.send.buffer.bytes", T::int32, "102400", "SO_SNDBUF; -1 for the OS default."),
      def("socket.receive.buffer.bytes", T::int32, "102400", "SO_RCVBUF; -1 for the OS default."),
      def("connections.max.idle.ms", T::int64, "600000", "Idle connections are closed after this.",
          at_least(1)),
      // Kafka's default is -1 (unbounded); Sluice bounds it by default: five
      // frames of socket.request.max.bytes, so hostile or merely many clients
      // cannot take the broker's memory (src/net/README.md).
      def("queued.max.request.bytes", T::int64, "536870912",
          "Request bytes held by all connections at most; reading stops while spent. "
          "-1: unbounded. A frame larger than this waits until no other is held.",
          at_least(-1)),
      def("sluice.request.receive.timeout.ms", T::int64, "30000",
          "A request frame not fully received this long after its body began closes the "
          "connection (Sluice-specific: Kafka has no such bound).",
          at_least(1)),
      def("sluice.log.repeated.warning.interval.ms", T::int64, "10000",
          "A warning clients can repeat at will (a rejected request, a failed accept) is "
          "written once per kind and interval, then with the count suppressed (Sluice-specific).",
          at_least(1)),
      def("queued.max.requests", T::int32, "500", "Requests in flight per connection at most.",
          at_least(1)),
      // security (listener_security.h; each also per listener as
      // listener.name.<listener>.<key>)
      def("sasl.enabled.mechanisms", T::list, "GSSAPI",
          "SASL mechanisms of SASL listeners; Sluice serves PLAIN, SCRAM-SHA-256, SCRAM-SHA-512."),
      def("sasl.jaas.config", T::password, std::nullopt,
          "JAAS entry (PlainLoginModule with user_<name>=\"<password>\" options gives PLAIN's "
          "users)."),
      def("sluice.sasl.jaas.file", T::string, std::nullopt,
          "A JAAS file as Kafka's java.security.auth.login.config takes it (KafkaServer and "
          "<listener>.KafkaServer sections): PLAIN's users."),
      def("authorizer.class.name", T::string, "",
          "org.apache.kafka.metadata.authorizer.StandardAuthorizer: requests are checked against "
          "the "
          "ACLs; empty: no authorization (Kafka's default)."),
      def("super.users", T::string, "",
          "Principals allowed everything, ';'-separated (User:admin;User:ops)."),
      def("allow.everyone.if.no.acl.found", T::boolean, "false",
          "A resource no ACL names is allowed to everyone (true) or to super users only (false)."),
      def("connections.max.reauth.ms", T::int64, "0",
          "KIP-368: SASL sessions last at most this long, then the client re-authenticates; 0: "
          "forever.",
          at_least(0)),
      def("ssl.keystore.type", T::string, "JKS",
          "PEM (the only type Sluice reads; unset means PEM)."),
      def("ssl.keystore.location", T::string, std::nullopt,
          "PEM file: private key and certificate chain."),
      def("ssl.keystore.key", T::password, std::nullopt, "Inline PEM private key."),
      def("ssl.keystore.certificate.chain", T::password, std::nullopt,
          "Inline PEM certificate chain."),
      def("ssl.keystore.password", T::password, std::nullopt, "Password of an encrypted key."),
      def("ssl.key.password", T::password, std::nullopt, "Password of an encrypted private key."),
      def("ssl.truststore.type", T::string, "JKS",
          "PEM (the only type Sluice reads; unset means PEM)."),
      def("ssl.truststore.location", T::string, std::nullopt,
          "PEM file of the CAs clients chain to."),
      def("ssl.truststore.certificates", T::password, std::nullopt, "Inline PEM CA certificates."),
      def("ssl.client.auth", T::string, "none",
          "Client certificates: none, requested or required."),
      def("ssl.enabled.protocols", T::list, "TLSv1.2,TLSv1.3", "TLS versions served."),
      def("ssl.cipher.suites", T::list, "",
          "Cipher suites (IANA or OpenSSL names); empty: defaults."),
      def("ssl.principal.mapping.rules", T::string, "DEFAULT",
          "Rules from a client certificate's subject to its principal name."),
      // quotas (quotas.h)
      def("quota.window.num", T::int32, "11",
          "Samples a client's byte and request rates are measured over.", at_least(1)),
      def("quota.window.size.seconds", T::int32, "1", "Length of one quota sample.", at_least(1)),
      def("controller.quota.window.num", T::int32, "11",
          "Samples of the controller mutation quota (its burst).", at_least(1)),
      def("controller.quota.window.size.seconds", T::int32, "1",
          "Length of one controller mutation quota sample.", at_least(1)),
      def("admin.listener", T::string, "127.0.0.1:9644",
          "host:port of the admin HTTP port (metrics, health); empty to disable."),
      def("admin.authentication", T::string, "auto",
          "Who may use the admin HTTP port: auto (none on a loopback address, basic otherwise), "
          "none (everyone, as User:ANONYMOUS), basic (HTTP Basic with a SCRAM user's "
          "password) or mtls (HTTPS with a client certificate, named by "
          "ssl.principal.mapping.rules).",
          one_of({"auto", "none", "basic", "mtls"})),
      def("admin.ssl.keystore.location", T::string, std::nullopt,
          "With admin.authentication=mtls: PEM file of the admin port's private key and "
          "certificate chain."),
      def("admin.ssl.key.password", T::password, std::nullopt,
          "Password of an encrypted private key in admin.ssl.keystore.location."),
      def("admin.ssl.truststore.location", T::string, std::nullopt,
          "With admin.authentication=mtls: PEM file of the CAs admin clients' certificates "
          "chain to."),
      // storage
      def("log.dirs", T::list, "./data", "Directories holding partition logs."),
      def("log.dir", T::string, "./data", "Used when log.dirs is not set."),
      def("metadata.log.dir", T::string, std::nullopt,
          "Directory of the metadata log; the first log dir by default."),
      def("metadata.log.max.record.bytes.between.snapshots", T::int64, "20971520",
          "Bytes of committed metadata batches applied between two metadata snapshots.",
          at_least(1)),
      def("metadata.log.segment.bytes", T::int32, "1073741824",
          "Segment size of the metadata log (Sluice uses 64 MiB when it is not set).", at_least(1)),
      def("log.segment.bytes", T::int32, "1073741824", "Segment size before rolling.", at_least(14),
          false),
      def("log.roll.ms", T::int64, std::nullopt, "Segment age before rolling (ms).", at_least(1),
          false),
      def("log.roll.hours", T::int32, "168", "Segment age before rolling (hours).", at_least(1)),
      def("log.retention.ms", T::int64, std::nullopt, "Retention time (ms); -1: unlimited.", {},
          false),
      def("log.retention.minutes", T::int32, std::nullopt, "Retention time (minutes)."),
      def("log.retention.hours", T::int32, "168", "Retention time (hours)."),
      def("log.retention.bytes", T::int64, "-1", "Retention size per partition; -1: unlimited.", {},
          false),
      def("log.retention.check.interval.ms", T::int64, "300000", "How often retention runs.",
          at_least(1)),
      def("log.index.interval.bytes", T::int32, "4096", "Bytes between offset index entries.",
          at_least(0), false),
      def("log.index.size.max.bytes", T::int32, "10485760", "Largest offset index.", at_least(4),
          false),
      def("sluice.log.flush.threads", T::int32, "8",
          "Sluice's own: logs the group-commit flusher fsyncs at once (acks=all across "
          "partitions).",
          at_least(1)),
      def("log.flush.interval.messages", T::int64, "9223372036854775807",
          "Messages between forced flushes.", at_least(1), false),
      def("log.flush.interval.ms", T::int64, std::nullopt, "Time between forced flushes.", {},
          false),
      def("log.flush.scheduler.interval.ms", T::int64, "9223372036854775807",
          "How often the flusher checks flush.ms."),
      def("log.flush.offset.checkpoint.interval.ms", T::int32, "60000",
          "How often recovery points are checkpointed.", at_least(0)),
      def("log.flush.start.offset.checkpoint.interval.ms", T::int32, "60000",
          "How often log start offsets are checkpointed.", at_least(0)),
      def("log.segment.delete.delay.ms", T::int64, "60000", "Delay before deleting a segment file.",
          at_least(0), false),
      def("log.cleanup.policy", T::list, "delete", "Default cleanup.policy.",
          each_one_of({"delete", "compact"}), false),
      def("log.cleaner.enable", T::boolean, "true", "Run the log cleaner."),
      def("log.cleaner.threads", T::int32, "1", "Log cleaner threads.", at_least(0), false),
      def("log.cleaner.backoff.ms", T::int64, "15000", "Sleep when nothing is to clean.",
          at_least(0), false),
      def("log.cleaner.dedupe.buffer.size", T::int64, "134217728", "Cleaner offset map memory.", {},
          false),
      def("log.cleaner.io.buffer.size", T::int32, "524288", "Cleaner I/O buffer.", at_least(0),
          false),
      def("log.cleaner.io.buffer.load.factor", T::float64, "0.9",
          "How full the cleaner's offset map may get.", {}, false),
      def("log.cleaner.min.cleanable.ratio", T::float64, "0.5",
          "Default min.cleanable.dirty.ratio.", {}, false),
      def("log.cleaner.delete.retention.ms", T::int64, "86400000", "Default delete.retention.ms.",
          at_least(0), false),
      def("log.cleaner.min.compaction.lag.ms", T::int64, "0", "Default min.compaction.lag.ms.",
          at_least(0), false),
      def("log.cleaner.max.compaction.lag.ms", T::int64, "9223372036854775807",
          "Default max.compaction.lag.ms.", at_least(1), false),
      def("log.message.downconversion.enable", T::boolean, "true",
          "Default message.downconversion.enable.", {}, false),
      def("log.message.timestamp.type", T::string, "CreateTime", "Default message.timestamp.type.",
          one_of({"CreateTime", "LogAppendTime"}), false),
      def("log.preallocate", T::boolean, "false", "Default preallocate.", {}, false),
      // Kafka 4.0's default (Kafka 3.9's was unbounded): a producer's clock
      // an hour ahead is refused rather than stored for retention to trip on.
      def("log.message.timestamp.after.max.ms", T::int64, "3600000",
          "Default message.timestamp.after.max.ms.", at_least(0), false),
      def("log.message.timestamp.before.max.ms", T::int64, "9223372036854775807",
          "Default message.timestamp.before.max.ms.", at_least(0), false),
      // Kafka's default is 1; Sluice's 8: opening and closing logs waits on
      // the device (fsyncs at close), so threads beyond the cores overlap it.
      def("num.recovery.threads.per.data.dir", T::int32, "8",
          "Logs opened (recovered) and closed at once per log dir, at start and shutdown.",
          at_least(1)),
      // topics
      def("num.partitions", T::int32, "1", "Partitions of an auto-created topic.", at_least(1),
          false),
      def("default.replication.factor", T::int32, "1", "Replicas of an auto-created topic.",
          at_least(1)),
      def("auto.create.topics.enable", T::boolean, "true",
          "Create a topic when a client asks for its metadata."),
      def("delete.topic.enable", T::boolean, "true", "Allow DeleteTopics."),
      def("message.max.bytes", T::int32, "1048588", "Largest record batch accepted.", at_least(0),
          false),
      def("min.insync.replicas", T::int32, "1", "Default min.insync.replicas.", at_least(1), false),
      def("compression.type", T::string, "producer", "Default compression.type.",
          one_of({"uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"}), false),
      def("unclean.leader.election.enable", T::boolean, "false",
          "Elect an out-of-sync replica when no in-sync one is left.", {}, false),
      def("unclean.leader.election.interval.ms", T::int64, "300000",
          "How often the active controller elects leaders uncleanly where topics allow it.",
          at_least(1)),
      def("auto.leader.rebalance.enable", T::boolean, "true",
          "The active controller moves leadership back to preferred replicas periodically."),
      def("leader.imbalance.check.interval.seconds", T::int64, "300",
          "How often the active controller looks for leaders off their preferred replica.",
          at_least(1)),
      def("replica.lag.time.max.ms", T::int64, "30000", "Follower lag before leaving the ISR."),
      def("replica.fetch.max.bytes", T::int32, "1048576", "Follower fetch partition size.",
          at_least(0)),
      def("num.replica.fetchers", T::int32, "1",
          "Fetcher threads per source broker a follower's partitions are spread over.",
          at_least(1)),
      def("replica.high.watermark.checkpoint.interval.ms", T::int64, "5000",
          "How often each log dir's replication-offset-checkpoint is written.", at_least(1)),
      def("fetch.max.bytes", T::int32, "57671680", "Largest fetch response.", at_least(0)),
      def("max.incremental.fetch.session.cache.slots", T::int32, "1000",
          "Incremental fetch sessions (KIP-227) kept at most.", at_least(0)),
      def("sluice.produce.fsync", T::boolean, "true",
          "Fsync (group commit) before acknowledging acks=all produce requests."),
      // groups and transactions (the coordinators read these)
      def("offsets.topic.num.partitions", T::int32, "50", "Partitions of __consumer_offsets.",
          at_least(1)),
      def("offsets.topic.replication.factor", T::int32, "3",
          "Replicas of __consumer_offsets (capped at the broker count).", at_least(1)),
      def("offsets.topic.segment.bytes", T::int32, "104857600",
          "Segment size of __consumer_offsets.", at_least(1)),
      def("offsets.retention.minutes", T::int32, "10080", "Committed offset retention.",
          at_least(1)),
      def("offsets.retention.check.interval.ms", T::int64, "600000", "Offset expiry check period.",
          at_least(1)),
      def("offset.metadata.max.bytes", T::int32, "4096", "Largest commit metadata string."),
      def("offsets.commit.timeout.ms", T::int32, "5000",
          "A group coordinator's write not replicated to the ISR by then fails "
          "(COORDINATOR_NOT_AVAILABLE; clients retry).",
          at_least(1)),
      def("group.initial.rebalance.delay.ms", T::int32, "3000",
          "Delay of a new group's first rebalance."),
      def("broker.session.timeout.ms", T::int32, "9000",
          "A broker not heard from (BrokerHeartbeat) for this long is fenced.", at_least(1)),
      def("broker.heartbeat.interval.ms", T::int32, "2000",
          "How often a broker of a quorum sends BrokerHeartbeat to the active controller.",
          at_least(1)),
      def("controlled.shutdown.enable", T::boolean, "true",
          "On SIGTERM a broker of a quorum asks the active controller to move its partition "
          "leadership away (BrokerHeartbeat WantShutDown) and stops once told to, or after "
          "broker.session.timeout.ms."),
      def("group.min.session.timeout.ms", T::int32, "6000", "Smallest session timeout."),
      def("group.max.session.timeout.ms", T::int32, "1800000", "Largest session timeout."),
      def("group.max.size", T::int32, "2147483647", "Members per group at most.", at_least(1)),
      def("transaction.state.log.num.partitions", T::int32, "50",
          "Partitions of __transaction_state.", at_least(1)),
      def("transaction.state.log.replication.factor", T::int32, "3",
          "Replicas of __transaction_state (capped at the broker count).", at_least(1)),
      def("transaction.state.log.min.isr", T::int32, "2", "min.insync.replicas of the txn log.",
          at_least(1)),
      def("transactional.id.expiration.ms", T::int32, "604800000", "Idle transactional id expiry.",
          at_least(1)),
      def("transaction.max.timeout.ms", T::int32, "900000", "Largest transaction timeout.",
          at_least(1)),
      def("transaction.state.log.segment.bytes", T::int32, "104857600",
          "Segment size of __transaction_state.", at_least(1)),
      def("transaction.abort.timed.out.transaction.cleanup.interval.ms", T::int32, "10000",
          "How often transactions past their timeout are aborted.", at_least(1)),
      def("transaction.remove.expired.transaction.cleanup.interval.ms", T::int32, "3600000",
          "How often expired transactional ids are removed.", at_least(1)),
      def("producer.id.expiration.ms", T::int32, "86400000", "Idle producer id expiry.",
          at_least(1)),
      def("producer.id.expiration.check.interval.ms", T::int32, "600000",
          "How often idle producer ids are expired.", at_least(1)),
  };
}

// replica.selector.class (KIP-392): Kafka loads the class named; Sluice
// knows Kafka's one implementation, by its name. Unset (Kafka's default):
// consumers read from the leader. True for the rack-aware selector.
Result<bool> resolve_replica_selector(const std::optional<std::string>& name) {
  if (!name || name->empty()) return false;
  if (*name == "org.apache.kafka.common.replica.RackAwareReplicaSelector") return true;
  return Status(
      Errc::invalid_value,
      "replica.selector.class: " + *name +
          " is not known; Sluice offers "
          "org.apache.kafka.common.replica.RackAwareReplicaSelector (or unset: the leader)");
}

// Kafka's update mode for Sluice's own definitions, and a definition for
// every Kafka setting Sluice has none for: a Kafka user's server.properties
// and AlterConfigs calls are accepted as Kafka accepts them (DescribeConfigs
// shows them), with a log line where Sluice does not act on a setting.
std::vector<ConfigDef> with_kafka_settings(std::vector<ConfigDef> defs) {
  std::set<std::string, std::less<>> defined;
  for (ConfigDef& def : defs) {
    defined.insert(def.name);
    const KafkaBrokerConfig* kafka = find_kafka_broker_config(def.name);
    if (kafka == nullptr || kafka->mode == KafkaUpdateMode::read_only) continue;
    if (def.read_only) {
      def.read_only = false;
      def.dynamic_inert = true;
    }
    def.per_broker_only = kafka->mode == KafkaUpdateMode::per_broker;
  }
  for (const KafkaBrokerConfig& kafka : kafka_broker_configs()) {
    if (defined.count(kafka.name)) continue;
    ConfigDef def;
    def.name = std::string(kafka.name);
    def.type = kafka.type;
    if (kafka.default_value != nullptr) def.default_value = kafka.default_value;
    def.doc = "Kafka's setting, accepted and described; Sluice does not act on it.";
    def.read_only = kafka.mode == KafkaUpdateMode::read_only;
    def.per_broker_only = kafka.mode == KafkaUpdateMode::per_broker;
    def.inert = true;
    defs.push_back(std::move(def));
  }
  return defs;
}

}  // namespace

const ConfigDefs& broker_config_defs() {
  static const ConfigDefs defs(with_kafka_settings(make_defs()));
  return defs;
}

Result<std::vector<ListenerAddress>> parse_listeners(const std::string& text) {
  std::vector<ListenerAddress> out;
  for (const std::string& item : split_list(text)) {
    size_t scheme_end = item.find("://");
    size_t port_start = item.rfind(':');
    if (scheme_end == std::string::npos || port_start == std::string::npos ||
        port_start <= scheme_end)
      return Status(Errc::invalid_value,
                    "invalid listener '" + item + "': expected NAME://host:port");
    ListenerAddress address;
    address.name = item.substr(0, scheme_end);
    address.host = item.substr(scheme_end + 3, port_start - scheme_end - 3);
    if (address.host.size() >= 2 && address.host.front() == '[')  // [ipv6]
      address.host = address.host.substr(1, address.host.size() - 2);
    if (address.host.empty()) address.host = "0.0.0.0";
    std::string port = item.substr(port_start + 1);
    char* end = nullptr;
    long number = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || number < 0 || number > 65535)
      return Status(Errc::invalid_value, "invalid port in listener '" + item + "'");
    address.port = static_cast<uint16_t>(number);
    out.push_back(std::move(address));
  }
  return out;
}

Result<BrokerConfig> BrokerConfig::load(const std::string& properties_text,
                                        const std::map<std::string, std::string>& overrides) {
  auto values = parse_properties(properties_text);
  if (!values) return values.status();
  for (const auto& [key, value] : overrides) (*values)[key] = value;
  auto listener_overrides = take_listener_overrides(*values);
  if (!listener_overrides) return listener_overrides.status();

  auto parsed = Config::parse(broker_config_defs(), *values);
  if (!parsed) return parsed.status();
  BrokerConfig config;
  config.values = std::move(parsed.value());
  config.listener_overrides = std::move(listener_overrides.value());

  config.node_id = static_cast<int32_t>(config.values.get_int("node.id"));
  if (config.values.is_set("broker.id") && !config.values.is_set("node.id"))
    config.node_id = static_cast<int32_t>(config.values.get_int("broker.id"));

  auto listeners = parse_listeners(config.values.get_string("listeners"));
  if (!listeners) return Status(Errc::invalid_value, "listeners: " + listeners.status().message());
  if (listeners->empty()) return Status(Errc::invalid_value, "listeners: at least one is needed");
  config.listeners = std::move(listeners.value());

  std::string advertised = config.values.get_string("advertised.listeners");
  if (advertised.empty()) {
    config.advertised_listeners = config.listeners;
    for (ListenerAddress& address : config.advertised_listeners)
      if (address.host == "0.0.0.0" || address.host == "::") address.host = "127.0.0.1";
  } else {
    auto parsed_advertised = parse_listeners(advertised);
    if (!parsed_advertised)
      return Status(Errc::invalid_value,
                    "advertised.listeners: " + parsed_advertised.status().message());
    config.advertised_listeners = std::move(parsed_advertised.value());
  }

  config.controller_listener_names = config.values.get_list("controller.listener.names");

  config.log_dirs = config.values.is_set("log.dirs") || !config.values.is_set("log.dir")
                        ? config.values.get_list("log.dirs")
                        : std::vector<std::string>{config.values.get_string("log.dir")};
  if (config.log_dirs.empty()) return Status(Errc::invalid_value, "log.dirs: no directory given");
  config.metadata_log_dir = config.values.is_set("metadata.log.dir")
                                ? config.values.get_string("metadata.log.dir")
                                : config.log_dirs.front();
  config.produce_fsync = config.values.get_bool("sluice.produce.fsync");
  config.fetch_max_bytes = config.values.get_int("fetch.max.bytes");
  config.append_threads = static_cast<int32_t>(config.values.get_int("num.io.threads"));
  config.auto_create_topics = config.values.get_bool("auto.create.topics.enable");
  config.transaction_partition_verification =
      config.values.get_bool("transaction.partition.verification.enable");
  auto selector = resolve_replica_selector(config.values.text("replica.selector.class"));
  if (!selector) return selector.status();
  config.rack_aware_replica_selector = *selector;
  auto quorum = resolve_quorum_settings(config);
  if (!quorum) return quorum.status();
  config.quorum = std::move(quorum.value());
  auto security = resolve_listener_security(config);
  if (!security) return security.status();
  config.listener_security = std::move(security.value());
  return config;
}

std::vector<std::string> BrokerConfig::inert_settings() const {
  std::vector<std::string> out;
  for (const auto& [name, value] : values.explicit_values()) {
    const ConfigDef* def = values.defs().find(name);
    if (def != nullptr && def->inert) out.push_back(name);
  }
  return out;
}

net::ServerConfig BrokerConfig::server_config() const {
  net::ServerConfig server;
  for (const ListenerAddress& address : listeners) {
    net::ListenerConfig listener;
    listener.name = address.name;
    listener.host = address.host;
    listener.port = address.port;
    auto security = listener_security.find(address.name);
    if (security != listener_security.end()) {
      listener.security_protocol = security->second.protocol;
      listener.tls = security->second.tls;
    }
    server.listeners.push_back(std::move(listener));
  }
  server.reactor_threads = static_cast<int>(values.get_int("num.network.threads"));
  server.socket_request_max_bytes =
      static_cast<int32_t>(values.get_int("socket.request.max.bytes"));
  server.connections_max_idle_ms = values.get_int("connections.max.idle.ms");
  server.max_in_flight_requests_per_connection =
      static_cast<int>(values.get_int("queued.max.requests"));
  server.queued_max_request_bytes = values.get_int("queued.max.request.bytes");
  server.request_receive_timeout_ms = values.get_int("sluice.request.receive.timeout.ms");
  return server;
}

}  // namespace sluice::broker
