#pragma once
// The metadata image: everything the cluster knows, as an immutable value.
//
// Handlers read the current image through a shared_ptr<const MetadataImage>
// taken once per request, so a request sees one consistent state. The image
// changes only by replaying metadata records (protocol/metadata_records.h,
// framed as in protocol/record_framing.h) in log order into a MetadataDelta
// over it; the delta then builds the next image, which shares every topic
// the records did not touch with the one before (Kafka's MetadataImage and
// MetadataDelta): applying a change to one topic of 10,000 copies that topic
// and the topic index's nodes (pointers), never the other topics. Listeners
// get the delta with the new image and act on what changed only. The one
// node of a single-node cluster and a KRaft quorum later differ only in how
// those records are committed.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/result.h"
#include "base/uuid.h"
#include "security/acl_types.h"

namespace sluice::cluster {

struct BrokerEndpoint {
  std::string listener_name;
  std::string host;
  uint16_t port = 0;
  int16_t security_protocol = 0;  // 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL

  friend bool operator==(const BrokerEndpoint&, const BrokerEndpoint&) = default;
};

// A feature version range a broker supports (from its registration).
struct BrokerFeatureRange {
  std::string name;
  int16_t min_version = 0;
  int16_t max_version = 0;

  friend bool operator==(const BrokerFeatureRange&, const BrokerFeatureRange&) = default;
};

struct BrokerImage {
  int32_t node_id = 0;
  // The broker epoch the controller assigned: the metadata offset of the
  // RegisterBrokerRecord of this incarnation (kept when the same incarnation
  // registers again).
  int64_t epoch = 0;
  // The offset of its latest RegisterBrokerRecord: a fenced broker is
  // unfenced once its metadata offset reaches it (Kafka's
  // registerBrokerRecordOffset).
  int64_t registration_offset = -1;
  Uuid incarnation_id;
  std::optional<std::string> rack;
  std::vector<BrokerEndpoint> endpoints;
  std::vector<BrokerFeatureRange> features;
  bool fenced = false;
  bool in_controlled_shutdown = false;

  // Kafka's isActive: may lead and be in an ISR.
  bool active() const { return !fenced && !in_controlled_shutdown; }

  friend bool operator==(const BrokerImage&, const BrokerImage&) = default;
};

struct PartitionImage {
  int32_t partition = 0;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  int32_t leader = -1;          // -1: no leader (offline)
  int32_t leader_epoch = 0;     // bumps on every leader change
  int32_t partition_epoch = 0;  // bumps on every change of the partition
  // Kafka's LeaderRecoveryState: 1 (recovering) after an unclean election
  // until the leader reports it recovered (AlterPartition).
  int8_t leader_recovery_state = 0;
  // A reassignment in progress (Kafka's addingReplicas/removingReplicas):
  // `replicas` is the target followed by the replicas being removed; the
  // added ones join the ISR, then the removed ones leave (partition_change.h).
  // (Default-initialized: brace-initialized images written before these
  // fields existed still build without a missing-initializer warning.)
  std::vector<int32_t> adding_replicas{};
  std::vector<int32_t> removing_replicas{};

  bool reassigning() const { return !adding_replicas.empty() || !removing_replicas.empty(); }

  friend bool operator==(const PartitionImage&, const PartitionImage&) = default;
};

struct TopicImage {
  std::string name;
  Uuid id;
  std::vector<PartitionImage> partitions;  // index == partition id
  std::map<std::string, std::string> configs;  // topic-level overrides only

  const PartitionImage* partition(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= partitions.size()) return nullptr;
    return &partitions[static_cast<size_t>(id)];
  }
};

// Partition ids of a topic are 0 .. partitions_per_topic_max - 1: a
// PartitionRecord beyond is refused (a corrupt id must not size a vector of
// billions), and the controller refuses to grow a topic past it.
inline constexpr int32_t partitions_per_topic_max = 1'000'000;

// ConfigRecord resource types (Kafka's ConfigResource.Type).
inline constexpr int8_t config_resource_topic = 2;
inline constexpr int8_t config_resource_broker = 4;

using TopicImagePtr = std::shared_ptr<const TopicImage>;

// The ACLs (AccessControlEntryRecord), by their id.
using AclBindings = std::map<Uuid, security::AclBinding>;

// One SCRAM credential (UserScramCredentialRecord): what the server keeps of
// a password, never the password itself.
struct ScramCredentialImage {
  std::vector<uint8_t> salt;
  std::vector<uint8_t> stored_key;
  std::vector<uint8_t> server_key;
  int32_t iterations = 0;
  bool operator==(const ScramCredentialImage&) const = default;
};
// By user name, then mechanism (1: SCRAM-SHA-256, 2: SCRAM-SHA-512).
using ScramCredentials = std::map<std::string, std::map<int8_t, ScramCredentialImage>>;

// A client quota entity (ClientQuotaRecord): entity type ("user",
// "client-id", "ip") to name; nullopt names the type's default entity.
using ClientQuotaEntity = std::map<std::string, std::optional<std::string>>;
// Quota values ("producer_byte_rate", ...) by entity; an entity without
// values is not kept.
using ClientQuotas = std::map<ClientQuotaEntity, std::map<std::string, double>>;

struct MetadataImage {
  std::string cluster_id;
  int32_t controller_id = -1;
  int64_t offset = -1;  // the last metadata record applied
  std::map<int32_t, BrokerImage> brokers;
  // By name. Shared between images: a topic no record touched is the same
  // object in the image before and after (copying the image copies pointers).
  std::map<std::string, TopicImagePtr> topics;
  std::map<Uuid, std::string> topic_names;  // by id
  // Dynamic broker configs by resource name: "" is the cluster-wide
  // default, "<node id>" one broker's own.
  std::map<std::string, std::map<std::string, std::string>> broker_configs;
  std::map<std::string, int16_t> features;  // FeatureLevelRecord (metadata.version, ...)
  // The first producer id of the next block the controller allocates
  // (ProducerIdsRecord, Kafka's ProducerIdsImage); -1: none allocated yet.
  // Only grows, so an id is never handed out twice, across restarts and
  // controller failovers alike.
  int64_t next_producer_id = -1;
  ScramCredentials scram_credentials;
  AclBindings acls;
  ClientQuotas client_quotas;

  const TopicImage* topic(const std::string& name) const {
    auto found = topics.find(name);
    return found == topics.end() ? nullptr : found->second.get();
  }
  const TopicImage* topic(const Uuid& id) const {
    auto found = topic_names.find(id);
    return found == topic_names.end() ? nullptr : topic(found->second);
  }
  // The shared object of a topic (null if absent): equal pointers in two
  // images mean the topic did not change between them.
  TopicImagePtr shared_topic(const std::string& name) const {
    auto found = topics.find(name);
    return found == topics.end() ? nullptr : found->second;
  }
  // Adds or replaces a topic (by name; its id indexed). For building images
  // by hand in tests and by MetadataDelta::apply().
  void put_topic(TopicImagePtr topic);
  void put_topic(TopicImage topic) {
    put_topic(std::make_shared<const TopicImage>(std::move(topic)));
  }
  // The dynamic value of a broker config for `node_id`: the broker's own,
  // else the cluster default; nullopt if neither is set.
  std::optional<std::string> dynamic_broker_config(int32_t node_id, const std::string& name) const;
};

using MetadataImagePtr = std::shared_ptr<const MetadataImage>;

// How one topic changed in a delta.
struct TopicDelta {
  TopicImagePtr image;  // the topic after the delta
  // Not in the base image under this id (new, or recreated under an old name
  // whose previous id is then in deleted_topics()): every partition is new.
  bool created = false;
  bool configs_changed = false;
  // Partitions of a topic that existed before: added or changed ones.
  std::set<int32_t> changed_partitions;

 private:
  friend class MetadataDelta;
  friend struct DeltaApplier;
  // The delta's own copy while records are replayed into it (null once the
  // delta has built an image that shares it: the next change copies again).
  std::shared_ptr<TopicImage> writable_;
};

// Records replayed over a base image (Kafka's MetadataDelta): what changed,
// and the image after them. Lookups through the delta see the records
// replayed so far, so the controller validates a request's later topics
// against its earlier ones without copying the image.
//
// Threads: one thread builds a delta; a finished delta is read-only.
class MetadataDelta {
 public:
  explicit MetadataDelta(MetadataImagePtr base);
  // The changes from `before` to `after` (both built by deltas from a
  // common history, or by hand in tests): a topic is changed when its
  // object differs, and then its partitions and configs are compared. Used
  // for a listener's first call (from an empty image) and by apply_image.
  static MetadataDelta between(MetadataImagePtr before, const MetadataImage& after);

  // Replays one framed metadata record (the value of a metadata log record)
  // at `offset`. Record types the image does not track (ACLs, quotas, SCRAM,
  // producer ids, ...) are accepted and skipped. A record that does not
  // decode, or that contradicts the image (a partition of an unknown
  // topic), is an error and changes nothing.
  Status replay(Bytes framed_value, int64_t offset);
  // The image after every record replayed: the base's unchanged topics are
  // shared, changed ones are the delta's copies (then shared too: replaying
  // more records afterwards copies a topic again rather than changing an
  // image already handed out).
  MetadataImagePtr apply();

  const MetadataImage& base() const { return *base_; }
  const MetadataImagePtr& base_ptr() const { return base_; }
  // The state after the records replayed so far.
  const TopicImage* topic(const std::string& name) const;
  const TopicImage* topic(const Uuid& id) const;
  const std::map<int32_t, BrokerImage>& brokers() const {
    return brokers_ ? *brokers_ : base_->brokers;
  }
  int64_t offset() const { return offset_; }

  // What changed. Topics by name after the delta; deleted ones by the id
  // they had in the base image (with their name there).
  const std::map<std::string, TopicDelta>& changed_topics() const { return changed_topics_; }
  const std::map<Uuid, std::string>& deleted_topics() const { return deleted_topics_; }
  bool brokers_changed() const { return brokers_.has_value(); }
  bool broker_configs_changed() const { return broker_configs_.has_value(); }
  bool features_changed() const { return features_.has_value(); }
  bool scram_credentials_changed() const { return scram_credentials_.has_value(); }
  bool acls_changed() const { return acls_.has_value(); }
  bool client_quotas_changed() const { return client_quotas_.has_value(); }
  const ClientQuotas& client_quotas() const {
    return client_quotas_ ? *client_quotas_ : base_->client_quotas;
  }
  const AclBindings& acls() const { return acls_ ? *acls_ : base_->acls; }
  const ScramCredentials& scram_credentials() const {
    return scram_credentials_ ? *scram_credentials_ : base_->scram_credentials;
  }
  int64_t next_producer_id() const {
    return next_producer_id_ ? *next_producer_id_ : base_->next_producer_id;
  }
  bool topics_changed() const { return !changed_topics_.empty() || !deleted_topics_.empty(); }

 private:
  friend struct DeltaApplier;  // applies each record type (metadata_image.cc)
  // The writable copy of a topic (copied from the base or the last image
  // built on first change), or null if the id is unknown.
  TopicDelta* writable_topic(const Uuid& id, TopicImage*& topic);
  TopicDelta* writable_topic(const std::string& name, TopicImage*& topic);
  std::map<int32_t, BrokerImage>& writable_brokers();
  std::map<std::string, std::map<std::string, std::string>>& writable_broker_configs();
  std::map<std::string, int16_t>& writable_features();
  ScramCredentials& writable_scram_credentials();
  AclBindings& writable_acls();
  ClientQuotas& writable_client_quotas();

  MetadataImagePtr base_;
  int64_t offset_ = -1;
  std::map<std::string, TopicDelta> changed_topics_;
  std::map<Uuid, std::string> changed_names_;  // id -> name of changed_topics_
  std::map<Uuid, std::string> deleted_topics_;
  std::optional<std::map<int32_t, BrokerImage>> brokers_;
  std::optional<std::map<std::string, std::map<std::string, std::string>>> broker_configs_;
  std::optional<std::map<std::string, int16_t>> features_;
  std::optional<int64_t> next_producer_id_;
  std::optional<ScramCredentials> scram_credentials_;
  std::optional<AclBindings> acls_;
  std::optional<ClientQuotas> client_quotas_;
};

// Replays one framed record into `image` in place (a delta over a copy of
// it, applied). For tests and tools that build images record by record; the
// controller replays into one delta per commit instead. On error the image
// is unchanged.
Status apply_record(MetadataImage& image, Bytes framed_value, int64_t offset);

}  // namespace sluice::cluster
